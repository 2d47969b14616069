"""Person/face detectors and age/gender checkpoints that really exist: where they come from, what they were
measured to do (``setup_models.py`` is the command line; the cache is shared code with the Re-ID models).

Figures are the publishers' own, copied from their model cards: ultralytics' YOLOv8 table (COCO val2017
mAP 50-95 at 640 px, parameters, FLOPs), Megvii's YOLOX model zoo (COCO val2017 mAP 0.5:0.95; nano and tiny at
416 px), and the MiVOLO README (age MAE, CS@5, gender accuracy on the dataset it was trained on). Where a
publisher gives no figure, none is shown. No publisher gives checksums: ``sha256`` stays None and the first
download's hash is recorded and checked from then on (trust on first use). Sizes are those of the downloaded
file. ``setup_models.py --use NAME`` records the choice in ``use.json`` in the cache; ``demo.py`` takes it as
the default for ``--detector-weights`` / ``--checkpoint`` (explicit flags win).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from mivolo.core.model_store import ModelStore, read_json, write_json_atomic

log = logging.getLogger(__name__)
ULTRALYTICS = "https://github.com/ultralytics/assets/releases/download/v8.4.0/"  # what ultralytics 8.4 fetches
YOLOX = "https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0/"
DRIVE = "https://drive.usercontent.google.com/download?export=download&confirm=t&id="  # large files: no warning page
MIVOLO_CARD = "https://github.com/WildChlamydia/MiVOLO#mivolo-pretrained-models"
MIVOLO_LICENCE = "MiVOLO licence (see the repository's license/ folder)"
ROLES = {"detector": "--detector-weights", "age_gender": "--checkpoint"}
USE_FILE = "use.json"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    role: str  # detector | age_gender
    what: str  # classes (detectors) or inputs (age/gender)
    filename: str
    url: str | None  # None: the publisher offers no download
    source: str  # the model card the figures come from
    licence: str
    figures: str = ""  # the publisher's own numbers, as published; empty when none are published
    notes: str = ""
    sha256: str | None = None
    size_bytes: int | None = None


def _yolov8(size: str, figures: str) -> ModelEntry:
    return ModelEntry(f"yolov8{size}", "detector", "COCO 80 classes (persons; faces from the face finder)",
                      f"yolov8{size}.pt", ULTRALYTICS + f"yolov8{size}.pt", "https://docs.ultralytics.com/models/yolov8/",
                      "AGPL-3.0 (ultralytics)", figures)


def _yolox(size: str, figures: str) -> ModelEntry:
    return ModelEntry(f"yolox_{size}", "detector", "COCO 80 classes (persons; faces from the face finder)",
                      f"yolox_{size}.pth", YOLOX + f"yolox_{size}.pth",
                      "https://github.com/Megvii-BaseDetection/YOLOX#benchmark", "Apache-2.0 (YOLOX)", figures)


def _mivolo(name: str, what: str, filename: str, drive_id: str | None, figures: str, notes: str = "") -> ModelEntry:
    return ModelEntry(name, "age_gender", what, filename, DRIVE + drive_id if drive_id else None, MIVOLO_CARD,
                      MIVOLO_LICENCE, figures, notes)


CATALOG: tuple[ModelEntry, ...] = (
    ModelEntry("yolov8x_person_face", "detector", "person + face (MiVOLO's detector)", "yolov8x_person_face.pt",
               DRIVE + "1CGNCkZQNj5WkP3rLpENWAOgrBQkUWRdw", "https://github.com/WildChlamydia/MiVOLO#demo",
               MIVOLO_LICENCE, notes="the detector of MiVOLO's demo"),
    _yolov8("n", "COCO mAP 37.3; 3.2 M params; 8.7 GFLOPs"),
    _yolov8("s", "COCO mAP 44.9; 11.2 M params; 28.6 GFLOPs"),
    _yolov8("m", "COCO mAP 50.2; 25.9 M params; 78.9 GFLOPs"),
    _yolov8("l", "COCO mAP 52.9; 43.7 M params; 165.2 GFLOPs"),
    _yolov8("x", "COCO mAP 53.9; 68.2 M params; 257.8 GFLOPs"),
    _yolox("nano", "COCO mAP 25.8 (416 px); 0.91 M params; 1.08 GFLOPs"),
    _yolox("tiny", "COCO mAP 32.8 (416 px); 5.06 M params; 6.45 GFLOPs"),
    _yolox("s", "COCO mAP 40.5; 9.0 M params; 26.8 GFLOPs"),
    _yolox("m", "COCO mAP 46.9; 25.3 M params; 73.8 GFLOPs"),
    _yolox("l", "COCO mAP 49.7; 54.2 M params; 155.6 GFLOPs"),
    _yolox("x", "COCO mAP 51.1; 99.1 M params; 281.9 GFLOPs"),
    ModelEntry("yolov8n_face", "detector", "face (no persons)", "yolov8n-face.pt",
               "https://github.com/akanametov/yolo-face/releases/download/v0.0.0/yolov8n-face.pt",
               "https://github.com/akanametov/yolo-face", "AGPL-3.0 (ultralytics fork)",
               notes="faces only: every face is tracked as its own identity"),
    _mivolo("mivolo_imdb_face_body", "face + body", "model_imdb_cross_person_4.24_99.46.pth.tar",
            "11i8pKctxz3wVkDBlWKvhYIh7kpVFXSZ4",
            "IMDB-clean: age MAE 4.24, CS@5 68.32, gender 99.46 % (face+body); MAE 6.87, gender 96.48 % (body)",
            "MiVOLO's demo checkpoint; add --with-persons to read bodies"),
    _mivolo("volo_imdb_face", "face", "volo_d1_imdb_face_age_gender.pth.tar", "1NlsNEVijX2tjMe8LBb1rI56WB_ADVHeP",
            "IMDB-clean: age MAE 4.22, CS@5 68.68, gender 99.38 %"),
    _mivolo("volo_utk_face", "face", "volo_d1_utk_face_age_gender.pth.tar", "1hKFmIR6fjHMevm-a9uPEAkDLrTAh-W4D",
            "UTKFace: age MAE 4.23, CS@5 69.78, gender 97.69 %"),
    _mivolo("mivolo_lagenda_face_body", "face + body", "mivolo_d1_lagenda.pth.tar", None,
            "Lagenda: age MAE 3.99, CS@5 71.27, gender 97.36 % (face+body)",
            "published only inside the authors' online demo; no download"),
)

BY_NAME = {entry.name: entry for entry in CATALOG}


def find(name: str) -> ModelEntry | None:
    """A catalog entry by name or file name."""
    key = name.strip()
    return BY_NAME.get(key) or next((e for e in CATALOG if e.filename == key), None)


STORE = ModelStore("models", CATALOG, find, "setup_models.py", "--detector-weights / --checkpoint")


def record_use(entry: ModelEntry) -> Path:
    """Make a downloaded entry the default of its role (``use.json`` in the cache); the file it points at."""
    from mivolo.core.errors import UserError

    path = STORE.cached_path(entry)
    if path is None:
        raise UserError(f"{entry.name} is not downloaded: run setup_models.py --download {entry.name} first")
    folder = STORE.cache_dir()
    chosen = read_json(folder / USE_FILE)
    chosen[entry.role] = entry.name
    write_json_atomic(folder / USE_FILE, chosen)
    return path


def chosen_defaults() -> dict[str, tuple[str, Path]]:
    """role -> (catalog name, cached file) of what ``setup_models.py --use`` chose; a choice whose file is gone or
    no longer matches its hash is skipped with a warning."""
    from mivolo.core.errors import UserError

    out = {}
    for role, name in read_json(STORE.cache_dir() / USE_FILE).items():
        if role not in ROLES:
            continue
        try:
            out[role] = (name, STORE.resolve(name, f"{role} weights"))
        except UserError as exc:
            log.warning("setup_models.py --use %s is ignored: %s", name, exc)
    return out
