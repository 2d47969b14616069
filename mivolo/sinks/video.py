"""Annotated video: boxes with id, gender and age. Global labels are drawn in a second pass from a compact track log."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from mivolo.structures import Detections

LOG_COLUMNS = 7  # frame, track id, cls, x1, y1, x2, y2
PALETTE = np.array([(56, 56, 255), (151, 157, 255), (31, 112, 255), (29, 178, 255), (49, 210, 207), (10, 249, 72),
                    (23, 204, 146), (134, 219, 61), (52, 147, 26), (187, 212, 0), (168, 153, 44), (255, 194, 0),
                    (147, 69, 52), (255, 115, 100), (236, 24, 0), (255, 56, 132), (133, 0, 82), (255, 56, 203)],
                   dtype=np.int32)


def label_text(track_id: int, gender: str | None, age: float | None) -> str:
    parts = [f"#{track_id}"]
    if gender:
        parts.append("M" if gender == "male" else "F")
    if age is not None:
        parts.append(f"{age:.0f}")
    return " ".join(parts)


def draw(image: np.ndarray, boxes: np.ndarray, ids: np.ndarray, classes: np.ndarray, labels: dict[int, str],
         header: str) -> np.ndarray:
    """Draw person boxes (thick, labelled) and face boxes (thin) with cv2 only (no font downloads)."""
    canvas = image.copy()
    scale = max(0.4, min(image.shape[:2]) / 1000.0)
    thickness = max(1, int(round(2 * scale)))
    for (x1, y1, x2, y2), tid, cls in zip(boxes.astype(int), ids, classes, strict=True):
        color = tuple(int(c) for c in PALETTE[int(tid) % len(PALETTE)]) if tid >= 0 else (160, 160, 160)
        if cls == 1:
            cv2.rectangle(canvas, (x1, y1), (x2, y2), color, max(1, thickness // 2))
            continue
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, thickness)
        text = labels.get(int(tid), f"#{tid}") if tid >= 0 else ""
        if text:
            (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, thickness)
            top = max(0, y1 - th - base - 2)
            cv2.rectangle(canvas, (x1, top), (x1 + tw + 4, top + th + base + 2), color, -1)
            cv2.putText(canvas, text, (x1 + 2, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, (255, 255, 255),
                        thickness, cv2.LINE_AA)
    cv2.putText(canvas, header, (10, int(30 * scale) + 10), cv2.FONT_HERSHEY_SIMPLEX, 0.8 * scale, (0, 0, 0),
                thickness + 2, cv2.LINE_AA)
    cv2.putText(canvas, header, (10, int(30 * scale) + 10), cv2.FONT_HERSHEY_SIMPLEX, 0.8 * scale, (255, 255, 255),
                thickness, cv2.LINE_AA)
    return canvas


class VideoFile:
    """mp4 written under a hidden name and renamed on close, so a stopped run still leaves a playable file."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.stem}.part{path.suffix}")
        self.writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*"mp4v"), max(fps, 1.0), size)
        if not self.writer.isOpened():
            raise OSError(f"cannot write video {path}")
        self.size = size
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size)
        self.writer.write(image)
        self.frames += 1

    def close(self) -> None:
        """Finish the file; OpenCV's writer fails silently (disk full), so the result is checked before it counts."""
        self.writer.release()
        if not self.tmp.exists():
            raise OSError(f"video {self.path.name} was not written")
        check = cv2.VideoCapture(str(self.tmp))
        readable = int(check.get(cv2.CAP_PROP_FRAME_COUNT)) if check.isOpened() else 0
        check.release()
        if self.frames and readable < self.frames:
            self.tmp.unlink(missing_ok=True)
            raise OSError(f"video {self.path.name} is incomplete ({readable} of {self.frames} frames written; "
                          "disk full?)")
        os.replace(self.tmp, self.path)


class TrackLog:
    """Compact per-frame boxes (float32 rows) on disk, read back by the second drawing pass."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle = open(path, "wb")

    def write(self, frame_index: int, dets: Detections) -> None:
        rows = np.flatnonzero(dets.track_id >= 0) if len(dets) else np.zeros(0, int)
        if len(rows) == 0:
            return
        block = np.column_stack([np.full(len(rows), frame_index), dets.track_id[rows], dets.cls[rows],
                                 dets.xyxy[rows]]).astype(np.float32)
        self.handle.write(block.tobytes())

    def close(self) -> None:
        self.handle.close()

    def iter_frames(self, chunk_rows: int = 8192):
        """(frame index, rows) in frame order, read sequentially in chunks: memory stays flat."""
        row_bytes = LOG_COLUMNS * 4
        pending = np.zeros((0, LOG_COLUMNS), np.float32)
        with open(self.path, "rb") as handle:
            while True:
                raw = handle.read(chunk_rows * row_bytes)
                if raw:
                    pending = np.concatenate([pending, np.frombuffer(raw, np.float32).reshape(-1, LOG_COLUMNS)])
                if len(pending) == 0:
                    return
                frames = pending[:, 0]
                last = frames[-1]
                complete = pending[frames < last] if raw else pending
                pending = pending[frames >= last] if raw else pending[:0]
                if len(complete):
                    ids, starts = np.unique(complete[:, 0].astype(np.int64), return_index=True)
                    yield from zip(ids.tolist(), np.split(complete, starts[1:]), strict=True)
