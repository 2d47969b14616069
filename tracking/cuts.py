"""Cuts between shots (an edited video, a stream switching cameras): the frame shows another picture altogether.

Across a cut nothing that links people by where they were holds: the tracker would carry an id onto whoever
stands where someone stood in the other shot, the re-linker and the repairs would extrapolate paths into another
scene. So at a cut the pipeline resets the tracker (new ids; ours never repeat), the merge stage starts its paths,
history and camera path afresh (``MergeStep.cut``), and the people estimate pairs no one across it. Face (and
Re-ID body) signatures still join someone seen in two shots.

A cut is a frame whose 32x18 thumbnail correlates with the previous frame's by less than ``CUT_CORRELATION``
(normalised cross-correlation over the three colour channels). On PETS09-S2L1 consecutive frames correlate by 0.976
and more, through the scoreboard's swinging window (a hand-held camera's pace) by 0.915 and more, the Intel GIFs by
0.99; a cut between PETS09 and its mirror image (another camera on the square) by 0.17-0.35.
"""

from __future__ import annotations

import cv2
import numpy as np

CUT_CORRELATION = 0.6
THUMB_WH = (32, 18)
MIN_STD = 2.0  # grey levels: a flatter thumbnail (a black frame) says nothing about a cut


class SceneCuts:
    """``__call__(image) -> bool``: whether this frame starts a new shot (never the first frame)."""

    def __init__(self, threshold: float = CUT_CORRELATION) -> None:
        self.threshold = threshold
        self.previous: np.ndarray | None = None

    def __call__(self, image: np.ndarray) -> bool:
        step = max(1, image.shape[1] // 256)  # every step-th pixel first: the thumbnail's cost stays small at 4K
        thumb = cv2.resize(image[::step, ::step], THUMB_WH, interpolation=cv2.INTER_AREA).astype(np.float32)
        previous, self.previous = self.previous, thumb
        if previous is None or previous.shape != thumb.shape:
            return False
        a = thumb - thumb.mean(axis=(0, 1))
        b = previous - previous.mean(axis=(0, 1))
        na, nb = float((a * a).sum()), float((b * b).sum())
        if min(na, nb) < MIN_STD ** 2 * a.size:
            return False
        return float((a * b).sum()) / np.sqrt(na * nb) < self.threshold
