"""ms per 1080p frame of every person-detector backend on this machine (speed only: random weights where the
real files are not here, which does not change the cost). ``python -m benchmarks.detector_speed``"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT.parent / "shared" / "data" / "weights"


def _ms(fn, image: np.ndarray, repeats: int = 5) -> float:
    fn(image)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(image)
        times.append(time.perf_counter() - start)
    return round(1000 * sorted(times)[len(times) // 2], 1)


def main() -> None:
    from mivolo.core.config import DetectorConfig
    from mivolo.detection.onnx_models import TiledDetector, YoloxOnnxPersonDetector
    from mivolo.detection.ssdlite import SSDLitePersonDetector
    from mivolo.detection.ultralytics_yolo import UltralyticsDetector, save_random_yolo
    from mivolo.detection.yolox_torch import YoloxTorchDetector, save_random_yolox

    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (1080, 1920, 3), dtype=np.uint8)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        backends = {"ssdlite (offline default)": SSDLitePersonDetector(),
                    "ssdlite + 2x2 tiles": TiledDetector(SSDLitePersonDetector(), 2)}
        if (WEIGHTS / "yolox_nano.onnx").is_file():
            backends["yolox-nano onnx 416"] = YoloxOnnxPersonDetector(WEIGHTS / "yolox_nano.onnx")
        for experiment in ("yolox_nano", "yolox_s", "yolox_m"):
            backends[f"{experiment} .pth (torch)"] = YoloxTorchDetector(
                save_random_yolox(work / f"{experiment}.pth", experiment))
        for cfg in ("yolov8n.yaml", "yolov8x.yaml"):
            weights = save_random_yolo(work / cfg.replace(".yaml", ".pt"), cfg=cfg)
            detector = UltralyticsDetector(DetectorConfig(weights=str(weights), imgsz=640), "cpu", False, None)
            backends[f"ultralytics {cfg.removesuffix('.yaml')} 640"] = detector
        for name, detector in backends.items():
            rows.append({"backend": name, "ms_per_frame_1080p": _ms(detector, image)})
            print(rows[-1], flush=True)
    out = ROOT / "benchmarks" / "results" / "detector_speed.json"
    out.write_bytes(orjson.dumps({"device": "cpu", "rows": rows}, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
