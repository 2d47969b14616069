"""Speed and memory of the offline pipeline on this machine.

    python -m benchmarks                      # 720p sample clip: fps, per-stage ms, peak RSS
    python -m benchmarks --stream-minutes 1 10  # synthetic looping stream: peak RSS must stay flat

Each result file records the machine, versions, thread count and git commit.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_clip(work: Path) -> dict:
    from mivolo import Pipeline
    from mivolo.config import PipelineConfig
    from mivolo.sample import make_sample_video

    clip = work / "crowd720.mp4"
    people = make_sample_video(clip, fps=15.0, size=(1280, 720))
    cfg = PipelineConfig()
    cfg.source.input = str(clip)
    cfg.output.dir = str(work / "out")
    cfg.output.save_json = True
    cfg.runtime.progress = False
    cfg.tracker.tracker = "botsort.yaml"
    pipeline = Pipeline(cfg)
    pipeline.run()  # warm-up (lazy model loads)
    runs = [pipeline.run() for _ in range(3)]
    best = min(runs, key=lambda r: r.seconds)
    return {"clip": "sample 1280x720, 15 fps", "frames": best.frames, "people": people,
            "identities_found": best.identities, "fps_median": sorted(r.fps for r in runs)[1],
            "stage_ms_per_frame": best.stage_ms}


def looping_stream(minutes: float, fps: float = 15.0) -> Iterator:
    """Frames of the sample clip repeated as a live stream of ``minutes`` (time stamps keep increasing)."""
    import cv2

    from mivolo.sample import make_sample_video
    from mivolo.structures import Frame

    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "loop.mp4"
        make_sample_video(clip, fps=fps, size=(1280, 720))
        capture = cv2.VideoCapture(str(clip))
        frames = []
        while True:
            ok, image = capture.read()
            if not ok:
                break
            frames.append(image)
    total = int(minutes * 60 * fps)
    for index in range(total):
        yield Frame(index=index, time_s=index / fps, image=frames[index % len(frames)])


def bench_stream_memory(minutes: float, work: Path) -> dict:
    from mivolo import Pipeline
    from mivolo.config import PipelineConfig
    from mivolo.sources import Source, SourceInfo

    class Looping(Source):
        def __init__(self) -> None:
            super().__init__()
            self.info = SourceInfo("stream", "loop", 15.0, None, False, False)

        def _frames(self):
            return looping_stream(minutes)

    cfg = PipelineConfig()
    cfg.output.dir = str(work / f"stream{minutes}")
    cfg.output.save_json = True
    cfg.runtime.progress = False
    cfg.settle.forget_after_s = 10.0
    summary = Pipeline(cfg).run(Looping())
    return {"minutes": minutes, "frames": summary.frames, "fps": round(summary.fps, 2),
            "identities": summary.identities, "peak_rss_mb": round(_peak_rss_mb(), 1)}


def bench_mivolo(work: Path, device: str = "cpu", half: bool = False, repeats: int = 3) -> dict:
    """ms per crop of MiVOLO-D1 224 face+body (random weights: speed does not depend on them) at batch 1, 8, 32."""
    import numpy as np
    import torch

    from mivolo.model.mivolo_net import MiVOLO, save_random_checkpoint

    net = MiVOLO(save_random_checkpoint(work / "mivolo.pth.tar", with_persons=True), device=device, half=half)
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 255, (180, 120, 3), dtype=np.uint8)
    rows = {}
    for batch in (1, 8, 32):
        net.predict_crops([crop] * batch, [crop] * batch)  # warm-up
        times = []
        for _ in range(repeats):
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
            net.predict_crops([crop] * batch, [crop] * batch)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        rows[str(batch)] = round(1000 * sorted(times)[len(times) // 2] / batch, 2)
    return {"model": "MiVOLO-D1 224 face+body", "device": device, "half": half, "threads": torch.get_num_threads(),
            "ms_per_crop_by_batch": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stream-minutes", type=float, nargs="*", default=None,
                        help="run a looping synthetic stream of each length (one process each) and report peak RSS")
    parser.add_argument("--one-stream", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--mivolo", action="store_true", help="MiVOLO ms per crop at batch 1, 8, 32")
    parser.add_argument("--device", default="cpu", help="device for --mivolo")
    parser.add_argument("--half", action="store_true", help="fp16 for --mivolo (CUDA)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.one_stream is not None:  # child process: one stream length, prints JSON
            sys.stdout.write(orjson.dumps(bench_stream_memory(args.one_stream, work)).decode())
            return
        meta = {"commit": _commit(), "machine": platform.machine(), "cpus": os.cpu_count(),
                "python": platform.python_version(), "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
        if args.mivolo:
            result = {**meta, "mivolo": bench_mivolo(work, args.device, args.half)}
            name = f"mivolo_{args.device.replace(':', '')}{'_fp16' if args.half else ''}.json"
            print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
        elif args.stream_minutes:
            rows = []
            for minutes in args.stream_minutes:
                out = subprocess.run([sys.executable, "-m", "benchmarks", "--one-stream", str(minutes)], cwd=ROOT,
                                     capture_output=True, text=True, check=True).stdout
                rows.append(orjson.loads(out))
                print(rows[-1])
            result = {**meta, "stream_memory": rows}
            name = "stream_memory.json"
        else:
            result = {**meta, "clip": bench_clip(work)}
            name = "offline_clip.json"
            print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    (RESULTS / name).write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
