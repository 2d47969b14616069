"""``demo.py --compare``: detections once (cached), then one tracking run per Re-ID setting, with metrics.

Input: a video (the detector runs once; its person boxes are cached in ``detections.npz``) or a MOTChallenge
sequence folder with ``det/det.txt`` (public detections; frames from ``img1/`` where present, else blank frames
of the sequence size, which is what camera-motion compensation and Re-ID then see).
"""

from __future__ import annotations

import configparser
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mivolo.core.atomic import write_bytes_atomic, write_json_atomic
from mivolo.core.config import PipelineConfig, TrackerConfig
from mivolo.core.errors import UserError
from mivolo.core.structures import PERSON, Detections
from mivolo.sinks.tracks import interpolate_gaps, mot_text, smooth_tracks

log = logging.getLogger(__name__)
MIN_FRAMES = 3


@dataclass
class Sequence:
    name: str
    boxes: list[np.ndarray]  # per frame (N, 5): x1, y1, x2, y2, score
    fps: float
    size: tuple[int, int]  # width, height
    frame_paths: list[Path | None]
    video: Path | None = None
    gt: Path | None = None


def load_mot_sequence(folder: Path) -> Sequence:
    det = folder / "det" / "det.txt"
    if not det.is_file():
        raise UserError(f"{folder} is not a MOTChallenge sequence folder (no det/det.txt)")
    info = configparser.ConfigParser()
    info.read(folder / "seqinfo.ini")
    section = info["Sequence"] if info.has_section("Sequence") else {}
    length = int(section.get("seqLength", 0)) or None
    rows = np.loadtxt(det, delimiter=",", ndmin=2)
    length = length or int(rows[:, 0].max())
    boxes = []
    for frame in range(1, length + 1):
        r = rows[rows[:, 0] == frame]
        boxes.append(np.column_stack([r[:, 2], r[:, 3], r[:, 2] + r[:, 4], r[:, 3] + r[:, 5], r[:, 6]])
                     .astype(np.float32))
    image_dir = folder / section.get("imDir", "img1")
    ext = section.get("imExt", ".jpg")
    frames = [image_dir / f"{k:06d}{ext}" for k in range(1, length + 1)]
    gt = folder / "gt" / "gt.txt"
    return Sequence(section.get("name", folder.name), boxes, float(section.get("frameRate", 30)),
                    (int(section.get("imWidth", 1920)), int(section.get("imHeight", 1080))),
                    [p if p.is_file() else None for p in frames], gt=gt if gt.is_file() else None)


def detect_video(config: PipelineConfig, out_dir: Path) -> Sequence:
    """Run the configured detector once over the video; cache the person boxes."""
    from mivolo.detection import build_detector
    from mivolo.sources import open_source

    source = open_source(config.source)
    cache = out_dir / "detections.npz"
    detector = build_detector(config.detector)
    boxes, size = [], (0, 0)
    for frame in source:
        dets = detector(frame.image)
        persons = dets.is_person
        boxes.append(np.column_stack([dets.xyxy[persons], dets.conf[persons]]).astype(np.float32))
        size = (frame.image.shape[1], frame.image.shape[0])
    source.close()
    np.savez_compressed(cache, *boxes)
    return Sequence(source.info.name, boxes, source.info.fps, size, [None] * len(boxes),
                    video=Path(config.source.input))


def _frames(seq: Sequence):
    blank = np.zeros((seq.size[1], seq.size[0], 3), np.uint8)
    if seq.video is not None:
        capture = cv2.VideoCapture(str(seq.video))
        for _ in seq.boxes:
            ok, image = capture.read()
            yield image if ok else blank
        capture.release()
        return
    for path in seq.frame_paths:
        image = cv2.imread(str(path)) if path is not None else None
        yield image if image is not None else blank


def track_sequence(seq: Sequence, tracker_yaml: str, reid: str | None, interpolate: int = 0,
                   smooth_s: float = 0.0) -> tuple[np.ndarray, dict]:
    """MOT rows of one tracking run over cached detections (post-processed as tracks.txt is), and its timings."""
    from reid_models import load_custom_reid
    from tracking import Tracker

    tracker = Tracker(TrackerConfig(tracker=tracker_yaml, reid_weights=reid), seq.fps, reid_from_yaml=reid is not None,
                      reid_loader=load_custom_reid)
    rows, spent = [], 0.0
    for index, (boxes, image) in enumerate(zip(seq.boxes, _frames(seq), strict=False)):
        dets = Detections.from_boxes(boxes[:, :4], boxes[:, 4], PERSON)
        start = time.perf_counter()
        tracker.update(dets, image)
        spent += time.perf_counter() - start
        tracked = dets.track_id >= 0
        for (x1, y1, x2, y2), tid, conf in zip(dets.xyxy[tracked], dets.track_id[tracked], dets.conf[tracked],
                                                strict=True):
            rows.append((index + 1, tid, x1, y1, x2 - x1, y2 - y1, conf, -1, -1, -1))
    table = np.array(rows, dtype=np.float64).reshape(-1, 10)
    if len(table):
        ids, counts = np.unique(table[:, 1], return_counts=True)
        table = table[np.isin(table[:, 1], ids[counts >= MIN_FRAMES])]  # as the pipeline: 3 frames make a person
    table = smooth_tracks(interpolate_gaps(table, interpolate), smooth_s * seq.fps)
    frames = max(len(seq.boxes), 1)
    return table, {"track_ms_per_frame": round(1000 * spent / frames, 2),
                   "identities": int(len(np.unique(table[:, 1]))) if len(table) else 0}


