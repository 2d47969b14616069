"""Detection stage: persons and faces of a frame as one Detections; face<->person association."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from mivolo.core.config import DetectorConfig
from mivolo.core.structures import Detections
from mivolo.detection.association import associate


class Detector(Protocol):
    models: dict[str, str]

    def __call__(self, image: np.ndarray) -> Detections: ...


def build_detector(config: DetectorConfig, device: str = "cpu", half: bool = False) -> Detector:
    if config.weights and not config.weights.lower().endswith((".onnx", ".pth", ".pth.tar")):
        from mivolo.detection.faces_in_persons import FaceFinder
        from mivolo.detection.offline import build_face_detectors
        from mivolo.detection.ultralytics_yolo import UltralyticsDetector

        frame_faces, crop_faces, _ = build_face_detectors(config)
        finder = FaceFinder(frame_faces, crop_faces, crop_size=config.face_crop_size) \
            if frame_faces is not None or crop_faces is not None else None
        return UltralyticsDetector(config, device, half, finder)
    from mivolo.detection.offline import OfflineDetector

    return OfflineDetector(config, device, half)


__all__ = ["Detector", "associate", "build_detector"]
