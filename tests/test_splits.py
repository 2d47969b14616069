"""An identity that turned back onto someone else at the edge of the picture is split (tracking.splits), through the
merge step, the settling stage and the tracks sink: A (red/blue) walks out at the right edge just as B
(green/grey) walks in there; the tracker's id 1 follows A to the edge and comes back with B."""

import numpy as np
import painted_people
import pytest
from painted_people import BLUE, GREEN, GREY, RED, box

from mivolo.core.config import MergeConfig, SettleConfig, TrackerConfig
from mivolo.core.structures import PERSON, Detections
from mivolo.sinks.tracks import ID, undo_swaps
from tracking import MergeStep, Tracker
from tracking.identities import Identities
from tracking.people_history import PeopleHistory
from tracking.relink import colour_signature
from tracking.splits import SplitDetector

W, H = 640, 480
SPEED = 120.0  # pixels a second: one box height
EDGE_S = 2.0  # A reaches the right edge (x=640) and B comes in there


def scene(step_s: float = 0.1, b_clothes=(GREEN, GREY), end_s: float = 6.0):
    """(time_s, box (4,), top, bottom, who) per frame, one box: id 1 shows A until ``EDGE_S``, then B walking back.
    With A's clothes for B it is A who turned back at the edge."""
    for k in range(int(round(end_s / step_s)) + 1):
        t = k * step_s
        x = W - 10 - SPEED * abs(t - EDGE_S)
        who, clothes = ("A", (RED, BLUE)) if t <= EDGE_S else ("B", b_clothes)
        yield t, box(x), *clothes, who


def painted(people) -> np.ndarray:
    return painted_people.painted(people, W, H)


def run_detector(unseen: tuple[float, float] = (0.0, 0.0), **kwargs) -> list:
    history = PeopleHistory()
    detector, found = SplitDetector(history), []
    for t, xyxy, top, bottom, _ in scene(**kwargs):
        if unseen[0] < t < unseen[1]:  # no box: the frame goes by without anyone
            history.observe(t, np.zeros(0, int), np.zeros((0, 4)), np.zeros((0, 72), np.float32), np.zeros(0, bool))
        else:
            image = painted([(xyxy, top, bottom)])
            history.observe(t, np.array([1]), xyxy[None], colour_signature(image, xyxy[None]), np.ones(1, bool))
        found += detector.decide(t)
    return found


@pytest.mark.parametrize("step_s", [0.1, 0.2, 1 / 30])
def test_a_box_that_turned_back_in_other_clothes_is_split_where_it_turned(step_s):
    found = run_detector(step_s=step_s)
    assert len(found) == 1
    assert found[0].identity == 1
    assert found[0].since_s == pytest.approx(EDGE_S, abs=2 * step_s + 1e-6)


def test_no_turn_is_judged_across_a_break_in_the_boxes():
    """The tracker had no box for 0.8 s before the moment: what it showed before says nothing of a turn."""
    assert run_detector(unseen=(EDGE_S - 0.85, EDGE_S - 0.05)) == []
    assert len(run_detector(unseen=(EDGE_S - 0.45, EDGE_S - 0.05))) == 1  # 0.4 s: still one walk


def test_an_identity_lost_soon_after_the_turn_is_still_split():
    """The newcomer's box is lost 1.2 s after the turn, before the turn is judged: it is judged all the same."""
    found = run_detector(unseen=(EDGE_S + 1.25, 99.0))
    assert len(found) == 1 and found[0].since_s == pytest.approx(EDGE_S, abs=0.2)


def test_someone_who_turns_back_is_one_person():
    assert run_detector(b_clothes=(RED, BLUE)) == []


def test_a_standing_person_whose_colours_change_is_not_split():
    history = PeopleHistory()
    detector = SplitDetector(history)
    for k in range(60):
        t = k * 0.1
        image = painted([(box(300 + (k % 2)), *((RED, BLUE) if k < 20 else (GREEN, GREY)))])
        history.observe(t, np.array([1]), box(300 + (k % 2))[None], colour_signature(image, box(300)[None]),
                        np.ones(1, bool))
        assert detector.decide(t) == []


