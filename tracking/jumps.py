"""Repair of a tracker id that jumped onto another person: the path before the jump goes on under a new id.

When two people meet (one walks past another standing, two cross, one hides the other), a motion tracker can move
its box from its own person onto the other one; its person, seen again a moment later, gets a new id. The one
identity then spans two people and the count is right only by luck. On PETS09-S2L1 these jumps were most of the
identities spanning two people that were left after the swap repair (``tracking.swaps``), which needs both people
tracked on both sides of the meeting.

The jump shows in the paths: a young identity Y (seen for ``young_min_s``..``young_max_s``) whose own path, taken
back in time at its constant velocity, is where an older identity J's boxes were throughout the ``follow_s``
before the last time they were on it, which is within ``back_s`` before Y appeared (boxes over at least 80 % of
that span: J walked Y's way), while every box of J after it is off that path (J went elsewhere), and J is more
than ``apart_h`` box heights from Y now. "On the path" means within ``on_gate_h`` box heights, plus
``on_gate_h_per_s`` per second the path is taken back. The moment t of the jump is where J's boxes of the last
``follow_s`` up to then fit best as "on the path, then on a line of their own" (``_turning_point``; never before
a break in J's boxes). Then J's person is Y's, and J's boxes since t are someone else's. Clothing colours must
agree (no model): Y looks like J did in the second before t (at most ``max_colour_dist``) and better than J has
looked since t, by ``colour_margin``; only one J may fit. Two people who walk together until one turns away look
alike in motion: their colours decide, and alike clothes give no verdict. The caller exchanges the two identities
from t on (as a swap repair): J carries on with Y's track, Y takes J's track since t.

It reads the last seconds of everyone in view from ``tracking.people_history`` (observed by the caller); its own
state is a check time per young identity.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from tracking.people_history import PeopleHistory, straight_path, stretched_window
from tracking.relink import colour_distance

log = logging.getLogger(__name__)


@dataclass
class Jump:
    identity: int  # J: the identity whose tracker id moved onto someone else
    young: int  # Y: the young identity that carries on J's person
    since_s: float  # t: the last time J's box was on its own person


@dataclass
class JumpDetector:
    history: PeopleHistory = field(default_factory=PeopleHistory)  # observed by the caller
    young_min_s: float = 0.4  # a young identity is judged once its own velocity is known ...
    young_max_s: float = 2.0  # ... and until this long after it appeared
    back_s: float = 2.5  # the jump happened at most this long before the young identity appeared
    follow_s: float = 0.6  # the older identity walked the young one's path at least this long before the jump
    on_gate_h: float = 0.3  # box heights from the path that still count as on it ...
    on_gate_h_per_s: float = 0.1  # ... plus this many per second the path is taken back
    apart_h: float = 0.6  # the older identity's box is at least this many box heights from the young one's now
    max_colour_dist: float = 0.45  # (the colours of one moment against another's: relative, see ``colour_margin``)
    colour_margin: float = 0.1
    min_obs: int = 3
    check_every_s: float = 0.2  # a young identity is judged at most this often (bounded cost in crowds)
    judged: set[int] = field(default_factory=set)  # young identities already given to an older one (or repaired)
    next_check_s: dict[int, float] = field(default_factory=dict)

    def decide(self, time_s: float) -> list[Jump]:
        """Young identities in view at ``time_s`` that carry on an older identity's person (see the module)."""
        jumps, taken = [], set()
        visible = [i for i, t in self.history.last_s.items() if t == time_s]
        for young in visible:
            age = time_s - self.history.first_s[young]
            if young in self.judged or not self.young_min_s <= age <= self.young_max_s \
                    or time_s < self.next_check_s.get(young, -np.inf):
                continue
            self.next_check_s[young] = time_s + self.check_every_s
            ybox = np.array(self.history.boxes[young])
            if len(ybox) < self.min_obs:
                continue
            path = straight_path(ybox[ybox[:, 0] <= self.history.first_s[young] + 1.0])
            near = self._near_path(path, young)
            fits = [fit for j in visible if j in near and (fit := self._fit(j, young, ybox, path, time_s)) is not None]
            if len(fits) != 1 or fits[0].identity in taken:
                continue
            jumps.append(fits[0])
            taken.add(fits[0].identity)
            self.judged.add(young)
        return jumps

    def _near_path(self, path: tuple[np.ndarray, np.ndarray, float], young: int) -> set[int]:
        """Identities whose boxes were on ``young``'s path traced back in at least ``min_obs`` kept frames before
        it appeared (one vectorised test per kept frame: the few that pass are then judged one by one)."""
        born, hits = self.history.first_s[young], {}
        for t, ids, centres, heights in self.history.frames:
            if not born - self.back_s - self.follow_s <= t < born:
                continue
            where = path[0] + (t - path[2]) * path[1]
            off = np.hypot(*(centres - where).T) / heights
            for identity in ids[off <= self.on_gate_h + self.on_gate_h_per_s * (born - t)].tolist():
                hits[identity] = hits.get(identity, 0) + 1
        return {i for i, n in hits.items() if n >= self.min_obs and i != young}

    def _fit(self, older: int, young: int, ybox: np.ndarray, path: tuple[np.ndarray, np.ndarray, float],
             time_s: float) -> Jump | None:
        """The jump of ``older``'s tracker id that ``young`` (boxes ``ybox (N, 5)``, constant-velocity ``path``)
        would repair, if its path and colours say so."""
        born = self.history.first_s[young]
        if self.history.first_s[older] > born - self.follow_s:
            return None
        jbox = np.array(self.history.boxes[older])
        jbox = jbox[jbox[:, 0] >= born - self.back_s - self.follow_s]
        if len(jbox) < self.min_obs:
            return None
        at = jbox[:, 0]
        where = path[0] + np.outer(at - path[2], path[1])
        off = np.hypot(*(jbox[:, 1:3] - where).T) / jbox[:, 4]
        on = off <= self.on_gate_h + self.on_gate_h_per_s * np.maximum(born - at, 0.0)
        before = np.flatnonzero(on & (at < born))
        if not len(before):
            return None
        last = int(before[-1])
        since = float(at[last])
        if since < born - self.back_s or on[last + 1:].any():
            return None  # on the path too long ago, or back on it later: no jump
        walked = (at >= since - self.follow_s) & (at <= since)
        if not on[walked].all() or np.count_nonzero(walked) < self.min_obs \
                or np.ptp(at[walked]) < 0.8 * self.follow_s:
            return None  # J only crossed Y's path: it did not walk it
        yx, yy = ybox[-1, 1:3]
        if np.hypot(jbox[-1, 1] - yx, jbox[-1, 2] - yy) / jbox[-1, 4] < self.apart_h:
            return None  # still side by side: nothing to tell them apart
        since = _turning_point(jbox, off, last, self.follow_s)
        colours = self._colours(older, young, since, time_s)
        if colours is None:
            return None
        carried, left = colours
        log.debug("jump: identity %d's person goes on as %d (path walked until %.2fs, colours %.2f vs %.2f; "
                  "off-path %s)", older, young, since, carried, left, np.round(off, 2).tolist())
        return Jump(older, young, since)

    def _colours(self, older: int, young: int, since: float, time_s: float) -> tuple[float, float] | None:
        """(young vs older before ``since``, older since vs before) colour distances, or None when they do not
        say the young one carries on the older one's person."""
        pre = self.history.mean_colour(older, since - 1.0, since)
        post = self.history.mean_colour(older, since + 1e-6, time_s + 1e-6)
        own = self.history.mean_colour(young, self.history.first_s[young], time_s + 1e-6)
        if pre is None or post is None or own is None:
            return None
        carried, left = float(colour_distance(own, pre)), float(colour_distance(post, pre))
        if carried > self.max_colour_dist or carried + self.colour_margin > left:
            return None
        return carried, left

    def kept_path(self, identity: int, at_s: float, before_s: float = 1.0, after_s: float = 0.5,
                  longest_s: float = 2.0) -> bool | None:
        """Whether ``identity``'s boxes in the ``after_s`` after ``at_s`` lie on the straight path of its boxes in
        the ``before_s`` before (within the on-path gate): False too when it has too few boxes before (no path to
        keep), None while too few after (not known yet). At low frame rates the windows stretch (up to
        ``longest_s``) to hold ``min_obs`` boxes before and two after."""
        boxes = np.array(self.history.boxes.get(identity, ()))
        if not len(boxes):
            return None
        pre = stretched_window(boxes, at_s, before_s, self.min_obs, longest_s)
        if len(pre) < self.min_obs:
            return False
        post = stretched_window(boxes, at_s, after_s, 2, longest_s, after=True)
        if len(post) < 2:
            return None
        centre, velocity, t0 = straight_path(pre)
        where = centre + np.outer(post[:, 0] - t0, velocity)
        off = np.hypot(*(post[:, 1:3] - where).T) / post[:, 4]
        return bool(np.all(off <= self.on_gate_h + self.on_gate_h_per_s * (post[:, 0] - at_s)))

    def repaired(self, identities: tuple[int, ...]) -> None:
        """Identities just exchanged by a repair are judged no more (as young ones)."""
        self.judged.update(identities)

    def forget(self, identities: set[int]) -> None:
        for identity in identities:
            self.next_check_s.pop(identity, None)
            self.judged.discard(identity)


