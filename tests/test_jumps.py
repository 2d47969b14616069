"""Repair of a tracker id that jumped onto another person (tracking.jumps) and its place in the merge step and the
settling stage."""

import numpy as np
import painted_people
import pytest
from painted_people import BLUE, GREEN, GREY, RED, box

from mivolo.core.config import MergeConfig, SettleConfig
from mivolo.core.structures import PERSON, Detections
from tracking import MergeStep
from tracking.identities import Identities
from tracking.jumps import JumpDetector
from tracking.people_history import PeopleHistory
from tracking.relink import colour_signature

W, H = 800, 480
STEP_S = 0.1
MEET = range(18, 21)  # steps where P walks past Q and the detector sees one box


def painted(boxes: list[tuple[np.ndarray, tuple, tuple]]) -> np.ndarray:
    return painted_people.painted(boxes, W, H)


def scene(jumped: bool, q_clothes=(GREEN, GREY), q_walks_on: bool = False, steps: int = 45):
    """Person P (red/blue) walks right at one box height per second past person Q, who stands at x=340 and is not
    detected until P has passed (hidden behind something). With ``jumped`` the tracker's id 1 stays on Q after the
    meeting and P, missed for 4 frames, comes back as id 3; otherwise id 1 stays on P and Q gets id 3. With
    ``q_walks_on`` it is P who stops at x=340 and Q who walks on from there (no tracker error: motion alone cannot
    tell it from a jump, colours must).
    Yields (time_s, image, ids (K,), xyxy (K, 4))."""
    for k in range(steps):
        walker = box(100 + 12 * k)
        stander = box(340)
        if q_walks_on:
            p, q = (walker, stander) if k < 20 else (stander, walker)
        else:
            p, q = walker, stander
        image = painted([(q, *q_clothes), (p, RED, BLUE)])
        if k < MEET.stop:
            yield k * STEP_S, image, np.array([1]), p[None]
        elif k < 25:  # after parting, the tracker's id 1 is on one of them; the other is missed
            yield k * STEP_S, image, np.array([1]), (q if jumped else p)[None]
        else:
            ids = np.array([1, 3])
            xyxy = np.stack([q, p]) if jumped else np.stack([p, q])
            yield k * STEP_S, image, ids, xyxy


def run_detector(**kwargs) -> list:
    history = PeopleHistory()
    detector, jumps = JumpDetector(history), []
    for t, image, ids, xyxy in scene(**kwargs):
        history.observe(t, ids, xyxy, colour_signature(image, xyxy), np.ones(len(ids), bool))
        jumps += detector.decide(t)
    return jumps


def test_a_jump_onto_someone_met_is_found_with_the_moment_it_happened():
    jumps = run_detector(jumped=True)
    assert len(jumps) == 1
    assert (jumps[0].identity, jumps[0].young) == (1, 3)
    # P's last boxes under id 1: at step 20 P stands where Q stands, so 1.9 and 2.0 fit alike
    assert jumps[0].since_s == pytest.approx(1.95, abs=0.06)


def test_a_tracker_that_kept_its_person_is_left_alone():
    assert run_detector(jumped=False) == []


def test_alike_clothes_give_no_verdict():
    assert run_detector(jumped=True, q_clothes=(RED, BLUE)) == []


def test_someone_who_stops_where_another_walks_on_is_not_a_jump():
    """The same boxes as a jump, but colours say id 1 kept its person (P stopped; Q walked on)."""
    assert run_detector(jumped=False, q_walks_on=True) == []


def test_the_merge_step_and_the_settling_stage_give_each_person_their_own_id_and_votes():
    identities = Identities(SettleConfig(), min_frames=1, min_votes=1, min_seen_s=0.0)
    step = MergeStep(MergeConfig(), None, 60.0, on_merge=identities.merge, on_exchange=identities.exchange)
    out = []
    for k, (t, image, ids, xyxy) in enumerate(scene(jumped=True)):
        dets = Detections.from_boxes(xyxy, np.full(len(ids), 0.9, np.float32), PERSON)
        dets.track_id[:] = ids
        # every box votes: P (the walker) looks like a man, Q like a woman
        walker_x = 100 + 12 * k
        is_p = np.abs((xyxy[:, 0] + xyxy[:, 2]) / 2 - walker_x) < 1
        dets.age[:], dets.gender_p[:], dets.age_gender_conf[:] = 30.0, np.where(is_p, 0.95, 0.05), 0.9
        dets = step(image, t, dets)
        identities.update(k, t, image, dets)
        out.append(dict(zip(np.where(is_p, "P", "Q").tolist(), dets.track_id.tolist(), strict=True)))
    assert step.swaps_repaired and step.swaps_repaired[-1]["cue"] == "path"
    assert out[-1] == {"P": 1, "Q": 3}  # P is 1 again; Q, whom id 1 jumped onto, is 3
    assert out[10] == {"P": 1}
    assert identities.final_label(1).gender == "male"  # Q's votes under id 1 since the jump moved to 3
    assert identities.final_label(3).gender == "female"
    p_votes = sum(1 for o in out if "P" in o)
    q_votes = sum(1 for o in out if "Q" in o)
    assert identities.tracks[1].votes + identities.tracks[3].votes == p_votes + q_votes
    assert abs(identities.tracks[1].votes - p_votes) <= 1  # at step 20 P stands where Q stands: either may have it
    assert identities.tracks[3].male_votes_w < 0.06 * identities.tracks[3].female_votes_w


