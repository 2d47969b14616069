import numpy as np
import pytest

from mivolo.core.config import SettleConfig, TrackerConfig
from mivolo.core.errors import UserError
from mivolo.core.structures import FACE, PERSON, Detections
from tracking import Identities, Tracker

IMAGE = np.zeros((480, 640, 3), np.uint8)


def frame_dets(step: int) -> Detections:
    """Two people walking apart, each with a face in the upper body."""
    persons = Detections.from_boxes([[50 + 5 * step, 100, 150 + 5 * step, 400],
                                     [450 - 5 * step, 100, 550 - 5 * step, 400]], [0.9, 0.85], PERSON)
    faces = Detections.from_boxes([[80 + 5 * step, 110, 120 + 5 * step, 150]], [0.9], FACE)
    dets = Detections.concat([persons, faces])
    dets.pair[:] = [2, -1, 0]
    return dets


@pytest.mark.parametrize("name", ["bytetrack.yaml", "botsort.yaml", "ocsort", "boosttrack.yaml"])
def test_ids_are_stable_and_faces_inherit_them(name):
    tracker = Tracker(TrackerConfig(tracker=name), fps=25)
    seen = []
    for step in range(12):
        dets = tracker.update(frame_dets(step), IMAGE)
        seen.append(dets.track_id.copy())
    last = seen[-1]
    assert last[0] > 0 and last[1] > 0 and last[0] != last[1]
    assert last[2] == last[0]  # the face carries its person's id
    assert all((s[:2] == last[:2]).all() for s in seen[-5:])  # no id switches once confirmed
    assert set(last[:2]) <= {1, 2}  # our ids are 1, 2, ... not boxmot's internal numbers


def test_unknown_tracker_lists_the_valid_ones():
    with pytest.raises(UserError, match="botsort.yaml"):
        Tracker(TrackerConfig(tracker="sorty.yaml"), fps=25)


def test_strongsort_without_reid_is_refused_instead_of_downloading():
    with pytest.raises(UserError, match="Re-ID"):
        Tracker(TrackerConfig(tracker="strongsort.yaml"), fps=25)


