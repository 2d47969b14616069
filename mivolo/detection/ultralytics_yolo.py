"""ultralytics YOLO backend: MiVOLO's person+face checkpoint, or any COCO YOLO (persons; faces from crops)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from mivolo.core.config import DetectorConfig
from mivolo.core.environment import configure_environment
from mivolo.core.errors import UserError
from mivolo.core.structures import FACE, PERSON, Detections
from mivolo.detection.faces_in_persons import FaceFinder

log = logging.getLogger(__name__)


class UltralyticsDetector:
    def __init__(self, config: DetectorConfig, device: str, half: bool, face_finder: FaceFinder | None) -> None:
        import torch

        from mivolo.core.weights import check_pickled_weights

        path = Path(config.weights or "")
        if not path.is_file():
            raise UserError(f"detector weights not found: {path} (give a local .pt file; nothing is downloaded)")
        check_pickled_weights(path, "ultralytics detector", needs_module="ultralytics",
                              hint=" (a MiVOLO checkpoint goes to --checkpoint; YOLOv5-repo files are not ultralytics "
                                   "files)")  # before ultralytics unpickles it
        configure_environment()  # offline, no installs, settings inside the project
        threads = torch.get_num_threads()
        try:
            from ultralytics import YOLO

            self.model = YOLO(str(path), task="detect")
            model_names = self.model.names
        except Exception as exc:
            raise UserError(f"{path} is not an ultralytics YOLO detection checkpoint: "
                            f"{type(exc).__name__}: {exc}".splitlines()[0]) from None
        names = {int(k): str(v).lower() for k, v in model_names.items()}
        self.person_ids = [k for k, v in names.items() if v == "person"]
        self.face_ids = [k for k, v in names.items() if v == "face"]
        if not self.person_ids and not self.face_ids:
            raise UserError(f"{path} has no 'person' or 'face' class (classes: {', '.join(names.values())})")
        self.config = config
        self.device = device
        self.half = half and device.startswith("cuda")
        self.face_finder = face_finder if not self.face_ids else None
        self._threads = threads
        self.models = {"persons": f"yolo:{path.name}" if self.person_ids else "none",
                       "faces": f"yolo:{path.name}" if self.face_ids else
                       ("crops" if face_finder is not None else "none")}

    def __call__(self, image: np.ndarray) -> Detections:
        import torch

        result = self.model.predict(image, imgsz=self.config.imgsz, conf=min(self.config.person_conf,
                                    self.config.face_conf), iou=self.config.nms_iou, device=self.device,
                                    half=self.half, classes=self.person_ids + self.face_ids, verbose=False)[0]
        torch.set_num_threads(self._threads)  # ultralytics lowers it to cores-1 for the whole process
        boxes = result.boxes
        xyxy = boxes.xyxy.cpu().numpy().astype(np.float32)
        conf = boxes.conf.cpu().numpy().astype(np.float32)
        cls = boxes.cls.cpu().numpy().astype(int)
        is_person = np.isin(cls, self.person_ids) & (conf >= self.config.person_conf)
        is_face = np.isin(cls, self.face_ids) & (conf >= self.config.face_conf)
        persons = Detections.from_boxes(xyxy[is_person], conf[is_person], PERSON)
        if self.face_ids:
            return Detections.concat([persons, Detections.from_boxes(xyxy[is_face], conf[is_face], FACE)])
        if self.face_finder is not None:
            from mivolo.detection.faces_in_persons import faces_with_sources

            return faces_with_sources(persons, *self.face_finder.find(image, xyxy[is_person]))
        return persons


def save_random_yolo(path: str | Path, names: tuple[str, ...] = ("person", "face"), cfg: str = "yolov8n.yaml") -> Path:
    """A random-init ultralytics YOLO checkpoint in the real file format (for tests and benchmarks)."""
    import torch

    configure_environment()
    from ultralytics import YOLO
    from ultralytics.nn.tasks import DetectionModel

    threads = torch.get_num_threads()
    model = YOLO(cfg, task="detect")
    model.model = DetectionModel(cfg, nc=len(names), verbose=False)
    model.model.names = dict(enumerate(names))
    path = Path(path)
    model.save(str(path))
    torch.set_num_threads(threads)
    return path
