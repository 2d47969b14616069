"""Repair of tracker id swaps between two people who met: clothing colours before and after the meeting.

When two people's boxes overlap (walking past or alongside each other), a motion tracker can give each the other's
id afterwards; on PETS09-S2L1 such swaps are most of the identities that span two people. For every pair of
identities whose boxes overlapped, the mean colours (``relink.colour_signature`` of unoccluded boxes) of each in
the ``window_s`` before the meeting are compared with those in the ``window_s`` after they parted: when each one
afterwards looks like the *other* one before (both cross distances at most ``max_colour_dist``) and the crossed
pairing beats the straight one by ``margin`` (sum of the two distances), the people were swapped. Paths are a
second, independent cue: each one's straight path over the ``window_s`` before the meeting, continued, is met by the
boxes of the ``window_s`` after it of one of the two (``_paths_crossed``). When the crossed pairing continues them
better by ``path_margin_h`` box heights after a meeting of at most ``window_s``, colours that lean the crossed way
by ``colour_lean`` are enough; when the paths say straight by that much, colours alone are not (on PETS09-S2L1,
with three detectors at 10 and 5 fps: the four real swaps seen continued the crossed paths 0.55-1.2 box heights
better, every candidate whose colours leant crossed without a swap 0.2-2.4 worse, the most those leant was 0.15,
and one real swap had colours only 0.27 apart). Paths cannot tell a swap from two people who both turned back
where they met (their boxes are the same): there only the colours' lean speaks. A tracker can
also jump from its person onto someone it met, while its own person walks on under a new id born at the meeting:
when that young track looks like the old identity did before (at most ``max_colour_dist``) and the old identity
afterwards does not (worse by ``margin``), the two identities are exchanged too. Alike clothes give no verdict:
nothing is changed then. The ids are exchanged from the moment the two boxes overlapped most in the last
``recent_s`` of the meeting (while they overlap either could be right; the tracker most often goes astray where
they are closest; two who walk together for long part at the end). Colour samples come from
``tracking.people_history`` (observed by the caller); own state: one record per meeting in progress.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mivolo.core.boxes import box_area, intersection
from tracking.people_history import PeopleHistory, straight_path
from tracking.relink import colour_distance


@dataclass
class Meeting:
    first_s: float
    last_s: float
    before: tuple[np.ndarray, np.ndarray] | None  # mean colours of the two just before they met (None: unknown)
    young: int | None = None  # the one of the two that first appeared at the meeting (a tracker jump's new id)
    before_old: np.ndarray | None = None  # then: the other's mean colour just before
    closest_s: float = 0.0  # when their boxes overlapped most (the likeliest moment of a swap)
    closest: float = -1.0  # that overlap (IoU)


@dataclass
class SwapDetector:
    history: PeopleHistory = field(default_factory=PeopleHistory)  # colour samples; observed by the caller
    window_s: float = 1.0
    margin: float = 0.4  # colours alone: the crossed pairing is closer by this much (sum of the two distances)
    colour_lean: float = 0.2  # colours closer by at least this much, when the paths say crossed too
    path_margin_h: float = 0.4  # paths: the crossed pairing continues them better by this many box heights (summed)
    max_colour_dist: float = 0.35
    min_samples: int = 3
    give_up_s: float = 3.0  # a meeting whose pair is not both seen cleanly this long after parting is dropped
    recent_s: float = 3.0  # the moment of a swap is the highest overlap in the last this many seconds of a meeting
    meetings: dict[tuple[int, int], Meeting] = field(default_factory=dict)

    def observe(self, time_s: float, ids: np.ndarray, xyxy: np.ndarray) -> None:
        """One frame's person boxes ``xyxy (K, 4)`` under their identity ``ids (K,)`` (after ``history`` saw them):
        overlapping pairs start or extend a meeting."""
        if len(ids) < 2:
            return
        boxes = np.asarray(xyxy, np.float32)
        shared = intersection(boxes, boxes)
        area = box_area(boxes)
        iou = shared / np.maximum(area[:, None] + area[None] - shared, 1e-6)
        np.fill_diagonal(iou, 0.0)
        for a, b in zip(*np.nonzero(np.triu(iou > 0)), strict=True):
            key = (min(int(ids[a]), int(ids[b])), max(int(ids[a]), int(ids[b])))
            if key[0] == key[1]:
                continue
            meeting = self.meetings.get(key)
            if meeting is None:
                meeting = self.meetings[key] = self._meeting(key, time_s)
            meeting.last_s = time_s
            if iou[a, b] > meeting.closest or meeting.closest_s < time_s - self.recent_s:
                meeting.closest, meeting.closest_s = float(iou[a, b]), time_s

    def _meeting(self, key: tuple[int, int], time_s: float) -> Meeting:
        meeting = Meeting(time_s, time_s, self._means(key, time_s - self.window_s, time_s))
        young = [i for i in key if self.history.first_s.get(i, time_s) >= time_s - self.window_s]
        if meeting.before is None and len(young) == 1:
            old = key[1] if young[0] == key[0] else key[0]
            before_old = self._mean(old, time_s - self.window_s, time_s)
            if before_old is not None:
                meeting.young, meeting.before_old = young[0], before_old
        return meeting

    def _mean(self, identity: int, start_s: float, end_s: float) -> np.ndarray | None:
        """Mean colour of ``identity``'s unoccluded boxes in ``[start_s, end_s)`` (None: fewer than min_samples)."""
        return self.history.mean_colour(identity, start_s, end_s, clean_only=True, min_samples=self.min_samples)

    def _means(self, key: tuple[int, int], start_s: float, end_s: float) -> tuple[np.ndarray, np.ndarray] | None:
        means = [self._mean(identity, start_s, end_s) for identity in key]
        return None if means[0] is None or means[1] is None else (means[0], means[1])

    def decide(self, time_s: float) -> list[tuple[int, int, float]]:
        """``(a, b, since_s)``: pairs of identities whose people the tracker swapped when they met (and when: where
        their boxes overlapped most); each meeting is judged once, ``window_s`` after the two parted. The caller
        that gives the people their ids back calls ``PeopleHistory.exchange``."""
        swaps, taken = [], set()
        for key, meeting in list(self.meetings.items()):
            if time_s - meeting.last_s < self.window_s:
                continue
            judged = meeting.before is not None or meeting.young is not None
            after = self._means(key, meeting.last_s + 1e-6, time_s + 1e-6) if judged else None
            if after is None:
                if not judged or time_s - meeting.last_s > self.give_up_s:
                    del self.meetings[key]
                continue
            del self.meetings[key]
            if self._swapped(key, meeting, after, time_s) and not taken & set(key):
                swaps.append((*key, meeting.closest_s))
                taken |= set(key)
        return swaps

    def _swapped(self, key: tuple[int, int], meeting: Meeting, after: tuple[np.ndarray, np.ndarray],
                 time_s: float) -> bool:
        """Whether the colours (and paths) before and after the meeting say the two identities' people were
        exchanged."""
        if meeting.before is not None:
            (a0, b0), (a1, b1) = meeting.before, after
            straight = float(colour_distance(a0, a1) + colour_distance(b0, b1))
            crossed = (float(colour_distance(a0, b1)), float(colour_distance(b0, a1)))
            lead = straight - sum(crossed)
            if max(crossed) > self.max_colour_dist or lead < self.colour_lean:
                return False
            paths = self._paths_crossed(key, meeting, time_s)
            if paths is not None and paths <= -self.path_margin_h:
                return False  # the colours lean one way, the paths clearly the other: no verdict
            if lead >= self.margin:
                return True
            # the paths can tell a swap from two who passed, not from two who both turned back where they met
            # (same boxes): only for a short meeting, and the colours must lean crossed by colour_lean too
            return paths is not None and paths >= self.path_margin_h \
                and meeting.last_s - meeting.first_s <= self.window_s
        old_after, young_after = (after[1], after[0]) if meeting.young == key[0] else (after[0], after[1])
        kept = float(colour_distance(meeting.before_old, old_after))
        moved = float(colour_distance(meeting.before_old, young_after))
        return moved <= self.max_colour_dist and moved + self.margin <= kept

    def _paths_crossed(self, key: tuple[int, int], meeting: Meeting, time_s: float) -> float | None:
        """How much better (box heights, summed over the two) the crossed pairing continues the two straight paths
        walked in the ``window_s`` before the meeting than the straight pairing does, over their boxes since they
        parted (mean distance of each one's boxes from the path it would continue); None when a path or the boxes
        after are too few to say."""
        paths, after = [], []
        for identity in key:
            boxes = np.array(self.history.boxes.get(identity, ()), np.float64).reshape(-1, 5)
            pre = boxes[(boxes[:, 0] >= meeting.first_s - self.window_s) & (boxes[:, 0] < meeting.first_s)]
            post = boxes[(boxes[:, 0] > meeting.last_s) & (boxes[:, 0] <= min(time_s, meeting.last_s + self.window_s))]
            if len(pre) < self.min_samples or np.ptp(pre[:, 0]) < 0.5 * self.window_s or len(post) < self.min_samples:
                return None
            paths.append(straight_path(pre))
            after.append(post)

        def miss(path: tuple[np.ndarray, np.ndarray, float], boxes: np.ndarray) -> float:
            where = path[0] + np.outer(boxes[:, 0] - path[2], path[1])
            return float(np.mean(np.hypot(*(boxes[:, 1:3] - where).T) / np.maximum(boxes[:, 4], 1.0)))

        straight = miss(paths[0], after[0]) + miss(paths[1], after[1])
        crossed = miss(paths[0], after[1]) + miss(paths[1], after[0])
        return straight - crossed

    def repaired(self, identities: tuple[int, ...]) -> None:
        """Identities just exchanged by a repair: their meetings in progress are dropped (the colours kept from
        before them belong to the other identity now)."""
        self.meetings = {k: m for k, m in self.meetings.items() if not set(identities) & set(k)}

    def forget(self, identities: set[int]) -> None:
        """Meetings of identities that left memory are dropped."""
        if identities:
            self.meetings = {k: m for k, m in self.meetings.items() if not identities & set(k)}
