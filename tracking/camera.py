"""Where the camera looked: person boxes in one fixed frame of the scene while the camera pans or zooms.

``CameraMotion`` estimates each frame's warp from the previous frame's picture (boxmot's sparse optical flow on
the picture scaled to ``CAMERA_WIDTH``, people's boxes left out); ``CameraPath`` chains the warps into the
transform from *scene* coordinates (the first frame's picture) to each frame's picture. Boxes turned into scene
coordinates keep their places while the camera moves, so a path extrapolated across a gap of a few seconds (the
re-linker) or compared before and after a meeting (the repairs of ``people_history``) is the person's own motion,
not the camera's. The estimate has small errors that add up (a still camera's path drifts by a few px in 3 s):
every use here spans a few seconds.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

CAMERA_WIDTH = 320  # px: the picture is scaled to this width for the optical flow
CAMERA_CORNERS = 300  # points tracked from frame to frame


class CameraMotion:
    """``__call__(image, xyxy) -> (2, 3)``: the warp from the previous picture to this one (the identity on the
    first), from boxmot's sparse optical flow (corners tracked, a RANSAC fit of translation, rotation and scale),
    with the people's boxes ``xyxy (K, 4)`` left out (they move on their own).

    Measured on PETS09 through the scoreboard's still window (a still camera, gt boxes left out): boxmot's default
    scale (0.15 of any picture, 96 px wide there) let the chained path drift by 44 px in 3 s (95th percentile) at
    0.6 ms a frame; at ``CAMERA_WIDTH`` with ``CAMERA_CORNERS`` 9 px at 1.6 ms (``benchmarks.camera_motion``).
    The trackers keep their own estimate (BoT-SORT's ``cmc_method``) for their Kalman filters."""

    def __init__(self) -> None:
        self.flow: Any = None

    def reset(self) -> None:
        """Start again (a cut: the previous picture is of another shot)."""
        self.flow = None

    def __call__(self, image: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        if self.flow is None:
            from boxmot.motion.cmc import create_cmc

            self.flow = create_cmc("sof", scale=min(1.0, CAMERA_WIDTH / max(image.shape[1], 1)))
            self.flow.feature_params["maxCorners"] = CAMERA_CORNERS
        boxes = np.asarray(xyxy, np.float32).reshape(-1, 4)
        return np.asarray(self.flow.apply(image, boxes if len(boxes) else None))


def as_3x3(warp: np.ndarray | None) -> np.ndarray:
    """A (2, 3) affine or (3, 3) homography warp as (3, 3) float64 (the identity for None or a non-finite one)."""
    if warp is None:
        return np.eye(3)
    warp = np.asarray(warp, np.float64)
    full = np.eye(3)
    full[:warp.shape[0], :3] = warp[:3, :3]
    return full if np.isfinite(full).all() and abs(np.linalg.det(full)) > 1e-9 else np.eye(3)


def map_boxes(transform: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
    """(K, 4) xyxy boxes through a (3, 3) ``transform``: each box's centre is mapped and its width and height are
    scaled by the transform's scale (the square root of its linear part's determinant), so a box stays a box of
    the same proportions (cameras pan and zoom; they hardly rotate)."""
    xyxy = np.asarray(xyxy, np.float64).reshape(-1, 4)
    if np.allclose(transform, np.eye(3)):
        return xyxy.copy()
    centres = np.stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, (xyxy[:, 1] + xyxy[:, 3]) / 2, np.ones(len(xyxy))], axis=1)
    mapped = centres @ transform.T
    mapped = mapped[:, :2] / mapped[:, 2:3]
    scale = float(np.sqrt(abs(np.linalg.det(transform[:2, :2]))))
    half = np.stack([xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]], axis=1) * scale / 2
    return np.concatenate([mapped - half, mapped + half], axis=1)


@dataclass
class CameraPath:
    """Scene -> picture transforms (3, 3) of the last ``keep_s`` seconds of frames, by frame time."""

    keep_s: float = 12.0
    current: np.ndarray = field(default_factory=lambda: np.eye(3))
    times: deque = field(default_factory=deque)
    transforms: deque = field(default_factory=deque)

    def advance(self, time_s: float, warp: np.ndarray | None) -> None:
        """A new frame at ``time_s`` whose picture is the previous one's through ``warp`` ((2, 3) or (3, 3))."""
        if self.times:
            self.current = as_3x3(warp) @ self.current
        self.times.append(float(time_s))
        self.transforms.append(self.current.copy())
        while self.times and self.times[0] < time_s - self.keep_s:
            self.times.popleft()
            self.transforms.popleft()

    def at(self, time_s: float) -> np.ndarray:
        """The scene -> picture transform of the last frame at or before ``time_s`` (the oldest kept before)."""
        if not self.times:
            return np.eye(3)
        k = int(np.searchsorted(np.asarray(self.times), time_s, side="right")) - 1
        return self.transforms[max(k, 0)]

    @property
    def moved(self) -> bool:
        """Whether the camera moved at all so far (else scene and picture coordinates are the same)."""
        return not np.allclose(self.current, np.eye(3))

    def to_scene(self, time_s: float, xyxy: np.ndarray) -> np.ndarray:
        """(K, 4) boxes of the frame at ``time_s`` in scene coordinates."""
        return map_boxes(np.linalg.inv(self.at(time_s)), xyxy)

    def to_picture(self, time_s: float, xyxy: np.ndarray) -> np.ndarray:
        """(K, 4) scene boxes where the frame at ``time_s`` shows them."""
        return map_boxes(self.at(time_s), xyxy)

    def point_to_picture(self, time_s: float, x: float, y: float) -> tuple[float, float]:
        """A scene point where the frame at ``time_s`` shows it."""
        p = self.at(time_s) @ np.array([x, y, 1.0])
        return float(p[0] / p[2]), float(p[1] / p[2])
