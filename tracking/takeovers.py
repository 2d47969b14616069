"""Repair of a tracker id that took over someone else's person while its own was hidden or left.

When two people meet, one may be hidden (behind the other, behind a sign, out of the picture) just as the other's
track is lost: a motion tracker can then carry its id onto the person still in view, whose own track dies. The
id then spans two people, and the person carried on is counted twice. Its box turns back or away where the two
met and walks on the way the lost one was walking (PETS09-S2L1: two people crossing at 5 fps, one hidden by the
sign behind them; the same clip through a 640x480 window, two crossing where one walked behind the sign post).

The swap repair (``tracking.swaps``) needs both people tracked after the meeting, the jump repair
(``tracking.jumps``) a young id carrying on the older one's person; here the person carried on had an identity of
its own, L, lost at the meeting. An identity J in view took over L's person when:

- L was lost ``after_s``..``lost_max_s`` ago, after being seen for at least ``follow_s`` (``min_obs`` boxes over
  at least half of it; at low frame rates the window stretches to hold them), walking at least ``min_speed_h`` box
  heights a second;
- J's box was where L was when L was lost (within ``near_h`` box heights, the nearest in time within ``near_s``)
  and J was seen for ``follow_s`` before that too (it is no new track);
- J's boxes since then start on L's straight path (the first within ``on_gate_h`` box heights), L's direction was
  at least ``min_turn_deg`` off J's own before, and J since goes L's way: walking in a direction nearer L's than
  J's own (by ``way_deg``), or, slowed down or stopped, nearer L's path than J's own (by ``path_margin_h`` box
  heights on average). People slow down, stop or veer after a meeting: L's path need not be kept exactly;
- clothing colours agree (no model): J since looks like L did before it was lost (at most ``max_colour_dist``) and
  better than like J did before, by ``colour_margin``. Alike clothes give no verdict;
- only one such L fits J, and only one J fits L.

Then J and L are exchanged from the moment L was last seen, as a swap repair: L carries on (with J's tracker id),
J is lost from then on, and its person may be re-linked when seen again. It reads the last seconds of everyone in
view from ``tracking.people_history`` (observed by the caller); its own state is a check time per identity.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from tracking.people_history import PeopleHistory, straight_path, stretched_window
from tracking.relink import colour_distance

log = logging.getLogger(__name__)


@dataclass
class Takeover:
    identity: int  # J: the identity whose tracker id took over another person
    lost: int  # L: that person's own identity, lost when J took over
    since_s: float  # when L was last seen


@dataclass
class TakeoverDetector:
    history: PeopleHistory = field(default_factory=PeopleHistory)  # observed by the caller
    after_s: float = 0.6  # L lost at least this long ago (J's boxes since then show where it walks) ...
    lost_max_s: float = 2.5  # ... and at most this long
    follow_s: float = 0.6  # L and J were seen at least this long before L was lost
    min_speed_h: float = 0.2  # L walked at least this many box heights a second (a path to walk on)
    near_h: float = 0.6  # J's box was within this many box heights of L's last box
    near_s: float = 0.3  # ... at a moment this close to L's last one
    on_gate_h: float = 0.3  # J's first box after L was lost is at most this many box heights from L's path
    path_margin_h: float = 0.3  # J's boxes since, slowed down, are nearer L's path than its own by this much (mean)
    min_turn_deg: float = 60.0  # J's own direction before and L's differ by at least this much
    way_deg: float = 45.0  # J since walks in a direction this much nearer L's than its own
    max_colour_dist: float = 0.45
    colour_margin: float = 0.1
    min_obs: int = 3
    longest_s: float = 2.0  # windows that need ``min_obs`` boxes stretch back this far at low frame rates
    check_every_s: float = 0.2
    next_check_s: dict[int, float] = field(default_factory=dict)
    given_back: set[int] = field(default_factory=set)  # lost identities already found carried on (judged no more)

    def decide(self, time_s: float) -> list[Takeover]:
        """Identities in view at ``time_s`` that carry on a lost identity's person (see the module)."""
        last = self.history.last_s
        walking = {lid: (t, *path) for lid, t in last.items()
                   if self.after_s <= time_s - t <= self.lost_max_s and lid not in self.given_back
                   and (path := self._walked(lid, t)) is not None}
        if not walking:
            return []
        visible = [i for i, t in last.items() if t == time_s and time_s >= self.next_check_s.get(i, -np.inf)]
        lost = list(walking)
        when = np.array([walking[i][0] for i in lost])
        where = np.array([walking[i][1][-1, 1:3] for i in lost])
        height = np.array([walking[i][1][-1, 4] for i in lost])
        fits: dict[int, list[Takeover]] = {}
        for j in visible:
            self.next_check_s[j] = time_s + self.check_every_s
            jbox = self._array(j)
            if len(jbox) < self.min_obs:
                continue
            # one vectorised look first: where J was (between its boxes) when each was lost; a wide margin
            there = np.stack([np.interp(when, jbox[:, 0], jbox[:, 1]), np.interp(when, jbox[:, 0], jbox[:, 2])], 1)
            near = np.hypot(*(there - where).T) / height <= 2 * self.near_h
            found = [fit for k in np.flatnonzero(near).tolist()
                     if (fit := self._fit(j, jbox, lost[k], *walking[lost[k]], time_s)) is not None]
            if len(found) == 1:
                fits.setdefault(found[0].lost, []).append(found[0])
        takeovers = [found[0] for found in fits.values() if len(found) == 1]
        self.given_back.update(t.lost for t in takeovers)
        return takeovers

    def _walked(self, lid: int, since: float) -> tuple[np.ndarray, tuple] | None:
        """Lost ``lid``'s boxes before ``since`` (its last sighting) and their straight path, if it walked."""
        lbox = self._before(self._array(lid), since)
        if lbox is None:
            return None
        lpath = straight_path(lbox)
        if np.linalg.norm(lpath[1]) < self.min_speed_h * float(np.median(lbox[:, 4])):
            return None
        return lbox, lpath

    def _fit(self, j: int, jbox: np.ndarray, lid: int, since: float, lbox: np.ndarray, lpath: tuple,
             time_s: float) -> Takeover | None:
        """The takeover of ``lid``'s person (lost after ``since``; its boxes ``lbox (M, 5)`` before, their straight
        ``lpath``) by ``j`` (its boxes ``jbox (N, 5)``), if their paths and colours say so."""
        if self.history.first_s[j] > since - self.follow_s:
            return None
        at = jbox[:, 0]
        then = np.flatnonzero(np.abs(at - since) <= self.near_s)
        if not len(then):
            return None
        k = then[np.argmin(np.abs(at[then] - since))]
        if np.hypot(*(jbox[k, 1:3] - lbox[-1, 1:3])) / lbox[-1, 4] > self.near_h:
            return None
        after, own = jbox[at > since], self._before(jbox, since)
        if len(after) < self.min_obs or np.ptp(after[:, 0]) < 0.5 * self.after_s or own is None:
            return None
        mine = straight_path(own)
        if self._off(lpath, after[:1])[0] > self.on_gate_h or self._angle(mine[1], lpath[1]) < self.min_turn_deg \
                or not self._their_way(after, lpath, mine):
            return None  # J does not go on from where L was, or goes on its own way as well: nothing to tell
        colours = self._colours(j, lid, since, time_s)
        if colours is None:
            return None
        log.debug("takeover: identity %d carries on %d's person since %.2fs (colours %.2f vs %.2f)", j, lid, since,
                  *colours)
        return Takeover(j, lid, since)

    def _array(self, identity: int) -> np.ndarray:
        """(N, 5) the kept boxes of ``identity`` (t, cx, cy, w, h)."""
        return np.array(self.history.boxes.get(identity, ()), np.float64).reshape(-1, 5)

    def _before(self, boxes: np.ndarray, end_s: float) -> np.ndarray | None:
        """Of ``boxes (N, 5)``, those of the ``follow_s`` up to ``end_s`` (stretched back, up to ``longest_s``, to hold
        ``min_obs`` at low frame rates), if they span at least half of it."""
        boxes = stretched_window(boxes, end_s, self.follow_s, self.min_obs, self.longest_s)
        if len(boxes) < self.min_obs or np.ptp(boxes[:, 0]) < 0.5 * self.follow_s:
            return None
        return boxes

    @staticmethod
    def _off(path: tuple[np.ndarray, np.ndarray, float], boxes: np.ndarray) -> np.ndarray:
        """(N,) box heights between ``boxes (N, 5)`` and where the constant-velocity ``path`` puts them."""
        where = path[0] + np.outer(boxes[:, 0] - path[2], path[1])
        return np.hypot(*(boxes[:, 1:3] - where).T) / boxes[:, 4]

    @staticmethod
    def _angle(a: np.ndarray, b: np.ndarray) -> float:
        """Degrees between velocities ``a (2,)`` and ``b (2,)`` (180 where either stands still: no direction)."""
        na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
        if na < 1e-6 or nb < 1e-6:
            return 180.0
        return float(np.degrees(np.arccos(np.clip(float(a @ b) / (na * nb), -1.0, 1.0))))

    def _their_way(self, after: np.ndarray, theirs: tuple, mine: tuple) -> bool:
        """Whether J's boxes ``after (N, 5)`` since L was lost go L's way (path ``theirs``) rather than J's own
        (``mine``): walking, in a direction nearer L's than J's own by ``way_deg``;
        slowed down or stopped, nearer L's path than J's own, by ``path_margin_h`` box heights on average."""
        velocity = straight_path(after)[1]
        if np.linalg.norm(velocity) >= self.min_speed_h * float(np.median(after[:, 4])):
            return self._angle(velocity, theirs[1]) + self.way_deg <= self._angle(velocity, mine[1])
        return float(np.mean(self._off(theirs, after))) + self.path_margin_h <= float(np.mean(self._off(mine, after)))

    def _colours(self, j: int, lid: int, since: float, time_s: float) -> tuple[float, float] | None:
        """(J since vs L before, J since vs J before) colour distances, or None when they do not say J carries
        on L's person."""
        post = self.history.mean_colour(j, since + 1e-6, time_s + 1e-6)
        theirs = self.history.mean_colour(lid, since - 1.0, since + 1e-6)
        mine = self.history.mean_colour(j, since - 1.0, since + 1e-6)
        if post is None or theirs is None or mine is None:
            return None
        carried, own = float(colour_distance(post, theirs)), float(colour_distance(post, mine))
        if carried > self.max_colour_dist or carried + self.colour_margin > own:
            return None
        return carried, own

    def forget(self, identities: set[int]) -> None:
        for identity in identities:
            self.next_check_s.pop(identity, None)
            self.given_back.discard(identity)
