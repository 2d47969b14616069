import numpy as np

from mivolo.core.structures import FACE, PERSON, Detections
from mivolo.detection.association import associate


def two_people_one_face_each() -> Detections:
    persons = Detections.from_boxes([[0, 0, 100, 300], [90, 0, 190, 300]], [0.9, 0.8], PERSON)
    faces = Detections.from_boxes([[120, 10, 160, 50], [30, 15, 70, 55], [20, 250, 40, 270]], [0.9, 0.9, 0.7], FACE)
    return Detections.concat([persons, faces])


def test_concat_keeps_pairs_pointing_at_the_right_rows():
    a = Detections.from_boxes([[0, 0, 10, 10], [5, 5, 8, 8]], [1, 1], [PERSON, FACE])
    a.pair[:] = [1, 0]
    b = Detections.from_boxes([[0, 0, 10, 10], [5, 5, 8, 8]], [1, 1], [PERSON, FACE])
    b.pair[:] = [1, 0]
    merged = Detections.concat([a, b])
    assert merged.pair.tolist() == [1, 0, 3, 2]
    picked = merged.select(np.array([2, 3]))
    assert picked.pair.tolist() == [1, 0]


def test_each_face_goes_to_the_person_whose_upper_body_holds_it():
    dets = associate(two_people_one_face_each())
    assert dets.pair[0] == 3  # left person <- face at x 30..70
    assert dets.pair[1] == 2  # right person <- face at x 120..160
    assert dets.pair[2] == 1 and dets.pair[3] == 0
    assert dets.pair[4] == -1  # a "face" at knee height belongs to nobody


def test_one_face_per_person_even_when_two_faces_fit():
    persons = Detections.from_boxes([[0, 0, 100, 300]], [0.9], PERSON)
    faces = Detections.from_boxes([[30, 10, 70, 50], [35, 60, 65, 90]], [0.9, 0.9], FACE)
    dets = associate(Detections.concat([persons, faces]))
    assert (dets.pair[1:] >= 0).sum() == 1
    assert dets.pair[0] in (1, 2)


def test_no_faces_or_no_persons_leaves_pairs_empty():
    dets = associate(Detections.from_boxes([[0, 0, 10, 10]], [0.5], PERSON))
    assert dets.pair.tolist() == [-1]
    assert len(associate(Detections())) == 0


def test_pairs_known_from_person_crops_are_kept():
    from mivolo.detection.faces_in_persons import faces_with_sources

    persons = Detections.from_boxes([[0, 0, 100, 300], [60, 0, 160, 300]], [0.9, 0.9], PERSON)
    # a face in the overlap of both upper bodies, found inside person 1's crop: containment alone is ambiguous
    dets = faces_with_sources(persons, np.array([[70, 20, 95, 50]], np.float32), np.array([0.8], np.float32),
                              np.array([1]))
    assert dets.pair.tolist() == [-1, 2, 1]
    associate(dets)
    assert dets.pair.tolist() == [-1, 2, 1]  # association does not undo what the crop told us


def test_a_close_up_pairs_the_face_with_the_head_sized_person_box():
    """A photo of a face: the person detector boxes the head (the whole picture), the face fills most of it but
    reaches below its upper half; a full-body person's face must still sit in the upper half."""
    close_up = Detections.concat([Detections.from_boxes([[1, 1, 199, 198]], [0.9], PERSON),
                                  Detections.from_boxes([[24, 6, 164, 165]], [0.9], FACE)])
    assert associate(close_up).pair.tolist() == [1, 0]
    body = Detections.concat([Detections.from_boxes([[0, 0, 100, 300]], [0.9], PERSON),
                              Detections.from_boxes([[30, 160, 70, 200]], [0.9], FACE)])  # at hip height, small
    assert associate(body).pair.tolist() == [-1, -1]
