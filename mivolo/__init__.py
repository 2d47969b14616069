"""Crowd demographics from video: detect, track, and settle one age and gender per person.

``from mivolo import Pipeline, PipelineConfig`` is the Python API the CLI (demo.py) uses.
"""

from __future__ import annotations

import os
from pathlib import Path

# OpenCV/FFmpeg print their own errors on stderr; ours are the one line users should see.
os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
# ultralytics must never reach the network or install packages, and keeps its settings in the project.
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "False")
os.environ.setdefault("YOLO_VERBOSE", "False")
if "YOLO_CONFIG_DIR" not in os.environ:
    _project = Path(__file__).resolve().parents[1]
    _config_dir = _project / ".yolo_config" if os.access(_project, os.W_OK) else \
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mivolo-crowd" / "ultralytics"
    os.environ["YOLO_CONFIG_DIR"] = str(_config_dir)

__version__ = "0.1.0"


def __getattr__(name: str):  # lazy: importing mivolo must stay cheap
    if name in ("Pipeline", "RunSummary"):
        from mivolo import pipeline

        return getattr(pipeline, name)
    if name in ("PipelineConfig", "load_config"):
        from mivolo import config

        return getattr(config, name)
    raise AttributeError(f"module 'mivolo' has no attribute {name!r}")


__all__ = ["Pipeline", "PipelineConfig", "RunSummary", "__version__", "load_config"]
