"""ultralytics YOLO backend: MiVOLO's person+face checkpoint, or any COCO YOLO (persons; faces from crops)."""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from mivolo.core.config import DetectorConfig
from mivolo.core.environment import configure_environment
from mivolo.core.errors import UserError
from mivolo.core.score_calibration import calibrated_person_conf
from mivolo.core.structures import FACE, PERSON, Detections
from mivolo.detection.faces_in_persons import FaceFinder

log = logging.getLogger(__name__)


def person_and_face_classes(names: dict, path: Path) -> tuple[list[int], list[int]]:
    """Class ids named 'person' and 'face' (case-insensitive); a model with neither is refused."""
    names = {int(k): str(v).lower() for k, v in names.items()}
    person_ids = [k for k, v in names.items() if v == "person"]
    face_ids = [k for k, v in names.items() if v == "face"]
    if not person_ids and not face_ids:
        raise UserError(f"{path} has no 'person' or 'face' class (classes: {', '.join(names.values())})")
    return person_ids, face_ids


def split_persons_and_faces(image: np.ndarray, xyxy: np.ndarray, conf: np.ndarray, cls: np.ndarray,
                            person_ids: list[int], face_ids: list[int], config: DetectorConfig,
                            face_finder: FaceFinder | None) -> Detections:
    """YOLO boxes (N, 4) with conf (N,) and class ids (N,) -> persons and faces, each above its threshold.

    A model without a face class gets its faces from ``face_finder`` (whole frame and person crops). Boxes left
    empty by clipping to the frame are dropped (the trackers refuse them).
    """
    solid = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
    is_person = np.isin(cls, person_ids) & (conf >= config.person_floor()) & solid
    is_face = np.isin(cls, face_ids) & (conf >= config.face_conf) & solid
    persons = Detections.from_boxes(xyxy[is_person], conf[is_person], PERSON)
    if face_ids:
        return Detections.concat([persons, Detections.from_boxes(xyxy[is_face], conf[is_face], FACE)])
    if face_finder is not None:
        from mivolo.detection.faces_in_persons import faces_with_sources

        return faces_with_sources(persons, *face_finder.find(image, xyxy[is_person]))
    return persons


def models_entry(name: str, person_ids: list[int], face_ids: list[int], face_names: list[str]) -> dict:
    """run.json ``models`` of a YOLO detector: who found the persons and who the faces (the YOLO model itself, or
    the face finder's models, by the names the score calibration knows them by)."""
    return {"persons": name if person_ids else "none",
            "faces": name if face_ids else ("+".join(face_names) or "none")}


def with_calibrated_person_conf(config: DetectorConfig, models: dict) -> DetectorConfig:
    """Without ``--person-conf``: the config with this person model's calibrated threshold (see
    ``calibrated_person_conf``); as it is otherwise."""
    if config.person_conf is not None or models.get("persons", "none") == "none":
        return config
    return replace(config, person_conf=calibrated_person_conf(models["persons"], config.person_floor()))


EXPORT_PACKAGES = {"openvino": "openvino", "engine": "tensorrt"}


def check_ultralytics_weights(path: Path) -> bool:
    """Refuse what ultralytics cannot load here, in one line; True for an export (OpenVINO folder, TensorRT engine).

    A ``.pt`` is a pickle: its classes are checked against an allow-list before ultralytics unpickles it.
    """
    from mivolo.core.weights import check_pickled_weights

    kind = "openvino" if path.is_dir() else "engine" if path.suffix.lower() == ".engine" else None
    if kind is None:
        if not path.is_file():
            raise UserError(f"detector weights not found: {path} (give a local .pt file; nothing is downloaded)")
        check_pickled_weights(path, "ultralytics detector", needs_module="ultralytics",
                              hint=" (a MiVOLO checkpoint goes to --checkpoint; YOLOv5-repo files are not ultralytics "
                                   "files)")
        return False
    if kind == "openvino" and not (path.name.endswith("_openvino_model") and any(path.glob("*.xml"))):
        raise UserError(f"{path} is a folder but not an ultralytics OpenVINO export (a *_openvino_model/ folder with "
                        "an .xml model)")
    if kind == "engine" and not path.is_file():
        raise UserError(f"detector weights not found: {path}")
    package = EXPORT_PACKAGES[kind]
    if importlib.util.find_spec(package) is None:
        raise UserError(f"{path.name} needs the {package} package, which is not installed: pip install {package} "
                        "(or export the model to ONNX: yolo export format=onnx)")
    return True


class UltralyticsDetector:
    def __init__(self, config: DetectorConfig, device: str, half: bool, face_finder: FaceFinder | None,
                 face_names: list[str] | None = None) -> None:
        import torch

        path = Path(config.weights or "")
        self.exported = check_ultralytics_weights(path)
        configure_environment()  # offline, no installs, settings inside the project
        threads = torch.get_num_threads()
        try:
            from ultralytics import YOLO

            self.model = YOLO(str(path), task="detect")
            model_names = self.model.names
        except Exception as exc:
            raise UserError(f"{path} is not an ultralytics YOLO detection checkpoint: "
                            f"{type(exc).__name__}: {exc}".splitlines()[0]) from None
        self.person_ids, self.face_ids = person_and_face_classes(model_names, path)
        self.models = models_entry(f"yolo:{path.name}", self.person_ids, self.face_ids,
                                   (face_names or ["faces"]) if face_finder is not None else [])
        self.config = config = with_calibrated_person_conf(config, self.models)
        self.device = device
        self.half = half and device.startswith("cuda")
        self.face_finder = face_finder if not self.face_ids else None
        self._threads = threads
        if not self.exported:
            # ultralytics sets up its predictor on the first call (about a second): pay it here, with the loading,
            # not on the first frame of a run
            self.model.predict(np.zeros((64, 64, 3), np.uint8), imgsz=self.config.imgsz or 640, device=device,
                               verbose=False)
            torch.set_num_threads(threads)

    def __call__(self, image: np.ndarray) -> Detections:
        import torch

        options = {} if self.exported else {"imgsz": self.config.imgsz or 640}  # an export has its own fixed size
        if self.half:  # passed only when on: ultralytics >= 8.4 warns on every call that passes half at all
            options["half"] = True
        result = self.model.predict(image, **options, conf=min(self.config.person_floor(), self.config.face_conf),
                                    iou=self.config.nms_iou, device=self.device,
                                    classes=self.person_ids + self.face_ids, verbose=False)[0]
        torch.set_num_threads(self._threads)  # ultralytics lowers it to cores-1 for the whole process
        boxes = result.boxes
        return split_persons_and_faces(image, boxes.xyxy.cpu().numpy().astype(np.float32),
                                       boxes.conf.cpu().numpy().astype(np.float32), boxes.cls.cpu().numpy().astype(int),
                                       self.person_ids, self.face_ids, self.config, self.face_finder)

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
