"""Repair of a tracker id that took over a lost identity's person (tracking.takeovers) and its place in the merge
step: P (red/blue, id 1) walks right and L (green/grey, id 2) walks left on one row; where they cross the detector
sees one box, the tracker loses 2, and P, hidden behind something just after the crossing, is not seen for a while:
id 1 goes on with L (the box turns back). P comes back later as id 3."""

import numpy as np
import painted_people
import pytest
from painted_people import BLUE, GREEN, GREY, RED, box

from mivolo.core.config import MergeConfig, SettleConfig
from mivolo.core.structures import PERSON, Detections
from tracking import MergeStep
from tracking.identities import Identities
from tracking.people_history import PeopleHistory
from tracking.relink import colour_signature
from tracking.takeovers import TakeoverDetector

W, H = 800, 480
SPEED = 120.0  # pixels a second: one box height
CROSS_S = 1.6  # P and L meet at x=400


def painted(people: list[tuple[np.ndarray, tuple, tuple]]) -> np.ndarray:
    return painted_people.painted(people, W, H)


def scene(step_s: float = 0.1, taken_over: bool = True, l_clothes=(GREEN, GREY), p_turns_back: bool = False,
          back_s: float = 3.4, end_s: float = 5.0):
    """(time_s, people) per frame; people = [(xyxy (4,), top, bottom, tracker id, who)]. With ``taken_over`` id 1
    goes on with L after the crossing (the tracker error), else L is the one hidden and id 1 stays on P. With
    ``p_turns_back`` P turns back at the crossing and walks left (id 1 on P: no error) while L is hidden."""
    for k in range(int(round(end_s / step_s)) + 1):
        t = k * step_s
        p_x = 400 + SPEED * (t - CROSS_S) * (-1 if p_turns_back and t > CROSS_S else 1)
        p, q = box(p_x), box(400 - SPEED * (t - CROSS_S))
        if t < CROSS_S - 0.15:
            people = [(p, RED, BLUE, 1, "P"), (q, *l_clothes, 2, "L")]
        elif t <= CROSS_S + 0.15:  # one box where they overlap most: the tracker loses 2
            people = [(p, RED, BLUE, 1, "P")]
        elif taken_over:
            people = [(q, *l_clothes, 1, "L")] + ([(p, RED, BLUE, 3, "P")] if t >= back_s else [])
        else:  # no error: id 1 stays on P, L hidden until it comes back as 3
            people = [(p, RED, BLUE, 1, "P")] + ([(q, *l_clothes, 3, "L")] if t >= back_s else [])
        yield t, people


def run_detector(**kwargs) -> list:
    history = PeopleHistory()
    detector, found = TakeoverDetector(history), []
    for t, people in scene(**kwargs):
        xyxy = np.stack([b for b, *_ in people])
        image = painted([(b, top, bottom) for b, top, bottom, *_ in people])
        history.observe(t, np.array([i for *_, i, _ in people]), xyxy, colour_signature(image, xyxy),
                        np.ones(len(people), bool))
        found += detector.decide(t)
    return found


@pytest.mark.parametrize("step_s", [0.1, 0.2, 1 / 30])
def test_a_takeover_at_a_crossing_is_found_at_any_frame_rate(step_s):
    found = run_detector(step_s=step_s)
    assert len(found) == 1
    assert (found[0].identity, found[0].lost) == (1, 2)
    assert found[0].since_s == pytest.approx(CROSS_S - 0.15, abs=step_s + 1e-6)  # 2's last box


def test_a_tracker_that_kept_its_person_is_left_alone():
    assert run_detector(taken_over=False) == []


def test_alike_clothes_give_no_verdict():
    assert run_detector(l_clothes=(RED, BLUE)) == []


def test_someone_who_turns_back_where_another_was_lost_is_not_a_takeover():
    """The boxes of a takeover (id 1 turns back where 2 was lost), but id 1 kept its person: colours say so."""
    assert run_detector(taken_over=False, p_turns_back=True) == []


def test_a_standing_lost_one_gives_no_path_to_take_over():
    """L stood still before it was lost: no way it was going for id 1 to go on with."""
    history = PeopleHistory()
    detector = TakeoverDetector(history)
    image = painted([(box(400), GREEN, GREY)])
    for k in range(30):
        t = k * 0.1
        ids, xyxy = (np.array([1, 2]), np.stack([box(280 + 12 * min(k, 10)), box(400)])) if k < 10 else \
            (np.array([1]), box(400)[None])
        history.observe(t, ids, xyxy, colour_signature(image, xyxy), np.ones(len(ids), bool))
        assert detector.decide(t) == []


def test_the_merge_step_gives_each_person_their_own_id_and_votes():
    identities = Identities(SettleConfig(), min_frames=1, min_votes=1, min_seen_s=0.0)
    step = MergeStep(MergeConfig(), None, 60.0, on_merge=identities.merge, on_exchange=identities.exchange)
    shown = []
    for k, (t, people) in enumerate(scene()):
        xyxy = np.stack([b for b, *_ in people])
        dets = Detections.from_boxes(xyxy, np.full(len(people), 0.9, np.float32), PERSON)
        dets.track_id[:] = [i for *_, i, _ in people]
        is_p = np.array([who == "P" for *_, who in people])
        # every box votes: P looks like a man, L like a woman
        dets.age[:], dets.gender_p[:], dets.age_gender_conf[:] = 30.0, np.where(is_p, 0.95, 0.05), 0.9
        image = painted([(b, top, bottom) for b, top, bottom, *_ in people])
        dets = step(image, t, dets)
        identities.update(k, t, image, dets)
        shown.append({who: int(i) for i, (*_, who) in zip(dets.track_id, people, strict=True)})
    assert [r["cue"] for r in step.swaps_repaired] == ["turn"]
    assert step.swaps_repaired[0]["identities"] == [1, 2]
    assert shown[-1] == {"L": 2, "P": 1}  # L has its own id again; P, back as 3, was re-linked to 1
    assert any(m.cue == "motion+colour" and (m.track_id, m.into) == (3, 1) for m in step.merger.merges)
    assert identities.final_label(1).gender == "male"  # L's votes under id 1 since the takeover moved to 2
    assert identities.final_label(2).gender == "female"
    # only the votes of the one box of the meeting (given after 2's last box, showing P) went along
    assert identities.tracks[2].male_votes_w < 0.1 * identities.tracks[2].female_votes_w