def test_the_merge_step_gives_the_newcomer_an_identity_of_its_own_with_its_votes():
    identities = Identities(SettleConfig(), min_frames=1, min_votes=1, min_seen_s=0.0)
    ids = iter(range(1000, 1010))
    step = MergeStep(MergeConfig(), None, 60.0, on_merge=identities.merge, on_exchange=identities.exchange,
                     new_id=lambda: next(ids), on_split=identities.split)
    shown, rows = [], []
    for k, (t, xyxy, top, bottom, who) in enumerate(scene()):
        dets = Detections.from_boxes(xyxy[None], np.full(1, 0.9, np.float32), PERSON)
        dets.track_id[:] = 1
        # every box votes: A looks like a man, B like a woman
        dets.age[:], dets.gender_p[:], dets.age_gender_conf[:] = 30.0, 0.95 if who == "A" else 0.05, 0.9
        image = painted([(xyxy, top, bottom)])
        dets = step(image, t, dets)
        identities.update(k, t, image, dets)
        shown.append((who, int(dets.track_id[0])))
        rows.append([k + 1, dets.track_id[0], 0, *xyxy, 0.9, t])
    [split] = [r for r in step.swaps_repaired if r["cue"] == "split"]
    assert split["identities"] == [1, 1000]
    assert shown[-1] == ("B", 1000) and shown[0] == ("A", 1)
    # the tracks sink relabels what was written as 1 between the turn and the repair
    rows = np.array(rows, np.float32)
    undo_swaps(rows, step.swaps_repaired)
    written = [(who, int(i)) for (who, _), i in zip(shown, rows[:, ID], strict=True)]
    wrong = [k for k, pair in enumerate(written) if pair not in {("A", 1), ("B", 1000)}]
    assert len(wrong) <= 1 and all(abs(k * 0.1 - EDGE_S) < 0.15 for k in wrong)  # at most the apex, either's
    a, b = identities.tracks[1], identities.tracks[1000]
    assert identities.final_label(1).gender == "male" and identities.final_label(1000).gender == "female"
    assert a.last_s == pytest.approx(EDGE_S, abs=0.25) and b.first_s == pytest.approx(EDGE_S, abs=0.25)
    assert a.frames_seen + b.frames_seen == len(shown)
    assert abs(b.frames_seen - sum(who == "B" for who, _ in shown)) <= 3
    assert b.ends[0][1] > W - 80  # B was first seen at the right edge


def test_without_an_id_source_nothing_is_split():
    step = MergeStep(MergeConfig(), None, 60.0)
    for t, xyxy, top, bottom, _ in scene():
        dets = Detections.from_boxes(xyxy[None], np.full(1, 0.9, np.float32), PERSON)
        dets.track_id[:] = 1
        step(painted([(xyxy, top, bottom)]), t, dets)
    assert step.splits is None and step.swaps_repaired == []


def test_the_tracker_hands_out_ids_none_of_its_tracks_will_get():
    tracker = Tracker(TrackerConfig(tracker="bytetrack.yaml"), fps=10)
    given = [tracker.new_id()]
    seen = set()
    image = np.zeros((H, W, 3), np.uint8)
    for k in range(12):
        xyxy = np.stack([box(100 + 5 * k), box(400 - 5 * k)]) if k < 6 else np.stack([box(250), box(500)])
        dets = Detections.from_boxes(xyxy, np.full(2, 0.9, np.float32), PERSON)
        tracker.update(dets, image, k / 10)
        seen |= set(dets.track_id[dets.track_id >= 0].tolist())
        if k == 5:
            given.append(tracker.new_id())
    assert seen and not seen & set(given)
    assert len(set(given)) == 2
