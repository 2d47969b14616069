"""Process settings the tool needs from its libraries, applied by the entry points (never at import time)."""

from __future__ import annotations

import os
import resource
from pathlib import Path

from mivolo.core.paths import IN_CHECKOUT, PROJECT_DIR, cache_dir


def configure_environment() -> None:
    """Quiet OpenCV/FFmpeg (our errors are the one line users see) and keep ultralytics offline.

    ultralytics must never reach the network or install packages, and keeps its settings inside the project
    (or the user cache when the project folder is read-only or this is an installed package, never
    site-packages). Values already set by the user win.
    Call before importing cv2-heavy code or ultralytics; calling it again changes nothing.
    """
    os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "False")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    if "YOLO_CONFIG_DIR" not in os.environ:
        local = PROJECT_DIR / ".yolo_config"
        folder = local if IN_CHECKOUT and os.access(PROJECT_DIR, os.W_OK) else cache_dir("ultralytics")
        os.environ["YOLO_CONFIG_DIR"] = str(Path(folder))


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB: the kernel's high-water mark of its own memory (``VmHWM``),
    which starts afresh when a program is executed. ``ru_maxrss`` (the fallback off Linux) does not: a process
    started from a big one (a benchmark's child, a worker forked from a loaded parent) reports the parent's size."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024.0, 1)
    except (OSError, ValueError, IndexError):
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)
