"""The streaming loop: source -> detect -> associate -> track -> merge -> estimate -> settle -> sinks.

    for frame in source:
        dets = detector(frame.image); associate(dets); tracker.update(dets, frame.image)
        merge(frame.image, frame.time_s, dets); estimator(frame.image, dets, rows_that_need_it)
        identities.update(...); for sink in sinks: sink.write(frame, dets, identities)

Nothing keeps frames: per-identity state is running sums plus one best crop; identities that leave are handed to
the sinks and leave memory. Every output is a sink (``mivolo.sinks``); each stage is timed by ``StageTimer``.
"""

from __future__ import annotations

import logging
import signal
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mivolo.core.config import PipelineConfig
from mivolo.core.environment import configure_environment
from mivolo.core.errors import OutputError, UserError
from mivolo.core.paths import ensure_writable_dir
from mivolo.core.run import RunInfo, RunSummary
from mivolo.core.score_calibration import ScoreCalibration
from mivolo.core.signals import SignalScope
from mivolo.core.structures import ACCEPTED, Detections, Frame
from mivolo.detection import Detector, associate, build_detector
from mivolo.detection.face_quality import FaceGate
from mivolo.estimation import Estimator, build_estimator
from mivolo.sinks.base import Sink
from mivolo.sinks.crops import CropsSink
from mivolo.sinks.demographics import DemographicsSink
from mivolo.sinks.identities import IdentitiesSink
from mivolo.sinks.report import ReportSink
from mivolo.sinks.run_json import RunJsonSink
from mivolo.sinks.tracks import TracksSink
from mivolo.sinks.video import VideoSink
from mivolo.sources import PrefetchedFrames, Source, open_source
from tracking import Identities, MergeStep, Tracker
from tracking.cuts import CUT, GLITCH, REPEAT, SAME, SceneCuts
from tracking.merging import Embedder

log = logging.getLogger(__name__)
STAGES = ("decode", "detect", "associate", "track", "face_gate", "merge", "age_gender", "settle", "sinks")
__all__ = ["Pipeline", "RunSummary", "STAGES", "StageTimer", "default_sinks"]


