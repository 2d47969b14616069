"""The last few seconds of each person in view, kept once for the cues that look back in time.

Per identity: its boxes (t, cx, cy, w, h) and clothing colour signatures with whether the box was unoccluded, at
most one sample per ``sample_s`` and none older than ``keep_s``; when it was first and last seen and which tracker
id last showed it. Per kept frame: every identity's centre and height (for one vectorised look at who was where).
The swap repair (``tracking.swaps``) and the jump repair (``tracking.jumps``) read it; after either repairs two
identities, ``exchange`` gives each the other's samples from the moment of the repair on. State is bounded by
the people in view times ``keep_s / sample_s``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np


@dataclass
class PeopleHistory:
    keep_s: float = 6.0
    sample_s: float = 0.05  # at most one sample per identity per this many seconds
    boxes: dict[int, deque] = field(default_factory=dict)  # identity -> (t, cx, cy, w, h)
    colours: dict[int, deque] = field(default_factory=dict)  # identity -> (t, colour (D,), unoccluded)
    first_s: dict[int, float] = field(default_factory=dict)
    last_s: dict[int, float] = field(default_factory=dict)
    shown_by: dict[int, int] = field(default_factory=dict)  # identity -> the tracker id that last showed it
    frames: deque = field(default_factory=deque)  # (t, ids (K,), centres (K, 2), heights (K,)) every sample_s

    def observe(self, time_s: float, ids: np.ndarray, xyxy: np.ndarray, colours: np.ndarray, clean: np.ndarray,
                tracks: np.ndarray | None = None) -> None:
        """One frame's person boxes ``xyxy (K, 4)`` under their identity ``ids (K,)``, their colour signatures
        ``(K, D)``, whether each was unoccluded ``(K,) bool`` and the tracker ids showing them ``(K,)`` (default:
        the identity ids)."""
        ids = np.asarray(ids)
        tracks = ids if tracks is None else np.asarray(tracks)
        xyxy = np.asarray(xyxy, np.float64).reshape(-1, 4)
        for k, identity in enumerate(ids.tolist()):
            self.first_s.setdefault(identity, time_s)
            self.shown_by[identity] = int(tracks[k])
            if self.last_s.get(identity) == time_s:  # two boxes of one identity in one frame: keep the first
                continue
            self.last_s[identity] = time_s
            history = self.boxes.setdefault(identity, deque())
            if history and time_s - history[-1][0] < self.sample_s:
                continue
            x1, y1, x2, y2 = xyxy[k]
            history.append((time_s, (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, max(y2 - y1, 1.0)))
            self.colours.setdefault(identity, deque()).append((time_s, np.asarray(colours[k]), bool(clean[k])))
        if len(ids) and (not self.frames or time_s - self.frames[-1][0] >= self.sample_s):
            centres = np.stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, (xyxy[:, 1] + xyxy[:, 3]) / 2], axis=1)
            self.frames.append((time_s, ids.copy(), centres, np.maximum(xyxy[:, 3] - xyxy[:, 1], 1.0)))
        for store in (self.boxes, self.colours):
            for history in store.values():
                while history and history[0][0] < time_s - self.keep_s:
                    history.popleft()
        while self.frames and self.frames[0][0] < time_s - self.keep_s:
            self.frames.popleft()
        self.forget({i for i, t in self.last_s.items() if t < time_s - self.keep_s})

    def mean_colour(self, identity: int, start_s: float, end_s: float, clean_only: bool = False,
                    min_samples: int = 1) -> np.ndarray | None:
        """Mean colour signature of ``identity`` in ``[start_s, end_s)``: of its unoccluded boxes (only those with
        ``clean_only``, else of every box when none was unoccluded); None with fewer than ``min_samples``."""
        picked = [(c, ok) for t, c, ok in self.colours.get(identity, ()) if start_s <= t < end_s]
        clean = [c for c, ok in picked if ok]
        chosen = clean if clean or clean_only else [c for c, _ in picked]
        return np.mean(chosen, axis=0) if len(chosen) >= max(min_samples, 1) else None

    def samples(self, identity: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What is kept of ``identity``: boxes ``(N, 5)`` (t, cx, cy, w, h), colour signatures ``(N, D)`` and whether
        each box was unoccluded ``(N,)``."""
        boxes = np.array(self.boxes.get(identity, ()), np.float64).reshape(-1, 5)
        kept = list(self.colours.get(identity, ()))
        colours = np.array([c for _, c, _ in kept], np.float32) if kept else np.zeros((0, 0), np.float32)
        return boxes, colours, np.array([ok for _, _, ok in kept], bool)

    def exchange(self, a: int, b: int, since_s: float, lost: int | None = None) -> None:
        """After a repair (a swap's, a jump's or a takeover's): the samples of identities ``a`` and ``b`` taken after
        ``since_s`` belong to the other one, and each tracker id now shows the other identity. An identity with
        nothing left from before starts at its first sample; identity ``lost`` (one of the two that no tracker
        shows any more) was last seen at its last sample."""
        for store in (self.boxes, self.colours):
            old_a, new_a = _split(store.get(a, ()), since_s)
            old_b, new_b = _split(store.get(b, ()), since_s)
            store[a], store[b] = deque(old_a + new_b), deque(old_b + new_a)
        for t, ids, _, _ in self.frames:
            if t > since_s:
                is_a, is_b = ids == a, ids == b
                ids[is_a], ids[is_b] = b, a
        for identity in (a, b):
            if self.boxes[identity] and self.boxes[identity][0][0] > since_s:
                self.first_s[identity] = self.boxes[identity][0][0]
        if a in self.shown_by and b in self.shown_by:
            self.shown_by[a], self.shown_by[b] = self.shown_by[b], self.shown_by[a]
        if lost is not None and self.boxes.get(lost):
            self.last_s[lost] = self.boxes[lost][-1][0]

    def split(self, a: int, new: int, since_s: float) -> None:
        """After a split: identity ``a``'s samples taken after ``since_s`` are identity ``new``'s, and the tracker id
        that showed ``a`` now shows ``new``; ``a`` was last seen at its last sample before."""
        last = self.last_s.get(a)
        self.exchange(a, new, since_s, lost=a)
        if last is not None:
            self.last_s[new] = last
        if a in self.shown_by:
            self.shown_by[new] = self.shown_by.pop(a)

    def forget(self, identities: set[int]) -> None:
        for identity in identities:
            for store in (self.boxes, self.colours, self.first_s, self.last_s, self.shown_by):
                store.pop(identity, None)


