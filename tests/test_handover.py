"""Face hand-over: a face that moves from a lone-face track to its person's track (or back) is one person."""

import numpy as np

from mivolo.core.structures import FACE, PERSON, Detections
from tracking.handover import FaceHandOver


def frame(face_id: int, face_box, person_id: int | None = None, person_box=None) -> Detections:
    boxes, classes, ids = [face_box], [FACE], [face_id]
    if person_id is not None:
        boxes, classes, ids = [person_box, face_box], [PERSON, FACE], [person_id, face_id]
    dets = Detections.from_boxes(np.array(boxes, np.float32), np.ones(len(boxes)), classes)
    dets.track_id[:] = ids
    return dets


def visible(dets: Detections) -> np.ndarray:
    return np.unique(dets.track_id[dets.track_id >= 0])


def test_a_lone_face_that_gets_its_body_keeps_its_identity():
    handover = FaceHandOver()
    face = [330, 100, 390, 160]
    for i in range(5):  # the person detector misses the body: the face is its own identity 5
        dets = frame(5, face)
        assert handover(i / 10, dets, visible(dets)) == []
    dets = frame(3, [331, 101, 391, 161], person_id=3, person_box=[280, 80, 430, 270])  # body found: id 3
    assert handover(0.5, dets, visible(dets)) == [(3, 5)]


def test_faces_of_two_people_on_screen_are_never_linked():
    handover = FaceHandOver()
    a, b = [100, 100, 150, 150], [104, 102, 154, 152]  # two heads close together, both on screen
    dets = Detections.concat([frame(1, a), frame(2, b)])
    handover(0.0, dets, visible(dets))
    swapped = Detections.concat([frame(2, a), frame(1, b)])
    assert handover(0.1, swapped, visible(swapped)) == []  # ids 1 and 2 are both visible: never the same person


def test_a_face_far_away_or_long_ago_is_not_linked():
    handover = FaceHandOver(max_gap_s=0.3)
    handover(0.0, frame(5, [330, 100, 390, 160]), np.array([5]))
    moved = frame(3, [100, 100, 160, 160])
    assert handover(0.1, moved, visible(moved)) == []  # no overlap
    later = FaceHandOver(max_gap_s=0.3)
    later(0.0, frame(5, [330, 100, 390, 160]), np.array([5]))
    same_place = frame(3, [330, 100, 390, 160])
    assert later(1.0, same_place, visible(same_place)) == []  # a second later: not a hand-over


def test_ids_once_seen_together_are_never_linked_later():
    handover = FaceHandOver()
    both = Detections.concat([frame(5, [330, 100, 390, 160]), frame(3, [600, 100, 660, 160])])
    handover(0.0, both, visible(both))  # 5 and 3 are two people on screen at once
    alone = frame(5, [330, 100, 390, 160])
    handover(0.1, alone, visible(alone))
    taken = frame(3, [331, 101, 391, 161])  # 3's id now on 5's face box: a tracker mix-up, not a hand-over
    assert handover(0.2, taken, visible(taken)) == []


def test_a_repair_that_gives_a_face_another_id_is_no_hand_over():
    """A split (tracking.splits) gave the tracker id showing identity 5 to a new identity 9: the face it carries
    changes id between two frames, which is no lone face finding its body; the two are never linked later."""
    face = [330, 100, 390, 160]
    for renamed in (False, True):
        handover = FaceHandOver()
        dets = frame(5, face)
        handover(0.0, dets, visible(dets))
        if renamed:
            handover.renamed({5: 9}, apart=True)
        moved = frame(9, [331, 101, 391, 161])
        links = handover(0.1, moved, visible(moved))
        assert links == ([] if renamed else [(9, 5)])  # without being told, it would join them back
    assert 5 in handover.together[9] and 9 in handover.together[5]
