"""What each frame is to the tracker: the shot going on, a cut to another one, garbage, or a repeat of the last.

Cuts between shots (an edited video, a stream switching cameras): the frame shows another picture altogether.

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
between shots, a stream's grey glitch) says nothing: the frame after it is compared with the last one before it.

A stream also decodes frames as garbage (a lost packet: the picture smeared, grey or green from some row down,
blocks from the wrong places). Such a frame is no shot of its own, and the tracker is better off without it (its
boxes are missing or made up there). So the check looks one frame ahead (the pipeline hands it the next frame):
a frame whose picture differs, in at least two of its quarters, from both the frame before it and the frame
after it, while those two agree there, is garbage: ``GLITCH``, left out (the pipeline neither detects nor tracks
on it, as if the stream had dropped it). A frame unlike the one before it in the whole is a cut (``CUT``) only if
the next frame shows the same new picture; while the pictures keep changing from frame to frame (garbage over
several frames) they are left out too, for at most ``max_suspect_s``, after which the frame then is taken as a
new shot. PETS09-S2L1 with ten frames of such garbage (scratch run: grey, smeared, green or shuffled blocks over
30-100 % of the picture; four of them over 70-90 % were taken for cuts): the default stack counted 44 identities
(23 on the clean clip), 27 with the cut check off, and 25 once the four were left out rather than cut at.

A frame can also repeat the last one (footage filmed at 10 fps and stored at 30 shows each frame three times; a
webcam in low light repeats frames): its 160x90 grey copy is nowhere more than ``REPEAT_DIFF`` grey levels off
the last frame processed (``REPEAT``). Detecting and tracking on it again would only show the tracker people who
stop and jump; the pipeline shows the last frame's boxes again instead, as for a frame the detector's stride
skips, and takes no age/gender vote from it. At least one frame in ``max_repeat_s`` is processed all the same.
"""

from __future__ import annotations

import cv2
import numpy as np

CUT_CORRELATION = 0.6
THUMB_WH = (32, 18)
MIN_STD = 2.0  # grey levels: a flatter thumbnail (a black frame, a grey glitch) says nothing about a cut
FLAT_CHANGE = 20.0  # a flat quarter (sky, a wall) changed when its mean colour moved by this many levels
TEXTURED_STD = 8.0  # ... or when it was (or is now) a textured one, varying by this many grey levels


SAME, CUT, GLITCH, REPEAT = "same", "cut", "glitch", "repeat"  # SceneCuts' verdicts on a frame
GARBAGE_QUARTERS = 2  # a frame unlike both neighbours in this many quarters (where they agree) is garbage
FINGERPRINT_WH = (160, 90)  # grey picture a repeated frame is compared by ...
REPEAT_DIFF = 4.0  # ... differing from the last frame processed by less than this many grey levels anywhere


