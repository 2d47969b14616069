"""Cuts between shots (an edited video, a stream switching cameras): the frame shows another picture altogether.

Across a cut nothing that links people by where they were holds: the tracker would carry an id onto whoever
stands where someone stood in the other shot, the re-linker and the repairs would extrapolate paths into another
scene. So at a cut the pipeline resets the tracker (new ids; ours never repeat), the merge stage starts its paths,
history and camera path afresh (``MergeStep.cut``), and the people estimate pairs no one across it. Face (and
Re-ID body) signatures still join someone seen in two shots.

A cut is a frame whose 32x18 thumbnail correlates with the previous frame's by less than ``CUT_CORRELATION``
(normalised cross-correlation over the three colour channels), in the whole and in at least three of its four
quarters: someone walking close past the camera changes half the picture, not all of it. On PETS09-S2L1
consecutive frames correlate by 0.976 and more, through the scoreboard's swinging window (a hand-held camera's
pace) by 0.915 and more (its quarters by 0.72 and more), the Intel GIFs by 0.99; a cut between PETS09 and its
mirror image (another camera on the square) by 0.17-0.35, each quarter by less than 0.5. A blank frame (black
between shots, a stream's grey glitch) is skipped: the frame after it is compared with the last one before it.
"""

from __future__ import annotations

import cv2
import numpy as np

CUT_CORRELATION = 0.6
THUMB_WH = (32, 18)
MIN_STD = 2.0  # grey levels: a flatter thumbnail (a black frame, a grey glitch) says nothing about a cut
FLAT_CHANGE = 20.0  # a flat quarter (sky, a wall) changed when its mean colour moved by this many levels


class SceneCuts:
    """``__call__(image) -> bool``: whether this frame starts a new shot (never the first frame)."""

    def __init__(self, threshold: float = CUT_CORRELATION) -> None:
        self.threshold = threshold
        self.previous: np.ndarray | None = None

    def __call__(self, image: np.ndarray) -> bool:
        step = max(1, image.shape[1] // 256)  # every step-th pixel first: the thumbnail's cost stays small at 4K
        thumb = cv2.resize(image[::step, ::step], THUMB_WH, interpolation=cv2.INTER_AREA).astype(np.float32)
        if _flat(thumb):
            return False  # a blank frame (black between shots, a stream's grey glitch): the next one is compared
        previous, self.previous = self.previous, thumb  # with the last picture before it
        if previous is None:
            return False
        if _correlation(thumb, previous) >= self.threshold:
            return False
        h, w = thumb.shape[0] // 2, thumb.shape[1] // 2
        quarters = [(slice(y, y + h), slice(x, x + w)) for y in (0, h) for x in (0, w)]
        return sum(self._changed(thumb[q], previous[q]) for q in quarters) >= 3

    def _changed(self, now: np.ndarray, before: np.ndarray) -> bool:
        """Whether a quarter of the thumbnail shows something else (a flat one: whether its colour changed)."""
        correlation = _correlation(now, before)
        if np.isnan(correlation):
            return float(np.abs(now.mean(axis=(0, 1)) - before.mean(axis=(0, 1))).max()) > FLAT_CHANGE
        return correlation < self.threshold


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation of two (H, W, 3) pictures (NaN where either is flat: ``MIN_STD``)."""
    if _flat(a) or _flat(b):
        return float("nan")
    a = a - a.mean(axis=(0, 1))
    b = b - b.mean(axis=(0, 1))
    return float((a * b).sum()) / np.sqrt(float((a * a).sum()) * float((b * b).sum()))


def _flat(picture: np.ndarray) -> bool:
    """Whether an (H, W, 3) picture varies by less than ``MIN_STD`` grey levels (all channels together)."""
    return float(picture.reshape(-1, picture.shape[-1]).std(axis=0).mean()) < MIN_STD
