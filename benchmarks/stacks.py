"""Benchmark building blocks: injected detections, synthetic crowds, stack runs with per-stage timings."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from mivolo.core.structures import FACE, PERSON, Detections, Frame
from mivolo.sources import Source, SourceInfo

ROOT = Path(__file__).resolve().parents[1]
MOT = ROOT.parent / "shared" / "data" / "mot" / "MOT17-02-FRCNN"


def faces_for(persons: np.ndarray) -> np.ndarray:
    """A face box in the upper part of each person box (what a face detector would return)."""
    w, h = persons[:, 2] - persons[:, 0], persons[:, 3] - persons[:, 1]
    side = np.clip(np.minimum(w * 0.45, h * 0.16), 8, None)
    cx = (persons[:, 0] + persons[:, 2]) / 2
    y1 = persons[:, 1] + h * 0.03
    return np.stack([cx - side / 2, y1, cx + side / 2, y1 + side * 1.2], axis=1).astype(np.float32)


MODEL_STAGES = ("detect", "track", "face_gate", "merge", "age_gender")  # stages that run models


class InjectedDetector:
    """Runs a real (possibly random-weight) detector for its cost, but returns a fixed, realistic box set:
    random weights find nothing, so the stages after detection would otherwise have no work."""

    def __init__(self, inner, boxes_for_frame) -> None:
        self.inner = inner
        self.boxes_for_frame = boxes_for_frame
        self.models = {**getattr(inner, "models", {}), "injected": "fixed boxes (benchmark)"}
        self.calls = 0

    def __call__(self, image: np.ndarray) -> Detections:
        if self.inner is not None:
            self.inner(image)
        persons = self.boxes_for_frame(self.calls)
        self.calls += 1
        parts = [Detections.from_boxes(persons, np.full(len(persons), 0.9, np.float32), PERSON),
                 Detections.from_boxes(faces_for(persons), np.full(len(persons), 0.9, np.float32), FACE)]
        return Detections.concat(parts)


def mot17_boxes() -> list[np.ndarray]:
    """Ground-truth pedestrian boxes of MOT17-02 (600 frames, 1920x1080) per frame, visibility > 0.3."""
    gt = np.loadtxt(MOT / "gt" / "gt.txt", delimiter=",")
    gt = gt[(gt[:, 7] == 1) & (gt[:, 8] > 0.3)]
    frames = []
    for k in range(1, 601):
        r = gt[gt[:, 0] == k]
        frames.append(np.column_stack([r[:, 2], r[:, 3], r[:, 2] + r[:, 4], r[:, 3] + r[:, 5]]).astype(np.float32))
    return frames


def crowd_boxes(people: int, frames: int, width: int = 1920, height: int = 1080, seed: int = 0) -> list[np.ndarray]:
    """``people`` synthetic pedestrians walking slowly across a frame, for scaling runs."""
    rng = np.random.default_rng(seed)
    h = rng.uniform(120, 360, people)
    w = h * 0.4
    x0 = rng.uniform(0, width - 1, people)
    y0 = rng.uniform(0, height - h)
    vx = rng.uniform(-4, 4, people)
    out = []
    for t in range(frames):
        x = (x0 + vx * t) % (width - w)
        out.append(np.stack([x, y0, x + w, y0 + h], axis=1).astype(np.float32))
    return out


class FrameSource(Source):
    """Frames from a list of images (cycled) as a live-like source; nothing is decoded or stored per frame."""

    def __init__(self, images: list[np.ndarray], frames: int, fps: float = 25.0) -> None:
        super().__init__()
        self.images = images
        self.count = frames
        self.info = SourceInfo("stream", "bench", fps, frames, False, False)

    def _frames(self) -> Iterator[Frame]:
        for index in range(self.count):
            yield Frame(index, index / self.info.fps, self.images[index % len(self.images)])


class LoopingVideo(Source):
    """A video file replayed as one endless live stream (decoded frame by frame, nothing held)."""

    def __init__(self, path: Path, frames: int, fps: float = 15.0) -> None:
        super().__init__()
        self.path = path
        self.count = frames
        self.info = SourceInfo("stream", "loop", fps, frames, False, False)

    def _frames(self) -> Iterator[Frame]:
        index = 0
        while index < self.count:
            capture = cv2.VideoCapture(str(self.path))
            while index < self.count:
                ok, image = capture.read()
                if not ok:
                    break
                yield Frame(index, index / self.info.fps, image)
                index += 1
            capture.release()


def synthetic_frames(width: int, height: int, count: int = 4) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [cv2.GaussianBlur(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), (0, 0), 3)
            for _ in range(count)]


def run_stack(pipeline, source: Source) -> dict:
    start = time.perf_counter()
    summary = pipeline.run(source)
    wall = time.perf_counter() - start
    stage = summary.stage_ms
    model_ms = sum(stage.get(k, 0.0) for k in MODEL_STAGES)
    frame_ms = 1000 * summary.seconds / max(summary.frames, 1)
    return {"frames": summary.frames, "fps": round(summary.fps, 2), "ms_per_frame": round(frame_ms, 2),
            "stage_ms_per_frame": stage, "identities": summary.identities,
            "overhead_pct": round(100 * (frame_ms / model_ms - 1), 1) if model_ms else None,
            "wall_s_including_outputs": round(wall, 2)}
