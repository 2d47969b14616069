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
    """ultralytics YOLO (a ``.pt``/engine ``--detector-weights``) with our face search for models without faces;
    otherwise a person backend (SSDLite, YOLOX ONNX / PyTorch) plus the face search."""
    if config.weights and not config.weights.lower().endswith((".onnx", ".pth", ".pth.tar")):
        from mivolo.detection.persons_and_faces import build_face_finder
        from mivolo.detection.ultralytics_yolo import UltralyticsDetector

        return UltralyticsDetector(config, device, half, build_face_finder(config)[0])
    from mivolo.detection.persons_and_faces import PersonsAndFaces

    return PersonsAndFaces(config, device, half)


__all__ = ["Detector", "associate", "build_detector"]
