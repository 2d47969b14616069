"""Speed, scaling and memory of the pipeline on this machine: ``python -m benchmarks`` (or ``make bench``).

Results: ``benchmarks/results/*.json`` plus ``benchmarks/results/summary.md``; each file records the machine,
versions, thread count and git commit. ``--quick`` is the CI smoke mode (a test runs it).

Stacks (per-stage ms/frame, fps, overhead % = 100 x (end-to-end time / time of the model stages - 1)):
- offline: the default models on the 720p sample clip (real detections);
- seed: YOLOv8x person+face at 640 + MiVOLO-D1 224 face+body + BoT-SORT with OSNet x0.25, all random-init in
  their real file formats, on 1080p frames; random weights find nothing, so MOT17-02 ground-truth boxes are
  injected after the detector's forward pass (and faces placed in their upper part) - said in the result;
- light: YOLOX-nano ONNX (when ../shared has it) + the offline age/gender model + ByteTrack, boxes injected the
  same way.
Scaling: 5..200 synthetic people per 1080p frame, offline stack with injected boxes: which stage grows.
Memory: peak RSS of a looping 720p stream for two lengths (separate processes).
Accuracy (when ../shared/data is there): offline age/gender on the UTKFace sample; trackers on MOT17-02.
Real (when ../shared/data/real is there): the CLI on real clips with ground truth, every stack - count error,
HOTA/MOTA/IDF1, identities spanning two people, gender; also ``python -m benchmarks.real`` (real.json, real.md).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PARTS = ["offline", "seed", "light", "scaling", "memory", "mivolo", "accuracy", "real"]


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def meta() -> dict:
    from importlib.metadata import version

    import torch

    return {"commit": _commit(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
            "versions": {p: version(p) for p in ("torch", "opencv-python", "boxmot", "ultralytics", "onnxruntime")},
            "time": time.strftime("%Y-%m-%dT%H:%M:%S")}


def _config(out: Path, **sections):
    from mivolo.core.config import PipelineConfig, apply_mapping

    cfg = PipelineConfig()
    cfg.output.dir = str(out)
    cfg.output.save_json = True
    cfg.runtime.progress = False
    return apply_mapping(cfg, sections)


def bench_offline_clip(work: Path, quick: bool) -> dict:
    from benchmarks.stacks import run_stack
    from mivolo import Pipeline
    from mivolo.evaluation.sample import make_sample_video
    from mivolo.sources import open_source

    clip = work / "crowd720.mp4"
    people = make_sample_video(clip, fps=15.0, size=(1280, 720), people=2 if quick else None)
    cfg = _config(work / "offline", source={"input": str(clip)}, tracker={"tracker": "botsort.yaml"})
    pipeline = Pipeline(cfg)
    pipeline.run(open_source(cfg.source))  # warm-up: lazy model loads
    runs = [run_stack(pipeline, open_source(cfg.source)) for _ in range(1 if quick else 3)]
    best = sorted(runs, key=lambda r: r["fps"])[len(runs) // 2]
    return {"clip": "sample 1280x720 15 fps (real detections)", "people": people, "runs": len(runs), **best}


def bench_seed_stack(work: Path, quick: bool, frames: int, device: str = "cpu", half: bool = False) -> dict:
    import torch
    from boxmot.reid.core.registry import ReIDModelRegistry

    from benchmarks.stacks import MOT, FrameSource, InjectedDetector, mot17_boxes, run_stack, synthetic_frames
    from mivolo import Pipeline
    from mivolo.detection import build_detector
    from mivolo.detection.ultralytics_yolo import save_random_yolo
    from mivolo.estimation.mivolo_net import save_random_checkpoint

    yolo = save_random_yolo(work / "yolov8x_person_face.pt", cfg="yolov8n.yaml" if quick else "yolov8x.yaml")
    mivolo = save_random_checkpoint(work / "mivolo_d1_224_face_body.pth.tar", with_persons=True)
    osnet = work / "osnet_x0_25_msmt17.pt"
    torch.save(ReIDModelRegistry.build_model("osnet_x0_25", None, num_classes=1041, pretrained=False,
                                             use_gpu=False).state_dict(), osnet)
    cfg = _config(work / "seed", detector={"weights": str(yolo), "imgsz": 640},
                  estimator={"checkpoint": str(mivolo), "with_persons": True},
                  tracker={"tracker": "botsort.yaml", "reid_weights": str(osnet)},
                  runtime={"device": device, "half": half}, settle={"min_seen_s": 0.0})  # quick runs: < 1 s
    boxes = mot17_boxes() if (MOT / "gt" / "gt.txt").is_file() else None
    if boxes is None:
        from benchmarks.stacks import crowd_boxes

        boxes = crowd_boxes(20, frames)
    pipeline = Pipeline(cfg, detector=InjectedDetector(build_detector(cfg.detector, device, half),
                                                       lambda k: boxes[k % len(boxes)]))
    images = [__import__("cv2").imread(str(p)) for p in sorted((MOT / "img1").glob("*.jpg"))] \
        if (MOT / "img1").is_dir() else synthetic_frames(1920, 1080)
    result = run_stack(pipeline, FrameSource(images, frames))
    return {"stack": "YOLOv8x person+face 640 + MiVOLO-D1 224 face+body + BoT-SORT/OSNet x0.25 (random weights)"
            if not quick else "YOLOv8n (quick) + MiVOLO-D1 224 + BoT-SORT/OSNet x0.25 (random weights)",
            "boxes": "MOT17-02 ground truth injected after the detector forward" if boxes else "synthetic",
            "resolution": "1920x1080", "device": device, "half": half, **result}


def bench_light_stack(work: Path, frames: int) -> dict | None:
    from benchmarks.stacks import MOT, FrameSource, InjectedDetector, mot17_boxes, run_stack
    from mivolo import Pipeline
    from mivolo.detection import build_detector

    yolox = ROOT.parent / "shared" / "data" / "weights" / "yolox_nano.onnx"
    if not yolox.is_file() or not (MOT / "img1").is_dir():
        return None
    import cv2

    cfg = _config(work / "light", detector={"weights": str(yolox)}, tracker={"tracker": "bytetrack.yaml"})
    boxes = mot17_boxes()
    pipeline = Pipeline(cfg, detector=InjectedDetector(build_detector(cfg.detector), lambda k: boxes[k % len(boxes)]))
    images = [cv2.imread(str(p)) for p in sorted((MOT / "img1").glob("*.jpg"))]
    return {"stack": "YOLOX-nano ONNX + offline age/gender + ByteTrack", "resolution": "1920x1080",
            "boxes": "MOT17-02 ground truth injected after the detector forward",
            **run_stack(pipeline, FrameSource(images, frames))}


def bench_scaling(work: Path, quick: bool) -> list[dict]:
    from benchmarks.stacks import FrameSource, InjectedDetector, crowd_boxes, run_stack, synthetic_frames
    from mivolo import Pipeline
    from mivolo.detection import build_detector

    images = synthetic_frames(1920, 1080, count=2)
    rows = []
    for people in ((5, 20) if quick else (5, 20, 50, 100, 200)):
        frames = 10 if quick else 30
        boxes = crowd_boxes(people, frames)
        cfg = _config(work / f"scale{people}", tracker={"tracker": "bytetrack.yaml"}, settle={"min_seen_s": 0.0})
        pipeline = Pipeline(cfg, detector=InjectedDetector(build_detector(cfg.detector), lambda k, b=boxes: b[k]))
        result = run_stack(pipeline, FrameSource(images, frames))
        rows.append({"people_in_frame": people, **result})
        print(f"scaling {people}: {result['stage_ms_per_frame']}", flush=True)
    return rows


def bench_accuracy(work: Path) -> dict | None:
    """Accuracy figures that exist offline (../shared/data, evaluation only): the offline age/gender model on the
    UTKFace sample (eval_pretrained.py) and ByteTrack/OC-SORT/BoT-SORT on MOT17-02 public detections (TrackEval)."""
    import eval_pretrained
    from mivolo.evaluation.compare import load_mot_sequence, track_sequence
    from mivolo.evaluation.mot import evaluate_mot

    shared = ROOT.parent / "shared" / "data"
    result: dict = {}
    utk = shared / "faces" / "utkface_sample"
    if utk.is_dir():
        args = eval_pretrained.build_parser().parse_args(["--dataset-type", "folder", "--dataset-images", str(utk)])
        report = eval_pretrained.run(args)
        result["utkface_sample"] = {k: report[k] for k in ("evaluated", "age_mae", "age_cs5", "gender_accuracy",
                                                            "images_without_detectable_face", "images_per_second")}
    mot = shared / "mot" / "MOT17-02-FRCNN"
    if (mot / "det" / "det.txt").is_file() and (mot / "gt" / "gt.txt").is_file():
        seq = load_mot_sequence(mot)
        rows = {}
        for tracker in ("bytetrack", "ocsort", "botsort"):
            table, _ = track_sequence(seq, f"{tracker}.yaml", None, interpolate=20)
            path = work / f"{tracker}.txt"
            np.savetxt(path, table, delimiter=",", fmt="%g")
            rows[tracker] = evaluate_mot(path, seq.gt, len(seq.boxes), seq.name)
        result["mot17_02_public_detections"] = rows
    return result or None


def bench_mivolo(work: Path, device: str = "cpu", half: bool = False, repeats: int = 3,
                 batches: tuple[int, ...] = (1, 8, 32)) -> dict:
    """ms per crop of MiVOLO-D1 224 face+body (random weights: speed does not depend on them)."""
    import numpy as np
    import torch

    from mivolo.estimation.mivolo_net import MiVOLO, save_random_checkpoint

    net = MiVOLO(save_random_checkpoint(work / "mivolo.pth.tar", with_persons=True), device=device, half=half)
    crop = np.random.default_rng(0).integers(0, 255, (180, 120, 3), dtype=np.uint8)
    rows = {}
    for batch in batches:
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


def bench_stream_memory(minutes: float, work: Path) -> dict:
    from benchmarks.stacks import LoopingVideo
    from mivolo import Pipeline
    from mivolo.core.environment import peak_rss_mb
    from mivolo.evaluation.sample import make_sample_video

    clip = work / "loop.mp4"
    make_sample_video(clip, fps=15.0, size=(1280, 720))
    cfg = _config(work / f"stream{minutes}", settle={"forget_after_s": 10.0})
    summary = Pipeline(cfg).run(LoopingVideo(clip, int(minutes * 60 * 15), fps=15.0))
    return {"minutes": minutes, "frames": summary.frames, "fps": round(summary.fps, 2),
            "identities": summary.identities, "peak_rss_mb": peak_rss_mb()}


def _memory_rows(minutes: list[float]) -> list[dict]:
    rows = []
    for length in minutes:
        out = subprocess.run([sys.executable, "-m", "benchmarks", "--one-stream", str(length)], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
        rows.append(orjson.loads(out.strip().splitlines()[-1]))
        print(f"memory {length} min: {rows[-1]}", flush=True)
    return rows


def _later_parts(result: dict) -> list[str]:
    later = result.get("parts_meta") or {}
    return [f"{part}: measured later (commit {m['commit']}, {m['time']})" for part, m in sorted(later.items())]


def summary_markdown(result: dict) -> str:
    from benchmarks.stacks import MODEL_STAGES

    lines = [f"# Benchmark results ({'quick' if result.get('quick') else 'full'})", "",
             f"commit {result['meta']['commit']}, {result['meta']['cpus']} CPUs, torch threads "
             f"{result['meta']['torch_threads']}, {result['meta']['time']}", *_later_parts(result), "",
             "| stack | fps | ms/frame | detect | track | face gate | merge | age/gender | other | overhead % |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for key in ("offline", "seed", "light"):
        row = result.get(key)
        if not row:
            continue
        s = row["stage_ms_per_frame"]
        other = sum(v for k, v in s.items() if k not in MODEL_STAGES)
        lines.append(f"| {key} | {row['fps']} | {row['ms_per_frame']} | {s['detect']} | {s['track']} | "
                     f"{s.get('face_gate', 0.0)} | {s['merge']} | {s['age_gender']} | {round(other, 2)} | "
                     f"{row['overhead_pct']} |")
    if result.get("scaling"):
        lines += ["", "| people in frame | ms/frame | detect | track | merge | age/gender | identities |",
                  "|---|---|---|---|---|---|---|"]
    for row in result.get("scaling", []):
        s = row["stage_ms_per_frame"]
        lines.append(f"| {row['people_in_frame']} | {row['ms_per_frame']} | {s['detect']} | {s['track']} | "
                     f"{s['merge']} | {s['age_gender']} | {row['identities']} |")
    if result.get("memory"):
        lines += ["", "| stream minutes | frames | peak RSS MB |", "|---|---|---|"]
        lines += [f"| {r['minutes']} | {r['frames']} | {r['peak_rss_mb']} |" for r in result["memory"]]
    accuracy = result.get("accuracy") or {}
    if accuracy.get("utkface_sample"):
        u = accuracy["utkface_sample"]
        lines += ["", f"Offline age/gender on the UTKFace sample: MAE {u['age_mae']}, CS@5 {u['age_cs5']} %, gender "
                      f"{u['gender_accuracy']} % ({u['evaluated']} faces)"]
    if accuracy.get("mot17_02_public_detections"):
        lines += ["", "| MOT17-02 public detections | HOTA | MOTA | IDF1 | IDSW |", "|---|---|---|---|---|"]
        lines += [f"| {name} | {m['HOTA']} | {m['MOTA']} | {m['IDF1']} | {m['IDSW']} |"
                  for name, m in accuracy["mot17_02_public_detections"].items()]
    if result.get("real"):
        lines += ["", "| real clip | stack | count / people | HOTA | MOTA | IDF1 | spans 2 | gender R/W/U | fps |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in result["real"]:
            if "error" in r:
                lines.append(f"| {r['clip']} | {r['stack']} | failed: {r['error']} | | | | | | |")
                continue
            g = r.get("gender")
            gender = f"{g['right']}/{g['wrong']}/{g['unknown']}" if g else "–"
            lines.append(f"| {r['clip']} | {r['stack']} | {r['count']} / {r['people']} | {r.get('HOTA', '–')} | "
                         f"{r.get('MOTA', '–')} | {r.get('IDF1', '–')} | {r.get('spanning', '–')} | {gender} | "
                         f"{r['fps']} |")
    if result.get("mivolo"):
        mivolo = result["mivolo"]
        lines += ["", f"MiVOLO ms/crop by batch ({mivolo['device']}): {mivolo['ms_per_crop_by_batch']}"]
    return "\n".join(lines) + "\n"


def merged_parts(previous: dict, partial: dict) -> dict:
    """``previous`` result with the parts measured in ``partial`` replaced; ``meta`` stays the full run's and
    ``parts_meta`` says which parts came from which later run. Parts that measured nothing (None) keep the
    previous ones; a quick run never merges into a full result (nor the other way round): it is returned alone."""
    if bool(previous.get("quick")) != bool(partial.get("quick")):
        return partial  # quick numbers never mix with full ones
    measured = {k: v for k, v in partial.items() if k not in ("meta", "quick") and v is not None}
    merged = {**previous, **measured}
    later = {k: partial["meta"] for k in measured}
    merged["parts_meta"] = {**previous.get("parts_meta", {}), **later}
    return merged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI smoke: tiny runs of every part")
    parser.add_argument("--stream-minutes", type=float, nargs="*", default=None,
                        help="memory part: lengths of the looping stream (default 0.5 2; quick: 0.05 0.1)")
    parser.add_argument("--frames", type=int, default=None, help="frames for the seed/light stacks")
    parser.add_argument("--only", choices=PARTS, nargs="*")
    parser.add_argument("--device", default="cpu", help="device for the seed stack and the MiVOLO part")
    parser.add_argument("--half", action="store_true", help="fp16 for the seed stack and the MiVOLO part (CUDA)")
    parser.add_argument("--output", type=Path, default=None, help="result JSON (default benchmarks/results/...)")
    parser.add_argument("--detector-weights", type=Path, nargs="*", default=None,
                        help="real part: extra stacks, one per detector weights file")
    parser.add_argument("--sequence", type=Path, nargs="*", default=None,
                        help="real part: extra MOTChallenge sequence folders")
    parser.add_argument("--one-stream", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("boxmot", "ultralytics"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.one_stream is not None:  # child process for one memory measurement
            print(orjson.dumps(bench_stream_memory(args.one_stream, work)).decode())
            return 0
        parts = set(args.only or PARTS)
        frames = args.frames or (6 if args.quick else 40)
        result: dict = {"quick": args.quick, "meta": meta()}
        if "offline" in parts:
            result["offline"] = bench_offline_clip(work, args.quick)
            print("offline", result["offline"]["fps"], "fps", flush=True)
        if "seed" in parts:
            result["seed"] = bench_seed_stack(work, args.quick, frames, args.device, args.half)
            print("seed", result["seed"]["fps"], "fps", flush=True)
        if "light" in parts:
            result["light"] = bench_light_stack(work, frames)
        if "scaling" in parts:
            result["scaling"] = bench_scaling(work, args.quick)
        if "memory" in parts:
            result["memory"] = _memory_rows(args.stream_minutes or ([0.05, 0.1] if args.quick else [0.5, 2.0]))
        if "accuracy" in parts and not args.quick:
            result["accuracy"] = bench_accuracy(work)
        if "real" in parts:  # writes its own real.json/real.md (quick: into a temporary folder)
            from benchmarks.real import run as run_real

            real = run_real(args.quick, detector_weights=args.detector_weights, sequences=args.sequence)
            result["real"] = real["runs"] if real else None
        if "mivolo" in parts:
            result["mivolo"] = bench_mivolo(work, args.device, args.half, repeats=1 if args.quick else 3,
                                            batches=(1, 8) if args.quick else (1, 8, 32))
    # quick (smoke) runs never write into benchmarks/results/: only measured results are kept there
    output = args.output or (Path(tempfile.gettempdir()) / "mivolo-bench-quick.json" if args.quick
                             else RESULTS / "latest.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    if args.only and output.is_file():  # a partial run replaces its parts of the result file, keeps the others
        result = merged_parts(orjson.loads(output.read_bytes()), result)
    output.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    output.with_suffix(".md").write_text(summary_markdown(result))
    print(summary_markdown(result))
    print(f"written: {output} and {output.with_suffix('.md')}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
