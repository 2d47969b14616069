"""Annotated video: boxes with id, gender and age. Global labels are drawn in a second pass from a compact track log."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from mivolo.core.privacy import blur_people, blur_regions, privacy_regions
from mivolo.core.run import IdentityView, RunInfo, RunSummary
from mivolo.core.structures import Detections, Frame
from mivolo.sinks.tracks import FRAME, ID, KIND, PERSON_ROW, X1, Y2, TracksSink

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


def header(time_s: float, people: int) -> str:
    return f"t={time_s:7.2f}s  people={people}"


def draw(image: np.ndarray, boxes: np.ndarray, ids: np.ndarray, classes: np.ndarray, labels: dict[int, str],
         header: str) -> np.ndarray:
    """Draw person boxes (thick, labelled) and face boxes (thin; labelled when their person has no box in the
    frame) with cv2 only (no font downloads)."""
    canvas = image.copy()
    scale = max(0.4, min(image.shape[:2]) / 1000.0)
    thickness = max(1, int(round(2 * scale)))
    with_body = set(np.asarray(ids)[np.asarray(classes) != 1].tolist())
    for (x1, y1, x2, y2), tid, cls in zip(boxes.astype(int), ids, classes, strict=True):
        color = tuple(int(c) for c in PALETTE[int(tid) % len(PALETTE)]) if tid >= 0 else (160, 160, 160)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, max(1, thickness // 2) if cls == 1 else thickness)
        if cls == 1 and int(tid) in with_body:
            continue
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

    def discard(self) -> None:
        """Abandon the file: nothing is left behind."""
        self.writer.release()
        self.tmp.unlink(missing_ok=True)


class RegionSpool:
    """Regions to blur, spooled to a hidden file during the run (rows of 5 float32: 1-based frame, x1, y1, x2, y2,
    in frame order) so the second pass blurs every face and head detected in a frame, tracked or not."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = open(path, "wb")

    def add(self, frame_number: int, regions: np.ndarray) -> None:
        if len(regions):
            rows = np.column_stack([np.full(len(regions), frame_number, np.float32), regions])
            self.file.write(rows.astype(np.float32).tobytes())

    def read(self) -> np.ndarray:
        """(R, 5) float32 rows."""
        self.file.close()
        return np.fromfile(self.path, dtype=np.float32).reshape(-1, 5)

    def remove(self) -> None:
        self.file.close()
        self.path.unlink(missing_ok=True)


class VideoSink:
    """The annotated video (mp4), written under a hidden name and renamed when complete.

    With ``second_pass`` (a rewindable source and settled labels), nothing is drawn during the run: at close the
    source is read again and each frame gets the boxes of ``tracks.final_rows`` (the rows tracks.txt was written
    from: final ids, filled gaps) with each identity's settled label. Otherwise frames are drawn live with the
    live labels. A signal during the second pass abandons the video (no half file is left). With ``blur``
    (``--privacy blur``) every face and head of the boxes drawn is obscured before drawing.
    """

    def __init__(self, file_name: str = "annotated.mp4", second_pass: TracksSink | None = None,
                 blur: bool = False) -> None:
        self.file_name = file_name
        self.blur = blur
        self.rows_from = second_pass
        self.video: VideoFile | None = None
        self.regions: RegionSpool | None = None

    def open(self, run: RunInfo) -> None:
        self.path = run.output_dir / self.file_name
        self.fps = run.source.fps
        self.reopen = run.reopen
        if self.blur and self.rows_from is not None:
            self.regions = RegionSpool(self.path.with_name(f".{self.path.stem}.blur.spool"))

    def write(self, frame: Frame, dets: Detections, identities: IdentityView) -> None:
        if self.rows_from is not None:
            if self.regions is not None:
                self.regions.add(frame.index + 1, privacy_regions(dets.xyxy, dets.is_face))
            return
        ids, _, _ = dets.identity_rows()
        labels = {}
        for tid in ids.tolist():
            label = identities.live_label(tid)
            labels[tid] = label_text(tid, label.gender, label.age)
        image = blur_people(frame.image, dets.xyxy, dets.is_face) if self.blur else frame.image
        self._frame(image).write(draw(image, dets.xyxy, dets.track_id, dets.cls, labels,
                                      header(frame.time_s, len(ids))))

    def _frame(self, image: np.ndarray) -> VideoFile:
        if self.video is None:
            h, w = image.shape[:2]
            self.video = VideoFile(self.path, self.fps, (w, h))
        return self.video

    def close(self, summary: RunSummary) -> None:
        if self.rows_from is not None and summary.frames and self.reopen is not None:
            self._second_pass(summary)
        if self.video is not None:
            self.video.close()
            summary.files["video"] = str(self.path)
        if self.regions is not None:
            self.regions.remove()

    def _second_pass(self, summary: RunSummary) -> None:
        rows = self.rows_from.final_rows
        regions = self.regions.read() if self.regions is not None else np.zeros((0, 5), np.float32)
        labels = {tid: label_text(tid, r["gender"], r["age"]) for tid, r in summary.records.items()}
        reader = self.reopen()
        try:
            for count, frame in enumerate(reader):
                if count >= summary.frames:
                    break
                if summary.stop_requested():
                    self.abort()
                    return
                lo, hi = np.searchsorted(rows[:, FRAME], [frame.index + 1, frame.index + 2])
                block = rows[lo:hi]
                ids = block[:, ID].astype(np.int64)
                classes = np.where(block[:, KIND] == PERSON_ROW, 0, 1)
                boxes = block[:, X1:Y2 + 1]
                image = blur_people(frame.image, boxes, classes == 1) if self.blur else frame.image
                if len(regions):
                    lo, hi = np.searchsorted(regions[:, 0], [frame.index + 1, frame.index + 2])
                    blur_regions(image, regions[lo:hi, 1:])
                self._frame(image).write(draw(image, boxes, ids, classes, labels,
                                              header(frame.time_s, len(np.unique(ids)))))
        finally:
            reader.close()

    def abort(self) -> None:
        if self.video is not None:
            self.video.discard()
            self.video = None
        if self.regions is not None:
            self.regions.remove()
