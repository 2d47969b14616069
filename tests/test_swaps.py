"""Repair of tracker id swaps between two people who met (tracking.swaps) and its place in the outputs."""

import numpy as np
import pytest
from painted_people import BLUE, GREEN, GREY, RED, box, painted

from mivolo.sinks.tracks import ID, TIME, undo_swaps
from tracking.people_history import PeopleHistory
from tracking.relink import colour_signature
from tracking.swaps import SwapDetector


def cross(swap_ids: bool, second=(GREEN, GREY), steps: int = 40, turn_back: bool = False, **settings) -> list:
    """Person P (red/blue) walks right, person Q walks left; their boxes overlap at steps 13-16 (with ``turn_back``
    both turn round there and walk back the way they came). The tracker calls P "1" and Q "2" throughout, or, with
    ``swap_ids``, the other way round once they parted. ``settings``: of the SwapDetector."""
    history = PeopleHistory()
    detector, decided = SwapDetector(history, **settings), []
    for k in range(steps):
        t = 0.1 * k
        walked = 12 * (k if not turn_back or k <= 14 else 28 - k)
        p, q = box(150 + walked), box(490 - walked)
        parted = k > 16
        ids = np.array([2, 1]) if swap_ids and parted else np.array([1, 2])
        xyxy = np.stack([p, q])
        colours = colour_signature(painted([(p, RED, BLUE), (q, *second)]), xyxy)
        overlap = min(p[2], q[2]) > max(p[0], q[0])
        history.observe(t, ids, xyxy, colours, np.array([not overlap, not overlap]))
        detector.observe(t, ids, xyxy)
        decided += detector.decide(t)
    return decided


def test_a_swap_at_a_meeting_is_found_once_after_they_parted():
    decided = cross(swap_ids=True)
    assert len(decided) == 1 and decided[0][:2] == (1, 2)
    swapped_s = decided[0][2]
    assert swapped_s == pytest.approx(1.4)  # when their boxes overlapped most (they overlap at steps 13-16)


def test_people_who_kept_their_ids_are_left_alone():
    assert cross(swap_ids=False) == []


def test_alike_clothes_give_no_verdict():
    assert cross(swap_ids=True, second=(RED, BLUE)) == []


def test_paths_that_cross_back_colours_that_only_lean_the_crossed_way():
    colours_alone_never_do = {"margin": 10.0}  # however far the colours lean, they must not decide alone here
    decided = cross(swap_ids=True, **colours_alone_never_do)
    assert len(decided) == 1 and decided[0][:2] == (1, 2)  # each id went on along the other one's path
    assert cross(swap_ids=False, **colours_alone_never_do) == []
    assert cross(swap_ids=True, path_margin_h=1e6, **colours_alone_never_do) == []  # the paths were the reason


def test_paths_that_clearly_go_on_straight_overrule_the_colours():
    # both turn round where they met and the tracker keeps each id on the one walking on along its path, yet the
    # colours say the ids changed people: no verdict rather than a repair that may be wrong
    assert cross(swap_ids=True) != [] and cross(swap_ids=True, turn_back=True) == []
    assert cross(swap_ids=True, turn_back=True, path_margin_h=1e6) != []  # without the paths: the colours repair


def test_the_rows_between_parting_and_repair_get_their_right_ids():
    rows = np.zeros((6, 9), np.float32)
    rows[:, TIME] = [1.0, 1.0, 2.5, 2.5, 3.5, 3.5]
    rows[:, ID] = [1, 2, 2, 1, 1, 2]  # swapped between parting (2.0) and repair (3.0)
    undo_swaps(rows, [{"identities": [1, 2], "since_s": 2.0, "at_s": 3.0}])
    assert rows[:, ID].tolist() == [1, 2, 1, 2, 1, 2]


def test_rows_of_a_track_linked_into_a_swapped_identity_before_the_repair_are_exchanged_too():
    """PETS09 (SSDLite, ByteTrack): track 59 was re-linked into identity 48 at 38.5 s, then identities 48 and 58 were
    found swapped since 36.4 s (repair at 38.7 s). 59's rows before the link were written as 59, so exchanging only
    the numbers 48 and 58 gave 58's person's rows 48 while 59's rows became 48 too: one id twice in a frame."""
    rows = np.zeros((6, 9), np.float32)
    rows[:, TIME] = [37.5, 37.5, 38.6, 38.6, 38.8, 38.8]
    rows[:, ID] = [59, 58, 48, 58, 58, 48]  # after the repair the tracker ids show 58 and 48 the right way round
    swap = {"identities": [48, 58], "since_s": 36.4, "at_s": 38.7, "written_as": [[48, 51, 59], [58]]}
    undo_swaps(rows, [swap])
    assert rows[:, ID].tolist() == [58, 48, 58, 48, 58, 48]
    legacy = np.zeros((2, 9), np.float32)
    legacy[:, TIME], legacy[:, ID] = 37.5, [48, 58]
    undo_swaps(legacy, [{k: v for k, v in swap.items() if k != "written_as"}])  # run.json of older runs
    assert legacy[:, ID].tolist() == [58, 48]


