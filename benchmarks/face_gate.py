"""Face-quality gate on real faces and on what face detectors really fire on: ``python -m benchmarks.face_gate``.

Positives: the 72 UTKFace chips of ../shared/data/faces/utkface_sample (the face box is the chip), at their own
size and shrunk to 64/48/32/24/16 px faces pasted on a grey image (faces in videos are small); blurred copies and
upside-down copies as separate categories.
Real-world set: ``benchmarks/face_gate_labels.json``: BlazeFace and YuNet detections (as the pipeline's FaceFinder
makes them: whole frame + upscaled head regions) on PETS09-S2L1 (people from above, many backs of heads), MOT17-02
(street, 1080p) and Intel's face-demographics GIFs, labelled by looking at crops: face / profile / back / other.
Reported: acceptance per category and size bucket, rejection reasons, single-feature separation (AUC of face vs
back-of-head/other) and ms per face. Results: ``benchmarks/results/face_gate.json`` (no image data).
"""

from __future__ import annotations

import argparse
import glob
import time
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np
import orjson

from mivolo.detection.face_quality import FaceQualityConfig, FaceQualityGate, Reason

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
LABELS = ROOT / "benchmarks" / "face_gate_labels.json"
RESULTS = ROOT / "benchmarks" / "results" / "face_gate.json"
SIZES = (200, 64, 48, 32, 24, 16)


def load_frames(items: list[dict], shared: Path = SHARED) -> dict[tuple[str, int], np.ndarray]:
    """The frames the labelled items need, decoded once: {(source, frame): BGR image}."""
    need: dict[str, set[int]] = defaultdict(set)
    for item in items:
        need[item["source"]].add(int(item["frame"]))
    frames = {}
    for source, wanted in need.items():
        path = shared / source
        if path.is_dir():  # MOTChallenge img1/ folder
            for k in wanted:
                frames[(source, k)] = cv2.imread(str(path / f"{k:06d}.jpg"))
        elif path.suffix.lower() == ".gif":
            from PIL import Image, ImageSequence

            with Image.open(path) as gif:
                for k, frame in enumerate(ImageSequence.Iterator(gif), start=1):
                    if k in wanted:
                        frames[(source, k)] = cv2.cvtColor(np.array(frame.convert("RGB")), cv2.COLOR_RGB2BGR)
        else:
            cap = cv2.VideoCapture(str(path))
            k, last = 0, max(wanted)
            while k < last:
                ok, image = cap.read()
                if not ok:
                    break
                k += 1
                if k in wanted:
                    frames[(source, k)] = image
            cap.release()
    return frames


def labelled_items(path: Path = LABELS) -> list[dict]:
    return orjson.loads(path.read_bytes())["items"]


def utk_chips(shared: Path = SHARED) -> list[np.ndarray]:
    return [cv2.imread(p) for p in sorted(glob.glob(str(shared / "faces" / "utkface_sample" / "*.jpg")))]


def small_face(chip: np.ndarray, px: int, blur_sigma: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The chip shrunk so its (whole-chip) face box is ``px`` wide, on a grey image 3x its size: (image, box)."""
    if blur_sigma > 0:
        chip = cv2.GaussianBlur(chip, (0, 0), blur_sigma * chip.shape[1])
    if px == chip.shape[1]:
        small = chip
    else:
        small = cv2.resize(chip, (px, round(chip.shape[0] * px / chip.shape[1])), interpolation=cv2.INTER_AREA)
    h, w = small.shape[:2]
    canvas = np.full((3 * h, 3 * w, 3), 128, np.uint8)
    canvas[h:2 * h, w:2 * w] = small
    return canvas, np.array([[w, h, 2 * w, 2 * h]], np.float32)


def size_bucket(side: float) -> str:
    for edge, name in ((16, "<16"), (20, "16-20"), (24, "20-24"), (32, "24-32"), (48, "32-48")):
        if side < edge:
            return name
    return ">=48"


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(score of a positive > score of a negative), ties half."""
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return float(greater + ties / 2)


def skin_share(image: np.ndarray, box: np.ndarray) -> float:
    """Share of YCrCb skin-range pixels in the central half of the box (a candidate feature, not used by the gate)."""
    x1, y1, x2, y2 = box
    cx, cy, r = (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) / 4
    patch = image[max(int(cy - r), 0):int(cy + r) + 1, max(int(cx - r), 0):int(cx + r) + 1]
    if patch.size == 0:
        return 0.0
    ycc = cv2.cvtColor(patch, cv2.COLOR_BGR2YCrCb).reshape(-1, 3)
    return float(((ycc[:, 1] > 133) & (ycc[:, 1] < 173) & (ycc[:, 2] > 77) & (ycc[:, 2] < 127)).mean())


def left_right_symmetry(image: np.ndarray, box: np.ndarray) -> float:
    x1, y1, x2, y2 = (max(int(round(v)), 0) for v in box)
    gray = cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY) if x2 > x1 and y2 > y1 else np.zeros((0, 0))
    if gray.size < 16 or gray.std() < 1:
        return 0.0
    gray = cv2.resize(gray, (32, 32)).astype(np.float32)
    return float(np.corrcoef(gray.ravel(), gray[:, ::-1].ravel())[0, 1])


