"""Which offline face detector finds more small faces in a real crowd: frame-level vs inside person crops.

    python -m benchmarks.face_detectors      # needs ../shared/data/mot/MOT17-02-FRCNN (evaluation only)

Persons come from SSDLite and, separately, from the ground truth (visibility > 0.5), so the face stage is
judged both with real detections and with every visible person.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[1]
MOT = ROOT.parent / "shared" / "data" / "mot" / "MOT17-02-FRCNN"


def main() -> None:
    from mivolo.detection.blazeface import BlazeFaceDetector
    from mivolo.detection.faces_in_persons import FaceFinder
    from mivolo.detection.fallbacks import DlibHogFaceDetector
    from mivolo.detection.ssdlite import SSDLitePersonDetector

    if not (MOT / "img1").is_dir():
        sys.exit("../shared/data/mot/MOT17-02-FRCNN is not present")
    frames = sorted((MOT / "img1").glob("*.jpg"))
    images = [cv2.imread(str(f)) for f in frames]
    gt = np.loadtxt(MOT / "gt" / "gt.txt", delimiter=",")
    truth = []
    for k in range(len(images)):
        r = gt[(gt[:, 0] == k + 1) & (gt[:, 7] == 1) & (gt[:, 8] > 0.5)]
        truth.append(np.column_stack([r[:, 2], r[:, 3], r[:, 2] + r[:, 4], r[:, 3] + r[:, 5]]))
    ssd = SSDLitePersonDetector(conf=0.3)
    detected = [ssd(i)[0] for i in images]
    setups = {
        "blazeface-full (frame only)": (BlazeFaceDetector("full"), None),
        "blazeface-back (frame only)": (BlazeFaceDetector("back"), None),
        "dlib-hog (frame only, upsample 1)": (DlibHogFaceDetector(upsample=1), None),
        "blazeface-full + back on person crops": (BlazeFaceDetector("full"), BlazeFaceDetector("back")),
        "blazeface-full + short on person crops": (BlazeFaceDetector("full"), BlazeFaceDetector("short")),
        "dlib-hog frame + crops": (DlibHogFaceDetector(upsample=1), DlibHogFaceDetector(upsample=0)),
    }
    rows = []
    for name, (frame_det, crop_det) in setups.items():
        for persons_name, persons in (("ssdlite", detected), ("ground truth", truth)):
            finder = FaceFinder(frame_det, crop_det, crop_size=256)
            start = time.perf_counter()
            found = [finder(img, p) for img, p in zip(images, persons, strict=True)]
            ms = (time.perf_counter() - start) / len(images) * 1000
            heights = np.concatenate([b[:, 3] - b[:, 1] for b, _ in found])
            rows.append({"setup": name, "persons": persons_name,
                         "faces_per_frame": round(sum(len(b) for b, _ in found) / len(images), 2),
                         "median_face_height_px": round(float(np.median(heights)), 1) if len(heights) else None,
                         "ms_per_frame": round(ms, 1)})
            print(rows[-1])
    out = ROOT / "benchmarks" / "results" / "face_detectors_mot17.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps({"frames": len(images), "resolution": "1920x1080", "rows": rows},
                                 option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
