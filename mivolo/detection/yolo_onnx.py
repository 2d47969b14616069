"""ultralytics YOLO exported to ONNX (``yolo export format=onnx``) on ONNX Runtime, without ultralytics.

Two output layouts exist: the raw head ``(1, 4 + C, N)`` (YOLOv8 / YOLO11: centre x, centre y, width, height in
input pixels, then C class scores; NMS is ours), and the end-to-end ``(1, K, 6)`` (YOLO26, or an export with
``nms=True``: x1, y1, x2, y2, score, class, already suppressed). ultralytics writes ``names``, ``imgsz``,
``stride`` and ``end2end`` into the file's metadata; a file without metadata is still recognised by its shape.
Preprocessing is ultralytics' fixed-size letterbox: scale to fit, centre, pad grey 114, RGB in 0-1.
"""

from __future__ import annotations

import ast
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from mivolo.core.boxes import clip_boxes, nms
from mivolo.core.errors import UserError

log = logging.getLogger(__name__)
MAX_DET = 300
STRIDE = 32  # a YOLO input side is a multiple of its largest stride
MAX_WH = 7680  # class offset for class-aware NMS in one pass (as ultralytics)


@dataclass(frozen=True)
class YoloOnnxLayout:
    """What an ultralytics ONNX export looks like: input size, class names, end-to-end or raw head output."""

    height: int
    width: int
    names: dict[int, str]
    end2end: bool
    input_name: str
    fp16_input: bool
    dynamic: bool = False  # any input size: letterboxed to height x width's scale, padded to a multiple of stride
    model_name: str | None = None  # the name the file gives itself (our export of the bundled YOLOv8n)
    stride: int = STRIDE


def _metadata(session) -> dict[str, str]:
    return dict(session.get_modelmeta().custom_metadata_map or {})


def _literal(text: str | None, default):
    try:
        return ast.literal_eval(text) if text else default
    except (ValueError, SyntaxError):
        return default


def yolo_onnx_layout(session, path: Path) -> YoloOnnxLayout | None:
    """The layout of an ultralytics detection export, or None when the file is not one (e.g. YOLOX)."""
    meta = _metadata(session)
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(inputs[0].shape) != 4 or len(outputs[0].shape) != 3:
        return None
    if meta.get("task", "detect") != "detect":
        raise UserError(f"{path} is an ultralytics {meta['task']} model; --detector-weights needs a detect model")
    names = {int(k): str(v) for k, v in _literal(meta.get("names"), {}).items()}
    dims = outputs[0].shape[1:]
    end2end = meta.get("end2end") == "True" or bool(_literal(meta.get("args"), {}).get("nms"))
    if not names:  # no ultralytics metadata: a raw head (4 + C rows, fewer than its N columns), COCO classes
        if not (all(isinstance(d, int) for d in dims) and 5 <= dims[0] < dims[1]):
            return None  # e.g. YOLOX: (1, anchors, 5 + C)
        names, end2end = {i: "person" if i == 0 else f"class{i}" for i in range(dims[0] - 4)}, False
        log.info("%s has no ultralytics metadata: read as a raw YOLO head with %d COCO classes", path, len(names))
    elif not end2end and isinstance(dims[0], int) and dims[0] != 4 + len(names):
        raise UserError(f"{path}: output {outputs[0].shape} does not fit its {len(names)} classes (4 + classes rows)")
    elif end2end and dims[1] != 6:
        raise UserError(f"{path}: end-to-end output {outputs[0].shape} is not (1, detections, 6)")
    dynamic = not all(isinstance(d, int) for d in inputs[0].shape[2:])
    size = _literal(meta.get("imgsz"), None) or inputs[0].shape[2:]
    if not all(isinstance(s, int) for s in size):
        size = [640, 640]  # dynamic export: ultralytics' default size
    return YoloOnnxLayout(int(size[0]), int(size[1]), names, end2end, inputs[0].name,
                          inputs[0].type == "tensor(float16)", dynamic, meta.get("model_name"),
                          int(_literal(meta.get("stride"), STRIDE) or STRIDE))


