"""How well the merge stage knows where the camera looked (``tracking.camera``), against the truth.

    python -m benchmarks.camera_motion [--output-dir DIR]

PETS09-S2L1 (``../shared/data/real``) through the scoreboard's windows (``benchmarks.real.through_window``): still,
panning and swinging. The window's true motion is known (``window_origin``), so each estimator's warp from frame to
frame is compared with it: the error of each frame's translation, and how far the chained path drifts in 3 s (the
longest gap the re-linker bridges; 95th percentile over all 3 s stretches), with the people's ground-truth boxes
left out of the estimate as the merge stage leaves out the detected ones. Estimators: boxmot's sparse optical flow
at its default scale (0.15 of the picture; what BoT-SORT uses for its Kalman filter) and ``CameraMotion`` (the
picture at ``CAMERA_WIDTH``). Results: ``benchmarks/results/camera_motion.json`` and ``.md``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

DRIFT_S = 3.0


def errors(estimate: Callable[[np.ndarray, np.ndarray], np.ndarray], video: Path, gt: np.ndarray,
           truth: Callable[[int], np.ndarray], fps: float) -> dict:
    """Per-frame translation errors (px) of ``estimate(image, person_xyxy) -> warp`` on ``video`` against
    ``truth(frame) -> (2,)`` (the picture's content shift from the previous frame), its 3 s drift, its ms a frame."""
    import cv2

    from tracking.camera import as_3x3

    capture, frame, found, seconds = cv2.VideoCapture(str(video)), 0, [], 0.0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frame += 1
        rows = gt[gt[:, 0] == frame]
        boxes = np.c_[rows[:, 2:4], rows[:, 2:4] + rows[:, 4:6]].astype(np.float32)
        started = time.perf_counter()
        warp = as_3x3(estimate(image, boxes))
        seconds += time.perf_counter() - started
        if frame > 1:
            found.append(warp[:2, 2] - truth(frame))
    capture.release()
    err = np.asarray(found)
    span = max(int(round(DRIFT_S * fps)), 1)
    path = np.cumsum(err, axis=0)
    drift = np.linalg.norm(path[span:] - path[:-span], axis=1) if len(path) > span else np.zeros(1)
    per_frame = np.linalg.norm(err, axis=1)
    return {"frames": frame, "error_px_median": round(float(np.median(per_frame)), 3),
            "error_px_p95": round(float(np.percentile(per_frame, 95)), 3),
            "drift_3s_px_p95": round(float(np.percentile(drift, 95)), 1),
            "ms_per_frame": round(1000 * seconds / max(frame, 1), 2)}


def estimators() -> dict[str, Callable[[], Callable[[np.ndarray, np.ndarray], np.ndarray]]]:
    """Name -> a factory of a fresh ``estimate(image, person_xyxy) -> warp``."""
    from boxmot.motion.cmc import create_cmc

    from tracking.camera import CameraMotion

    def boxmot_default():
        flow = create_cmc("sof")
        return lambda image, boxes: flow.apply(image, boxes if len(boxes) else None)

    return {"boxmot SOF, default scale 0.15": boxmot_default, "CameraMotion": CameraMotion}


def run(output_dir: Path | None = None) -> dict | None:
    import cv2

    from benchmarks.real import (
        REAL,
        VIEWS,
        gt_pedestrians,
        mot_sequence,
        read_mot,
        through_window,
        window_origin,
        write_results,
    )

    clip = mot_sequence(REAL / "PETS09-S2L1")
    if clip is None:
        print("camera motion: ../shared/data/real/PETS09-S2L1 not found; nothing to run", flush=True)
        return None
    capture = cv2.VideoCapture(str(clip.input))
    fps, full_w, full_h = (capture.get(p) for p in (cv2.CAP_PROP_FPS, cv2.CAP_PROP_FRAME_WIDTH,
                                                     cv2.CAP_PROP_FRAME_HEIGHT))
    capture.release()
    result: dict = {"drift_s": DRIFT_S, "views": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for view in VIEWS:
            narrow = through_window(clip, view, Path(tmp))
            if narrow is None:
                continue

            def truth(frame: int, view: str = view) -> np.ndarray:
                before = window_origin(view, (frame - 2) / fps, int(full_w), int(full_h))
                now = window_origin(view, (frame - 1) / fps, int(full_w), int(full_h))
                return np.array([before[0] - now[0], before[1] - now[1]])  # the content moves against the window

            gt = gt_pedestrians(read_mot(narrow.gt))
            result["views"][view] = {name: errors(make(), narrow.input, gt, truth, fps)
                                     for name, make in estimators().items()}
            print(f"{view}: {result['views'][view]}", flush=True)
    write_results("camera_motion", result, markdown(result), output_dir)
    return result


def markdown(result: dict) -> str:
    lines = ["# Camera motion against the truth (PETS09-S2L1 through a moving window, people's boxes left out)", "",
             f"| view | estimator | error px, median | error px, 95 % | drift in {result['drift_s']:g} s, px, 95 % "
             "| ms / frame |", "|---|---|---|---|---|---|"]
    for view, rows in result["views"].items():
        for name, r in rows.items():
            lines.append(f"| {view} | {name} | {r['error_px_median']} | {r['error_px_p95']} | {r['drift_3s_px_p95']} "
                         f"| {r['ms_per_frame']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from benchmarks.real import focused_main

    return focused_main(argv, "camera_motion", __doc__, run, markdown)


if __name__ == "__main__":
    sys.exit(main())
