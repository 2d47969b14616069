"""Re-linking where clothes cannot tell people apart: how often motion alone joins two people, and what the
scene-calibrated colour limit does about it.

    python -m benchmarks.relink_colours     # needs ../shared/data (evaluation only)

1. The colour check on real people: every pair of different people seen in one frame (ground-truth boxes; MOT17-02
   visibility > 0.5) on PETS09-S2L1 (every 10th frame) and MOT17-02 (its 4 real frames): the share of pairs whose
   colour signatures are within the re-linker's ``max_colour_dist``, and their 10 % quantile (the scene limit).
2. Real trajectories, no colours: MOT17-02's public FRCNN detections (score >= 0.5; a dense crowd filmed at 30 fps)
   at 30 fps and every 3rd / 6th frame (10 / 5 fps), on flat grey frames, so every colour signature is the same
   and only motion can decide. BoT-SORT alone; with the merge stage as shipped (the colour limit calibrated on the
   scene); and with that calibration off (motion alone links). For each: identities (every id in the tracks,
   however short: the pipeline's count leaves out tracks too short to be a person), count error, HOTA / MOTA /
   IDF1 (TrackEval), identities spanning two people, re-links, and re-links that joined two different people (the
   lost identity's last 8 boxes and the young track's first 8 matched to ground-truth people, IoU >= 0.5, the
   most frequent one of each; a side with no match is "unknown"). Every box carries the identity its tracker id
   belongs to at the end (as in tracks.txt; without colours no swap is repaired, so nothing else relabels).
Results: results/relink_colours.json and .md.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from benchmarks.real import (
    REAL,
    _iou,
    evaluate_tracks,
    gt_pedestrians,
    read_mot,
    spanning_identities,
    write_results,
)

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
MOT = ROOT.parent / "shared" / "data" / "mot" / "MOT17-02-FRCNN"
PETS = REAL / "PETS09-S2L1"
MIN_SCORE = 0.5
SIDE_BOXES = 8


def colour_pairs(frames: list[tuple[np.ndarray, np.ndarray]], limit: float) -> dict:
    """Colour distances of every pair of different people in one frame: ``frames`` of (BGR image, xyxy (K, 4))."""
    from tracking.relink import colour_distance, colour_signature

    distances: list[float] = []
    for image, xyxy in frames:
        if len(xyxy) < 2:
            continue
        colours = colour_signature(image, xyxy.astype(np.float32))
        distances += colour_distance(colours[:, None], colours[None])[np.triu_indices(len(colours), 1)].tolist()
    d = np.asarray(distances)
    return {"pairs": len(d), "within_limit": round(float(np.mean(d <= limit)), 3) if len(d) else None,
            "q10": round(float(np.quantile(d, 0.1)), 3) if len(d) else None, "limit": limit}


def gt_frames(gt: np.ndarray, images: dict[int, np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(image, gt xyxy) of each frame number in ``images``."""
    out = []
    for frame, image in images.items():
        rows = gt[gt[:, 0] == frame]
        out.append((image, np.c_[rows[:, 2:4], rows[:, 2:4] + rows[:, 4:6]]))
    return out


def pets_images(every: int = 10) -> dict[int, np.ndarray]:
    capture, images, frame = cv2.VideoCapture(str(PETS / "vtest.avi")), {}, 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frame += 1
        if frame % every == 0:
            images[frame] = image
    capture.release()
    return images


