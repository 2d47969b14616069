"""ONNX detectors for fast CPU inference: YOLOX (COCO persons) on ONNX Runtime; YuNet and Ultra-Light (RFB-320)
face detectors. The file's inputs/outputs tell which model it is."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from mivolo.core.boxes import clip_boxes, nms
from mivolo.core.errors import UserError

YOLOX_STRIDES = (8, 16, 32)


def ort_session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: some exports list weights as inputs, which ORT warns about per tensor
    # no busy-waiting of ORT's threads after a run: the other stages of the frame (OpenCV DNN faces, dlib, the
    # tracker) need those cores right away
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.intra_op_num_threads = max(1, cv2.getNumThreads())  # --threads (batch: --cpus-per-source), as OpenCV
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise UserError(f"{path} is not a readable ONNX model: {str(exc).splitlines()[0]}") from None


def yolox_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Anchor-point grid and strides of a YOLOX head for an input size, in the output order."""
    grids, strides = [], []
    for stride in YOLOX_STRIDES:
        h, w = height // stride, width // stride
        ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        grids.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        strides.append(np.full((h * w, 1), stride))
    return np.concatenate(grids).astype(np.float32), np.concatenate(strides).astype(np.float32)


def yolox_letterbox(image: np.ndarray, height: int, width: int) -> tuple[np.ndarray, float]:
    """YOLOX preprocessing: scale to fit, pad bottom/right with grey 114, BGR 0-255 as NCHW float."""
    ratio = min(height / image.shape[0], width / image.shape[1])
    resized = cv2.resize(image, (int(image.shape[1] * ratio), int(image.shape[0] * ratio)),
                         interpolation=cv2.INTER_LINEAR)
    canvas = np.full((height, width, 3), 114, np.uint8)
    canvas[:resized.shape[0], :resized.shape[1]] = resized
    return np.ascontiguousarray(canvas.transpose(2, 0, 1)[None], dtype=np.float32), ratio