class StageTimer:
    """Seconds spent per stage: ``with timer("detect"): ...``; ``timer.iterate("decode", frames)`` times waits."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - start

    def iterate(self, stage: str, items: Iterable[Frame]) -> Iterator[Frame]:
        iterator = iter(items)
        while True:
            with self(stage):
                item = next(iterator, None)
            if item is None:
                return
            yield item

    def ms_per_frame(self, frames: int) -> dict[str, float]:
        return {k: round(1000 * self.seconds.get(k, 0.0) / max(frames, 1), 2) for k in STAGES}


class StopFlag(SignalScope):
    """SIGINT/SIGTERM stop the loop after the current frame; a second one stops the frame at once.

    Once ``closing`` is set (outputs being written) signals no longer interrupt anything: they are counted, and
    ``stop_requested`` tells long closing work (the video's second pass) to give up cleanly.
    """

    def __init__(self) -> None:
        super().__init__()
        self.signal_name: str | None = None
        self.closing = False
        self.late_signals = 0

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.closing:
            self.late_signals += 1
            log.warning("%s received while writing outputs: finishing them (the annotated video is skipped)",
                        signal.Signals(signum).name)
            return
        if self.signal_name is not None:  # second signal during the loop: stop this frame now
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name
        log.warning("%s received: finishing the outputs of what was processed", self.signal_name)

    def stop_requested(self) -> bool:
        return self.late_signals > 0


def resolve_device(device: str) -> str:
    if device == "auto" or device.startswith("cuda"):
        try:
            import torch

            available = torch.cuda.is_available()
        except ImportError:  # pragma: no cover
            available = False
        if device == "auto":
            return "cuda" if available else "cpu"
        if not available:
            raise UserError(f"--device {device}: CUDA is not available on this machine (use --device cpu)")
        return device
    if device != "cpu":
        raise UserError(f"--device must be auto, cpu, cuda or cuda:N, got {device!r}")
    return device


def default_sinks(config: PipelineConfig, source: Source) -> list[Sink]:
    """The outputs the config asks for, in closing order (crops before the tables that name them, the report after
    the files it reads; run.json last). ``--privacy strict`` writes no crops."""
    out = config.output
    tracks = TracksSink(config.tracker.interpolate, smooth_s=config.tracker.smooth_s)
    sinks: list[Sink] = [CropsSink(out.crops_dir)] if out.save_crops and out.privacy != "strict" else []
    sinks.append(IdentitiesSink())
    if out.save_json:
        sinks.append(DemographicsSink(out.json_output_path or "demographics.json", out.json_interval_s,
                                      use_live_labels=config.settle.mode == "temporal",
                                      live=source.info.kind in ("stream", "webcam")))
    sinks.append(tracks)
    if out.draw:
        second_pass = config.settle.mode != "temporal" and source.info.rewindable
        tracks.keep_rows = second_pass
        sinks.append(VideoSink(out.video_name, second_pass=tracks if second_pass else None,
                               blur=out.privacy == "blur"))
    if out.save_json and out.report:
        sinks.append(ReportSink())
    sinks.append(RunJsonSink())
    return sinks


@dataclass
class RunState:
    """What one run keeps between frames (the stages that hold per-source state, and the sinks)."""

    tracker: Tracker
    identities: Identities
    merge: MergeStep | None
    sinks: list[Sink]
    independent: bool
    held: Detections = field(default_factory=Detections)
    cuts: SceneCuts | None = None  # cuts between shots (video only)


class Pipeline:
    """Builds the models once; ``run()`` processes a source and writes every output through the sinks.

    Stages can be injected (tests, benchmarks): ``Pipeline(config, detector=..., estimator=...,
    face_embedder=..., sinks=lambda config, source: [...])``.
    """

    def __init__(self, config: PipelineConfig, detector: Detector | None = None, estimator: Estimator | None = None,
                 face_embedder: Embedder | None = None, face_gate: FaceGate | None = None,
                 sinks: Any = default_sinks) -> None:
        configure_environment()
        config.validate()
        self.config = config
        self.device = resolve_device(config.runtime.device)
        if config.runtime.half and not self.device.startswith("cuda"):  # as ultralytics: fp16 is for CUDA only
            log.warning("--half needs a CUDA device: running in fp32 on %s", self.device)
            config.runtime.half = False
        _set_threads(config.runtime.threads)
        if config.tracker.reid_weights:
            from reid_models import resolve_reid_weights

            config.tracker.reid_weights = str(resolve_reid_weights(config.tracker.reid_weights))
        self.detector = detector or build_detector(config.detector, self.device, config.runtime.half)
        self.estimator = estimator or build_estimator(config.estimator, self.device, config.runtime.half)
        if config.settle.min_gender_age is None:  # resolved: run.json shows the age that applied
            config.settle.min_gender_age = float(getattr(self.estimator, "min_gender_age", 0.0))
        self.embedder = face_embedder or (_build_face_embedder() if config.merge.enabled else None)
        self.face_gate = face_gate if face_gate is not None else _build_face_gate(config)
        self.make_sinks = sinks
        self.models = {**self.detector.models, "age_gender": self.estimator.name,
                       "face_embeddings": getattr(self.embedder, "name", "off") if self.embedder else "off",
                       "face_gate": self.face_gate.name if self.face_gate is not None else "off"}
        log.info("models: persons=%s, faces=%s, age/gender=%s", self.models["persons"], self.models["faces"],
                 self.models["age_gender"])
        self.calibration = ScoreCalibration.for_models(self.models)
        if self.calibration.raw_models:
            log.info("detection scores of %s are not calibrated: --min-detection-conf compares their raw scores",
                     ", ".join(self.calibration.raw_models.values()))

    # ---- the loop ------------------------------------------------------------------------------------------------
    def run(self, source: Source | None = None) -> RunSummary:
        source = source or open_source(self.config.source)
        out_dir = ensure_writable_dir(Path(self.config.output.dir), "output folder")
        summary = RunSummary(output_dir=out_dir)
        timer = StageTimer()
        start = time.perf_counter()
        with StopFlag() as stop:
            state = self._start(source, out_dir)
            try:
                summary.frames = self._loop(source, state, summary, timer, stop)
            except OSError as exc:
                _abort(state.sinks)
                raise OutputError(f"cannot write outputs to {out_dir}: {exc.strerror or exc}") from None
            except BaseException:
                _abort(state.sinks)
                raise
            summary.seconds = time.perf_counter() - start
            summary.interrupted = stop.signal_name
            self._finish(source, state, summary, timer, stop)
        return summary

    def _start(self, source: Source, out_dir: Path) -> RunState:
        cfg = self.config
        independent = source.info.independent_frames
        identities = Identities(cfg.settle, min_frames=1 if independent else None,
                                min_votes=1 if independent else None, faces_need_confirming=self.face_gate is not None,
                                min_seen_s=0.0 if independent else None, privacy=cfg.output.privacy,
                                calibration=self.calibration)
        # the tracker sees the frames the detector ran on: its frame-counted buffers hold seconds at that rate
        update_fps = source.info.fps / (cfg.detector.skip_frames + 1) if source.info.fps else source.info.fps
        tracker = Tracker(cfg.tracker, update_fps, self.device, cfg.runtime.half, reid_loader=_reid_loader())
        merge = None
        if cfg.merge.enabled and not independent:
            body = tracker.body_embeddings if tracker.has_reid else None
            merge = MergeStep(cfg.merge, self.embedder, cfg.settle.forget_after_s, body, identities.merge,
                              face_gate=self.face_gate, on_exchange=identities.exchange, new_id=tracker.new_id,
                              on_split=identities.split)
        sinks = self.make_sinks(cfg, source)
        run = RunInfo(out_dir, source.info, cfg, self.device, self.models,
                      source.reopen if source.info.rewindable else None)
        opened: list[Sink] = []
        try:
            for sink in sinks:
                sink.open(run)
                opened.append(sink)
        except BaseException:
            _abort(opened)
            raise
        cuts = SceneCuts() if cfg.tracker.scene_cuts and not independent else None
        return RunState(tracker, identities, merge, sinks, independent, cuts=cuts)

    def _loop(self, source: Source, state: RunState, summary: RunSummary, timer: StageTimer, stop: StopFlag) -> int:
        cfg = self.config
        frames = PrefetchedFrames(source, cfg.source.queue_size)
        progress = _progress(source, cfg)
        done = 0
        try:
            for frame, following in _with_next(timer.iterate("decode", frames)):
                if stop.signal_name:
                    break
                dets = self._process(frame, state, timer, following)
                with timer("sinks"):
                    for sink in state.sinks:
                        sink.write(frame, dets, state.identities)
                    _collect_finished(state, summary)
                done += 1
                if progress is not None:
                    progress.update(1)
                if cfg.runtime.max_frames and done >= cfg.runtime.max_frames:
                    break
        except KeyboardInterrupt:
            stop.signal_name = stop.signal_name or "SIGINT"
        finally:
            stop.closing = True
            frames.close()
            if progress is not None:
                progress.close()
        return done

    def _process(self, frame: Frame, state: RunState, timer: StageTimer, following: Frame | None = None) -> Detections:
        """Detections of one frame with identity ids and (where asked) age/gender; settles them. ``following``: the
        frame after it, if known (the cut check looks one frame ahead)."""
        detect = state.independent or frame.index % (self.config.detector.skip_frames + 1) == 0
        shot = SAME
        if detect and state.cuts is not None:
            with timer("track"):
                shot = state.cuts(frame.image, frame.time_s, None if following is None else following.image)
                if shot == CUT:
                    _new_shot(state, frame.time_s)
        if shot == GLITCH:  # garbage from the stream, or pictures changing every frame: left out, as if dropped
            dets = Detections()
        elif detect and shot != REPEAT:
            if state.independent:
                state.tracker.reset()
            with timer("detect"):
                dets = self.detector(frame.image)
            with timer("associate"):
                associate(dets)
            with timer("track"):
                state.tracker.update(dets, frame.image, frame.time_s)
            with timer("face_gate"):
                ids, box_rows, _ = dets.identity_rows()
                looked_at = state.identities.to_look_at(ids, frame.time_s, self.config.settle.max_faces_per_frame)
                picked_rows = np.isin(dets.track_id, ids[looked_at])  # rows stay put when the merge renames ids
                if self.face_gate is not None:
                    self.face_gate(frame.image, dets, box_rows[looked_at])
            with timer("merge"):
                if state.merge is not None:
                    state.merge(frame.image, frame.time_s, dets)
            with timer("age_gender"):
                rows = rows_to_estimate(dets, state.identities, self.estimator.needs_faces, picked_rows,
                                        gated=self.face_gate is not None)
                if len(rows):
                    self.estimator(frame.image, dets, rows)
            state.held = dets
        else:  # detector stride, or the same picture again: the last tracked boxes again, without their estimates
            dets = state.held[np.arange(len(state.held))]
            dets.age[:], dets.gender_p[:] = np.nan, np.nan
        with timer("settle"):
            state.identities.update(frame.index, frame.time_s, frame.image, dets)
            self._retire(state, frame.time_s)
        return dets

    @staticmethod
    def _retire(state: RunState, now_s: float | None) -> None:
        """Identities unseen too long leave memory; the tracker and the merge step forget them too."""
        states = state.identities.retire(now_s)
        if states:
            gone = {t for s in states for t in s.track_ids}
            if state.merge is not None:  # after a swap repair a tracker id may show someone still in view
                gone = state.merge.trackers_showing({s.track_id for s in states}, gone)
            state.tracker.forget(gone)
            if state.merge is not None:
                state.merge.forget({s.track_id for s in states})

    def _finish(self, source: Source, state: RunState, summary: RunSummary, timer: StageTimer,
                stop: StopFlag) -> None:
        """Close every sink (all outputs), whatever stopped the loop; on a write error none is left half-written."""
        self._retire(state, None)
        for done in state.identities.finished:
            summary.records[int(done.row["id"])] = done.row
        summary.not_counted = dict(state.identities.not_counted)
        summary.people_estimate = None if state.independent else state.identities.people_estimate().as_dict()
        _warn_if_thresholds_hid_everything(state.identities, summary.records, self.config)
        summary.view = state.identities
        summary.stop_requested = stop.stop_requested
        summary.merging = state.merge.report() if state.merge is not None else {"enabled": False}
        summary.shots = state.cuts.report() if state.cuts is not None else None
        if summary.shots and summary.shots["frames_left_out"]:
            log.info("%d frames left out: garbage from the stream, or the pictures changing from frame to frame",
                     summary.shots["frames_left_out"])
        if summary.shots and summary.shots["frames_repeated"]:
            log.info("%d frames repeated the one before: shown with its boxes, not tracked again",
                     summary.shots["frames_repeated"])
        summary.source_stats = {**asdict(source.stats), "gaps": source.stats.gaps or []}
        with timer("sinks"):
            try:
                for index, sink in enumerate(state.sinks):
                    if isinstance(sink, RunJsonSink):
                        summary.stage_ms = timer.ms_per_frame(summary.frames)
                    sink.close(summary)
                    state.sinks[index] = None  # closed: nothing left to abort
            except OSError as exc:
                _abort([s for s in state.sinks if s is not None])
                raise OutputError(f"cannot write outputs to {summary.output_dir}: {exc.strerror or exc} (files "
                                  "from before this run are left as they were)") from None
        state.identities.finished.clear()
        summary.stage_ms = timer.ms_per_frame(summary.frames)


def _with_next(frames: Iterable[Frame]) -> Iterator[tuple[Frame, Frame | None]]:
    """Each frame with the one after it (None for the last): one frame held back, for the cut check."""
    held = None
    for frame in frames:
        if held is not None:
            yield held, frame
        held = frame
    if held is not None:
        yield held, None


def rows_to_estimate(dets: Detections, identities: Identities, needs_faces: bool,
                     picked_rows: np.ndarray | None = None, gated: bool = False) -> np.ndarray:
    """(K,) rows to estimate: one per identity that still needs an estimate, its face if it shows one, else its
    person row (unless the estimator reads faces only); only rows in ``picked_rows`` ((N,) bool: the identities
    looked at in this frame) and, with a face gate (``gated``), only faces it accepted."""
    ids, box_rows, face_rows = dets.identity_rows()
    wanted = np.array([identities.needs_estimate(int(t)) for t in ids], dtype=bool)
    rows = np.where(face_rows >= 0, face_rows, -1 if needs_faces else box_rows)
    rows = rows[wanted & (rows >= 0)]
    if picked_rows is not None:
        rows = rows[picked_rows[rows]]
    if gated:
        rows = rows[~dets.is_face[rows] | (dets.face_ok[rows] == ACCEPTED)]
    return rows


def _collect_finished(state: RunState, summary: RunSummary) -> None:
    """Rows of identities the sinks have just taken (kept for the tables written at close)."""
    for done in state.identities.finished:
        summary.records[int(done.row["id"])] = done.row
    state.identities.finished.clear()


def _warn_if_thresholds_hid_everything(identities: Identities, records: dict[int, dict],
                                       config: PipelineConfig) -> None:
    """One warning line when --min-detection-conf turned away every estimate (else 0 men, 0 women looks real)."""
    labelled = any(r["gender"] is not None or r["age"] is not None for r in records.values())
    if records and not labelled and identities.estimates_below_detection_conf:
        log.warning("no identity got an age or gender: --min-detection-conf %.2f turned away %d of %d estimates "
                    "(highest detection score seen %.2f); lower it", config.settle.min_detection_conf,
                    identities.estimates_below_detection_conf, identities.estimates_seen,
                    identities.max_detection_conf)


def _new_shot(state: RunState, time_s: float) -> None:
    """A cut between shots (``tracking.cuts``): tracks start again, the merge stage's paths and the people
    estimate do not reach across it."""
    log.info("cut between shots at %.1f s: tracks start again", time_s)
    state.tracker.reset()
    state.identities.cut(time_s)
    if state.merge is not None:
        state.merge.cut(time_s)


def _abort(sinks: Iterable[Sink | None]) -> None:
    for sink in sinks:
        if sink is not None:
            sink.abort()


def _reid_loader() -> Any:
    from reid_models import load_custom_reid

    return load_custom_reid


def _build_face_embedder() -> Embedder | None:
    try:
        from tracking.face_signature import FaceEmbedder

        return FaceEmbedder()
    except (FileNotFoundError, ImportError, RuntimeError) as exc:
        log.warning("identity merging off: face embedding model unavailable (%s)", exc)
        return None


def _build_face_gate(config: PipelineConfig) -> FaceGate | None:
    if not config.detector.face_gate or config.detector.face_backend == "none":
        return None
    try:
        return FaceGate()
    except (FileNotFoundError, ImportError, RuntimeError) as exc:
        raise UserError(f"face-quality gate unavailable ({exc}); run with --no-face-gate to go without it") from None


def _set_threads(threads: int) -> None:
    if threads <= 0:
        return
    cv2.setNumThreads(threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # pragma: no cover
        pass


def _progress(source: Source, config: PipelineConfig) -> Any:
    if not config.runtime.progress:
        return None
    from tqdm import tqdm

    total = source.info.length
    if config.runtime.max_frames:
        total = min(total or config.runtime.max_frames, config.runtime.max_frames)
    return tqdm(total=total, unit="frame", desc=source.info.name[:24], dynamic_ncols=True, leave=False)