def input_size(layout: YoloOnnxLayout, height: int, width: int) -> tuple[int, int, float | None]:
    """The network input (height, width) for a ``height`` x ``width`` frame and its scale: the layout's fixed size
    (scale None: fit to it), or for a dynamic export, as ultralytics does it, the size rounded up to the stride, the
    frame scaled to fit it and padded up to a multiple of the stride (a 16:9 frame at 512 runs at 512x288)."""
    if not layout.dynamic:
        return layout.height, layout.width, None
    s = layout.stride
    r = min(np.ceil(layout.height / s) * s / height, np.ceil(layout.width / s) * s / width)
    return (int(np.ceil(max(round(height * r), 1) / s) * s), int(np.ceil(max(round(width * r), 1) / s) * s), float(r))


def letterbox(image: np.ndarray, height: int, width: int,
              ratio: float | None = None) -> tuple[np.ndarray, float, tuple[int, int]]:
    """ultralytics' letterbox: (1, 3, height, width) RGB 0-1 blob, scale, (left, top) padding; the image scaled by
    ``ratio`` (default: to fit height x width) and padded around."""
    h, w = image.shape[:2]
    r = min(height / h, width / w) if ratio is None else ratio
    new_w, new_h = max(round(w * r), 1), max(round(h * r), 1)
    if (w, h) != (new_w, new_h):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    dw, dh = (width - new_w) / 2, (height - new_h) / 2
    top, bottom, left, right = round(dh - 0.1), round(dh + 0.1), round(dw - 0.1), round(dw + 0.1)
    padded = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(114, 114, 114))
    blob = padded[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255.0
    return np.ascontiguousarray(blob), r, (left, top)


def decode_raw(out: np.ndarray, conf: float, iou: float, wanted: list[int]) -> tuple[np.ndarray, ...]:
    """Raw head rows (4 + C, N) -> (xyxy (M, 4), conf (M,), cls (M,)) in input pixels after class-aware NMS.

    As ultralytics: each box takes its best class; boxes whose best class is not ``wanted`` are dropped.
    """
    scores = out[4:].astype(np.float32)
    cls = scores.argmax(axis=0)
    best = scores[cls, np.arange(scores.shape[1])]
    keep = np.flatnonzero((best > conf) & np.isin(cls, wanted))
    if len(keep) == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, int)
    cx, cy, w, h = out[:4, keep].astype(np.float32)
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    offset = cls[keep, None].astype(np.float32) * MAX_WH
    chosen = nms(xyxy + offset, best[keep], iou)[:MAX_DET]
    return xyxy[chosen], best[keep][chosen], cls[keep][chosen]


def decode_end2end(out: np.ndarray, conf: float, wanted: list[int]) -> tuple[np.ndarray, ...]:
    """End-to-end rows (K, 6: x1, y1, x2, y2, score, class) -> (xyxy, conf, cls) of the wanted classes."""
    out = out.astype(np.float32)
    keep = (out[:, 4] > conf) & np.isin(out[:, 5].astype(int), wanted)
    return out[keep, :4], out[keep, 4], out[keep, 5].astype(int)