def gt_of_boxes(records: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Ground-truth person of each recorded box ``records (N, 7)`` (frame, raw id, identity, xyxy); -1: none."""
    out = np.full(len(records), -1)
    for frame in np.unique(records[:, 0]):
        rows, truth = np.flatnonzero(records[:, 0] == frame), gt[gt[:, 0] == frame]
        if not len(truth):
            continue
        xyxy = records[rows, 3:7]
        iou = _iou(np.c_[xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], truth[:, 2:6])
        for a, b in zip(*linear_sum_assignment(-iou), strict=True):
            if iou[a, b] >= 0.5:
                out[rows[a]] = int(truth[b, 1])
    return out


def _most(values: np.ndarray) -> int | None:
    counts = Counter(int(v) for v in values if v >= 0)
    return counts.most_common(1)[0][0] if counts else None


def judge_links(merges: list[dict], records: np.ndarray, truth: np.ndarray) -> Counter:
    """right / wrong / unknown for each motion+colour merge: who the lost identity showed last, who the young
    track showed first."""
    verdicts: Counter = Counter()
    for merge in merges:
        if merge["cue"] != "motion+colour":
            continue
        young = np.flatnonzero(records[:, 1] == merge["from"])
        if not len(young):
            verdicts["unknown"] += 1
            continue
        born = records[young[0], 0]
        lost = np.flatnonzero((records[:, 2] == merge["into"]) & (records[:, 0] < born)
                              & (records[:, 1] != merge["from"]))
        a, b = _most(truth[lost[-SIDE_BOXES:]]), _most(truth[young[:SIDE_BOXES]])
        verdicts["unknown" if a is None or b is None else "right" if a == b else "wrong"] += 1
    return verdicts


def track_public_detections(step: int, mode: str, work: Path) -> dict:
    """One run on MOT17-02's public detections at 30 / ``step`` fps; ``mode``: tracker, shipped or motion_only."""
    from mivolo.core.config import MergeConfig, TrackerConfig
    from mivolo.core.structures import PERSON, Detections
    from tracking import MergeStep, Tracker

    det = np.loadtxt(MOT / "det" / "det.txt", delimiter=",")
    det = det[det[:, 6] >= MIN_SCORE]
    frames = list(range(1, 601, step))
    fps = 30.0 / step
    tracker = Tracker(TrackerConfig(tracker="botsort.yaml"), fps)
    merge = None if mode == "tracker" else MergeStep(MergeConfig(), None, 60.0)
    if merge is not None and mode == "motion_only":
        merge.relinker.scene_min_pairs = sys.maxsize  # the colour limit never leaves max_colour_dist
    grey = np.full((1080, 1920, 3), 120, np.uint8)
    records = []
    for index, frame in enumerate(frames):
        rows = det[det[:, 0] == frame]
        dets = Detections.from_boxes(np.c_[rows[:, 2:4], rows[:, 2:4] + rows[:, 4:6]].astype(np.float32),
                                     rows[:, 6].astype(np.float32), PERSON)
        dets = tracker.update(dets, grey)
        raw = dets.track_id.copy()
        if merge is not None:
            dets = merge(grey, index / fps, dets)
        for r in np.flatnonzero(raw >= 0):
            records.append([index + 1, raw[r], dets.track_id[r], *dets.xyxy[r]])
    records = np.asarray(records, np.float64).reshape(-1, 7)
    if merge is not None:  # a young track's first boxes carry the identity it joined later (as in tracks.txt)
        late = records[:, 2] == records[:, 1]
        records[late, 2] = merge.merger.resolve(records[late, 1].astype(int))
    records = records[records[:, 2] >= 0]
    records = records[np.unique(records[:, [0, 2]], axis=0, return_index=True)[1]]  # one box per identity a frame
    records = records[np.lexsort((records[:, 2], records[:, 0]))]
    gt = read_mot(MOT / "gt" / "gt.txt")
    gt = gt[np.isin(gt[:, 0], frames)]
    gt[:, 0] = (gt[:, 0] - 1) // step + 1
    gt_path, tracks_path = work / f"gt_{step}.txt", work / f"tracks_{step}_{mode}.txt"
    np.savetxt(gt_path, gt, delimiter=",", fmt="%g")
    xywh = np.c_[records[:, 3:5], records[:, 5:7] - records[:, 3:5]]
    tracks = np.c_[records[:, 0], records[:, 2], xywh, np.ones(len(records)), -np.ones((len(records), 3))]
    np.savetxt(tracks_path, tracks, delimiter=",", fmt="%g")
    people = gt_pedestrians(gt)
    row = {"fps": round(fps, 1), "mode": mode, "identities": int(len(np.unique(records[:, 2]))),
           "people": int(len(np.unique(people[:, 1])))}
    row["count_error_pct"] = round(100.0 * (row["identities"] - row["people"]) / row["people"], 1)
    scores = evaluate_tracks(tracks_path, gt_path, len(frames), f"MOT17-02-{step}")
    row.update({k: scores.get(k) for k in ("HOTA", "MOTA", "IDF1", "IDSW")})
    row["spanning"] = len(spanning_identities(tracks, people))
    if merge is not None:
        report = merge.report()
        row["relinks"] = dict(judge_links(report["merges"], records, gt_of_boxes(records, people)))
        row["colour_limit"] = report["relink_colour_limit"]
    return row


def markdown(result: dict) -> str:
    lines = ["# Re-linking where clothes cannot tell people apart", "",
             "Colour check on real people (pairs of different people seen in one frame):", "",
             "| clip | pairs | within 0.35 | 10 % quantile |", "|---|---|---|---|"]
    for name, row in result["colour_pairs"].items():
        lines.append(f"| {name} | {row['pairs']} | {row['within_limit']} | {row['q10']} |")
    lines += ["", "MOT17-02 public detections on grey frames (motion only):", "",
              "| fps | run | identities (people) | HOTA | IDF1 | spans 2 | re-links right / wrong / unknown | "
              "colour limit |", "|---|---|---|---|---|---|---|---|"]
    for row in result["public_detections"]:
        links = row.get("relinks")
        said = "-" if links is None else f"{links.get('right', 0)} / {links.get('wrong', 0)} / " \
                                         f"{links.get('unknown', 0)}"
        lines.append(f"| {row['fps']} | {row['mode']} | {row['identities']} ({row['people']}) | {row['HOTA']} | "
                     f"{row['IDF1']} | {row['spanning']} | {said} | {row.get('colour_limit', '-')} |")
    return "\n".join(lines) + "\n"


def run(steps: tuple[int, ...] = (1, 3, 6)) -> dict | None:
    from tracking.relink import Relinker

    if not (MOT / "det" / "det.txt").is_file() or not (PETS / "vtest.avi").is_file():
        log.warning("../shared/data is missing: nothing to measure")
        return None
    limit = Relinker().max_colour_dist
    mot_gt = gt_pedestrians(read_mot(MOT / "gt" / "gt.txt"))
    mot_gt = mot_gt[mot_gt[:, 8] > 0.5]  # visibility
    mot_images = {f: cv2.imread(str(MOT / "img1" / f"{f:06d}.jpg")) for f in range(1, 5)}
    pairs = {"PETS09-S2L1": colour_pairs(gt_frames(gt_pedestrians(read_mot(PETS / "gt" / "gt.txt")),
                                                   pets_images()), limit),
             "MOT17-02": colour_pairs(gt_frames(mot_gt, {f: i for f, i in mot_images.items() if i is not None}),
                                      limit)}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for step in steps:
            for mode in ("tracker", "shipped", "motion_only"):
                rows.append(track_public_detections(step, mode, Path(tmp)))
                log.info("%s", rows[-1])
    return {"colour_pairs": pairs, "public_detections": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="1,3,6", help="frame steps of the 30 fps sequence (comma-separated)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = run(tuple(int(s) for s in args.steps.split(",")))
    if result is None:
        return 0
    write_results("relink_colours", result, markdown(result))
    sys.stdout.write(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