def _turning_point(boxes: np.ndarray, off: np.ndarray, last: int, window_s: float, gap_s: float = 0.3) -> float:
    """When the boxes ``(N, 5)`` (t, cx, cy, w, h) left a path, given their distance from it ``off (N,)`` (box
    heights) and the last one still within its gate (``last``): just after the gate the two people are still
    close, so the moment is the split in ``window_s`` before ``last`` that fits best: boxes up to it on the path,
    those after it on a straight line of their own (least squares, box heights). A split is never put before a
    break of more than ``gap_s`` in the boxes (a tracker that lost its person and found someone else)."""
    at = boxes[:, 0]
    best, best_cost = last, np.inf
    breaks = np.flatnonzero(np.diff(at[:last + 2]) > gap_s)
    start = max(at[last] - window_s, at[breaks[-1]] if len(breaks) else -np.inf)
    for k in np.flatnonzero((at >= start) & (at <= at[last])):
        after = boxes[k + 1:]
        cost = float(np.sum(off[:k + 1] ** 2))
        if len(after) >= 2:
            centre, velocity, t0 = straight_path(after)
            fitted = centre + np.outer(after[:, 0] - t0, velocity)
            cost += float(np.sum((np.hypot(*(after[:, 1:3] - fitted).T) / after[:, 4]) ** 2))
        if cost < best_cost:
            best, best_cost = k, cost
    return float(at[best])
