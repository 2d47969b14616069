"""Scoring of the real-footage scoreboard (benchmarks/real.py) on tiny synthetic inputs, and (slow) one real run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from benchmarks.real import (
    REAL,
    Clip,
    count_error,
    every_nth_frame,
    gender_by_position,
    gender_multiset,
    gt_pedestrians,
    slots_left_to_right,
    spanning_identities,
    through_window,
    with_variants,
)


def _rows(frames, tid, x, y=10.0, w=20.0, h=40.0):
    return np.array([[f, tid, x, y, w, h, 1, 1, 1] for f in frames], dtype=float)


def test_count_error_is_signed_and_in_percent_of_people():
    assert count_error(12, 10) == {"count_error": 2, "count_error_pct": 20.0}
    assert count_error(7, 10) == {"count_error": -3, "count_error_pct": -30.0}
    assert count_error(3, 0) == {"count_error": 3, "count_error_pct": None}


def test_gt_rows_that_count():
    gt = np.array([[1, 1, 0, 0, 5, 5, 1, 1, 1],  # pedestrian
                   [1, 2, 0, 0, 5, 5, 0, 1, 1],  # not considered
                   [1, 3, 0, 0, 5, 5, 1, 7, 1],  # static person class
                   [9, 4, 0, 0, 5, 5, 1, 1, 1]], float)  # beyond the frames processed
    assert gt_pedestrians(gt, frames=5)[:, 1].tolist() == [1]


def test_an_identity_that_takes_over_a_second_person_spans_two():
    # gt: person 1 at x=0 (frames 1-20), person 2 at x=100 (frames 1-20)
    gt = np.vstack([_rows(range(1, 21), 1, 0.0), _rows(range(1, 21), 2, 100.0)])
    # pred id 7 follows person 1 for frames 1-10 then jumps to person 2 for 11-20 (an id switch);
    # id 8 follows person 2 for 1-10 only; id 9 is person 1 for 11-16 but also 3 frames of person 2 (below 5)
    pred = np.vstack([_rows(range(1, 11), 7, 0.0), _rows(range(11, 21), 7, 100.0),
                      _rows(range(1, 11), 8, 100.0), _rows(range(11, 17), 9, 1.0)])
    spans = spanning_identities(pred, gt)
    assert spans == [{"id": 7, "gt_frames": {"1": 10, "2": 10}, "gt_coexist": True}]
    assert orjson.loads(orjson.dumps(spans)) == spans  # written to real.json as is
    # a one-frame flicker onto another person does not count; neither do boxes with IoU < 0.5
    flicker = np.vstack([_rows(range(1, 20), 5, 0.0), _rows([20], 5, 100.0)])
    assert spanning_identities(flicker, gt) == []
    far = np.vstack([_rows(range(1, 11), 6, 15.0), _rows(range(11, 21), 6, 115.0)])  # IoU 1/7 with each
    assert spanning_identities(far, gt) == []
    # two gt people who never share a frame: still spanning, flagged as not certainly two people
    seq = np.vstack([_rows(range(1, 11), 1, 0.0), _rows(range(11, 21), 2, 100.0)])
    assert spanning_identities(pred[pred[:, 1] == 7], seq) == [{"id": 7, "gt_frames": {"1": 10, "2": 10},
                                                                "gt_coexist": False}]
    # Hungarian per frame: two predicted boxes on the same person are not both matched to it
    dup = np.vstack([_rows(range(1, 11), 3, 0.0), _rows(range(1, 11), 4, 1.0), _rows(range(11, 21), 4, 100.0)])
    assert spanning_identities(dup, gt) == []


def test_gender_by_left_to_right_slot():
    labels = ["female", "male"]  # left, right; both people stand right of the frame centre (as in the GIF)
    ids = [{"id": 1, "gender": "female", "x": 256.0, "frames": 30},
           {"id": 2, "gender": "female", "x": 310.0, "frames": 30},  # the man, said female
           {"id": 3, "gender": "male", "x": 300.0, "frames": 3}]  # a short fragment of him, right
    g = gender_by_position(labels, ids, 480)
    assert (g["right"], g["wrong"], g["unknown"]) == (1, 1, 0)
    assert [p["id"] for p in g["people"]] == [1, 2]
    assert [p["identities_in_slot"] for p in g["people"]] == [[1], [2, 3]]
    assert g["per_identity"] == {"right": 2, "wrong": 1, "unknown": 0}
    # null gender and empty slots are unknown, never right
    g = gender_by_position(["female", "male", "female"], [{"id": 4, "gender": None, "x": 50.0, "frames": 9}], 600)
    assert (g["right"], g["wrong"], g["unknown"]) == (0, 0, 3)
    assert g["people"][0]["id"] == 4  # the one identity, far left, is the left person
    # fewer identities than people: the order-keeping nearest slots (here the middle and the right person)
    g = gender_by_position(["female", "male", "female"], [{"id": 5, "gender": "male", "x": 290.0, "frames": 9},
                                                          {"id": 6, "gender": "female", "x": 560.0, "frames": 9}], 600)
    assert [p["id"] for p in g["people"]] == [None, 5, 6] and (g["right"], g["unknown"]) == (2, 1)


def test_slots_keep_fragments_with_their_person():
    xs = [100.0, 105.0, 300.0, 310.0, 500.0]  # person A in two fragments, B in two, C in one
    assert slots_left_to_right(xs, [20, 5, 20, 5, 20], 3, 600) == [0, 0, 1, 1, 2]
    assert slots_left_to_right(xs[::-1], [20, 5, 20, 5, 20][::-1], 3, 600) == [2, 1, 1, 0, 0]


def test_gender_multiset():
    m = gender_multiset(["female", "male", "female"], ["female", "male", "male", None])
    assert (m["right"], m["wrong"], m["unknown"]) == (2, 1, 0)
    m = gender_multiset(["female", "male"], [None, None])
    assert (m["right"], m["wrong"], m["unknown"]) == (0, 0, 2)


@pytest.mark.slow
def test_quick_real_scoreboard_runs(tmp_path):
    if not REAL.is_dir():
        pytest.skip("../shared/data/real is not present")
    from benchmarks.real import run

    result = run(quick=True, stacks=["default"], output_dir=tmp_path, max_frames=8)
    assert result is not None and (tmp_path / "real.json").is_file() and (tmp_path / "real.md").is_file()
    for row in result["runs"]:
        assert "error" not in row, row
        assert row["frames"] == 8 and row["fps"] > 0 and row["people"] > 0
    pets = [r for r in result["runs"] if "HOTA" in r]
    assert pets and all(0 <= r["HOTA"] <= 100 for r in pets)


def test_a_sequence_at_a_lower_frame_rate_keeps_every_nth_frame_with_its_gt(tmp_path):
    import cv2

    video = tmp_path / "seq" / "clip.avi"
    video.parent.mkdir()
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for k in range(7):  # frame k (0-based) shows its number as its brightness
        writer.write(np.full((48, 64, 3), 30 * k, np.uint8))
    writer.release()
    gt = tmp_path / "seq" / "gt.txt"
    np.savetxt(gt, np.vstack([_rows(range(1, 8), 1, 5.0), _rows([2, 3, 4], 2, 30.0)]), delimiter=",", fmt="%g")
    clip = Clip("seq", video, gt=gt, length=7)
    slower = every_nth_frame(clip, 3, tmp_path / "out")
    assert slower is not None and slower.name == "seq@3.33333fps" and slower.length == 3
    capture = cv2.VideoCapture(str(slower.input))
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(10 / 3, abs=0.01)
    brightness = []
    while (frame := capture.read())[0]:
        brightness.append(float(frame[1].mean()))
    assert brightness == pytest.approx([0, 90, 180], abs=6)  # frames 1, 4 and 7 of the original
    rows = np.loadtxt(slower.gt, delimiter=",", ndmin=2)
    assert sorted(map(tuple, rows[:, :2].astype(int).tolist())) == [(1, 1), (2, 1), (2, 2), (3, 1)]
    assert every_nth_frame(Clip("folder", tmp_path, ["--as-video"], gt=gt), 2, tmp_path / "x") is None
    both = with_variants([clip], (2, 3), ("window", "pan", "half"), tmp_path / "both")
    assert [c.name for c in both] == ["seq", "seq@5fps", "seq@3.33333fps", "seq-window", "seq-pan", "seq-half"]


@pytest.mark.parametrize("view", ["window", "pan", "swing"])
def test_a_sequence_through_a_narrower_window_moves_and_cuts_its_gt(tmp_path, view):
    import cv2

    video = tmp_path / "seq" / "clip.avi"
    video.parent.mkdir()
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (96, 72))
    image = np.zeros((72, 96, 3), np.uint8)
    image[:, 48:] = 200  # the right half bright
    for _ in range(3):
        writer.write(image)
    writer.release()
    gt = tmp_path / "seq" / "gt.txt"
    # a person in the middle, one mostly left of the window (x 0-10: the window starts at x=8), one 40 % out
    rows = np.vstack([_rows([1, 2, 3], 1, 40.0), _rows([1], 2, 0.0), _rows([1], 3, 4.0)])
    rows[:, 4] = 10.0
    np.savetxt(gt, rows, delimiter=",", fmt="%g")
    narrow = through_window(Clip("seq", video, gt=gt, length=3), view, tmp_path / "out")
    assert narrow is not None and narrow.name == f"seq-{view}" and narrow.length == 3
    capture = cv2.VideoCapture(str(narrow.input))
    ok, first = capture.read()
    assert ok and first.shape[:2] == (60, 80)
    out = np.loadtxt(narrow.gt, delimiter=",", ndmin=2)
    assert sorted(set(out[:, 1].astype(int).tolist())) == [1, 3]  # 2 was mostly outside
    first_frame = out[(out[:, 0] == 1) & (out[:, 1] == 1)][0]
    second_frame = out[(out[:, 0] == 2) & (out[:, 1] == 1)][0]
    assert (second_frame[2] < first_frame[2] - 0.2) == (view != "window")  # the panning window moved right
    if view == "window":  # moved by the window's corner (8, 6), the edge of brightness at x=48 -> 40
        assert first_frame[2:4].tolist() == pytest.approx([32.0, rows[0, 3] - 6.0])
        assert float(first[:, 38].mean()) < 60 and float(first[:, 42].mean()) > 140
        cut = out[out[:, 1] == 3][0]
        assert cut[2] == 0.0 and cut[4] == pytest.approx(6.0)  # more than half inside: kept, cut at the edge
    assert through_window(Clip("folder", tmp_path, ["--as-video"], gt=gt), view, tmp_path / "x") is None


def test_rescoring_keeps_a_row_whose_clip_is_not_there_any_more(tmp_path):
    from benchmarks.real import rescore

    written = orjson.loads((Path(__file__).resolve().parents[1] / "benchmarks/results/real.json").read_bytes())
    row = {**written["runs"][0], "clip": "gone@5fps"}  # a row as the scoreboard writes it, of a clip not found
    result_json = tmp_path / "real.json"
    result_json.write_bytes(orjson.dumps({**written, "runs": [row]}))
    result = rescore(result_json, tmp_path / "runs", sequences=[], frame_steps=(), views=())
    assert result["runs"] == [row] and "rescored" in result
    assert orjson.loads(result_json.read_bytes())["runs"] == [row] and (tmp_path / "real.md").is_file()


@pytest.mark.parametrize("view", ["half", "dark", "glitch", "repeat"])
def test_a_sequence_as_other_cameras_and_recorders_would_deliver_it(tmp_path, view):
    import cv2

    from benchmarks.real import GARBAGE_EVERY, as_filmed

    video = tmp_path / "seq" / "clip.avi"
    video.parent.mkdir()
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (96, 72))
    for k in range(GARBAGE_EVERY):  # frame k (0-based) shows its number as the brightness of the left half
        image = np.full((72, 96, 3), 200, np.uint8)
        image[:, :48] = 2 * k
        writer.write(image)
    writer.release()
    gt = tmp_path / "seq" / "gt.txt"
    np.savetxt(gt, _rows([1, 2, GARBAGE_EVERY], 1, 40.0), delimiter=",", fmt="%g")
    filmed = as_filmed(Clip("seq", video, gt=gt, length=GARBAGE_EVERY), view, tmp_path / "out")
    copies = 3 if view == "repeat" else 1
    assert filmed is not None and filmed.name == f"seq-{view}" and filmed.length == GARBAGE_EVERY * copies
    capture = cv2.VideoCapture(str(filmed.input))
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(10.0 * copies, abs=0.01)
    frames = []
    while (frame := capture.read())[0]:
        frames.append(frame[1])
    assert len(frames) == GARBAGE_EVERY * copies
    assert frames[0].shape[:2] == ((36, 48) if view == "half" else (72, 96))
    left = [float(f[:, :f.shape[1] // 2].mean()) for f in frames]
    right = [float(f[:, f.shape[1] // 2:].mean()) for f in frames]
    if view == "repeat":
        assert left[:6] == pytest.approx([0, 0, 0, 2, 2, 2], abs=3)
    elif view == "dark":
        assert right[0] == pytest.approx(255 * 0.6 * (200 / 255) ** 1.8, abs=4)
    elif view == "glitch":  # the 50th frame: grey from half its height down
        assert float(frames[-1][-10:, 60:].mean()) == pytest.approx(128, abs=4)
        assert float(frames[-2][-10:, 60:].mean()) == pytest.approx(200, abs=4)
    rows = np.loadtxt(filmed.gt, delimiter=",", ndmin=2)
    if view == "half":
        assert rows[0, 2:6].tolist() == pytest.approx([20.0, 5.0, 10.0, 20.0])
    elif view == "repeat":
        assert rows[:, 0].astype(int).tolist() == [1, 2, 3, 4, 5, 6, 148, 149, 150]
    else:
        assert rows[:, 0].astype(int).tolist() == [1, 2, GARBAGE_EVERY]
    assert as_filmed(Clip("folder", tmp_path, ["--as-video"], gt=gt), view, tmp_path / "x") is None


def test_an_identity_spans_two_people_for_half_a_second_of_each_at_any_frame_rate():
    from benchmarks.real import span_min_frames

    assert [span_min_frames(fps) for fps in (5.0, 10.0, 30.0, None, float("nan"))] == [5, 5, 15, 5, 5]
    gt = np.vstack([_rows(range(1, 31), 1, 10.0), _rows(range(1, 31), 2, 60.0)])
    pred = np.vstack([_rows(range(1, 21), 7, 10.0), _rows(range(21, 31), 7, 60.0)])  # 20 frames on 1, 10 on 2
    assert [s["id"] for s in spanning_identities(pred, gt, span_min_frames(10.0))] == [7]
    assert spanning_identities(pred, gt, span_min_frames(30.0)) == []  # 10 frames at 30 fps: a third of a second
