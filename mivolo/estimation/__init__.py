"""Age/gender estimators behind ``Estimator.__call__(image, dets, rows) -> dets``."""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np

from mivolo.core.config import EstimatorConfig
from mivolo.core.structures import Detections


class Estimator(Protocol):
    name: str
    needs_faces: bool
    min_gender_age: float  # its gender calls on people it ages below this are no better than chance (0: none)

    def __call__(self, image_bgr: np.ndarray, dets: Detections, rows: np.ndarray) -> Detections: ...


def build_estimator(config: EstimatorConfig, device: str = "cpu", half: bool = False) -> Estimator:
    from mivolo.core.errors import UserError

    if config.checkpoint:
        from mivolo.estimation.mivolo_estimator import MiVOLOEstimator

        return MiVOLOEstimator(config, device=device, half=half)
    if config.disable_faces:
        raise UserError("--disable-faces needs a MiVOLO face+body --checkpoint; the offline age/gender model reads "
                        "faces only")
    if config.with_persons:
        logging.getLogger(__name__).warning("--with-persons needs a MiVOLO face+body --checkpoint; the offline "
                                            "age/gender model reads faces only, so body crops are not used")
    from mivolo.estimation.offline import OfflineAgeGender

    return OfflineAgeGender(min_face_px=config.min_face_px, align=config.face_align)


def load_mivolo(path: str, device: str = "cpu", half: bool = False, with_persons: bool | None = None,
                disable_faces: bool = False):
    """Load a MiVOLO checkpoint: ``ages, male_probs = load_mivolo(path).predict(image, face_xyxy, person_xyxy)``."""
    from mivolo.estimation.mivolo_net import load_mivolo as _load

    return _load(path, device=device, half=half, with_persons=with_persons, disable_faces=disable_faces)


__all__ = ["Estimator", "build_estimator", "load_mivolo"]
