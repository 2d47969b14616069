"""Small faces anywhere in the frame, no bodies (dense crowds): ``python -m benchmarks.small_faces``.

Clip: the 72 UTKFace chips of ../shared/data/faces/utkface_sample (the face box is the chip: BlazeFace, YuNet and
dlib all put it at 0.03-0.08 .. 0.92-0.98 of the chip) pasted with soft edges on a blurred MOT17-02 frame (a grey
gradient when that is absent), 1280x720. Each person stands in one cell of a 10 x 5 grid for a while, drifting a
few pixels, leaves, and comes back later in another cell (re-entries); face sizes are drawn per appearance.
Measured per face detector (the default detector's face path before/after, and YuNet / Ultra-Light from
../shared/data/weights when present): face recall (IoU >= 0.5 with the pasted box) overall, per frame and by face
size, false positives per frame, ms/frame of the face search at 720p. Optionally (``--cli``) the whole CLI on the
clip: identities vs the number of distinct people, IDF1 (TrackEval, when installed).
Timings: ``ms_per_frame`` (median, min) of each setup as it is scored, and ``speed_ms_per_frame_720p``: all setups
interleaved frame by frame (min, p25, median), the fairer comparison on a shared machine.
Results: ``benchmarks/results/small_faces.json``.
"""

from __future__ import annotations

import argparse
import glob
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import orjson

from mivolo.core.boxes import iou_matrix

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results" / "small_faces.json"
WIDTH, HEIGHT = 1280, 720
GRID = (10, 5)  # columns, rows: one face per cell, so pasted faces never overlap
SIZE_BINS = ((24, 32), (32, 48), (48, 64), (64, 97))


@dataclass
class Clip:
    frames: list[np.ndarray]
    boxes: list[np.ndarray]  # per frame (K, 4) xyxy of the pasted faces
    ids: list[np.ndarray]  # per frame (K,) person ids
    people: int
    fps: float = 10.0
    meta: dict = field(default_factory=dict)


def load_chips(shared: Path = SHARED) -> list[np.ndarray]:
    """The UTKFace sample chips (BGR 200x200), [] when ../shared is absent."""
    return [cv2.imread(p) for p in sorted(glob.glob(str(shared / "faces" / "utkface_sample" / "*.jpg")))]


