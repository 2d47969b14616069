"""MOTChallenge tracking metrics (HOTA, MOTA, IDF1, ID switches) computed by TrackEval, not by hand.

TrackEval reads the MOTChallenge folder layout; we lay the files out in a temporary folder and call it with its
standard MOT17 preprocessing (pedestrians only, distractor matches removed, zero-marked boxes ignored).
"""

from __future__ import annotations

import io
import shutil
import tempfile
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np


def evaluate_mot(tracks_txt: Path, gt_txt: Path, seq_length: int | None = None, name: str = "SEQ") -> dict:
    """HOTA, DetA, AssA, MOTA, IDF1, IDSW (%, counts) of one tracker output against one ground truth file."""
    import trackeval

    gt = np.loadtxt(gt_txt, delimiter=",", ndmin=2)
    length = seq_length or int(gt[:, 0].max())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        seq_dir = root / "gt" / "MOT17-train" / name
        (seq_dir / "gt").mkdir(parents=True)
        shutil.copy(gt_txt, seq_dir / "gt" / "gt.txt")
        (seq_dir / "seqinfo.ini").write_text(f"[Sequence]\nname={name}\nseqLength={length}\n")
        tracker_dir = root / "trackers" / "MOT17-train" / "ours" / "data"
        tracker_dir.mkdir(parents=True)
        shutil.copy(tracks_txt, tracker_dir / f"{name}.txt")
        dataset_config = {**trackeval.datasets.MotChallenge2DBox.get_default_dataset_config(),
                          "GT_FOLDER": str(root / "gt"), "TRACKERS_FOLDER": str(root / "trackers"),
                          "TRACKERS_TO_EVAL": ["ours"], "SEQ_INFO": {name: length}, "PRINT_CONFIG": False,
                          "OUTPUT_FOLDER": str(root / "out")}
        eval_config = {**trackeval.Evaluator.get_default_eval_config(), "USE_PARALLEL": False,
                       "PRINT_RESULTS": False, "PRINT_CONFIG": False, "TIME_PROGRESS": False,
                       "OUTPUT_SUMMARY": False, "OUTPUT_DETAILED": False, "PLOT_CURVES": False,
                       "DISPLAY_LESS_PROGRESS": True, "LOG_ON_ERROR": str(root / "error.txt")}
        metrics = [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR({"PRINT_CONFIG": False}),
                   trackeval.metrics.Identity({"PRINT_CONFIG": False})]
        with redirect_stdout(io.StringIO()):
            results, _ = trackeval.Evaluator(eval_config).evaluate(
                [trackeval.datasets.MotChallenge2DBox(dataset_config)], metrics)
    seq = results["MotChallenge2DBox"]["ours"][name]["pedestrian"]
    return {"HOTA": round(float(np.mean(seq["HOTA"]["HOTA"])) * 100, 2),
            "DetA": round(float(np.mean(seq["HOTA"]["DetA"])) * 100, 2),
            "AssA": round(float(np.mean(seq["HOTA"]["AssA"])) * 100, 2),
            "MOTA": round(float(seq["CLEAR"]["MOTA"]) * 100, 2),
            "IDF1": round(float(seq["Identity"]["IDF1"]) * 100, 2),
            "IDSW": int(seq["CLEAR"]["IDSW"])}