def _split(samples, since_s: float) -> tuple[list, list]:
    """Samples ``(t, ...)`` up to ``since_s`` and after it."""
    samples = list(samples)
    return [x for x in samples if x[0] <= since_s], [x for x in samples if x[0] > since_s]


def straight_path(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Least-squares constant-velocity path of ``boxes (N, >=3)`` (t, cx, cy, ...): (centre at t0 (2,), velocity
    (2,) per second, t0)."""
    t0 = float(boxes[:, 0].mean())
    t = boxes[:, 0] - t0
    centre = boxes[:, 1:3].mean(axis=0)
    velocity = (t @ (boxes[:, 1:3] - centre)) / (t @ t) if float(t @ t) > 0 else np.zeros(2)
    return centre, velocity, t0


def stretched_window(boxes: np.ndarray, at_s: float, span_s: float, min_boxes: int, longest_s: float,
                     after: bool = False) -> np.ndarray:
    """Of ``boxes (N, >=1)`` (time first, in order), those of the ``span_s`` up to ``at_s`` (``after``: from just after
    it), stretched away from ``at_s`` up to ``longest_s`` to hold ``min_boxes`` at low frame rates (fewer where there
    are not that many)."""
    at = boxes[:, 0]
    if after:
        near = boxes[(at > at_s) & (at <= at_s + longest_s)]
        return near[:max(min_boxes, int(np.count_nonzero(near[:, 0] <= at_s + span_s)))]
    near = boxes[(at >= at_s - longest_s) & (at <= at_s)]
    return near[-max(min_boxes, int(np.count_nonzero(near[:, 0] >= at_s - span_s))):] if len(near) else near
