"""How many people, when the tracker lost some of them and found them again as new identities.

People do not appear out of thin air in the middle of a picture, nor vanish there: they walk in and out across its
edges (or are already there when the video starts, or still there when it ends). An identity that is first seen
mid-picture is someone the tracker lost (occlusion, missed detections) and found again, unless someone really
came out of a door there. Matching identities that vanished mid-picture to identities that appeared mid-picture
shortly after and within walking reach (a maximum bipartite matching: each one explains at most one other) gives
the number of re-found people; ``people = identities - re-found``. Each matched pair is only *possibly* the same
person (the estimate does not join them: their labels stay apart); the count is what the matching is for.

On PETS09-S2L1 (19 people) this gives 19 from the default stack's 55 identities and 21 from YOLOX-nano's 29
(``python -m benchmarks.real``), and 18-25 over eight tracker/detector variants whose identity counts range from 26
to 65.
It undercounts where people really enter or leave mid-picture (a door, stairs, far away out of the detector's
reach): ``people`` is reported next to ``identities``, never instead of them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

EDGE = 0.04  # a box within this share of the frame's width/height of an edge is at the edge
MAX_GAP_S = 5.0  # an identity appearing this long after another vanished can still be it
SPEED_H = 1.0  # walking reach: box heights per second of the gap ...
REACH_H = 0.5  # ... plus this many box heights
SETTLE_S = 1.0  # identities first seen within this of the start were there already (not arrivals)


@dataclass
class PeopleEstimate:
    people: int  # identities - refound
    identities: int
    refound: int  # identities that appeared mid-picture where one that vanished mid-picture could have gone
    appeared_mid_picture: int
    vanished_mid_picture: int
    max_gap_s: float = MAX_GAP_S

    def as_dict(self) -> dict:
        return {**asdict(self), "assumes": "people enter and leave across the picture's edges (or are there at the "
                "start or the end); an identity appearing mid-picture within max_gap_s and walking reach of one "
                "that vanished mid-picture is counted as that person found again"}


def at_edge(xyxy: np.ndarray, frame_wh: tuple[int, int], edge: float = EDGE) -> np.ndarray:
    """(N,) bool: boxes ``xyxy (N, 4)`` touching the edge zone of a ``frame_wh`` frame."""
    width, height = frame_wh
    xyxy = np.asarray(xyxy, np.float64).reshape(-1, 4)
    return ((xyxy[:, 0] < edge * width) | (xyxy[:, 2] > (1 - edge) * width)
            | (xyxy[:, 1] < edge * height) | (xyxy[:, 3] > (1 - edge) * height))


def estimate_people(ends: np.ndarray, frame_wh: tuple[int, int], start_s: float, *, max_gap_s: float = MAX_GAP_S,
                    speed_h: float = SPEED_H, reach_h: float = REACH_H, settle_s: float = SETTLE_S,
                    edge: float = EDGE, cuts_s: tuple[float, ...] = ()) -> PeopleEstimate:
    """``ends (N, 2, 5)``: per counted identity its first and last sighting as ``t, x1, y1, x2, y2``; the video
    started at ``start_s``; ``cuts_s``: times of cuts between shots (``tracking.cuts``), across which no one is
    found again. See the module docstring."""
    ends = np.asarray(ends, np.float64).reshape(-1, 2, 5)
    if not len(ends) or min(frame_wh) <= 0:
        return PeopleEstimate(len(ends), len(ends), 0, 0, 0, max_gap_s)
    first, last = ends[:, 0], ends[:, 1]
    appeared = np.flatnonzero(~at_edge(first[:, 1:], frame_wh, edge) & (first[:, 0] > start_s + settle_s))
    vanished = np.flatnonzero(~at_edge(last[:, 1:], frame_wh, edge))
    pairs = _possible_pairs(first[appeared], last[vanished], max_gap_s, speed_h, reach_h, same=(appeared, vanished))
    if len(pairs) and len(cuts_s):  # a vanishing and an appearance in two shots are not one person found again
        cuts = np.sort(np.asarray(cuts_s, np.float64))
        shot_of = lambda t: np.searchsorted(cuts, t, side="right")  # noqa: E731
        pairs = pairs[shot_of(last[vanished][pairs[:, 0], 0]) == shot_of(first[appeared][pairs[:, 1], 0])]
    refound = 0
    if len(pairs):
        graph = csr_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])),
                           shape=(len(vanished), len(appeared)))
        refound = int((maximum_bipartite_matching(graph, perm_type="column") >= 0).sum())
    return PeopleEstimate(len(ends) - refound, len(ends), refound, len(appeared), len(vanished), max_gap_s)


def _possible_pairs(first: np.ndarray, last: np.ndarray, max_gap_s: float, speed_h: float, reach_h: float,
                    same: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """(P, 2) (vanished row, appeared row) pairs where the appearance ``first (A, 5)`` could be the vanishing
    ``last (V, 5)`` found again: later by at most ``max_gap_s`` and within walking reach. Only appearances inside
    each vanishing's time window are looked at (memory grows with the pairs, not with V x A)."""
    appeared, vanished = same
    order = np.argsort(first[:, 0], kind="stable")
    times = first[order, 0]
    pairs = []
    for v, (t, x1, y1, x2, y2) in enumerate(last):
        window = order[np.searchsorted(times, t, side="right"):np.searchsorted(times, t + max_gap_s, side="right")]
        window = window[appeared[window] != vanished[v]]
        if not len(window):
            continue
        gap = first[window, 0] - t
        centre = (first[window, 1:3] + first[window, 3:5]) / 2
        distance = np.hypot(centre[:, 0] - (x1 + x2) / 2, centre[:, 1] - (y1 + y2) / 2)
        height = np.maximum(y2 - y1, first[window, 4] - first[window, 2])
        reachable = window[distance <= height * (reach_h + speed_h * gap)]
        pairs += [(v, a) for a in reachable.tolist()]
    return np.array(pairs, np.int64).reshape(-1, 2)