def test_exchange_moves_only_the_votes_given_after_the_moment():
    identities = Identities(SettleConfig(), min_frames=1, min_votes=1, min_seen_s=0.0)
    image = np.zeros((H, W, 3), np.uint8)
    for k in range(10):
        dets = Detections.from_boxes(np.stack([box(100), box(500)]), np.full(2, 0.9, np.float32), PERSON)
        dets.track_id[:] = [1, 2]
        # after t=0.5 the tracker showed each one's person under the other id
        dets.gender_p[:] = [0.9, 0.1] if k < 5 else [0.1, 0.9]
        dets.age[:], dets.age_gender_conf[:] = [20.0, 60.0] if k < 5 else [60.0, 20.0], 0.9
        identities.update(k, k * 0.1, image, dets)
    assert identities.final_label(1).gender is None  # five votes each way: no agreement
    identities.exchange(1, 2, 0.45)
    one, two = identities.final_label(1), identities.final_label(2)
    assert (one.gender, two.gender) == ("male", "female")
    assert one.age == pytest.approx(20.0) and two.age == pytest.approx(60.0)
    assert identities.tracks[1].votes == identities.tracks[2].votes == 10


@pytest.mark.parametrize("back_at", [18, 33])
def test_after_a_jump_at_a_crossing_both_people_keep_their_ids(back_at):
    """P (red/blue, id 1) walks right and L (green/grey, id 2) walks left; where they cross the detector sees one
    box, the tracker loses 2, and id 1 goes on with L while P comes back as id 3 (at step ``back_at``: soon, or so
    late that the repair comes more than 2 s after the jump). The jump repair gives P id 1 again and the piece id 1
    showed of L since the jump, under its own id, is re-linked to L's id 2."""
    step = MergeStep(MergeConfig(), None, 60.0)
    shown = {}
    for k in range(back_at + 16):
        t = k * STEP_S
        p, q = box(150 + 12 * k), box(490 - 12 * k)
        people = []
        if k < 12:
            people = [(p, RED, BLUE, 1, "P"), (q, GREEN, GREY, 2, "L")]
        elif k < 15:
            people = [(p, RED, BLUE, 1, "P")]  # one box where they overlap: the tracker loses 2
        else:
            people = [(q, GREEN, GREY, 1, "L")] + ([(p, RED, BLUE, 3, "P")] if k >= back_at else [])
        xyxy = np.stack([b for b, *_ in people])
        dets = Detections.from_boxes(xyxy, np.full(len(people), 0.9, np.float32), PERSON)
        dets.track_id[:] = [tid for *_, tid, _ in people]
        out = step(painted([(b, top, bottom) for b, top, bottom, *_ in people]), t, dets)
        shown[k] = {who: int(i) for i, (*_, who) in zip(out.track_id, people, strict=True)}
    assert [r["cue"] for r in step.swaps_repaired] == ["path"]
    assert step.swaps_repaired[0]["at_s"] - step.swaps_repaired[0]["since_s"] > (2.0 if back_at == 33 else 0.0)
    assert shown[back_at + 15] == {"P": 1, "L": 2}
    assert any(m.cue == "motion+colour" and m.into == 2 for m in step.merger.merges)


def test_exchange_moves_crops_and_rebuilds_the_best_estimate():
    identities = Identities(SettleConfig(mode="confidence"), min_frames=1, min_votes=1, min_seen_s=0.0)
    image = np.zeros((H, W, 3), np.uint8)
    image[:, :400] = 200  # identity 1's person stands on the bright half
    for k in range(10):
        late = k >= 5  # after t=0.45 the tracker showed each one's person under the other id
        dets = Detections.from_boxes(np.stack([box(100), box(500)]), np.full(2, 0.9, np.float32), PERSON)
        dets.track_id[:] = [1, 2]
        dets.gender_p[:] = [0.1, 0.9] if late else [0.9, 0.1]
        dets.age[:] = 30.0
        dets.age_gender_conf[:] = [0.99, 0.6] if late else [0.7, 0.7]  # the late votes weigh most under id 1
        if late:
            dets.xyxy[1] = box(500, h=200)  # a bigger box: a better crop, taken under id 2
        identities.update(k, k * 0.1, image, dets)
    assert identities.tracks[1].best_s > 0.45  # the heaviest single estimate under id 1 came after the swap
    crop_2 = identities.tracks[2].crop
    identities.exchange(1, 2, 0.45)
    assert identities.final_label(1).gender == "male" and identities.final_label(2).gender == "female"
    assert identities.tracks[1].best_s < 0.45 and identities.tracks[2].best_s > 0.45
    assert identities.tracks[1].crop is crop_2  # the crop taken under id 2 since then showed 1's person
    assert identities.tracks[2].crop is None  # 2's own crops since then went to 1: none of its person is left


def test_a_young_identity_hands_its_signature_over():
    from tracking.merging import IdentityMerger

    merger = IdentityMerger(dim=2)
    merger.observe(1, 0.0, np.array([1.0, 0.0]))
    for k in range(3):
        merger.observe(3, 1.0 + k, np.array([0.0, 1.0]))
    merger.hand_over(3, 1, 0.5)
    assert merger.signatures[1].samples == 4 and merger.signatures[3].samples == 0
    assert merger.signatures[1].vector_sum.tolist() == [1.0, 3.0]
