"""An identity whose box turned back and changed clothes at one moment is two people: split it there.

Where one person leaves the picture (or goes behind something) just as another comes in at the same place, a
motion tracker can carry the first one's id onto the second: the box turns back on itself and its clothing
colours change. If the second person had no identity of its own, no repair that exchanges two identities
(``tracking.swaps``, ``tracking.jumps``, ``tracking.takeovers``) can mend it: the identity then spans two people
(PETS09-S2L1 through a 640x480 window: a man walking out at the right edge as another walks in there; his id walked
back in with the newcomer).

An identity J (in view, or lost since t) is split at a moment t when, judged ``wait_s`` after t (every repair
that exchanges two identities has had its chance by then; t is then moved to where the straight paths before and
after fit its boxes best, the apex of the V its boxes walked):

- J was seen at least ``before_s`` before t;
- its straight path over the ``before_s`` before t and that over the ``after_s`` after t are both walking (at
  least ``min_speed_h`` box heights a second) and point at least ``min_turn_deg`` apart (it turned back);
- its clothing colours before t (the ``before_s`` up to it) and since (everything after it) are at least
  ``min_colour_dist`` apart: different clothes, not the same person turning round (people who turned back on
  PETS09-S2L1 kept colours within 0.42 of themselves; the two people of each id that turned back onto someone
  else were 0.49-0.78 apart).

Windows that need ``min_obs`` boxes stretch to hold them at low frame rates (up to ``longest_s``), with no break of
more than ``max_gap_s`` in them (a tracker that lost its box for a while says nothing of a turn). The caller gives
J's boxes since t to a new identity. It reads the last seconds of everyone in view from
``tracking.people_history`` (observed by the caller); its own state is a check time per identity.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from tracking.people_history import PeopleHistory, straight_path, stretched_window
from tracking.relink import colour_distance

log = logging.getLogger(__name__)


@dataclass
class Split:
    identity: int  # J: the identity that showed two people
    since_s: float  # t: its last box of the first one


@dataclass
class SplitDetector:
    history: PeopleHistory = field(default_factory=PeopleHistory)  # observed by the caller
    wait_s: float = 3.0  # a turn is judged this long after it
    before_s: float = 1.0
    after_s: float = 1.0
    min_speed_h: float = 0.2
    min_turn_deg: float = 135.0
    min_colour_dist: float = 0.5
    min_obs: int = 3
    longest_s: float = 2.0
    max_gap_s: float = 0.6  # the boxes of both windows come at most this far apart
    check_every_s: float = 0.5  # each identity is judged this often, over the moments of that long (bounded cost)
    next_check_s: dict[int, float] = field(default_factory=dict)
    split: set[int] = field(default_factory=set)  # identities already split (lost from then on)

    def decide(self, time_s: float) -> list[Split]:
        """Identities seen in the last ``wait_s`` (in view or lost since) that turned back onto someone else ``wait_s``
        before ``time_s`` (see the module)."""
        splits = []
        for j, last in list(self.history.last_s.items()):
            if time_s - last > self.wait_s or j in self.split or time_s < self.next_check_s.get(j, -np.inf):
                continue
            self.next_check_s[j] = time_s + self.check_every_s
            boxes = np.array(self.history.boxes.get(j, ()), np.float64).reshape(-1, 5)
            at = boxes[:, 0]
            start, end = time_s - self.wait_s - self.check_every_s, time_s - self.wait_s
            moments = at[(at > start) & (at <= end)]
            if not len(moments) or not self._turned_somewhere(boxes, start, end):
                continue
            first = next((t for t in moments.tolist() if self._turn(j, boxes, t, time_s) is not None), None)
            if first is None:
                continue
            # where it turned: of the moments up to ``after_s`` later, the one whose straight paths before and
            # after fit its boxes best (a V's apex)
            turns = [(misfit, t) for t in at[(at >= first) & (at <= first + self.after_s)].tolist()
                     if (misfit := self._turn(j, boxes, t, time_s)) is not None]
            since_s = min(turns)[1]
            log.debug("split: identity %d turned back at %.2fs into other clothes", j, since_s)
            splits.append(Split(j, since_s))
            self.split.add(j)
        return splits

    def _turned_somewhere(self, boxes: np.ndarray, start: float, end: float) -> bool:
        """A quick look first (most people walk on): whether the straight paths of ``boxes (N, 5)`` over the
        ``before_s`` before ``start`` and the ``after_s`` after ``end`` point more than 90 degrees apart."""
        at = boxes[:, 0]
        pre, post = boxes[(at >= start - self.before_s) & (at <= start)], boxes[(at > end) & (at <= end + self.after_s)]
        if len(pre) < 2 or len(post) < 2:
            return True  # too few to tell (low frame rates): look closely
        return float(straight_path(pre)[1] @ straight_path(post)[1]) < 0.0

    def _turn(self, j: int, boxes: np.ndarray, t: float, time_s: float) -> float | None:
        """If ``j`` turned back walking into other clothes at ``t``: how badly its two straight paths (before and
        after) fit its boxes there (mean squared distance, box heights). Else None."""
        if self.history.first_s[j] > t - self.before_s:
            return None
        pre = stretched_window(boxes, t, self.before_s, self.min_obs, self.longest_s)
        post = stretched_window(boxes, t, self.after_s, self.min_obs, self.longest_s, after=True)
        if len(pre) < self.min_obs or len(post) < self.min_obs \
                or np.diff(np.concatenate([pre[:, 0], post[:, 0]])).max() > self.max_gap_s:
            return None  # too few boxes, or a break in them: no path to judge on one side
        height = float(np.median(boxes[:, 4]))
        fits = straight_path(pre), straight_path(post)
        before, after = fits[0][1], fits[1][1]
        speeds = float(np.linalg.norm(before)), float(np.linalg.norm(after))
        if min(speeds) < self.min_speed_h * height:
            return None
        turn = float(np.degrees(np.arccos(np.clip(float(before @ after) / (speeds[0] * speeds[1]), -1.0, 1.0))))
        if turn < self.min_turn_deg:
            return None
        then = self.history.mean_colour(j, t - self.before_s, t + 1e-6)
        since = self.history.mean_colour(j, t + 1e-6, time_s + 1e-6)
        if then is None or since is None or float(colour_distance(then, since)) < self.min_colour_dist:
            return None
        misfit = [np.hypot(*(part[:, 1:3] - (c + np.outer(part[:, 0] - t0, v))).T) / height
                  for part, (c, v, t0) in zip((pre, post), fits, strict=True)]
        return float(np.mean(np.concatenate(misfit) ** 2))

    def forget(self, identities: set[int]) -> None:
        for identity in identities:
            self.next_check_s.pop(identity, None)
            self.split.discard(identity)