def test_unknown_tracker_setting_is_named(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("tracker_type: bytetrack\ntrack_thres: 0.4\n")
    with pytest.raises(UserError, match="track_thres"):
        Tracker(TrackerConfig(tracker=str(path)), fps=25)


def estimate(track_id: int, age: float, male_p: float, conf: float = 0.9, face_h: float = 64.0) -> Detections:
    dets = Detections.from_boxes([[0, 0, 100, 300], [30, 10, 30 + face_h * 0.8, 10 + face_h]], [conf, conf],
                                 [PERSON, FACE])
    dets.pair[:] = [1, 0]
    dets.track_id[:] = track_id
    dets.age[:] = age
    dets.gender_p[:] = male_p
    dets.age_gender_conf[:] = max(male_p, 1 - male_p)
    return dets


def test_global_mode_is_a_weighted_mean_over_the_whole_track():
    ids = Identities(SettleConfig(mode="global"))
    for i, (age, male) in enumerate([(30, 0.9), (40, 0.8), (35, 0.2), (38, 0.85)]):
        ids.update(i, i / 10, IMAGE, estimate(7, age, male))
    label = ids.final_label(7)
    assert 30 < label.age < 40 and label.gender == "male"
    assert ids.tracks[7].frames_seen == 4 and ids.tracks[7].votes == 4


def test_confidence_mode_takes_the_best_scored_estimate():
    ids = Identities(SettleConfig(mode="confidence", min_votes=1, min_gender_agreement=0.5))  # the mode alone
    ids.update(0, 0.0, IMAGE, estimate(1, 20, 0.95, face_h=20))  # small face, low weight
    ids.update(1, 0.1, IMAGE, estimate(1, 50, 0.10, face_h=90))  # big sharp face wins
    label = ids.final_label(1)
    assert label.age == 50 and label.gender == "female"


def test_temporal_mode_follows_the_window():
    ids = Identities(SettleConfig(mode="temporal", smoothing_window=2))
    for i, age in enumerate([20, 20, 60, 60]):
        ids.update(i, i / 10, IMAGE, estimate(3, age, 0.9))
    assert ids.live_label(3).age == pytest.approx(60)
    assert ids.final_label(3).age == pytest.approx(40)


def test_low_confidence_detections_and_genders_do_not_vote():
    ids = Identities(SettleConfig(min_detection_conf=0.5, min_gender_conf=0.7, min_votes=1))
    ids.update(0, 0.0, IMAGE, estimate(1, 30, 0.9, conf=0.3))  # detection too weak
    ids.update(1, 0.1, IMAGE, estimate(1, 30, 0.6))  # gender too unsure: age counts, gender does not
    assert ids.tracks[1].votes == 1
    label = ids.final_label(1)
    assert label.age == pytest.approx(30) and label.gender is None


def test_settled_tracks_stop_asking_for_estimates_and_stale_ones_leave_memory():
    ids = Identities(SettleConfig(votes_to_settle=3, forget_after_s=1.0))
    for i in range(3):
        assert ids.needs_estimate(5)
        ids.update(i, i * 0.5, IMAGE, estimate(5, 30, 0.9))
    assert not ids.needs_estimate(5)
    assert ids.retire(0.5) == [] and ids.finished == []
    gone = ids.retire(5.0)
    assert [s.track_id for s in gone] == [5] and 5 not in ids.tracks
    assert [f.row["id"] for f in ids.finished] == [5]
    assert ids.finished[0].row["first_frame"] == 1 and ids.finished[0].row["last_frame"] == 3  # 1-based
    assert ids.finished[0].crop is not None and ids.finished[0].crop.shape[0] > 0


def test_fragments_too_short_to_be_a_person_are_tallied_not_counted():
    """A track seen for less than min_seen_s (or in fewer than min_frames frames) is not a person: it is not in
    ``finished`` but in ``not_counted``; the same frames spread over 1 s count."""
    ids = Identities(SettleConfig(min_frames=3, min_seen_s=1.0, forget_after_s=1.0))
    for i in range(5):
        ids.update(i, i * 0.1, IMAGE, estimate(1, 30, 0.9))  # 0.4 s
        ids.update(i, i * 0.25, IMAGE, estimate(2, 30, 0.9))  # 1.0 s
    ids.update(9, 0.9, IMAGE, estimate(3, 30, 0.9))
    ids.update(10, 2.0, IMAGE, estimate(3, 30, 0.9))  # 1.1 s but two frames only
    ids.retire(None)
    assert [f.row["id"] for f in ids.finished] == [2]
    assert ids.not_counted == {"too_short": 2, "face_never_confirmed": 0}
    images = Identities(SettleConfig(min_seen_s=1.0), min_frames=1, min_seen_s=0.0)  # separate photos
    images.update(0, 0.0, IMAGE, estimate(7, 30, 0.9))
    images.retire(None)
    assert [f.row["id"] for f in images.finished] == [7]


def test_a_dense_crowd_is_looked_at_a_few_identities_per_frame_in_turn():
    """With a budget of 4 faces per frame, 10 identities that need estimates take turns: the least estimated and
    the longest unlooked first; settled identities are never picked; budget 0 picks everyone."""
    ids = Identities(SettleConfig(votes_to_settle=3))
    for t in range(1, 11):
        ids.update(0, 0.0, IMAGE, estimate(t, 30, 0.9))  # one vote each
    for _ in range(2):
        ids.update(1, 0.1, IMAGE, estimate(10, 30, 0.9))  # identity 10 is settled (3 votes)
    every = np.arange(1, 11)
    first = every[ids.to_look_at(every, 1.0, budget=4)]
    second = every[ids.to_look_at(every, 1.1, budget=4)]
    third = every[ids.to_look_at(every, 1.2, budget=4)]
    assert first.tolist() == [1, 2, 3, 4] and second.tolist() == [5, 6, 7, 8]
    assert third.tolist() == [1, 2, 3, 9]  # 9 never looked at; then those looked at longest ago
    assert 10 not in np.concatenate([first, second, third])
    assert ids.to_look_at(every, 1.3, budget=0).tolist() == [True] * 9 + [False]


def test_camera_motion_is_estimated_once_per_frame_for_both_trackers():
    """The lone-face tracker reuses the person tracker's camera-motion warp instead of estimating it again."""
    tracker = Tracker(TrackerConfig(tracker="botsort.yaml"), fps=10)
    calls = []

    class Shift:
        def apply(self, img, dets=None):
            calls.append(len(calls))
            return np.array([[1, 0, 3.0], [0, 1, 0.0]], np.float32)  # the camera moved 3 px

    tracker.persons.cmc.inner = Shift()
    seen = []
    original = tracker.lone_faces.cmc.apply
    tracker.lone_faces.cmc.apply = lambda img, dets=None: seen.append(original(img, dets)) or seen[-1]
    for step in range(4):
        dets = frame_dets(step)
        dets.pair[:] = -1  # the face is a lone face: both trackers run
        tracker.update(dets, IMAGE)
    assert len(calls) == 4 and len(seen) == 4  # one estimate per frame, used by both
    assert all(np.allclose(w, [[1, 0, 3.0], [0, 1, 0.0]]) for w in seen)