def run_compare(config: PipelineConfig, models: list[str], gt: str | None, interpolate: int) -> dict:
    from mivolo.evaluation.mot import evaluate_mot

    out_dir = Path(config.output.dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = Path(config.source.input)
    if target.is_dir() and (target / "det" / "det.txt").is_file():
        seq = load_mot_sequence(target)
    else:
        seq = detect_video(config, out_dir)
    gt_path = Path(gt) if gt else seq.gt
    if gt_path is not None and not gt_path.is_file():
        raise UserError(f"ground truth not found: {gt_path}")
    from tracking import tracker_needs_reid

    settings: list[tuple[str, str | None]] = [("no Re-ID (baseline)", None)]
    if tracker_needs_reid(config.tracker.tracker):  # StrongSORT cannot track by motion alone: no baseline
        if not models:
            raise UserError(f"{config.tracker.tracker} needs a Re-ID model: give --compare MODEL[,MODEL...]")
        log.info("%s needs Re-ID: no motion-only baseline run", config.tracker.tracker)
        settings = []
    for name in models:
        from reid_models import resolve_reid_weights

        settings.append((name, str(resolve_reid_weights(name))))
    missing = _warn_missing_frames(seq) if any(weights for _, weights in settings) else 0
    rows, baseline_ms = [], None
    shorts = short_names([label if weights else "baseline" for label, weights in settings])
    for (label, weights), short in zip(settings, shorts, strict=True):
        start = time.perf_counter()
        table, stats = track_sequence(seq, config.tracker.tracker, weights, interpolate, config.tracker.smooth_s)
        seconds = time.perf_counter() - start
        tracks_path = out_dir / f"tracks_{short}.txt"
        write_bytes_atomic(tracks_path, mot_text(table).encode())
        row = {"reid": short if weights else label, "weights": weights, "tracker": config.tracker.tracker,
               "frames": len(seq.boxes), "fps": round(len(seq.boxes) / seconds, 2), **stats}
        if weights is not None and missing:  # Re-ID looked at black frames: these are motion-only numbers
            row.update(motion_only=True, frames_missing=missing)
        if weights is None:
            baseline_ms = stats["track_ms_per_frame"]
            row["reid_ms_per_frame"] = 0.0
        else:  # Re-ID cost = time over the motion-only run (unknown without one)
            row["reid_ms_per_frame"] = (round(stats["track_ms_per_frame"] - baseline_ms, 2)
                                        if baseline_ms is not None else None)
        if gt_path is not None:
            row.update(evaluate_mot(tracks_path, gt_path, len(seq.boxes), seq.name))
        rows.append(row)
        log.info("%s: %s", label, {k: v for k, v in row.items() if k not in ("reid", "tracker")})
    result = {"sequence": seq.name, "detections": "public det.txt" if seq.video is None else "cached detector run",
              "interpolate_max_gap": interpolate, "smooth_s": config.tracker.smooth_s,
              "ground_truth": str(gt_path) if gt_path else None, "runs": rows}
    write_json_atomic(out_dir / "compare.json", result)
    write_bytes_atomic(out_dir / "compare.md", compare_markdown(result).encode())
    return result


def short_names(labels: list[str]) -> list[str]:
    """File-safe short names for the runs: a file's stem or the catalog name, made unique (``_2``, ``_3``)."""
    names: list[str] = []
    for label in labels:
        stem = Path(label).stem if any(label.lower().endswith(s) for s in (".pt", ".pth", ".onnx")) else \
            Path(label).name
        safe = "".join(c if c.isalnum() or c in "-." else "_" for c in stem).strip("_.")[:60] or "run"
        name, n = safe, 1
        while name in names:
            n += 1
            name = f"{safe}_{n}"
        names.append(name)
    return names


def _warn_missing_frames(seq: Sequence) -> int:
    """How many frames of a MOT sequence are absent (Re-ID then sees black frames), with one warning line."""
    if seq.video is not None:
        return 0
    missing = sum(path is None for path in seq.frame_paths)
    if missing:
        log.warning("%s: %d of %d frames are missing (no image files): Re-ID sees black frames there, so the Re-ID "
                    "runs are marked motion-only", seq.name, missing, len(seq.frame_paths))
    return missing


def compare_markdown(result: dict) -> str:
    metric_cols = ["HOTA", "MOTA", "IDF1", "IDSW"] if result["ground_truth"] else []
    head = ["Re-ID", "tracker", "Re-ID ms/frame", "fps", "identities", *metric_cols]
    lines = [f"# Tracking comparison: {result['sequence']} ({result['detections']})", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in result["runs"]:
        reid_ms = "n/a" if row["reid_ms_per_frame"] is None else str(row["reid_ms_per_frame"])
        name = f"{row['reid']} (motion-only: {row['frames_missing']} frames missing)" if row.get("motion_only") \
            else row["reid"]
        values = [name, Path(row["tracker"]).name, reid_ms, str(row["fps"]),
                  str(row["identities"]), *[str(row[c]) for c in metric_cols]]
        lines.append("| " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"