def background(shared: Path = SHARED, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """A blurred real street frame (MOT17-02) so no body is visible, else a grey gradient."""
    path = shared / "mot" / "MOT17-02-FRCNN" / "img1" / "000001.jpg"
    image = cv2.imread(str(path)) if path.is_file() else None
    if image is None:
        ramp = np.linspace(70, 170, width, dtype=np.float32)[None, :] + np.linspace(-30, 30, height)[:, None]
        return np.repeat(np.clip(ramp, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
    return cv2.GaussianBlur(cv2.resize(image, (width, height)), (0, 0), 9)


def paste(frame: np.ndarray, chip: np.ndarray, x: int, y: int, size: int) -> None:
    """Paste ``chip`` scaled to ``size`` px at (x, y) with feathered edges (no hard rectangle to find)."""
    face = cv2.resize(chip, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    mask = np.zeros((size, size), np.float32)
    edge = max(1, size // 12)
    mask[edge:-edge, edge:-edge] = 1.0
    mask = cv2.GaussianBlur(mask, (0, 0), edge / 1.5)[:, :, None]
    region = frame[y:y + size, x:x + size].astype(np.float32)
    frame[y:y + size, x:x + size] = (face * mask + region * (1 - mask)).astype(np.uint8)


def schedule(people: int, frames: int, sizes: tuple[int, int], rng: np.random.Generator) -> list[tuple]:
    """Appearances (person, cell, start, end, size): each person 1-2 times, cells never shared at once."""
    cells = GRID[0] * GRID[1]
    free_at = np.zeros(cells, np.int64)  # first frame each cell is free again
    plan = []
    for person in rng.permutation(people):
        visits = 1 + int(rng.random() < 0.6)
        start = int(rng.integers(0, max(1, frames // 3)))
        for _ in range(visits):
            length = int(rng.integers(frames // 4, frames // 2))
            cell = int(rng.choice(np.flatnonzero(free_at <= start))) if (free_at <= start).any() else -1
            if cell < 0:
                break
            end = min(frames, start + length)
            plan.append((int(person), cell, start, end, int(rng.integers(sizes[0], sizes[1] + 1))))
            free_at[cell] = end + 3
            start = end + int(rng.integers(frames // 10, frames // 4))  # away for a while, then back
            if start >= frames - 5:
                break
    return plan


def build_clip(chips: list[np.ndarray], frames: int = 60, sizes: tuple[int, int] = (48, 96), people: int = 40,
               seed: int = 0, shared: Path = SHARED) -> Clip:
    """The synthetic face-crowd clip: ``people`` chips, faces of ``sizes`` px, re-entries, no bodies."""
    rng = np.random.default_rng(seed)
    people = min(people, len(chips))
    plan = schedule(people, frames, sizes, rng)
    base = background(shared)
    cell_w, cell_h = WIDTH // GRID[0], HEIGHT // GRID[1]
    phase = rng.random(len(plan)) * 2 * np.pi
    clip = Clip([], [], [], people=len({p[0] for p in plan}), meta={"sizes": list(sizes), "seed": seed})
    for t in range(frames):
        frame, boxes, ids = base.copy(), [], []
        for k, (person, cell, start, end, size) in enumerate(plan):
            if not start <= t < end:
                continue
            col, row = cell % GRID[0], cell // GRID[0]
            slack_x, slack_y = max(0, cell_w - size), max(0, cell_h - size)
            drift = 0.5 + 0.4 * np.sin(phase[k] + t * 0.15)
            x = col * cell_w + int(slack_x * drift)
            y = row * cell_h + int(slack_y * (1 - drift))
            paste(frame, chips[person], x, y, size)
            boxes.append((x, y, x + size, y + size))
            ids.append(person)
        clip.frames.append(frame)
        clip.boxes.append(np.asarray(boxes, np.float32).reshape(-1, 4))
        clip.ids.append(np.asarray(ids, np.int64))
    return clip


def match_faces(gt: np.ndarray, found: np.ndarray, iou: float = 0.5) -> np.ndarray:
    """Which ground-truth faces are found (greedy one-to-one matching at IoU >= ``iou``)."""
    hit = np.zeros(len(gt), bool)
    if len(gt) == 0 or len(found) == 0:
        return hit
    ious = iou_matrix(gt, found)
    while True:
        g, f = np.unravel_index(np.argmax(ious), ious.shape)
        if ious[g, f] < iou:
            return hit
        hit[g] = True
        ious[g, :] = -1
        ious[:, f] = -1


def score(clip: Clip, detect, warmup: int = 2) -> dict:
    """Recall overall / per frame / by size, false positives per frame, ms per frame of ``detect(image)``."""
    for frame in clip.frames[:warmup]:
        detect(frame)
    hits, sizes, per_frame, false_pos, times = [], [], [], 0, []
    for frame, gt in zip(clip.frames, clip.boxes, strict=True):
        start = time.perf_counter()
        found = detect(frame)
        times.append(time.perf_counter() - start)
        hit = match_faces(gt, found)
        hits.append(hit)
        sizes.append(gt[:, 2] - gt[:, 0])
        false_pos += len(found) - int(hit.sum())
        if len(gt):
            per_frame.append(hit.mean())
    hit, size = np.concatenate(hits), np.concatenate(sizes)
    by_size = {f"{lo}-{hi - 1}": round(float(hit[(size >= lo) & (size < hi)].mean()), 4)
               for lo, hi in SIZE_BINS if ((size >= lo) & (size < hi)).any()}
    return {"recall": round(float(hit.mean()), 4), "recall_per_frame_mean": round(float(np.mean(per_frame)), 4),
            "recall_per_frame_min": round(float(np.min(per_frame)), 4), "recall_by_size": by_size,
            "faces": int(len(hit)), "false_pos_per_frame": round(false_pos / len(clip.frames), 3),
            "ms_per_frame": round(1000 * float(np.median(times)), 1), "ms_per_frame_min": round(1000 * min(times), 1)}


def face_boxes(detector):
    """``image -> face xyxy`` of the full default detector (persons and faces, as the pipeline runs it)."""
    from mivolo.core.structures import FACE

    def detect(image: np.ndarray) -> np.ndarray:
        dets = detector(image)
        return dets.xyxy[dets.cls == FACE]

    return detect


def offline_stack(min_face_px: int):
    """The offline default detector with ``face_min_px`` set (0: the single full-range pass of before)."""
    from mivolo.core.config import DetectorConfig
    from mivolo.detection import build_detector

    config = DetectorConfig()
    config.face_min_px = min_face_px  # DetectorConfig field (read with getattr until it exists)
    return build_detector(config)


def setups(shared: Path = SHARED) -> dict:
    """name -> ``image -> face xyxy``: the default stack before/after, face detectors alone, ONNX references."""
    from mivolo.detection.blazeface import whole_frame_faces

    out = {"before: offline default (full-range 192 + person crops)": face_boxes(offline_stack(0)),
           "after: offline default (short-range scan x0.5 + 128 + person crops)": face_boxes(offline_stack(44)),
           "after, face_min_px=32 (scan x0.69)": face_boxes(offline_stack(32))}
    for name, px in (("faces only, before (full-range 192)", 0), ("faces only, after (scan x0.5 + 128)", 44)):
        detector = whole_frame_faces(px)
        out[name] = lambda image, d=detector: d(image)[0]
    weights = shared / "weights"
    from mivolo.detection.onnx_models import face_detector_from_onnx

    for name, file in (("yunet (../shared weights)", "face_detection_yunet_2026may.onnx"),
                       ("ultra-light RFB-320 (../shared weights)", "version-RFB-320.onnx")):
        if (weights / file).is_file():
            detector = face_detector_from_onnx(weights / file, 0.6)
            out[name] = lambda image, d=detector: d(image)[0]
    return out


def speed(frames: list[np.ndarray], detectors: dict, rounds: int = 4) -> dict:
    """ms/frame of each detector, interleaved frame by frame (other jobs on the machine hit them alike)."""
    times: dict[str, list[float]] = {name: [] for name in detectors}
    for _ in range(rounds):
        for frame in frames:
            for name, detect in detectors.items():
                start = time.perf_counter()
                detect(frame)
                times[name].append(1000 * (time.perf_counter() - start))
    return {name: {"min": round(min(t), 1), "p25": round(float(np.percentile(t, 25)), 1),
                   "median": round(float(np.median(t)), 1)} for name, t in times.items()}


def write_clip(clip: Clip, folder: Path) -> tuple[Path, Path]:
    """clip.mp4 and its MOTChallenge ground truth (gt.txt: one row per pasted face, id = person)."""
    folder.mkdir(parents=True, exist_ok=True)
    video, gt = folder / "clip.mp4", folder / "gt.txt"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), clip.fps, (WIDTH, HEIGHT))
    rows = []
    for k, (frame, boxes, ids) in enumerate(zip(clip.frames, clip.boxes, clip.ids, strict=True), start=1):
        writer.write(frame)
        rows += [(k, int(i) + 1, x1, y1, x2 - x1, y2 - y1, 1, 1, 1)
                 for (x1, y1, x2, y2), i in zip(boxes, ids, strict=True)]
    writer.release()
    np.savetxt(gt, np.asarray(rows, np.float64).reshape(-1, 9), delimiter=",", fmt="%g")
    return video, gt


def run_cli(clip: Clip, work: Path) -> dict:
    """The whole default CLI on the clip: identities vs distinct people, IDF1/HOTA of tracks.txt vs the faces."""
    import subprocess
    import sys

    video, gt = write_clip(clip, work)
    out = work / "out"
    cmd = [sys.executable, str(ROOT / "demo.py"), "--input", str(video), "--output", str(out), "--tracker",
           "botsort.yaml", "--save-json", "--no-progress"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    row: dict = {"wall_s": round(time.perf_counter() - start, 1), "rc": proc.returncode, "people": clip.people}
    if proc.returncode != 0:
        return {**row, "error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    run = orjson.loads((out / "run.json").read_bytes())
    count = int(orjson.loads((out / "identities.json").read_bytes())["count"])
    row.update({"fps": run.get("fps"), "identities": count,
                "count_error_pct": round(100 * abs(count - clip.people) / clip.people, 1)})
    try:
        from mivolo.evaluation.mot import evaluate_mot

        row.update(evaluate_mot(out / "tracks.txt", gt, len(clip.frames), "FACES"))
    except ImportError as exc:
        row["metrics"] = f"not computed: {exc}"
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--quick", action="store_true", help="12 frames, default stacks only")
    parser.add_argument("--cli", type=int, default=0, metavar="FRAMES",
                        help="also run demo.py on a clip of FRAMES frames (48-96 px faces) and score it")
    args = parser.parse_args()
    chips = load_chips()
    if not chips:
        raise SystemExit("../shared/data/faces/utkface_sample is not present")
    frames = 12 if args.quick else args.frames
    clips = {"faces 48-96 px": build_clip(chips, frames, (48, 96), seed=0),
             "faces 24-47 px": build_clip(chips, frames, (24, 47), seed=1)}
    detectors = setups()
    result = {"machine": {"cpus": len(__import__("os").sched_getaffinity(0)), "threads": cv2.getNumThreads(),
                          "load_avg_start": [round(x, 2) for x in __import__("os").getloadavg()]},
              "clips": {name: {"frames": frames, "people": c.people, "faces": int(sum(len(b) for b in c.boxes)),
                               **c.meta} for name, c in clips.items()}, "rows": {}}
    for name, detect in detectors.items():
        if args.quick and "default" not in name:
            continue
        result["rows"][name] = {clip_name: score(clip, detect) for clip_name, clip in clips.items()}
        row = result["rows"][name]
        print(f"{name:68s} " + "  ".join(f"{c}: recall {r['recall']:.3f} (by size {r['recall_by_size']}) "
                                          f"fp/frame {r['false_pos_per_frame']} {r['ms_per_frame']} ms"
                                          for c, r in row.items()))
    result["speed_ms_per_frame_720p"] = speed(clips["faces 48-96 px"].frames[:12], detectors, 2 if args.quick else 4)
    print("ms/frame (min, p25, median):", result["speed_ms_per_frame_720p"])
    if args.cli:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            result["cli"] = run_cli(build_clip(chips, args.cli, (48, 96), seed=2), Path(tmp))
        print("cli:", result["cli"])
    result["machine"]["load_avg_end"] = [round(x, 2) for x in __import__("os").getloadavg()]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
