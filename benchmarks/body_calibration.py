"""Body (Re-ID) merge threshold on real same- and different-person pairs: ``python -m benchmarks.body_calibration``.

A body-only merge compares two body signatures: the mean of up to 6 L2-normalised Re-ID embeddings of one
track, taken at least 0.25 s apart (``IdentityMerger``). This measures the cosine similarity of such signatures
on PETS09-S2L1 (real, 19 people seen from above, ground-truth boxes in ``gt/gt.txt``):
- each gt person's boxes (visible, >= 40 px tall) are sampled every 0.25 s and cut into consecutive groups of 6
  (a 1.5 s stretch of a track: what a fragment gives the merger);
- same person: two groups of one person at least ``--min-gap-s`` apart (a re-entry or a long occlusion);
- different people: every two groups of two different people.
Reported: both distributions, and the false-merge rate (different-person pairs at or above the threshold) and the
miss rate (same-person pairs below it) per threshold. The Re-ID model is any file ``--reid-weights`` accepts
(default: OSNet x0.25 MSMT17 ONNX from ``../shared/data/weights``). Results in
``benchmarks/results/body_calibration.json``.
"""

from __future__ import annotations

import argparse
import itertools
import logging
from pathlib import Path

import cv2
import numpy as np
import orjson

from benchmarks.merge_calibration import signature, summary
from benchmarks.real import REAL, WEIGHTS, gt_pedestrians, read_mot, video_frames
from mivolo.core.config import MergeConfig, TrackerConfig
from mivolo.core.environment import configure_environment

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "body_calibration.json"
CLIP = REAL / "PETS09-S2L1"
GROUP = 6
INTERVAL_S = 0.25
MIN_HEIGHT_PX = 40
THRESHOLDS = (0.85, 0.9, 0.92, 0.94, 0.95, 0.96, 0.97, 0.98)


def person_groups(clip: Path, embed, fps: float, frames: int = 0) -> dict[int, list[tuple[float, np.ndarray]]]:
    """{gt id: [(start time s, body signature of GROUP embeddings sampled INTERVAL_S apart), ...]} over the
    first ``frames`` frames (0: all)."""
    gt = gt_pedestrians(read_mot(clip / "gt" / "gt.txt"))
    if gt.shape[1] > 8:
        gt = gt[gt[:, 8] > 0.5]  # mostly visible
    gt = gt[gt[:, 5] >= MIN_HEIGHT_PX]
    step = max(1, int(round(INTERVAL_S * fps)))
    wanted = gt[(gt[:, 0].astype(int) - 1) % step == 0]
    samples: dict[int, list[tuple[float, np.ndarray]]] = {}
    for frame_number, image in video_frames(next(clip.glob("*.avi")), frames):
        rows = wanted[wanted[:, 0] == frame_number]
        if not len(rows):
            continue
        xyxy = np.c_[rows[:, 2:4], rows[:, 2:4] + rows[:, 4:6]].astype(np.float32)
        for person, vector in zip(rows[:, 1].astype(int), embed(image, xyxy), strict=True):
            samples.setdefault(person, []).append(((frame_number - 1) / fps, vector))
    return {p: [(s[k][0], signature(np.array([v for _, v in s[k:k + GROUP]])))
                for k in range(0, len(s) - GROUP + 1, GROUP)] for p, s in samples.items()}


def rates(same: np.ndarray, different: np.ndarray) -> list[dict]:
    return [{"threshold": t, "false_merge_rate": round(float((different >= t).mean()), 4),
             "false_merges": int((different >= t).sum()), "miss_rate": round(float((same < t).mean()), 4)}
            for t in THRESHOLDS]


def run(reid_weights: Path, min_gap_s: float, frames: int = 0) -> dict:
    from tracking.tracker import Tracker

    tracker = Tracker(TrackerConfig(tracker="botsort.yaml", reid_weights=str(reid_weights)), fps=10.0)
    fps = cv2.VideoCapture(str(next(CLIP.glob("*.avi")))).get(cv2.CAP_PROP_FPS) or 10.0
    groups = person_groups(CLIP, tracker.body_embeddings, fps, frames)
    same = np.array([a @ b for g in groups.values() for (ta, a), (tb, b) in itertools.combinations(g, 2)
                     if abs(tb - ta) >= min_gap_s])
    different = np.array([a @ b for (_, ga), (_, gb) in itertools.combinations(groups.items(), 2)
                          for _, a in ga for _, b in gb])
    return {"clip": CLIP.name, "frames": frames or "all", "reid_weights": reid_weights.name, "signature_size": GROUP,
            "min_gap_s": min_gap_s, "default_body_threshold": MergeConfig.body_threshold,
            "groups_per_person": {str(k): len(v) for k, v in sorted(groups.items())},
            "same_person": summary(same), "different_people": summary(different),
            "by_threshold": rates(same, different)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.body_calibration", description=__doc__.splitlines()[0])
    parser.add_argument("--reid-weights", type=Path, default=WEIGHTS / "osnet_x0_25_msmt17.onnx")
    parser.add_argument("--min-gap-s", type=float, default=3.0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not CLIP.is_dir() or not args.reid_weights.is_file():
        print("../shared/data (PETS09-S2L1 and the Re-ID weights) is not present: nothing to measure")
        return 0
    configure_environment()
    result = run(args.reid_weights, args.min_gap_s)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(orjson.dumps({k: result[k] for k in ("same_person", "different_people", "by_threshold")},
                       option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