class YoloOnnxModel:
    """An ultralytics detection export on ONNX Runtime: ``__call__(image) -> (xyxy, conf, cls)`` in frame pixels."""

    def __init__(self, path: Path, session, layout: YoloOnnxLayout, conf: float, nms_iou: float,
                 wanted: list[int]) -> None:
        self.session = session
        self.layout = layout
        self.conf = conf
        self.nms_iou = nms_iou
        self.wanted = wanted
        self.name = layout.model_name or f"yolo-onnx:{path.name}"

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lay = self.layout
        blob, ratio, (left, top) = letterbox(image, *input_size(lay, *image.shape[:2]))
        if lay.fp16_input:
            blob = blob.astype(np.float16)
        out = self.session.run(None, {lay.input_name: blob})[0][0]
        if lay.end2end:
            xyxy, conf, cls = decode_end2end(out, self.conf, self.wanted)
        else:
            xyxy, conf, cls = decode_raw(out, self.conf, self.nms_iou, self.wanted)
        h, w = image.shape[:2]
        gain = np.array([round(w * ratio) / w, round(h * ratio) / h] * 2, np.float32)
        xyxy = (xyxy - np.array([left, top, left, top], np.float32)) / gain
        return clip_boxes(xyxy, w, h).astype(np.float32), conf.astype(np.float32), cls


def _is_yolox(session) -> bool:
    from mivolo.detection.onnx_models import yolox_grid

    inputs, outputs = session.get_inputs(), session.get_outputs()
    shape, out = inputs[0].shape, outputs[0].shape
    if len(inputs) != 1 or len(shape) != 4 or len(outputs) != 1 or len(out) != 3:
        return False
    if not all(isinstance(d, int) for d in (*shape[2:], out[2])) or out[2] < 6:
        return False
    return not isinstance(out[1], int) or out[1] == len(yolox_grid(shape[2], shape[3])[0])


def ultralytics_onnx_detector(config, face_finder_builder) -> UltralyticsOnnxDetector | None:
    """The detector for an ultralytics ONNX export; None for a YOLOX export; one clear UserError for anything else.

    ``face_finder_builder(config) -> (FaceFinder | None, names)`` gives faces to a model without a face class.
    """
    from mivolo.detection.onnx_models import ort_session

    path = Path(config.weights)
    if not path.is_file():
        raise UserError(f"detector weights not found: {path}")
    session = ort_session(path)
    layout = yolo_onnx_layout(session, path)
    if layout is None:
        if _is_yolox(session):
            return None
        shapes = ", ".join(str(o.shape) for o in session.get_outputs())
        raise UserError(f"{path}: not an ultralytics YOLO export (output (1, 4 + classes, boxes)) or a YOLOX export "
                        f"(output (1, anchors, 5 + classes)); its outputs are {shapes}")
    return UltralyticsOnnxDetector(path, session, layout, config, face_finder_builder)


class UltralyticsOnnxDetector:
    """``Detector`` for an ultralytics ONNX export: persons and faces by the file's class names; a model without a
    face class (COCO) gets its faces from the face finder, as the ``.pt`` path does."""

    def __init__(self, path: Path, session, layout: YoloOnnxLayout, config, face_finder_builder) -> None:
        from mivolo.detection.ultralytics_yolo import models_entry, person_and_face_classes, with_calibrated_person_conf

        self.person_ids, self.face_ids = person_and_face_classes(layout.names, path)
        self.face_finder, face_names = (None, []) if self.face_ids else face_finder_builder(config)
        if layout.dynamic and config.imgsz:  # --imgsz sets the scale of a dynamic export
            layout = replace(layout, height=config.imgsz, width=config.imgsz)
        self.model = YoloOnnxModel(path, session, layout, min(config.person_floor(), config.face_conf), config.nms_iou,
                                   self.person_ids + self.face_ids)
        self.models = models_entry(self.model.name, self.person_ids, self.face_ids, face_names)
        self.config = with_calibrated_person_conf(config, self.models)
        log.debug("%s: %dx%d input, %s output, classes %s", path, layout.height, layout.width,
                  "end-to-end" if layout.end2end else "raw", layout.names)

    def __call__(self, image: np.ndarray):  # -> Detections
        from mivolo.detection.ultralytics_yolo import split_persons_and_faces

        xyxy, conf, cls = self.model(image)
        return split_persons_and_faces(image, xyxy, conf, cls, self.person_ids, self.face_ids, self.config,
                                       self.face_finder)