def yolox_decode(out: np.ndarray, grid: np.ndarray, stride: np.ndarray, ratio: float, shape: tuple[int, ...],
                 conf: float, nms_iou: float, class_index: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Raw YOLOX rows (A, 5 + classes) -> boxes of one class in image pixels, after NMS."""
    scores = out[:, 4] * out[:, 5 + class_index]  # objectness x class probability
    keep = np.flatnonzero(scores >= conf)
    if len(keep) == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
    centre = (out[keep, :2] + grid[keep]) * stride[keep]
    size = np.exp(np.clip(out[keep, 2:4], -20, 20)) * stride[keep]
    xyxy = np.concatenate([centre - size / 2, centre + size / 2], axis=1) / ratio
    xyxy = clip_boxes(xyxy, shape[1], shape[0])
    chosen = nms(xyxy, scores[keep], nms_iou)
    return xyxy[chosen].astype(np.float32), scores[keep][chosen].astype(np.float32)


class YoloxOnnxPersonDetector:
    """YOLOX exported to ONNX (raw head outputs, [1, A, 5 + classes]); persons = COCO class 0."""

    def __init__(self, path: Path, conf: float = 0.4, nms_iou: float = 0.45) -> None:
        self.session = ort_session(path)
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        shape = inputs[0].shape
        if len(inputs) != 1 or len(shape) != 4 or len(outputs) != 1 or len(outputs[0].shape) != 3:
            raise UserError(f"{path} is not a YOLOX ONNX export (one image input, one [1, anchors, 5+classes] output)")
        self.input_name = inputs[0].name
        self.height, self.width = int(shape[2]), int(shape[3])
        self.grid, self.stride = yolox_grid(self.height, self.width)
        expected = len(self.grid)
        if outputs[0].shape[1] not in (expected, None, "N") and isinstance(outputs[0].shape[1], int):
            raise UserError(f"{path}: {outputs[0].shape[1]} anchors, a YOLOX model of this input size has {expected}")
        self.name = f"yolox-onnx:{path.name}"
        self.conf = conf
        self.nms_iou = nms_iou

    def raw(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        blob, ratio = yolox_letterbox(image, self.height, self.width)
        return self.session.run(None, {self.input_name: blob})[0][0], ratio

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out, ratio = self.raw(image)
        return yolox_decode(out, self.grid, self.stride, ratio, image.shape, self.conf, self.nms_iou)


class YuNetFaceDetector:
    """OpenCV's YuNet (face_detection_yunet_*.onnx) through cv2.FaceDetectorYN."""

    def __init__(self, path: Path, conf: float = 0.6, nms_iou: float = 0.3) -> None:
        try:
            self.detector = cv2.FaceDetectorYN.create(str(path), "", (320, 320), conf, nms_iou, 5000)
        except cv2.error as exc:
            raise UserError(f"{path} is not a YuNet face model OpenCV can run: {str(exc).splitlines()[0]}") from None
        self.name = f"yunet:{path.name}"

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.detector.setInputSize((image.shape[1], image.shape[0]))
        _, faces = self.detector.detect(image)
        if faces is None or len(faces) == 0:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        x, y, w, h = faces[:, 0], faces[:, 1], faces[:, 2], faces[:, 3]
        xyxy = np.stack([x, y, x + w, y + h], axis=1)
        xyxy = clip_boxes(xyxy, image.shape[1], image.shape[0])
        return xyxy.astype(np.float32), faces[:, -1].astype(np.float32)


class UltraLightFaceDetector:
    """Ultra-Light-Fast-Generic-Face-Detector (RFB-320/640 with decoded boxes) on ONNX Runtime."""

    def __init__(self, path: Path, conf: float = 0.7, nms_iou: float = 0.3) -> None:
        self.session = ort_session(path)
        shape = self.session.get_inputs()[0].shape
        self.input_name = self.session.get_inputs()[0].name
        self.height, self.width = int(shape[2]), int(shape[3])
        self.name = f"ultralight:{path.name}"
        self.conf = conf
        self.nms_iou = nms_iou

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rgb = cv2.cvtColor(cv2.resize(image, (self.width, self.height)), cv2.COLOR_BGR2RGB).astype(np.float32)
        blob = ((rgb - 127.0) / 128.0).transpose(2, 0, 1)[None]
        scores, boxes = self.session.run(None, {self.input_name: blob})
        face = scores[0, :, 1]
        keep = np.flatnonzero(face >= self.conf)
        if len(keep) == 0:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        xyxy = np.clip(boxes[0, keep], 0, 1) * np.array([image.shape[1], image.shape[0]] * 2, np.float32)
        chosen = nms(xyxy, face[keep], self.nms_iou)
        return xyxy[chosen].astype(np.float32), face[keep][chosen].astype(np.float32)


def face_detector_from_onnx(path: Path, conf: float):
    """YuNet or Ultra-Light, told apart by the model's outputs."""
    if not path.is_file():
        raise UserError(f"face detector weights not found: {path}")
    session = ort_session(path)
    names = {o.name for o in session.get_outputs()}
    if any(n.startswith(("cls_", "obj_", "bbox_", "kps_")) for n in names):
        return YuNetFaceDetector(path, conf=conf)
    if {"scores", "boxes"} <= names:
        return UltraLightFaceDetector(path, conf=max(conf, 0.7))
    raise UserError(f"{path}: not a YuNet or Ultra-Light face detector (outputs: {', '.join(sorted(names))})")


class TiledDetector:
    """Runs a detector on the whole frame and on an N x N grid of overlapping tiles; merges with NMS.

    For frames much larger than the detector's input: small far-away people become large enough to be found.
    """

    def __init__(self, inner, grid: int, overlap: float = 0.2, nms_iou: float = 0.45) -> None:
        self.inner = inner
        self.grid = grid
        self.overlap = overlap
        self.nms_iou = nms_iou
        self.name = f"{inner.name}+tiles{grid}x{grid}"

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        height, width = image.shape[:2]
        boxes, scores = [], []
        b, s = self.inner(image)
        boxes.append(b)
        scores.append(s)
        tile_w, tile_h = width / self.grid, height / self.grid
        pad_w, pad_h = tile_w * self.overlap, tile_h * self.overlap
        for row in range(self.grid):
            for col in range(self.grid):
                x1, y1 = int(max(0, col * tile_w - pad_w)), int(max(0, row * tile_h - pad_h))
                x2, y2 = int(min(width, (col + 1) * tile_w + pad_w)), int(min(height, (row + 1) * tile_h + pad_h))
                b, s = self.inner(image[y1:y2, x1:x2])
                if len(b):
                    # a box cut by an inner tile edge is a fragment: the neighbouring tile or the frame has it whole
                    cut = ((b[:, 0] <= 2) & (x1 > 0)) | ((b[:, 1] <= 2) & (y1 > 0)) | \
                          ((b[:, 2] >= x2 - x1 - 2) & (x2 < width)) | ((b[:, 3] >= y2 - y1 - 2) & (y2 < height))
                    boxes.append(b[~cut] + np.array([x1, y1, x1, y1], np.float32))
                    scores.append(s[~cut])
        xyxy, conf = np.concatenate(boxes), np.concatenate(scores)
        keep = nms(xyxy, conf, self.nms_iou)
        return xyxy[keep], conf[keep]
