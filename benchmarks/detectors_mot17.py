"""Detectors on real crowd frames: person recall and faces found, with their cost.

    python -m benchmarks.detectors_mot17     # needs ../shared/data (MOT17-02 frames + weights; evaluation only)

Persons: recall of ground-truth pedestrians (visibility > 0.5) at IoU 0.5 on the 4 MOT17-02 frames (1920x1080),
for the full frame and for 2x2 tiles. Faces: faces found per frame by each face detector on the whole frame
and inside person crops (persons from the ground truth, so every face detector searches the same people).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
MOT = DATA / "mot" / "MOT17-02-FRCNN"
WEIGHTS = DATA / "weights"


def _timed(fn, images):
    fn(images[0])  # warm-up
    start = time.perf_counter()
    out = [fn(img) for img in images]
    return out, (time.perf_counter() - start) / len(images) * 1000


def main() -> None:
    from mivolo.core.boxes import iou_matrix
    from mivolo.detection.blazeface import BlazeFaceDetector
    from mivolo.detection.faces_in_persons import FaceFinder
    from mivolo.detection.fallbacks import DlibHogFaceDetector
    from mivolo.detection.onnx_models import (
        TiledDetector,
        UltraLightFaceDetector,
        YoloxOnnxPersonDetector,
        YuNetFaceDetector,
    )
    from mivolo.detection.ssdlite import SSDLitePersonDetector

    if not (MOT / "img1").is_dir():
        sys.exit("../shared/data is not present")
    images = [cv2.imread(str(f)) for f in sorted((MOT / "img1").glob("*.jpg"))]
    gt = np.loadtxt(MOT / "gt" / "gt.txt", delimiter=",")
    truth = []
    for k in range(len(images)):
        r = gt[(gt[:, 0] == k + 1) & (gt[:, 7] == 1) & (gt[:, 8] > 0.5)]
        truth.append(np.column_stack([r[:, 2], r[:, 3], r[:, 2] + r[:, 4], r[:, 3] + r[:, 5]]))

    person_rows = []
    yolox = WEIGHTS / "yolox_nano.onnx"
    detectors = {"ssdlite (offline default)": SSDLitePersonDetector(conf=0.3)}
    if yolox.is_file():
        detectors["yolox-nano onnx"] = YoloxOnnxPersonDetector(yolox, conf=0.3)
    for name, det in list(detectors.items()):
        detectors[f"{name} + 2x2 tiles"] = TiledDetector(det, 2)
    for name, det in detectors.items():
        found, ms = _timed(det, images)
        hits = sum(int((iou_matrix(t, b).max(axis=1) >= 0.5).sum()) if len(b) else 0
                   for t, (b, _) in zip(truth, found, strict=True))
        total = sum(len(t) for t in truth)
        boxes = sum(len(b) for b, _ in found)
        person_rows.append({"detector": name, "recall": round(hits / total, 3), "found": hits, "ground_truth": total,
                            "boxes_per_frame": round(boxes / len(images), 1), "ms_per_frame": round(ms, 1)})
        print(person_rows[-1])

    face_setups = {"blazeface full/short (offline default)": (BlazeFaceDetector("full"), BlazeFaceDetector("short")),
                   "blazeface back": (BlazeFaceDetector("back"), BlazeFaceDetector("back")),
                   "dlib hog": (DlibHogFaceDetector(upsample=1), DlibHogFaceDetector(upsample=0))}
    if (WEIGHTS / "face_detection_yunet_2026may.onnx").is_file():
        yunet = WEIGHTS / "face_detection_yunet_2026may.onnx"
        face_setups["yunet"] = (YuNetFaceDetector(yunet), YuNetFaceDetector(yunet))
    if (WEIGHTS / "version-RFB-320.onnx").is_file():
        rfb = WEIGHTS / "version-RFB-320.onnx"
        face_setups["ultra-light rfb-320"] = (UltraLightFaceDetector(rfb), UltraLightFaceDetector(rfb))
    face_rows = []
    for name, (frame_det, crop_det) in face_setups.items():
        searches = (("full frame", FaceFinder(frame_det, None)), ("person crops", FaceFinder(None, crop_det)))
        for where, finder in searches:
            start = time.perf_counter()
            found = [finder(img, t) for img, t in zip(images, truth, strict=True)]
            ms = (time.perf_counter() - start) / len(images) * 1000
            heights = np.concatenate([b[:, 3] - b[:, 1] for b, _ in found])
            face_rows.append({"detector": name, "searched": where,
                              "faces_per_frame": round(sum(len(b) for b, _ in found) / len(images), 2),
                              "median_height_px": round(float(np.median(heights)), 1) if len(heights) else None,
                              "ms_per_frame": round(ms, 1)})
            print(face_rows[-1])
    out = ROOT / "benchmarks" / "results" / "detectors_mot17.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps({"frames": len(images), "resolution": "1920x1080", "persons": person_rows,
                                  "faces": face_rows}, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
