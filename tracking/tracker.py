"""boxmot trackers behind ``Tracker.update(dets, image) -> dets`` (fills ``track_id``).

Persons are tracked; a face takes its person's id; faces without a person are tracked by a second
tracker instance. Ids are ours (1, 2, 3, ...), mapped from boxmot's per-instance ids.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from mivolo.core.config import TrackerConfig
from mivolo.core.errors import UserError
from mivolo.core.paths import CONFIGS_DIR
from mivolo.core.structures import Detections
from mivolo.core.weights import check_pickled_weights

log = logging.getLogger(__name__)

TRACKERS = {
    "botsort": "BotSort",
    "bytetrack": "ByteTrack",
    "ocsort": "OcSort",
    "deepocsort": "DeepOcSort",
    "strongsort": "StrongSort",
    "boosttrack": "BoostTrack",
    "hybridsort": "HybridSort",
}
NEEDS_REID = {"strongsort"}
PERIODS_KEPT = 15  # updates whose spacing sets the frame-counted lost-track buffers (Tracker._time_buffers)
BUFFER_ATTRIBUTE = {"botsort": "max_time_lost", "bytetrack": "max_time_lost", "ocsort": "max_age",
                    "deepocsort": "max_age", "hybridsort": "max_age", "boosttrack": "max_age"}  # updates, read live
BUFFER_KEY = "track_buffer_s"  # our YAML key: how long a lost track is kept, in seconds (any frame rate)
ACCEPTS_REID = {"botsort", "deepocsort", "strongsort", "boosttrack", "hybridsort"}


def resolve_tracker_yaml(name_or_path: str) -> Path:
    """A tracker YAML path from a name (``botsort``, ``botsort.yaml``) or a path."""
    candidate = Path(name_or_path).expanduser()
    if candidate.is_file():
        return candidate
    stem = candidate.name.removesuffix(".yaml").removesuffix(".yml")
    bundled = CONFIGS_DIR / f"{stem}.yaml"
    if stem in TRACKERS and bundled.is_file():
        return bundled
    raise UserError(f"unknown tracker {name_or_path!r}: use one of {', '.join(f'{t}.yaml' for t in TRACKERS)} "
                    "or a path to a tracker YAML file")


def _tracker_class(kind: str) -> type:
    cls = getattr(importlib.import_module("boxmot"), TRACKERS[kind])
    # boxmot sets its own logger to INFO when imported: keep its per-tracker banners out of normal runs
    logging.getLogger("boxmot").setLevel(logging.DEBUG if logging.getLogger().level <= logging.DEBUG
                                         else logging.WARNING)
    return cls


def _accepted_params(cls: type) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for p in inspect.signature(init).parameters.values():
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self":
                names.add(p.name)
    return names - {"reid_model", "reid_weights", "device", "half", "reid_preprocess", "is_obb"}


def _forbid_runtime_installs() -> None:
    """boxmot pip-installs missing runtimes (e.g. onnxruntime) while running; we never install at run time."""
    from boxmot.utils import checks

    def refuse(_self: Any, install_args: Any, *, description: str, verbose: bool) -> None:
        wanted = " ".join(str(a) for a in install_args)
        raise UserError(f"boxmot needs {wanted}, which is not installed in the version it wants; install it with "
                        "pip (nothing is installed while a run is going)")

    checks.RequirementsChecker._run_install = refuse


def load_tracker_settings(path: Path) -> tuple[str, dict[str, Any]]:
    """(tracker kind, constructor keyword arguments) from one of our tracker YAMLs.

    boxmot's own search-space YAMLs (``key: {default: ..., range: ...}``) are accepted too: their defaults are used.
    A ``reid_weights`` key (written by ``setup_reid_models.py --use``) is returned under that name.
    """
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
        raise UserError(f"tracker config {path} cannot be read: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise UserError(f"tracker config {path} must be a mapping")
    kind = str(data.pop("tracker_type", path.stem.split(".")[0])).lower()
    if kind not in TRACKERS:
        raise UserError(f"{path}: unknown tracker_type {kind!r} (valid: {', '.join(TRACKERS)})")
    params = {k: (v["default"] if isinstance(v, dict) and "default" in v else v) for k, v in data.items()}
    params.pop("activates", None)
    reid_weights = params.pop("reid_weights", None)
    buffer_s = params.pop(BUFFER_KEY, None)
    accepted = _accepted_params(_tracker_class(kind))
    if buffer_s is not None:
        if isinstance(buffer_s, bool) or not isinstance(buffer_s, int | float) or buffer_s < 0:
            raise UserError(f"{path}: {BUFFER_KEY} must be a number of seconds (0 or more), got {buffer_s!r}")
        if "track_buffer" in params or "max_age" in params:
            raise UserError(f"{path}: give {BUFFER_KEY} (seconds) or track_buffer/max_age (frames), not both")
        params[BUFFER_KEY] = float(buffer_s)
    unknown = sorted(set(params) - accepted - {BUFFER_KEY})
    if unknown:
        valid = ", ".join(sorted(accepted))
        raise UserError(f"{path}: unknown {kind} setting(s) {', '.join(unknown)} (valid: {valid})")
    if reid_weights:
        params["reid_weights"] = str(reid_weights)
    return kind, params


def tracker_needs_reid(name_or_path: str) -> bool:
    """Whether the tracker cannot run without a Re-ID model (StrongSORT)."""
    kind, _ = load_tracker_settings(resolve_tracker_yaml(name_or_path))
    return kind in NEEDS_REID


def buffer_in_frames(seconds: float | None, cls: type, fps: float) -> dict[str, int]:
    """``track_buffer_s`` (seconds a lost track is kept) as the tracker's own frame-based setting.

    Trackers with a ``frame_rate`` (BoT-SORT, ByteTrack) scale ``track_buffer`` by ``frame_rate / 30``: the buffer
    is given as frames at 30 fps, so it holds ``seconds`` at any rate. Others count ``max_age`` in frames of the
    source (``fps``; 30 when unknown). At least one frame either way.
    """
    if seconds is None:
        return {}
    accepted = _accepted_params(cls)
    if "track_buffer" in accepted and "frame_rate" in accepted:
        return {"track_buffer": max(1, int(round(seconds * 30.0)))}
    return {"max_age": max(1, int(round(seconds * (fps or 30.0))))}


ReidLoader = Callable[[Path, str, bool], Any]


class WarpRecorder:
    """A boxmot camera-motion estimator that remembers its last (2, 3) warp."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.last = np.eye(2, 3, dtype=np.float32)

    def apply(self, img: np.ndarray, dets: np.ndarray | None = None) -> np.ndarray:
        self.last = self.inner.apply(img, dets)
        return self.last


