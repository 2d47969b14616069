"""MiVOLO's face and body crops and network input, built by the rules of the reference implementation's inference path.

The rules (WildChlamydia/MiVOLO, ``PersonAndFaceResult.crop_object`` / ``collect_crops`` and
``prepare_classification_images``), re-derived here:

- Boxes are truncated towards zero to integers, then each coordinate is clamped to the last pixel
  (``x`` to ``0..W-1``, ``y`` to ``0..H-1``): a box that reaches the right or bottom edge loses that last
  column/row. A crop is ``image[y1:y2, x1:x2]``.
- A face crop is just that (no padding, no size limit).
- A person crop is dropped (None) when either side is under 50 px. Every other box of the frame (faces, the
  person's own face included, and other persons) whose IoU with it (clamped boxes, float32) is at least 1e-6
  is blacked out, in the crop's coordinates, from its unclamped integer box. Another person's cut-out is snapped
  to a crop edge when it comes within 30 % of the crop's height/width of that edge; faces are not snapped.
- Nothing is trimmed afterwards: the crop keeps the full box size. It is dropped when fewer than 40 % of its
  values (pixels x channels) are non-zero.
- Each crop is letterboxed (scaled to fit with bilinear resizing, centred, black padding) to the model size,
  converted to RGB, scaled to 0..1 and normalised with the ImageNet mean/std; a missing crop is an all-zero
  image, normalised (in float32).
"""

from __future__ import annotations

import cv2
import numpy as np

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])
MIN_PERSON_SIZE = 50  # px, each side of the (clamped) person box
PERSON_EDGE_SNAP = 0.3  # share of the crop side within which another person's cut-out reaches the edge
MIN_PERSON_REMAIN = 0.4  # share of non-zero values a person crop must keep
MIN_IOU = 1e-6  # boxes with a smaller IoU do not touch


def int_boxes(xyxy: np.ndarray) -> np.ndarray:
    """(N, 4) float boxes -> (N, 4) int64, truncated towards zero (NaN -> 0)."""
    xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    return np.trunc(np.nan_to_num(xyxy, nan=0.0, posinf=0.0, neginf=0.0)).astype(np.int64)


def clamp_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """(N, 4) int boxes clamped to the last pixel: x to 0..width-1, y to 0..height-1."""
    upper = np.array([width - 1, height - 1, width - 1, height - 1])
    return np.clip(boxes, 0, upper)


def iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one (4,) int box with (N, 4) int boxes, in float32. (N,)"""
    lt = np.maximum(box[:2], boxes[:, :2])
    rb = np.minimum(box[2:], boxes[:, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=1)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = (area + areas - inter).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter.astype(np.float32) / union


def face_crop(image: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """The face crop of one (4,) int box (unclamped); None when it holds no pixel. (h, w, 3) uint8"""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = clamp_boxes(np.asarray(box)[None], width, height)[0]
    crop = image[y1:y2, x1:x2]
    return crop.copy() if crop.size else None


def _cut_out(crop: np.ndarray, origin: np.ndarray, other: np.ndarray, snap: bool) -> None:
    """Black out ``other`` (unclamped int box, frame coordinates) in ``crop`` whose top-left is ``origin``."""
    height, width = crop.shape[:2]
    x1 = max(int(other[0] - origin[0]), 0)
    y1 = max(int(other[1] - origin[1]), 0)
    x2 = min(int(other[2] - origin[0]), width)
    y2 = min(int(other[3] - origin[1]), height)
    if snap:
        y1 = 0 if y1 / height < PERSON_EDGE_SNAP else y1
        y2 = height if (height - y2) / height < PERSON_EDGE_SNAP else y2
        x1 = 0 if x1 / width < PERSON_EDGE_SNAP else x1
        x2 = width if (width - x2) / width < PERSON_EDGE_SNAP else x2
    crop[y1:y2, x1:x2] = 0


def person_crop(image: np.ndarray, box: np.ndarray, other_persons: np.ndarray, faces: np.ndarray
                ) -> np.ndarray | None:
    """The body crop of one person, or None when it is too small or too little of it is left.

    ``box``: (4,) int box of the person (unclamped); ``other_persons``: (P, 4) int boxes of every other person of
    the frame; ``faces``: (F, 4) int boxes of every face of the frame. Returns (h, w, 3) uint8, the full box.
    """
    height, width = image.shape[:2]
    clamped = clamp_boxes(np.asarray(box)[None], width, height)[0]
    x1, y1, x2, y2 = clamped
    crop = image[y1:y2, x1:x2].copy()
    if crop.shape[0] < MIN_PERSON_SIZE or crop.shape[1] < MIN_PERSON_SIZE:
        return None
    others = [(np.asarray(faces, np.int64).reshape(-1, 4), False),
              (np.asarray(other_persons, np.int64).reshape(-1, 4), True)]
    for boxes, snap in others:
        touching = iou_one_to_many(clamped, clamp_boxes(boxes, width, height)) >= MIN_IOU
        for other in boxes[touching]:
            _cut_out(crop, clamped[:2], other, snap)
    remain = np.count_nonzero(crop) / crop.size
    return crop if remain >= MIN_PERSON_REMAIN else None


def letterbox(image: np.ndarray, size: int) -> np.ndarray:
    """Scale to fit ``size`` x ``size`` keeping the aspect ratio (bilinear), pad centred with black."""
    height, width = image.shape[:2]
    if height == size and width == size:
        return image
    ratio = min(size / height, size / width)
    new_w, new_h = int(round(width * ratio)), int(round(height * ratio))
    if (width, height) != (new_w, new_h):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    dw, dh = (size - new_w) / 2, (size - new_h) / 2
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    return cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(0, 0, 0))


def network_input(crops: list[np.ndarray | None], size: int) -> np.ndarray:
    """BGR crops (None = missing) -> (N, 3, size, size) float32, letterboxed, RGB, ImageNet-normalised."""
    batch = np.empty((len(crops), 3, size, size), dtype=np.float32)
    empty = (np.float32(0.0) - IMAGENET_MEAN.astype(np.float32)) / IMAGENET_STD.astype(np.float32)
    for i, crop in enumerate(crops):
        if crop is None or crop.size == 0:
            batch[i] = empty[:, None, None]
            continue
        rgb = cv2.cvtColor(letterbox(crop, size), cv2.COLOR_BGR2RGB)
        batch[i] = ((rgb / 255.0 - IMAGENET_MEAN) / IMAGENET_STD).astype(np.float32).transpose(2, 0, 1)
    return batch