def run_utk(gate: FaceQualityGate, chips: list[np.ndarray]) -> dict:
    out: dict[str, dict] = {}
    for name, sigma, rotate in [("upright", 0.0, False), ("blurred_sigma_4pct", 0.04, False),
                                ("blurred_sigma_6pct", 0.06, False), ("rotated_180", 0.0, True)]:
        for px in SIZES if name == "upright" else (200, 48, 24):
            reasons, hog = Counter(), []
            for chip in chips:
                image, box = small_face(cv2.rotate(chip, cv2.ROTATE_180) if rotate else chip, px, sigma)
                q = gate(image, box)
                reasons[Reason(int(q.reason[0])).name] += 1
                hog.append(float(q.hog[0]))
            out[f"{name}@{px}px"] = {"n": len(chips), "accepted_pct": round(100 * reasons["OK"] / len(chips), 1),
                                     "reasons": dict(reasons),
                                     "hog_p10": round(float(np.percentile(hog, 10)), 3) if np.isfinite(hog).all()
                                     else None}
    return out


def run_real(gate: FaceQualityGate, items: list[dict], frames: dict) -> tuple[dict, dict, list[dict]]:
    """Acceptance per (label, source, size bucket); the per-item features for the separation table."""
    rows = []
    for item in items:
        image = frames[(item["source"], int(item["frame"]))]
        face = np.array([item["face"]], np.float32)
        person = np.array([item["person"] if item["person"] else [np.nan] * 4], np.float32)
        q = gate(image, face, person)
        rows.append({"label": item["label"], "source": item["source"].split("/")[1], "detector": item["detector"],
                     "side": float(min(face[0, 2] - face[0, 0], face[0, 3] - face[0, 1])),
                     "ok": bool(q.ok[0]), "reason": Reason(int(q.reason[0])).name, "hog": float(q.hog[0]),
                     "yaw": float(q.yaw[0]), "roll": float(q.roll_deg[0]), "sharpness": float(q.sharpness[0]),
                     "skin": skin_share(image, face[0]), "symmetry": left_right_symmetry(image, face[0])})
    table: dict[str, dict] = {}
    for key_fn, name in [(lambda r: r["label"], "by_label"),
                         (lambda r: f"{r['label']}/{size_bucket(r['side'])}", "by_label_and_size"),
                         (lambda r: f"{r['label']}/{r['source']}/{r['detector']}", "by_label_source_detector")]:
        groups = defaultdict(list)
        for r in rows:
            groups[key_fn(r)].append(r)
        table[name] = {k: {"n": len(v), "accepted_pct": round(100 * float(np.mean([r["ok"] for r in v])), 1),
                           "reasons": dict(Counter(r["reason"] for r in v))} for k, v in sorted(groups.items())}
    return table, {}, rows


def separation(rows: list[dict]) -> dict:
    """AUC of single features, real faces vs backs of heads + other, on the content checks alone (gate without size
    and head-region checks), per size range: which feature separates."""
    out = {}
    for name, keep in [("all_sizes", lambda r: True), ("side>=20", lambda r: r["side"] >= 20)]:
        face = [r for r in rows if r["label"] == "face" and keep(r)]
        neg = [r for r in rows if r["label"] in ("back", "other") and keep(r)]
        feats = {
            "hog_margin": lambda r: max(r["hog"], -5.0),
            "-|yaw|": lambda r: -abs(r["yaw"]) if np.isfinite(r["yaw"]) else -9.0,
            "-|roll|": lambda r: -abs(r["roll"]) if np.isfinite(r["roll"]) else -99.0,
            "sharpness": lambda r: r["sharpness"],
            "skin_share": lambda r: r["skin"],
            "lr_symmetry": lambda r: r["symmetry"],
        }
        out[name] = {"faces": len(face), "negatives": len(neg),
                     "auc": {k: round(auc([f(r) for r in face], [f(r) for r in neg]), 3) for k, f in feats.items()}}
    return out


def timing(gate: FaceQualityGate, frames: dict, items: list[dict], repeat: int = 2) -> dict:
    """ms per face of the full gate (every face reaching the HOG check: size and head checks off)."""
    faces = [(frames[(i["source"], int(i["frame"]))], np.array([i["face"]], np.float32)) for i in items]
    gate(*faces[0])
    start = time.perf_counter()
    for _ in range(repeat):
        for image, box in faces:
            gate(image, box)
    full = (time.perf_counter() - start) * 1000 / (repeat * len(faces))
    return {"faces": len(faces), "ms_per_face_hog_path": round(full, 2), "threads": cv2.getNumThreads()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not (SHARED / "faces" / "utkface_sample").is_dir():
        print(f"{SHARED} is not present: nothing to measure")
        return 1
    config = FaceQualityConfig()
    gate = FaceQualityGate(config)
    content_only = FaceQualityGate(FaceQualityConfig(min_face_px=0, min_sharpness=0.0, head_fraction=10.0,
                                                     head_margin=10.0))
    items = labelled_items()
    frames = load_frames(items)
    chips = utk_chips()
    result = {"config": config.__dict__, "utkface": run_utk(gate, chips)}
    real, _, rows = run_real(gate, items, frames)
    result["real_clips"] = real
    content_table, _, content_rows = run_real(content_only, items, frames)
    result["real_clips_content_checks_only"] = content_table["by_label_and_size"]
    result["feature_separation_auc"] = separation(content_rows)
    result["timing"] = timing(content_only, frames, items[::4])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    for key, value in result["utkface"].items():
        print(f"utkface {key:28s} accepted {value['accepted_pct']:5.1f}%  {value['reasons']}")
    for key, value in real["by_label_and_size"].items():
        print(f"real {key:28s} n={value['n']:4d} accepted {value['accepted_pct']:5.1f}%  {value['reasons']}")
    for key, value in result["real_clips_content_checks_only"].items():
        print(f"content-only {key:20s} n={value['n']:4d} accepted {value['accepted_pct']:5.1f}%")
    print("AUC", result["feature_separation_auc"])
    print("timing", result["timing"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
