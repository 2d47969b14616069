"""Privacy levels and face blurring: what a run may keep of the faces it sees.

    off     everything (crops, annotated video, the report's gallery of crops)
    blur    faces and the head region of every person are blurred in the annotated video and in every crop
    strict  no crops, no annotated video, no face pixels anywhere; identities keep ids, times, age and gender

Face signatures (the merge step's embeddings) are never written at any level: they live in memory and are dropped
when an identity is finalised (``tracking.merging.IdentityMerger.forget``).
"""

from __future__ import annotations

import cv2
import numpy as np

PRIVACY_LEVELS = ("off", "blur", "strict")
FACE_MARGIN = 0.25  # a face box grows by this share of its size on every side (hair, ears, chin)
HEAD_FRACTION = 0.35  # the top share of a person box that holds the head (as the face gate's head region)
CELLS = 2  # the obscured region keeps at most this many samples across its shorter side (2: a smooth smudge)

KEEPS = {
    "off": "best crop per identity, annotated video with faces, report gallery of crops",
    "blur": "best crop per identity and annotated video, faces and heads blurred; report gallery of blurred crops",
    "strict": "no crops, no video, no face pixels; identities keep ids, times, age and gender; report shows "
              "silhouettes",
}


def privacy_regions(xyxy: np.ndarray, is_face: np.ndarray) -> np.ndarray:
    """(N, 4) float32 regions to blur for N boxes: each face box grown by ``FACE_MARGIN`` on every side, the top
    ``HEAD_FRACTION`` of each person box (where its head is, whether or not a face was found there).

    xyxy: (N, 4) boxes in pixels; is_face: (N,) bool.
    """
    boxes = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
    faces = np.asarray(is_face, dtype=bool).reshape(-1)
    size = boxes[:, 2:] - boxes[:, :2]
    grown = np.concatenate([boxes[:, :2] - FACE_MARGIN * size, boxes[:, 2:] + FACE_MARGIN * size], axis=1)
    heads = boxes.copy()
    heads[:, 3] = boxes[:, 1] + HEAD_FRACTION * size[:, 1]
    return np.where(faces[:, None], grown, heads).astype(np.float32)


def obscure(patch: np.ndarray) -> np.ndarray:
    """A patch (H, W, C) uint8 reduced to at most ``CELLS`` samples across its shorter side and stretched back to
    its size with linear interpolation: a smooth smudge of its colours, in which no face detector we ship finds a
    face (tests/test_privacy.py; finer grids of 3-6 cells still leave face-like blobs BlazeFace fires on)."""
    h, w = patch.shape[:2]
    step = max(1.0, min(h, w) / CELLS)
    small = cv2.resize(patch, (max(1, round(w / step)), max(1, round(h / step))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def blur_regions(image: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """Obscure each (x1, y1, x2, y2) region of ``image`` (H, W, C) in place (clipped to the image); returns it."""
    height, width = image.shape[:2]
    for x1, y1, x2, y2 in np.asarray(regions, dtype=np.float64).reshape(-1, 4):
        a, b = int(max(0, np.floor(x1))), int(max(0, np.floor(y1)))
        c, d = int(min(width, np.ceil(x2))), int(min(height, np.ceil(y2)))
        if c - a >= 1 and d - b >= 1:
            image[b:d, a:c] = obscure(image[b:d, a:c])
    return image


def blur_people(image: np.ndarray, xyxy: np.ndarray, is_face: np.ndarray) -> np.ndarray:
    """A copy of ``image`` with every face and head of the N boxes (``xyxy (N, 4)``, ``is_face (N,)``) obscured."""
    return blur_regions(image.copy(), privacy_regions(xyxy, is_face))
