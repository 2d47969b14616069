"""MiVOLO as the pipeline's age/gender stage: face+body pairs from the association stage, one batch per frame."""

from __future__ import annotations

import numpy as np

from mivolo.core.config import EstimatorConfig
from mivolo.core.structures import Detections
from mivolo.estimation.mivolo_net import MiVOLO


class MiVOLOEstimator:
    min_gender_age = 0.0  # its published gender accuracy holds for children too (UTKFace 97.7 %, all ages)

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
        face_rows, person_rows = dets.usable_face_rows()[rows], dets.person_rows()[rows]
        faces = np.where((face_rows >= 0)[:, None], dets.xyxy[face_rows], np.nan).astype(np.float32)
        persons = np.where((person_rows >= 0)[:, None], dets.xyxy[person_rows], np.nan).astype(np.float32)
        ages, male = self.net.predict(image_bgr, faces, persons, all_faces=dets.xyxy[dets.is_face],
                                      all_persons=dets.xyxy[dets.is_person])
        conf = np.where(np.isnan(male), np.nan, np.maximum(male, 1 - male)).astype(np.float32)
        for target in (face_rows, person_rows):
            ok = target >= 0
            dets.age[target[ok]] = ages[ok]
            dets.gender_p[target[ok]] = male[ok]
            dets.age_gender_conf[target[ok]] = conf[ok]
        return dets