class LastWarp:
    """Stands in for a second estimator on the same frames: the recorder's latest warp."""

    def __init__(self, recorder: WarpRecorder) -> None:
        self.recorder = recorder

    def apply(self, img: np.ndarray, dets: np.ndarray | None = None) -> np.ndarray:
        return self.recorder.last


class Tracker:
    """boxmot behind ``update(dets, image) -> dets``: fills ``track_id`` of persons; paired faces inherit it,
    faces without a person are tracked as their own identities (ids from one counter, never reused)."""

    def __init__(self, config: TrackerConfig, fps: float, device: str = "cpu", half: bool = False,
                 reid_from_yaml: bool = True, reid_loader: ReidLoader | None = None) -> None:
        """``reid_from_yaml=False``: ignore a ``reid_weights`` key of the YAML (a motion-only baseline run).

        ``reid_loader(weights, device, half)`` returns a Re-ID model object for checkpoints boxmot cannot load
        itself (CLIP-ReID), or None to let boxmot load the file.
        """
        _forbid_runtime_installs()
        self._reid_loader = reid_loader
        self.path = resolve_tracker_yaml(config.tracker)
        self.kind, params = load_tracker_settings(self.path)
        yaml_reid = params.pop("reid_weights", None)
        if yaml_reid and not config.reid_weights and reid_from_yaml:
            config = TrackerConfig(tracker=config.tracker, reid_weights=yaml_reid)
        self._cls = _tracker_class(self.kind)
        if "frame_rate" in _accepted_params(self._cls) and fps:
            params["frame_rate"] = max(1, int(round(fps)))  # track buffers are in frames at this rate
        self._buffer_s = params.pop(BUFFER_KEY, None)
        params.update(buffer_in_frames(self._buffer_s, self._cls, fps))
        reid = self._reid_options(config, device, half)
        self.params = params
        self._reid = reid
        self._next_id = 1
        self._ids: dict[tuple[int, int], int] = {}
        self._frame_s = 1.0 / fps if fps and fps > 0 else 1.0 / 30.0
        self._last_time_s: float | None = None
        self._periods: deque[float] = deque(maxlen=PERIODS_KEPT)  # seconds between the last updates
        self.persons = self._new()
        self.lone_faces = self._new()
        self._share_camera_motion()

    def _reid_options(self, config: TrackerConfig, device: str, half: bool) -> dict[str, Any]:
        if config.reid_weights:
            if self.kind not in ACCEPTS_REID:
                raise UserError(f"{self.kind} does not use Re-ID; drop --reid-weights or use botsort/deepocsort")
            weights = Path(config.reid_weights).expanduser()
            if not weights.is_file():
                raise UserError(f"Re-ID weights not found: {weights} (a local .pt/.onnx file; nothing is downloaded)")
            if weights.suffix.lower() in (".pt", ".pth", ".tar"):
                check_pickled_weights(weights, "Re-ID")  # before boxmot unpickles it
                model = self._reid_loader(weights, device, half) if self._reid_loader is not None else None
                if model is not None:  # boxmot 25 has no CLIP-ReID: ours, through its reid_model hook
                    log.info("Re-ID on: %s (%s)", weights.name, getattr(model, "name", type(model).__name__))
                    return {"reid_model": model, "use_embeddings": True, "reid_weights_path": weights}
            log.info("Re-ID on: %s", weights.name)
            return {"reid_weights": weights, "device": device, "half": half, "use_embeddings": True}
        if self.kind in NEEDS_REID:
            raise UserError(f"{self.kind} needs a Re-ID model: give --reid-weights FILE, or use botsort.yaml / "
                            "bytetrack.yaml")
        if self.kind in ACCEPTS_REID:
            log.info("Re-ID off (no --reid-weights): %s associates by motion only", self.kind)
            return {"use_embeddings": False}
        return {}

    def _new(self) -> Any:
        options = dict(self.params)
        reid = {k: v for k, v in self._reid.items() if k != "reid_weights_path"}
        if "use_embeddings" in reid and "use_embeddings" not in _accepted_params(self._cls):
            reid.pop("use_embeddings")
        options.update(reid)
        try:
            return self._cls(**options)
        except (TypeError, ValueError) as exc:
            raise UserError(f"{self.path}: invalid {self.kind} settings: {exc}") from None

    def reset(self) -> None:
        """Forget every track (independent images, each frame on its own): fresh boxmot trackers, whose ids start
        again at 1, so their ids no longer map to ours; ours go on counting (no identity id is ever given twice)."""
        self._last_time_s = None
        self._periods.clear()
        self._ids = {}
        self.persons = self._new()
        self.lone_faces = self._new()
        self._share_camera_motion()

    def _share_camera_motion(self) -> None:
        """One camera-motion estimate per frame: the lone-face tracker reuses the person tracker's (the same frame,
        the same camera; estimating it twice cost ~4 ms a frame on 2 CPU cores)."""
        cmc = getattr(self.persons, "cmc", None)
        if cmc is not None and callable(getattr(cmc, "apply", None)) and getattr(self.lone_faces, "cmc", None):
            recorder = WarpRecorder(cmc)
            self.persons.cmc = recorder
            self.lone_faces.cmc = LastWarp(recorder)

    def _run(self, tracker: Any, slot: int, rows: np.ndarray, dets: Detections, image: np.ndarray,
             time_s: float | None) -> None:
        boxes = np.zeros((len(rows), 6), dtype=np.float32)
        if len(rows):
            boxes[:, :4] = dets.xyxy[rows]
            boxes[:, 4] = dets.conf[rows]
        if getattr(tracker, "variable_dt", False):
            out = tracker.update(boxes, image, timestamp_s=time_s)
        else:
            out = tracker.update(boxes, image)
        if out is None or len(out) == 0:
            return
        out = np.asarray(out)
        for boxmot_id, det_index in zip(out[:, 4].astype(int), out[:, 7].astype(int), strict=True):
            if 0 <= det_index < len(rows):
                dets.track_id[rows[det_index]] = self._our_id(slot, boxmot_id)

    def _clock(self, time_s: float | None) -> float:
        """The frame's time in seconds for the trackers' motion model, strictly increasing.

        With ``variable_dt`` (our YAMLs) boxmot's Kalman filter predicts over the real time between updates, its noise
        integrated over that interval, so motion is modelled alike at 5 and 30 fps, and across frames the detector
        skipped or a live stream lost. A missing or repeated time (a stream's clock) advances by one frame period; a
        step shorter than half a frame period is taken as half of one (a live stream's time is when a frame was read:
        frames buffered while we were busy are read in a burst, though they were filmed a period apart).
        """
        last = self._last_time_s
        if time_s is None or not np.isfinite(time_s):
            time_s = 0.0 if last is None else last + self._frame_s
        elif last is not None and time_s <= last:
            time_s = last + self._frame_s
        elif last is not None:
            time_s = max(float(time_s), last + 0.5 * self._frame_s)
        self._last_time_s = float(time_s)
        return self._last_time_s

    def _time_buffers(self, period_s: float) -> None:
        """Keep the lost-track buffer at ``track_buffer_s`` seconds at the rate updates really come: boxmot counts it
        in updates, sized for the source's frame rate (less the detector's stride), but the pipeline also leaves
        out frames that repeat the last one (footage filmed at 10 fps stored at 30), garbage frames, and a live
        source drops frames while we are busy: at one update in three a 2 s buffer would hold for 6 s. The period
        between updates sets it: the median of the last ``PERIODS_KEPT``, or of the last three where that is
        shorter (when people start moving in a still scene whose repeated frames were left out, the buffer
        lengthens at once; BoT-SORT and ByteTrack ``max_time_lost``, the OC-SORT family ``max_age``)."""
        name = BUFFER_ATTRIBUTE.get(self.kind)
        if self._buffer_s is None or name is None:
            return
        self._periods.append(period_s)
        if len(self._periods) < PERIODS_KEPT // 2:
            return
        periods = list(self._periods)  # quicker to follow a speed-up than a slow-down: a buffer too short splits
        period = min(float(np.median(periods)), float(np.median(periods[-3:])))  # people, one too long is as before
        frames = max(1, int(self._buffer_s / period + 1e-6))  # whole updates, as boxmot counts them
        for tracker in (self.persons, self.lone_faces):
            if isinstance(getattr(tracker, name, None), int):
                setattr(tracker, name, frames)

    def new_id(self) -> int:
        """An id no track of this tracker has or will get (for an identity split off one, ``tracking.splits``)."""
        self._next_id += 1
        return self._next_id - 1

    def _our_id(self, slot: int, boxmot_id: int) -> int:
        key = (slot, boxmot_id)
        if key not in self._ids:
            self._ids[key] = self._next_id
            self._next_id += 1
        return self._ids[key]

    def update(self, dets: Detections, image: np.ndarray, time_s: float | None = None) -> Detections:
        dets.track_id[:] = -1
        last = self._last_time_s
        time_s = self._clock(time_s)
        if last is not None:
            self._time_buffers(time_s - last)
        persons = np.flatnonzero(dets.is_person)
        self._run(self.persons, 0, persons, dets, image, time_s)
        faces = np.flatnonzero(dets.is_face)
        paired = faces[dets.pair[faces] >= 0]
        dets.track_id[paired] = dets.track_id[dets.pair[paired]]
        lone = faces[dets.pair[faces] < 0]
        self._run(self.lone_faces, 1, lone, dets, image, time_s)
        return dets

    @property
    def has_reid(self) -> bool:
        return bool(self._reid.get("reid_weights") or self._reid.get("reid_model"))

    def body_embeddings(self, image: np.ndarray, xyxy: np.ndarray) -> np.ndarray | None:
        """L2-normalised Re-ID embeddings of person boxes from the tracker's own Re-ID model (None without one)."""
        if not self.has_reid or len(xyxy) == 0:
            return None
        model = getattr(self.persons, "_get_live_reid_model", None)
        if model is None:
            return None
        features = np.asarray(model().get_features(np.asarray(xyxy, np.float32), image), dtype=np.float32)
        features = features.reshape(len(xyxy), -1)
        return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-6)

    def forget(self, track_ids: set[int]) -> None:
        """Drop id mappings of identities that left memory (bounded state on long runs)."""
        if track_ids:
            self._ids = {k: v for k, v in self._ids.items() if v not in track_ids}