class SceneCuts:
    """``__call__(image, time_s, next_image) -> SAME | CUT | GLITCH | REPEAT``: whether this frame goes on the
    shot, starts a new one (never the first frame), is left out (garbage; pictures changing from frame to frame),
    or repeats the last frame processed (nothing to detect or track on: its boxes are shown again).
    ``next_image`` is the frame after it (None at the end)."""

    def __init__(self, threshold: float = CUT_CORRELATION, max_suspect_s: float = 1.0,
                 max_repeat_s: float = 1.0) -> None:
        self.threshold = threshold
        self.max_suspect_s = max_suspect_s
        self.max_repeat_s = max_repeat_s  # a frame is processed at least this often, repeated or not
        self.processed: tuple[np.ndarray, float] | None = None  # fingerprint and time of the last frame processed
        self.repeats = 0  # frames found to repeat the last one processed (REPEAT)
        self.shot: np.ndarray | None = None  # thumbnail of the shot's last frame kept
        self.suspect_since_s: float | None = None  # since when the frames have been left out (changing pictures)
        self._next: tuple[np.ndarray, np.ndarray] | None = None  # (next image, its thumbnail): the next call's
        self.cuts_s: list[float] = []  # when each cut was declared
        self.left_out = 0  # frames left out (GLITCH)

    def report(self) -> dict:
        """What run.json says about the shots: ``cuts_s`` (times of the cuts), ``frames_left_out``,
        ``frames_repeated``."""
        return {"cuts_s": [round(t, 2) for t in self.cuts_s], "frames_left_out": self.left_out,
                "frames_repeated": self.repeats}

    def __call__(self, image: np.ndarray, time_s: float, next_image: np.ndarray | None = None) -> str:
        step = max(1, image.shape[1] // 320)  # every step-th pixel first (twice the fingerprint: noise averages out)
        small = cv2.resize(image[::step, ::step], FINGERPRINT_WH, interpolation=cv2.INTER_AREA)
        fingerprint = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)
        if self.processed is not None and time_s - self.processed[1] <= self.max_repeat_s \
                and float(np.abs(fingerprint - self.processed[0]).max()) < REPEAT_DIFF:
            self.repeats += 1
            return REPEAT
        verdict = self._verdict(image, time_s, next_image)
        if verdict != GLITCH:
            self.processed = (fingerprint, time_s)
        return verdict

    def _verdict(self, image: np.ndarray, time_s: float, next_image: np.ndarray | None) -> str:
        now = self._thumb(image)
        following = None if next_image is None else self._thumb(next_image)
        self._next = None if next_image is None else (next_image, following)
        if _flat(now):
            return SAME  # a blank frame (black between shots, a stream's grey glitch): the next one is compared
        if self.shot is None:  # with the last picture before it
            self.shot = now
            return SAME
        unlike_before = self._changed_quarters(now, self.shot)
        if np.count_nonzero(unlike_before) >= GARBAGE_QUARTERS and following is not None and not _flat(following):
            garbage = unlike_before & self._changed_quarters(now, following) \
                & ~self._changed_quarters(following, self.shot)
            if np.count_nonzero(garbage) >= GARBAGE_QUARTERS:
                self.left_out += 1
                return GLITCH
        if np.count_nonzero(unlike_before) < 3 or _correlation(now, self.shot) >= self.threshold:
            self.shot, self.suspect_since_s = now, None
            return SAME
        steady = following is None or _flat(following) or not self._other_picture(following, now)
        if self.suspect_since_s is None:
            self.suspect_since_s = time_s
        if steady or time_s - self.suspect_since_s > self.max_suspect_s:
            self.shot, self.suspect_since_s = now, None
            self.cuts_s.append(time_s)
            return CUT
        self.left_out += 1
        return GLITCH

    def _thumb(self, image: np.ndarray) -> np.ndarray:
        if self._next is not None and self._next[0] is image:
            return self._next[1]  # computed as the last call's next frame
        step = max(1, image.shape[1] // 256)  # every step-th pixel first: the thumbnail's cost stays small at 4K
        return cv2.resize(image[::step, ::step], THUMB_WH, interpolation=cv2.INTER_AREA).astype(np.float32)

    def _other_picture(self, now: np.ndarray, before: np.ndarray) -> bool:
        """Whether ``now`` shows another picture than ``before``: correlated by less than the threshold in the whole
        and in at least three of the four quarters."""
        if _correlation(now, before) >= self.threshold:
            return False
        return np.count_nonzero(self._changed_quarters(now, before)) >= 3

    def _changed_quarters(self, now: np.ndarray, before: np.ndarray) -> np.ndarray:
        """(4,) bool: which quarters of the thumbnail show something else (a flat one: whether its colour changed)."""
        h, w = now.shape[0] // 2, now.shape[1] // 2
        changed = []
        for y in (0, h):
            for x in (0, w):
                a, b = now[y:y + h, x:x + w], before[y:y + h, x:x + w]
                correlation = _correlation(a, b)
                if not np.isnan(correlation):
                    changed.append(correlation < self.threshold)
                elif max(_spread(a), _spread(b)) >= TEXTURED_STD:
                    changed.append(True)  # a textured quarter went flat (grey, green) or the other way round
                else:
                    changed.append(float(np.abs(a.mean(axis=(0, 1)) - b.mean(axis=(0, 1))).max()) > FLAT_CHANGE)
        return np.array(changed)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation of two (H, W, 3) pictures (NaN where either is flat: ``MIN_STD``)."""
    if _flat(a) or _flat(b):
        return float("nan")
    a = a - a.mean(axis=(0, 1))
    b = b - b.mean(axis=(0, 1))
    return float((a * b).sum()) / np.sqrt(float((a * a).sum()) * float((b * b).sum()))


def _spread(picture: np.ndarray) -> float:
    """How much an (H, W, 3) picture varies: the standard deviation of its pixels, mean over the channels."""
    return float(picture.reshape(-1, picture.shape[-1]).std(axis=0).mean())


def _flat(picture: np.ndarray) -> bool:
    """Whether an (H, W, 3) picture varies by less than ``MIN_STD`` grey levels (all channels together)."""
    return _spread(picture) < MIN_STD
