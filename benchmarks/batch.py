"""Batch throughput on Ray: ``python -m benchmarks.batch [--quick]``.

Runs the same set of clips through ``mivolo.batch.run_batch`` (the code behind ``demo.py --batch``) with 1 and
2 workers of 1 CPU each (full mode also 1 worker holding 2 CPUs), on one local Ray started here, and reports:

- ``video_minutes_per_wall_minute``: minutes of video processed per minute of wall time for the whole batch,
  start-up included (new workers start and load their models in every batch, as in a real one);
- ``per_worker_video_x``: video seconds per processing second of one worker (models loaded; what a worker adds);
- ``stage_ms_per_frame``: the pipeline's stages, frame-weighted mean over the sources (from each run.json);
- ``worker_peak_rss_mb``: peak resident memory of each worker process (models, buffers, one source at a time);
- the machine's load average before and after (this machine's 2 cores are shared with other jobs).

Clips: the sample crowd clip (6 people, 1280x720, 15 fps), 4 copies; quick: 2 short 640x360 clips.
Results: ``benchmarks/results/batch.json``; quick mode writes to a temporary folder (printed).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def make_clips(folder: Path, quick: bool) -> dict:
    from mivolo.evaluation.sample import make_sample_video

    folder.mkdir(parents=True, exist_ok=True)
    if quick:
        for i in range(2):
            make_sample_video(folder / f"clip{i}.mp4", fps=6.0, size=(640, 360), people=2, seconds_per_crossing=3.0)
        return {"clips": 2, "clip": "sample, 2 people, 640x360, 6 fps"}
    make_sample_video(folder / "clip0.mp4", fps=15.0, size=(1280, 720))
    for i in range(1, 4):
        shutil.copy(folder / "clip0.mp4", folder / f"clip{i}.mp4")
    return {"clips": 4, "clip": "sample, 6 people, 1280x720, 15 fps"}


def stage_means(out: Path, rows: list[dict]) -> dict[str, float]:
    """Frame-weighted mean ms per frame of each stage over the sources' run.json files."""
    sums: dict[str, float] = {}
    frames = 0
    for row in rows:
        run = orjson.loads((out / row["name"] / "run.json").read_bytes())
        for stage, ms in run["stage_ms_per_frame"].items():
            sums[stage] = sums.get(stage, 0.0) + ms * row["frames"]
        frames += row["frames"]
    return {stage: round(total / max(frames, 1), 2) for stage, total in sums.items()}


def measure(clips: Path, work: Path, workers: int, cpus: float) -> dict:
    from mivolo.batch import BatchOptions, run_batch
    from mivolo.core.config import PipelineConfig

    config = PipelineConfig()
    config.output.save_json = True
    config.runtime.progress = False
    out = work / f"out_w{workers}_c{cpus:g}"
    result = run_batch(config, BatchOptions(sources=str(clips), output=out, workers=workers, cpus_per_source=cpus,
                                            progress=False))
    rows = result.rows
    if any(row["status"] != "done" for row in rows):
        raise RuntimeError(f"batch failed: {[row['error'] for row in rows if row['error']]}")
    processing_s = sum(row["seconds"] for row in rows)
    video_s = result.totals["video_s"]
    rss = {}
    for row in rows:
        rss[row["worker"]] = max(rss.get(row["worker"], 0.0), row["worker_peak_rss_mb"])
    return {"workers": workers, "cpus_per_worker": cpus, "sources": len(rows), "frames": result.totals["frames"],
            "video_s": video_s, "wall_s": result.totals["wall_s"],
            "video_minutes_per_wall_minute": result.totals["video_minutes_per_wall_minute"],
            "per_worker_video_x": round(video_s / processing_s, 3) if processing_s else 0.0,
            "ms_per_frame": round(1000 * processing_s / max(result.totals["frames"], 1), 1),
            "stage_ms_per_frame": stage_means(out, rows), "worker_peak_rss_mb": sorted(rss.values()),
            "identities": result.totals["identities"]}


def run(quick: bool, output: Path | None = None) -> dict:
    """Measure and write the result file; returns the result."""
    from benchmarks.__main__ import meta

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    settings = [(1, 1.0), (2, 1.0)] if quick else [(1, 1.0), (2, 1.0), (1, 2.0)]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clip_info = make_clips(work / "clips", quick)
        load_before = os.getloadavg()
        ray.init(num_cpus=max(2, os.cpu_count() or 1), include_dashboard=False, _node_ip_address="127.0.0.1",
                 logging_level=logging.WARNING)
        try:
            rows = []
            for workers, cpus in settings:
                rows.append(measure(work / "clips", work, workers, cpus))
                print(f"{workers} worker(s) x {cpus:g} CPU: {rows[-1]['video_minutes_per_wall_minute']} video min "
                      f"per wall min, RSS {rows[-1]['worker_peak_rss_mb']} MB", flush=True)
        finally:
            ray.shutdown()
    result = {"quick": quick, "meta": {**meta(), "ray": ray.__version__,
                                       "load_average_before_after": [round(load_before[0], 2),
                                                                     round(os.getloadavg()[0], 2)]},
              **clip_info, "runs": rows}
    path = output or (Path(tempfile.gettempdir()) / "mivolo-bench-batch-quick.json" if quick
                      else RESULTS / "batch.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(f"written: {path}", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.batch", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 short clips, 1 and 2 workers")
    parser.add_argument("--output", type=Path, default=None, help="result JSON (default benchmarks/results/batch.json)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    run(args.quick, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
