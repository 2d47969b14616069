"""MiVOLO as the pipeline's age/gender stage: face+body pairs from the association stage, one batch per frame."""

from __future__ import annotations

import numpy as np

from mivolo.config import EstimatorConfig
from mivolo.model.mivolo_net import MiVOLO
from mivolo.structures import Detections


class MiVOLOEstimator:
    def __init__(self, config: EstimatorConfig, device: str = "cpu", half: bool = False) -> None:
        self.net = MiVOLO(config.checkpoint or "", device=device, half=half, with_persons=config.with_persons,
                          disable_faces=config.disable_faces, compile_model=config.compile)
        meta = self.net.meta
        kind = "face+body" if meta.with_persons_model else "face"
        self.name = f"MiVOLO-D1 {meta.input_size} {kind}"
        self.needs_faces = not self.net.use_persons  # body-only rows are estimable only with person crops

    def __call__(self, image_bgr: np.ndarray, dets: Detections, rows: np.ndarray) -> Detections:
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return dets
        face_rows = np.where(dets.is_face[rows], rows, dets.pair[rows])
        person_rows = np.where(dets.is_person[rows], rows, dets.pair[rows])
        nan_box = np.full(4, np.nan, np.float32)
        faces = np.array([dets.xyxy[r] if r >= 0 else nan_box for r in face_rows], np.float32).reshape(-1, 4)
        persons = np.array([dets.xyxy[r] if r >= 0 else nan_box for r in person_rows], np.float32).reshape(-1, 4)
        ages, male = self.net.predict(image_bgr, faces, persons, all_faces=dets.xyxy[dets.is_face],
                                      all_persons=dets.xyxy[dets.is_person])
        conf = np.where(np.isnan(male), np.nan, np.maximum(male, 1 - male)).astype(np.float32)
        for target in (face_rows, person_rows):
            ok = target >= 0
            dets.age[target[ok]] = ages[ok]
            dets.gender_p[target[ok]] = male[ok]
            dets.age_gender_conf[target[ok]] = conf[ok]
        return dets
