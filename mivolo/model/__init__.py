"""Age/gender estimators behind ``Estimator.__call__(image, dets, rows) -> dets``."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from mivolo.config import EstimatorConfig
from mivolo.structures import Detections


class Estimator(Protocol):
    name: str
    needs_faces: bool

    def __call__(self, image_bgr: np.ndarray, dets: Detections, rows: np.ndarray) -> Detections: ...


def build_estimator(config: EstimatorConfig, device: str = "cpu", half: bool = False) -> Estimator:
    from mivolo.errors import UserError

    if config.checkpoint:
        # The MiVOLO network and its checkpoint loader are tracked separately (issue 3); until they land we
        # refuse the flag clearly instead of silently running another model.
        raise UserError("--checkpoint (MiVOLO) is not supported by this version yet; run without it to use the "
                        "offline age/gender model")
    if config.with_persons or config.disable_faces:
        raise UserError("--with-persons / --disable-faces need a MiVOLO face+body --checkpoint; "
                        "the offline age/gender model reads faces only")
    from mivolo.model.offline import OfflineAgeGender

    return OfflineAgeGender(min_face_px=config.min_face_px)


__all__ = ["Estimator", "build_estimator"]
