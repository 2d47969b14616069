"""tracks.txt post-processing: gap filling and smoothing of each track's boxes over time."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mivolo.core.config import PipelineConfig
from mivolo.core.run import RunInfo, RunSummary, SourceInfo
from mivolo.core.structures import PERSON, Detections, Frame
from mivolo.sinks.tracks import (
    CONF,
    FRAME,
    ID,
    KIND,
    LONE_FACE_ROW,
    PAIRED_FACE_ROW,
    PERSON_ROW,
    X1,
    X2,
    Y1,
    Y2,
    TracksSink,
    drop_repeated_ids,
    interpolate_gaps,
    smooth_tracks,
)


def _walk(track_id: int, frames: np.ndarray, x0: float, speed: float, jitter: float, seed: int) -> np.ndarray:
    """MOT rows (frame, id, x, y, w, h, conf) of a 40x100 box walking right at ``speed`` px/frame, x jittered."""
    rng = np.random.default_rng(seed)
    x = x0 + speed * (frames - frames[0]) + rng.normal(0, jitter, len(frames))
    return np.column_stack([frames, np.full(len(frames), track_id), x, np.full(len(frames), 50.0),
                            np.full(len(frames), 40.0), np.full(len(frames), 100.0), np.full(len(frames), 0.9)])


def test_smoothing_removes_jitter_and_keeps_the_walk():
    frames = np.arange(1, 61, dtype=float)
    rows = _walk(1, frames, 100, 3.0, jitter=4.0, seed=0)
    truth = 100 + 3.0 * (frames - 1)
    smooth = smooth_tracks(rows, sigma_frames=2.0)
    inner = slice(6, -6)  # a straight walk stays straight away from the ends
    assert np.abs(smooth[inner, 2] - truth[inner]).mean() < 0.7 * np.abs(rows[inner, 2] - truth[inner]).mean()
    assert np.abs(np.diff(smooth[:, 2]) - 3.0).max() < np.abs(np.diff(rows[:, 2]) - 3.0).max()
    assert np.array_equal(smooth[:, [0, 1, 6]], rows[:, [0, 1, 6]])  # frames, ids and scores untouched
    assert np.allclose(smooth[:, 3:6], rows[:, 3:6])  # constant columns stay constant, ends included


def test_smoothing_never_mixes_tracks_or_crosses_a_break():
    a = _walk(1, np.arange(1, 21, dtype=float), 100, 0.0, jitter=0.0, seed=1)
    later = _walk(1, np.arange(40, 60, dtype=float), 500, 0.0, jitter=0.0, seed=2)  # same id after a long break
    other = _walk(2, np.arange(1, 21, dtype=float), 300, 0.0, jitter=0.0, seed=3)  # another person, same frames
    rows = np.vstack([other, later, a])  # any order
    smooth = smooth_tracks(rows, sigma_frames=3.0)
    assert np.allclose(smooth, rows, rtol=0, atol=1e-6)  # standing still: nothing from the other track or later run
    assert np.array_equal(smooth_tracks(rows, 0.0), rows)


def test_interpolation_then_smoothing_in_the_sink(tmp_path):
    """The sink fills the break, then smooths across the filled frames; separate images are never smoothed."""
    def run(independent: bool, smooth_s: float) -> np.ndarray:
        out = tmp_path / f"{independent}_{smooth_s}"
        out.mkdir()
        sink = TracksSink(interpolate=5, smooth_s=smooth_s)
        info = SourceInfo(kind="video", name="clip", fps=10.0, length=30, independent_frames=independent)
        sink.open(RunInfo(out, info, PipelineConfig()))
        rng = np.random.default_rng(0)
        for index in range(30):
            if index in (10, 11):  # two missed frames
                continue
            x = 100 + 2 * index + rng.normal(0, 3)
            dets = Detections.from_boxes(np.array([[x, 50, x + 40, 150]], np.float32), np.array([0.9]), PERSON)
            dets.track_id[:] = 1
            sink.write(Frame(index, index / 10, np.zeros((4, 4, 3), np.uint8)), dets, None)
        summary = RunSummary(out, records={1: {}})
        sink.close(summary)
        return np.loadtxt(Path(summary.files["tracks"]), delimiter=",")

    raw, smooth, images = run(False, 0.0), run(False, 0.2), run(True, 0.2)
    assert raw[:, 0].tolist() == list(range(1, 31))  # the break is filled
    truth = 100 + 2 * (raw[:, 0] - 1)
    inner = slice(4, -4)
    assert np.abs(smooth[inner, 2] - truth[inner]).mean() < np.abs(raw[inner, 2] - truth[inner]).mean()
    assert np.array_equal(images[:, 2], raw[:, 2])  # no time between separate images: nothing to smooth


def test_interpolation_of_many_tracks_in_one_pass():
    rows = np.vstack([_walk(i, np.array([1.0, 4.0, 30.0]), 10.0 * i, 1.0, 0.0, i) for i in range(1, 50)])
    filled = interpolate_gaps(rows[::-1], 5)
    assert len(filled) == 49 * 5  # frames 2 and 3 of every track; 4 -> 30 is too long
    assert np.all(np.diff(filled[:, 0]) >= 0)
    for i in (1, 25, 49):
        track = filled[filled[:, 1] == i]
        assert track[:, 0].tolist() == [1, 2, 3, 4, 30] and np.allclose(track[1:3, 2], 10 * i + np.array([1, 2]))


def test_smoothing_a_run_shorter_than_the_kernel():
    rows = _walk(3, np.arange(1, 4, dtype=float), 10, 2.0, jitter=0.0, seed=0)
    smooth = smooth_tracks(rows, sigma_frames=5.0)
    assert smooth.shape == rows.shape and np.isclose(smooth[1, 2], 12.0)  # the middle of a straight walk stays
    assert smooth[0, 2] > 10 and smooth[2, 2] < 14  # the ends are pulled in, not pushed out


def test_a_face_box_and_a_body_box_of_one_identity_are_not_blended():
    face = _walk(5, np.arange(1, 11, dtype=float), 100, 0.0, jitter=0.0, seed=0)
    face[:, 4:6] = 20  # a 20x20 face tracked alone ...
    body = _walk(5, np.arange(11, 21, dtype=float), 100, 0.0, jitter=0.0, seed=0)  # ... then its 40x100 person
    rows = np.column_stack([np.vstack([face, body]), np.r_[np.full(10, 2.0), np.zeros(10)]])  # kind column
    smooth = smooth_tracks(rows, sigma_frames=2.0, kind_column=7)
    assert np.allclose(smooth, rows, rtol=0, atol=1e-6)
    assert not np.allclose(smooth_tracks(rows, sigma_frames=2.0), rows, rtol=0, atol=1e-6)  # blended without it


def test_an_identity_never_shows_two_boxes_in_one_frame():
    """A repeated (frame, id) would make MOTChallenge tools refuse tracks.txt: the box that goes on from the id's
    last single box is kept; a person's face rows (same id, by design) are left alone."""
    rows = np.zeros((7, 8), np.float32)
    rows[:, FRAME] = [1, 2, 2, 2, 3, 3, 3]
    rows[:, ID] = [5, 5, 5, 5, 5, 5, 6]
    rows[:, KIND] = [PERSON_ROW, PERSON_ROW, PERSON_ROW, PAIRED_FACE_ROW, PERSON_ROW, PERSON_ROW, PERSON_ROW]
    x = np.array([100, 104, 400, 110, 405, 108, 300], np.float32)
    rows[:, X1], rows[:, X2], rows[:, Y1], rows[:, Y2] = x, x + 40, 50, 150
    rows[:, CONF] = [0.9, 0.5, 0.95, 0.8, 0.99, 0.6, 0.9]
    kept, dropped = drop_repeated_ids(rows)
    assert dropped == 2
    assert kept[:, X1].tolist() == [100, 104, 110, 108, 300]  # id 5 walks on from x=100; its face and id 6 stay
    first = rows[1:]  # no single box before the repeat: the most confident one
    kept, dropped = drop_repeated_ids(first)
    assert dropped == 2 and kept[kept[:, FRAME] == 2][:, X1].tolist() == [400, 110]
    assert drop_repeated_ids(rows[[0, 1, 3, 6]])[1] == 0
    body_and_lone_face = rows[[0, 1, 2]].copy()
    body_and_lone_face[1, KIND] = LONE_FACE_ROW  # nearer the last box, but a face alone: the person's box is kept
    kept, dropped = drop_repeated_ids(body_and_lone_face)
    assert dropped == 1 and kept[:, X1].tolist() == [100, 400]