def test_a_swap_repair_records_the_ids_its_identities_were_written_as():
    from mivolo.core.config import MergeConfig
    from tracking import MergeStep
    from tracking.merging import Merge

    step = MergeStep(MergeConfig(), None, 60.0)
    step.merger.merges += [Merge(51, 48, 0.7, 0.1), Merge(59, 51, 0.7, 1.1), Merge(7, 58, 0.8, 0.2),
                           Merge(9, 3, 0.8, 0.2)]
    assert step._written_as(48) == [48, 51, 59]  # 59 joined 51, which had joined 48
    assert step._written_as(58) == [7, 58] and step._written_as(12) == [12]


def test_the_merge_step_gives_each_person_their_id_back():
    from mivolo.core.config import MergeConfig
    from mivolo.core.structures import PERSON, Detections
    from tracking import MergeStep

    step = MergeStep(MergeConfig(), None, 60.0)
    out_ids = []
    for k in range(40):
        p, q = box(150 + 12 * k), box(490 - 12 * k)
        image = painted([(p, RED, BLUE), (q, GREEN, GREY)])
        dets = Detections.from_boxes(np.stack([p, q]), np.array([0.9, 0.9], np.float32), PERSON)
        dets.track_id[:] = [2, 1] if k > 16 else [1, 2]  # the tracker swapped them once they parted
        out_ids.append(step(image, 0.1 * k, dets).track_id.tolist())
    assert out_ids[-1] == [1, 2]  # P is 1 again, Q is 2
    assert out_ids[18] == [2, 1]  # until the repair, a moment after they parted
    report = step.report()["swaps_repaired"]
    assert len(report) == 1 and report[0]["identities"] == [1, 2] and report[0]["since_s"] < report[0]["at_s"]
    off = MergeStep(MergeConfig(repair_swaps=False), None, 60.0)
    assert off.swaps is None


def jump(young_is_the_old_person: bool) -> list:
    """Only P (red/blue) is tracked, as 1, until Q (green/grey) shows up beside it at step 13: the tracker moves 1 onto
    Q and starts 2 on P (a jump), or 1 stays on P and Q gets 2 (no jump)."""
    history = PeopleHistory()
    detector, decided = SwapDetector(history), []
    for k in range(40):
        t = 0.1 * k
        p, q = box(150 + 12 * k), box(490 - 12 * k)
        image = painted([(p, RED, BLUE), (q, GREEN, GREY)])
        if k < 13:
            ids, xyxy = np.array([1]), p[None]
        else:
            ids, xyxy = (np.array([2, 1]) if young_is_the_old_person else np.array([1, 2])), np.stack([p, q])
        overlap = len(xyxy) == 2 and min(p[2], q[2]) > max(p[0], q[0])
        history.observe(t, ids, xyxy, colour_signature(image, xyxy), np.full(len(ids), not overlap))
        detector.observe(t, ids, xyxy)
        decided += detector.decide(t)
    return decided


def test_a_tracker_that_jumped_to_someone_gives_its_identity_back_to_its_person():
    assert [d[:2] for d in jump(young_is_the_old_person=True)] == [(1, 2)]
    assert jump(young_is_the_old_person=False) == []


def test_state_stays_bounded_when_identities_come_and_go():
    history = PeopleHistory()
    detector = SwapDetector(history)
    colour = np.ones((1, 80), np.float32)
    for k in range(600):  # a new identity every frame for a minute at 10 fps, overlapping the one before
        ids, xyxy = np.array([k, k + 1000]), np.stack([box(300), box(310)])
        history.observe(0.1 * k, ids, xyxy, np.repeat(colour, 2, axis=0), np.array([True, True]))
        detector.observe(0.1 * k, ids, xyxy)
        detector.decide(0.1 * k)
    assert all(len(store) <= 2 * 61 for store in (history.boxes, history.colours, history.first_s, history.last_s))
    assert len(history.frames) <= 61 and len(detector.meetings) <= 2 * 41


def test_a_repair_holds_when_one_of_the_two_is_missed_at_the_moment_of_decision():
    from mivolo.core.config import MergeConfig
    from mivolo.core.structures import PERSON, Detections
    from tracking import MergeStep

    step = MergeStep(MergeConfig(), None, 60.0)
    for k in range(40):
        p, q = box(150 + 12 * k), box(490 - 12 * k)
        image = painted([(p, RED, BLUE), (q, GREEN, GREY)])
        missed_q = 25 <= k <= 29  # the detector misses Q around the moment the swap is judged
        boxes = np.stack([p]) if missed_q else np.stack([p, q])
        dets = Detections.from_boxes(boxes, np.full(len(boxes), 0.9, np.float32), PERSON)
        swapped = [2, 1] if k > 16 else [1, 2]
        dets.track_id[:] = swapped[:len(boxes)]
        last = step(image, 0.1 * k, dets).track_id.tolist()
    assert last == [1, 2] and len(step.report()["swaps_repaired"]) == 1
    # the identities that leave memory later are forgotten through the trackers that now show them
    assert step.trackers_showing({1}, {1}) == {2} and step.trackers_showing({2}, {2}) == {1}
