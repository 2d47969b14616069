"""People when lost-and-found identities are counted once (tracking.people_estimate) and where it is reported."""

import numpy as np

from mivolo.core.config import SettleConfig
from mivolo.core.structures import PERSON, Detections
from tracking.identities import Identities
from tracking.people_estimate import at_edge, estimate_people

FRAME = (640, 480)


def ends(first: tuple[float, float, float], last: tuple[float, float, float], h: float = 100.0) -> np.ndarray:
    """(2, 5) first and last sighting of a 100 px tall person: (t, centre x, centre y) each."""
    def box(t, cx, cy):
        return [t, cx - h / 5, cy - h / 2, cx + h / 5, cy + h / 2]
    return np.array([box(*first), box(*last)])


def people(*identities: np.ndarray, **kwargs) -> int:
    return estimate_people(np.stack(identities), FRAME, 0.0, **kwargs).people


def test_edges():
    assert at_edge(np.array([[2, 100, 40, 200], [300, 100, 340, 200], [300, 380, 340, 479]]), FRAME).tolist() \
        == [True, False, True]


def test_someone_appearing_where_someone_vanished_just_before_is_the_same_person():
    lost = ends((0.0, 5, 240), (3.0, 300, 240))  # walked in from the left edge, vanished mid-picture
    found = ends((4.0, 360, 240), (9.0, 635, 240))  # appeared 1 s later, 60 px on, walked out right
    estimate = estimate_people(np.stack([lost, found]), FRAME, 0.0)
    assert (estimate.people, estimate.identities, estimate.refound) == (1, 2, 1)
    assert estimate.appeared_mid_picture == 1 and estimate.vanished_mid_picture == 1


def test_no_one_is_found_again_across_a_cut_between_shots():
    lost = ends((0.0, 5, 240), (3.0, 300, 240))
    found = ends((4.0, 360, 240), (9.0, 635, 240))
    assert people(lost, found, cuts_s=(3.5,)) == 2  # the other shot's picture: someone else
    assert people(lost, found, cuts_s=(1.0, 10.0)) == 1  # cuts before and after: the same shot


def test_arrivals_across_an_edge_too_late_too_far_or_too_early_are_new_people():
    lost = ends((0.0, 5, 240), (3.0, 300, 240))
    assert people(lost, ends((4.0, 5, 240), (9.0, 300, 240))) == 2  # walked in across the left edge
    assert people(lost, ends((9.0, 320, 240), (12.0, 635, 240))) == 2  # 6 s later: longer than max_gap_s
    assert people(lost, ends((3.5, 560, 240), (9.0, 635, 240))) == 2  # 260 px in 0.5 s: out of walking reach
    assert people(lost, ends((2.0, 320, 240), (9.0, 635, 240))) == 2  # seen while the other still was
    assert people(lost, ends((4.0, 360, 240), (9.0, 635, 240)), max_gap_s=0.5) == 2


def test_people_there_at_the_start_are_not_arrivals():
    lost = ends((0.0, 5, 240), (0.5, 300, 240))
    assert people(lost, ends((0.8, 330, 240), (9.0, 635, 240))) == 2  # within the first second: already there
    assert people(lost, ends((1.6, 330, 240), (9.0, 635, 240))) == 1


def test_each_identity_explains_one_other_and_chains_are_found():
    lost = ends((0.0, 5, 240), (3.0, 300, 240))
    twins = [ends((4.0, 330, 240), (9.0, 635, 240)), ends((4.0, 330, 300), (9.0, 635, 300))]
    assert people(lost, *twins) == 2  # one of the two may be the lost one, not both
    chain = [lost, ends((4.0, 330, 240), (6.0, 400, 240)), ends((7.0, 430, 240), (9.0, 635, 240))]
    assert estimate_people(np.stack(chain), FRAME, 0.0).refound == 2


def test_nothing_to_estimate():
    empty = estimate_people(np.zeros((0, 2, 5)), FRAME, 0.0)
    assert (empty.people, empty.identities, empty.refound) == (0, 0, 0)


def see(ids: Identities, t: float, frame: int, boxes: dict[int, list[float]]) -> None:
    xyxy = np.array(list(boxes.values()), np.float32)
    dets = Detections.from_boxes(xyxy, np.full(len(xyxy), 0.9, np.float32), PERSON)
    dets.track_id[:] = list(boxes)
    ids.update(frame, t, np.zeros((480, 640, 3), np.uint8), dets)


def test_identities_keep_first_and_last_sightings_through_merges():
    ids = Identities(SettleConfig(), min_frames=1, min_seen_s=0.0)
    see(ids, 0.0, 0, {1: [0, 190, 40, 290]})
    see(ids, 3.0, 30, {1: [280, 190, 320, 290]})
    see(ids, 4.0, 40, {2: [340, 190, 380, 290]})
    see(ids, 9.0, 90, {2: [600, 190, 639, 290]})
    ids.retire()
    assert ids.people_estimate().people == 1 and len(ids.finished) == 2  # two rows, one person
    merged = Identities(SettleConfig(), min_frames=1, min_seen_s=0.0)
    see(merged, 0.0, 0, {1: [0, 190, 40, 290]})
    see(merged, 3.0, 30, {1: [280, 190, 320, 290]})
    see(merged, 4.0, 40, {2: [340, 190, 380, 290]})
    merged.merge(2, 1)
    see(merged, 9.0, 90, {1: [600, 190, 639, 290]})
    merged.retire()
    assert np.allclose(merged.ends[1][:, 0], [0.0, 9.0]) and merged.people_estimate().refound == 0


def test_a_merge_keeps_the_earliest_first_and_the_latest_last_sighting():
    ids = Identities(SettleConfig(), min_frames=1, min_seen_s=0.0)
    see(ids, 1.0, 10, {1: [100, 190, 140, 290]})
    see(ids, 2.0, 20, {2: [0, 190, 40, 290], 1: [120, 190, 160, 290]})  # 2 first seen later ...
    see(ids, 5.0, 50, {2: [300, 190, 340, 290]})
    ids.merge(1, 2)  # ... but 1 (seen from 1.0 s) joins 2: its first sighting wins; 2's last one stays
    assert ids.tracks[2].ends[:, 0].tolist() == [1.0, 5.0]
    assert ids.tracks[2].ends[0, 1:].tolist() == [100, 190, 140, 290]
    assert ids.tracks[2].ends[1, 1:].tolist() == [300, 190, 340, 290]
