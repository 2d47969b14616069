"""Re-linking of track fragments after short gaps: motion + size + clothing colours, no model needed.

A tracker loses a person (occlusion, missed detections) and starts a new track when they show up again. A young
track (``min_obs`` observations, first seen at most ``decide_s`` ago) joins an identity that was lost when:

- the identity was last seen before the track's first frame (never visible at the same time), at most
  ``max_gap_s`` earlier, and its constant-velocity extrapolation (last ``velocity_s`` of centres) is still inside
  the frame at that time;
- the track's first box is where that extrapolation puts it: within ``gate_h + gate_h_per_s * gap`` box heights;
- after a gap longer than ``forward_only_s``, the track's own way back must meet the lost one too: its first second
  of boxes, extrapolated back to when the identity was last seen, lands within the same gate of that last box
  (a path that only crosses the prediction by chance is refused). When the forward prediction misses (the person
  turned, or the lost track's last boxes drifted onto someone passing), that way back alone decides, within
  ``turn_gate_h`` box heights whatever the gap, for a young track that walks (``turn_min_speed_h``; PETS09 at 10
  and 5 fps: right links met it within 0.16, wrong ones 0.5 and more away);
- the track did not appear side by side with someone else (centres within ``beside_h`` box heights): it may be
  that person's track that swapped (on PETS09-S2L1 every wrong link, after short gaps as after long ones, was
  such a case). Unless (with ``kept_path``, which the merge step takes from ``tracking.jumps``) the gap was at
  most ``beside_max_gap_s`` and everyone it appeared beside walked on along their own straight path across its
  birth, judged ``settle_s`` after it: then none of them is a track that went astray (people hidden for a moment
  behind someone walking with them come back this way), and none of them was itself new (first seen less than
  ``settle_s`` before the identity was lost: it may be that person);
- a lost identity's last boxes whose height jumped away from the ones before (``Fragment.trusted``) are not used
  for where it was and where it was going (its box grew over someone else, or an occluder cut it short);
- when a lost identity's last boxes lay over someone else's (it met someone at most ``meeting_s`` before it was
  lost), where it was going before that meeting is tried as well (the lower of the two motion distances counts):
  the tracker's box may have followed the other person for its last moments (PETS09 at 5 fps: two more right
  links, with YOLOv8n and YOLOX-nano, nothing else changed);
- box heights agree (ratio at most ``max_size_ratio``), the young track's being the median of its first three (the
  first box of someone coming out from behind another is cut short: YOLOX-nano PETS09, one more right link);
- their clothing colours agree: HSV histograms of the upper and of the lower body (``colour_signature``), each half
  with a Bhattacharyya distance of at most ``max_colour_dist`` (samples from boxes overlapped by another person
  are used only while a fragment has no clean one);
- the colour check is calibrated on the scene itself: people seen in one frame, unoccluded, are certainly different
  people, so once a second the distances between such pairs are kept (the last ``scene_pairs``); once there are
  ``scene_min_pairs``, a link needs a colour distance below their ``scene_quantile`` (10 %) as well: the check never
  lets through more than about one in ten pairs of different people of this scene (PETS09-S2L1 keeps 0.35: 3 % of
  its different people's pairs come within 0.35; MOT17-02's four real frames: 12.5 %, limit 0.32); where clothes
  cannot tell people apart (a uniformed crowd, a monochrome or washed-out picture) the limit falls with them and
  motion alone links no one (on MOT17-02's public detections without colours, half of the motion-only links
  joined two different people: ``python -m benchmarks.relink_colours``);
- the match is unambiguous both ways: the cost (colour distance / ``max_colour_dist`` + motion distance / gate)
  beats every other candidate identity and every other young track for that identity by ``margin``.

Every window that needs a few boxes stretches to hold them at low frame rates (``JumpDetector.kept_path``).

State per fragment is a few fixed-size arrays (the last ``history`` boxes, two colour histograms), so memory is
bounded by the number of identities in memory.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from mivolo.core.boxes import box_area, intersection
from mivolo.core.config import MergeConfig
from tracking.camera import CameraPath
from tracking.people_history import straight_path

H_BINS, S_BINS, V_BINS = 8, 4, 4  # chromatic pixels: hue x saturation; achromatic ones: value
HALF_DIM = H_BINS * S_BINS + V_BINS
MIN_S, MIN_V = 48, 40  # below these a pixel's hue means nothing: it counts by its value only


def colour_signature(image: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
    """(K, 2 * HALF_DIM) float32: per person box, the square roots of the normalised colour histograms of its
    upper body (15-50 % of the height) and lower body (50-90 %), of the middle 60 % of its width (less background).
    The dot product of the two halves of two signatures is their Bhattacharyya coefficient."""
    out = np.zeros((len(xyxy), 2 * HALF_DIM), np.float32)
    height, width = image.shape[:2]
    for k, (x1, y1, x2, y2) in enumerate(np.asarray(xyxy, np.float32)):
        w, h = x2 - x1, y2 - y1
        cx1, cx2 = int(max(0, x1 + 0.2 * w)), int(min(width, x2 - 0.2 * w))
        for half, (a, b) in enumerate(((0.15, 0.5), (0.5, 0.9))):
            ry1, ry2 = int(max(0, y1 + a * h)), int(min(height, y1 + b * h))
            if cx2 - cx1 < 2 or ry2 - ry1 < 2:
                continue
            hsv = cv2.cvtColor(image[ry1:ry2, cx1:cx2], cv2.COLOR_BGR2HSV).reshape(-1, 3).astype(np.int32)
            chroma = (hsv[:, 1] >= MIN_S) & (hsv[:, 2] >= MIN_V)
            bins = np.where(chroma, (hsv[:, 0] * H_BINS // 180) * S_BINS + (hsv[:, 1] - MIN_S) * S_BINS
                            // (256 - MIN_S), H_BINS * S_BINS + hsv[:, 2] * V_BINS // 256)
            hist = np.bincount(bins, minlength=HALF_DIM).astype(np.float32)
            out[k, half * HALF_DIM:(half + 1) * HALF_DIM] = np.sqrt(hist / max(hist.sum(), 1.0))
    return out


def colour_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bhattacharyya distance per half of signatures ``a`` (..., D) and ``b`` (..., D): the worse of the two halves
    (1.0 where a half is missing on either side)."""
    halves = []
    for half in range(2):
        sl = slice(half * HALF_DIM, (half + 1) * HALF_DIM)
        pa, pb = a[..., sl], b[..., sl]
        na, nb = np.sum(pa * pa, -1), np.sum(pb * pb, -1)
        coeff = np.sum(pa * pb, -1) / np.sqrt(np.maximum(na * nb, 1e-12))
        halves.append(np.where((na > 0) & (nb > 0), np.sqrt(np.clip(1.0 - coeff, 0.0, 1.0)), 1.0))
    return np.maximum(*halves)


@dataclass
class Fragment:
    """One identity as the re-linker sees it: its last boxes and its mean colours."""

    first_s: float
    last_s: float
    boxes: np.ndarray  # (history, 5) t, cx, cy, w, h; ring buffer
    n: int = 0  # observations
    clean: np.ndarray = field(default_factory=lambda: np.zeros(2 * HALF_DIM, np.float64))  # colour sum, clean boxes
    clean_n: int = 0
    any: np.ndarray = field(default_factory=lambda: np.zeros(2 * HALF_DIM, np.float64))  # colour sum, every box
    any_n: int = 0
    first_box: np.ndarray = field(default_factory=lambda: np.zeros(5))
    decided: bool = False
    early: np.ndarray = field(default_factory=lambda: np.zeros((0, 5)))  # (<= history, 5) boxes of its first second
    born_beside: bool = False  # another person stood within a box height when it first appeared
    beside_of: tuple[int, ...] = ()  # their identities
    beside_ok: bool | None = None  # whether they all kept their own paths (once known)
    beside_kept: set[int] = field(default_factory=set)  # those of them known to have kept their paths so far
    judged_from_s: float = -np.inf  # ``decide_s`` counts from here when later than ``first_s`` (a restarted piece)
    covered: np.ndarray | None = None  # (history,) bool, ring like ``boxes``: the box overlapped another person's

    def recent(self) -> np.ndarray:
        """The boxes kept, oldest first."""
        size = len(self.boxes)
        return np.roll(self.boxes, -(self.n % size), axis=0) if self.n > size else self.boxes[:self.n]

    def trusted(self, max_jump: float = 1.25) -> np.ndarray:
        """The kept boxes less a last stretch whose heights jumped away (by more than ``max_jump`` times) from the
        median height of the first half of them: the tracker's box grew over someone else or was cut short by an
        occluder before it lost its person, so its place, size and speed say little about where that person went.
        Only a stretch shorter than the steady part before it goes, and only when the first half's heights agree
        with each other: half short, half tall is someone coming out from behind an occluder as much as a box
        that grew over someone, and then nothing goes."""
        boxes = self.recent()
        if len(boxes) <= 3:
            return boxes
        first = boxes[:len(boxes) // 2, 4]
        if first.max() > max_jump * max(first.min(), 1.0):
            return boxes  # no steady height to measure a jump against
        ratio = boxes[:, 4] / max(float(np.median(first)), 1.0)
        steady = np.maximum(ratio, 1.0 / np.maximum(ratio, 1e-6)) <= max_jump
        tail = len(boxes) - (int(np.flatnonzero(steady)[-1]) + 1)  # the last stretch of jumped boxes
        return boxes[:len(boxes) - tail] if tail < len(boxes) - tail else boxes

    def recent_covered(self) -> np.ndarray:
        """(len(recent()),) bool: whether each of ``recent()``'s boxes was partly covered by another person's."""
        if self.covered is None:
            return np.zeros(min(self.n, len(self.boxes)), bool)
        size = len(self.covered)
        return np.roll(self.covered, -(self.n % size)) if self.n > size else self.covered[:self.n]

    def keep(self, boxes: np.ndarray, covered: np.ndarray, history: int) -> None:
        """Replace the kept boxes ``(N, 5)`` and their ``covered`` flags ``(N,)`` by their last ``history``."""
        boxes, covered = boxes[-history:], covered[-history:]
        self.boxes, self.covered = np.zeros((history, 5)), np.zeros(history, bool)
        self.boxes[:len(boxes)], self.covered[:len(covered)], self.n = boxes, covered, len(boxes)

    def before_meeting(self, boxes: np.ndarray, within_s: float) -> np.ndarray | None:
        """Its ``trusted()`` ``boxes`` up to their last stretch that overlapped someone else's, when that stretch
        ended at most ``within_s`` before the last of them (and at least 3 boxes come before it): where it was and
        was going before it met someone, since when its tracker may have followed the other one. None otherwise."""
        covered = self.recent_covered()[:len(boxes)]
        hidden = np.flatnonzero(covered)
        if not len(hidden) or boxes[-1, 0] - boxes[hidden[-1], 0] > within_s:
            return None
        start = hidden[-1]
        while start > 0 and covered[start - 1]:
            start -= 1
        return boxes[:start] if start >= 3 else None

    @property
    def colour(self) -> np.ndarray:
        total, n = (self.clean, self.clean_n) if self.clean_n else (self.any, self.any_n)
        return (total / max(n, 1)).astype(np.float32)


@dataclass
class Link:
    track_id: int  # the young identity that joins
    into: int
    similarity: float  # 1 - colour distance
    gap_s: float
    cost: float


@dataclass
class Relinker:
    """Settings as in ``MergeConfig.relink_*`` (defaults from there)."""

    max_gap_s: float = MergeConfig.relink_max_gap_s
    min_obs: int = MergeConfig.relink_min_obs
    decide_s: float = 2.0
    gate_h: float = MergeConfig.relink_gate_h  # box heights allowed between the prediction and the first box ...
    gate_h_per_s: float = MergeConfig.relink_gate_h_per_s  # ... plus this many per second of gap
    max_size_ratio: float = MergeConfig.relink_max_size_ratio
    max_colour_dist: float = MergeConfig.relink_max_colour_dist
    margin: float = MergeConfig.relink_margin
    velocity_s: float = 1.0
    beside_h: float = 1.0  # centres closer than this many box heights: side by side
    forward_only_s: float = 0.9  # longer gaps also need the young track's backward extrapolation to meet the lost one
    max_speed_h: float = 2.0  # extrapolation speed cap, box heights per second
    turn_gate_h: float = 0.3  # the forward prediction missed: the way back must meet within this many box heights
    turn_min_speed_h: float = 0.1  # ... of a young track walking at least this many box heights a second
    occluded_overlap: float = 0.3  # a box this much covered by another person gives a "not clean" colour sample
    history: int = 12
    kept_path: Callable[[int, float], bool | None] | None = None  # (identity, t): did it keep its path across t
    settle_s: float = 0.5
    beside_max_gap_s: float = 1.5
    meeting_s: float = 0.6  # a lost one met someone this recently: where it was going before, too (``_costs``)
    scene_quantile: float = 0.1  # colours must be closer than this quantile of different people's distances ...
    scene_min_pairs: int = 30  # ... once this many pairs were seen
    scene_every_s: float = 1.0  # pairs sampled this often
    scene_max_boxes: int = 24  # from at most this many unoccluded boxes of a frame
    scene_pairs: deque = field(default_factory=lambda: deque(maxlen=600))  # colour distances of different people
    next_scene_s: float = -np.inf
    fragments: dict[int, Fragment] = field(default_factory=dict)
    frame_size: tuple[int, int] = (0, 0)  # width, height
    camera: CameraPath | None = None  # boxes come in scene coordinates: where the picture was, for "still inside"
    cut_s: float = -np.inf  # the last cut between shots: no one lost before it is linked by motion and colours

    def observe(self, image: np.ndarray, time_s: float, ids: np.ndarray, xyxy: np.ndarray,
                scene: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Person boxes ``xyxy (K, 4)`` of one frame with their (current) identity ids; returns their colour
        signatures (K, D) and whether each box was unoccluded (K,) (the swap detector uses the same). ``scene``
        (K, 4): the same boxes in scene coordinates (``tracking.camera``; default: the picture's), which is where
        fragments are kept and extrapolated."""
        self.frame_size = (image.shape[1], image.shape[0])
        if len(ids) == 0:
            return np.zeros((0, 2 * HALF_DIM), np.float32), np.zeros(0, bool)
        xyxy = np.asarray(xyxy, np.float32)
        colours = colour_signature(image, xyxy)
        clean = _overlap(xyxy).max(axis=1, initial=0.0) < self.occluded_overlap
        if scene is not None:
            xyxy = np.asarray(scene, np.float32)
        if time_s >= self.next_scene_s and np.count_nonzero(clean) >= 2:
            self._sample_scene(colours[clean])
            self.next_scene_s = time_s + self.scene_every_s
        cx, cy = (xyxy[:, 0] + xyxy[:, 2]) / 2, (xyxy[:, 1] + xyxy[:, 3]) / 2
        w, h = xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]
        apart = np.hypot(cx[:, None] - cx[None], cy[:, None] - cy[None]) / np.maximum(h, 1.0)[:, None]
        np.fill_diagonal(apart, np.inf)
        near = apart < self.beside_h
        beside = near.any(axis=1)
        for k, identity in enumerate(ids.tolist()):
            box = np.array([time_s, cx[k], cy[k], w[k], h[k]])
            frag = self.fragments.get(identity)
            if frag is None:
                frag = self.fragments[identity] = Fragment(
                    time_s, time_s, np.zeros((self.history, 5)), first_box=box, born_beside=bool(beside[k]),
                    beside_of=tuple(int(i) for i in np.asarray(ids)[near[k]]), covered=np.zeros(self.history, bool))
            elif frag.last_s == time_s and frag.n:  # two boxes of one identity in one frame: keep the first
                continue
            frag.boxes[frag.n % self.history] = box
            frag.covered[frag.n % self.history] = not clean[k]
            frag.n += 1
            spacing = self.velocity_s / self.history
            if len(frag.early) < self.history and (not len(frag.early) or time_s - frag.early[-1, 0] >= spacing):
                frag.early = np.vstack([frag.early, box[None]])
            frag.last_s = time_s
            frag.any += colours[k]
            frag.any_n += 1
            if clean[k]:
                frag.clean += colours[k]
                frag.clean_n += 1
        return colours, clean

    def _sample_scene(self, colours: np.ndarray) -> None:
        """Keep the colour distances between the unoccluded people of one frame, ``colours (K, D)``: pairs of
        different people (at most ``scene_max_boxes`` of them, evenly picked)."""
        if len(colours) > self.scene_max_boxes:
            colours = colours[np.linspace(0, len(colours) - 1, self.scene_max_boxes).astype(int)]
        upper = np.triu_indices(len(colours), 1)
        self.scene_pairs.extend(colour_distance(colours[:, None], colours[None])[upper].tolist())

    def colour_limit(self) -> float:
        """The colour distance a link must stay below: ``max_colour_dist``, or less where this scene's different
        people are closer than that (their ``scene_quantile``) once ``scene_min_pairs`` of them were seen."""
        if len(self.scene_pairs) < self.scene_min_pairs:
            return self.max_colour_dist
        return min(self.max_colour_dist, float(np.quantile(np.asarray(self.scene_pairs), self.scene_quantile)))

    def _predict(self, frag: Fragment, at_s: float, backward: bool = False,
                 boxes: np.ndarray | None = None) -> np.ndarray:
        """(cx, cy, h) of ``frag`` extrapolated to ``at_s`` at its constant velocity (speed capped): forward from its
        last ``velocity_s`` of boxes, or ``backward`` from its first ones to an earlier time."""
        if backward:
            boxes = frag.early if len(frag.early) else frag.first_box[None]
            anchor, window, heights = boxes[0], boxes[boxes[:, 0] <= boxes[0, 0] + self.velocity_s], boxes[:3, 4]
        else:
            boxes = frag.trusted() if boxes is None else boxes
            anchor, heights = boxes[-1], boxes[-3:, 4]
            window = boxes[boxes[:, 0] >= anchor[0] - self.velocity_s]
        velocity = straight_path(window)[1]  # (0, 0) from one box, or boxes of one moment
        speed = float(np.linalg.norm(velocity))
        cap = self.max_speed_h * max(float(np.median(window[:, 4])), 1.0)
        if speed > cap:
            velocity *= cap / speed
        return np.array([*(anchor[1:3] + velocity * (at_s - anchor[0])), float(np.median(heights))])

    def decide(self, time_s: float) -> list[Link]:
        """Links of young fragments seen at ``time_s`` to lost identities; mark fragments past ``decide_s``."""
        young = [i for i, f in self.fragments.items() if not f.decided and f.last_s == time_s]
        for i in young:
            frag = self.fragments[i]
            if time_s - max(frag.first_s, frag.judged_from_s) > self.decide_s:
                frag.decided = True
        young = [i for i in young if not self.fragments[i].decided]
        if not young:
            return []
        lost = [i for i, f in self.fragments.items() if f.last_s < time_s and f.last_s >= self.cut_s and f.n >= 2
                and time_s - f.last_s <= self.max_gap_s + self.decide_s]
        if not lost:
            return []
        cost = np.full((len(young), len(lost)), np.inf)
        colour = np.ones_like(cost)
        limit = self.colour_limit()
        for r, i in enumerate(young):
            cost[r], colour[r] = self._costs(self.fragments[i], [self.fragments[j] for j in lost], limit)
        links = []
        for r, i in enumerate(young):
            if self.fragments[i].n < self.min_obs:
                continue
            c = int(np.argmin(cost[r]))
            if not np.isfinite(cost[r, c]):
                continue
            others_row = np.delete(cost[r], c)
            others_col = np.delete(cost[:, c], r)
            if others_row.size and others_row.min() - cost[r, c] < self.margin:
                continue
            if others_col.size and others_col.min() - cost[r, c] < self.margin:
                continue
            gap = self.fragments[i].first_s - self.fragments[lost[c]].last_s
            links.append(Link(i, lost[c], 1.0 - float(colour[r, c]), gap, float(cost[r, c])))
        return links

    def _costs(self, young: Fragment, lost: list[Fragment], limit: float) -> tuple[np.ndarray, np.ndarray]:
        """Cost (inf: impossible) and colour distance of linking ``young`` to each of ``lost`` (colours must be
        closer than ``limit``, ``colour_limit()``)."""
        cost = np.full(len(lost), np.inf)
        colours = colour_distance(young.colour[None], np.stack([f.colour for f in lost]))
        t0 = float(young.first_box[0])
        beside_ok = young.born_beside and self._neighbours_kept_their_paths(young)
        for k, frag in enumerate(lost):
            gap = t0 - frag.last_s
            if gap <= 0 or gap > self.max_gap_s:  # seen at the same time (or after), or gone too long
                continue
            if young.born_beside and (gap > self.beside_max_gap_s or not beside_ok
                                      or self._neighbour_is_new(young, frag.last_s)):
                continue  # it appeared next to someone: it may be them (a swap), not the one who was lost
            if not colours[k] < limit:  # (below it: where everyone looks alike, not even equal colours)
                continue
            anchors = [frag.trusted()]
            if (met := frag.before_meeting(anchors[0], self.meeting_s)) is not None:
                anchors.append(met)
            motion = min(self._motion(young, frag, boxes, gap) for boxes in anchors)
            if motion > 1.0:
                continue
            cost[k] = colours[k] / self.max_colour_dist + motion
        return cost, colours

    def _motion(self, young: Fragment, frag: Fragment, boxes: np.ndarray, gap: float) -> float:
        """How far (in gates; inf: impossible) ``young``'s first box is from where ``frag`` was going, from its
        ``boxes`` (t, cx, cy, w, h) up to where it was last trusted, and for gaps over ``forward_only_s`` how far
        ``young``'s own way back passes from there."""
        width, height = self.frame_size
        t0, x0, y0, _w0, h0 = young.first_box
        h0 = float(np.median(young.early[:3, 4])) if len(young.early) else h0
        px, py, ph = self._predict(frag, t0, boxes=boxes)
        ix, iy = (px, py) if self.camera is None else self.camera.point_to_picture(t0, px, py)
        if width and not (0 <= ix <= width and 0 <= iy <= height):  # it walked out of the picture
            return np.inf
        if max(ph, h0) / max(min(ph, h0), 1.0) > self.max_size_ratio:
            return np.inf
        _, lx, ly, _, lh = last = boxes[-1]
        gate = self.gate_h + self.gate_h_per_s * (t0 - last[0])
        motion = float(np.hypot(px - x0, py - y0)) / max(ph, 1.0) / gate
        if gap > self.forward_only_s:  # a longer gap: the young track's own way back must meet it too
            if young.early[-1, 0] - young.early[0, 0] < 0.8 * self.velocity_s:
                return np.inf  # not seen long enough yet to know where it came from
            bx, by, _ = self._predict(young, float(last[0]), backward=True)
            back_h = float(np.hypot(bx - lx, by - ly)) / max(lh, 1.0)
            if motion > 1.0 and back_h <= self.turn_gate_h and self._walks(young):  # it turned (or its last
                motion = back_h / self.turn_gate_h  # boxes drifted onto someone passing): the way back alone
            motion = max(motion, back_h / gate)
        return motion

    def _walks(self, young: Fragment) -> bool:
        """Whether the young fragment moved at least ``turn_min_speed_h`` box heights a second over its first
        boxes: only a walking track's way back says where it came from (a standing one's is its own spot)."""
        bx, by, h = self._predict(young, float(young.early[0, 0]) - 1.0, backward=True)
        return float(np.hypot(bx - young.early[0, 1], by - young.early[0, 2])) / max(h, 1.0) >= self.turn_min_speed_h

    def _neighbours_kept_their_paths(self, young: Fragment) -> bool:
        """Whether everyone the young fragment appeared beside walked on along their own path across its birth
        (judged ``settle_s`` after it): then it is not one of them whose track went astray."""
        if young.beside_ok is not None:
            return young.beside_ok
        if self.kept_path is None or young.last_s - young.first_s < self.settle_s:
            return False
        for neighbour in young.beside_of:
            if neighbour in young.beside_kept:
                continue
            kept = self.kept_path(neighbour, young.first_s)
            if kept is None:
                return False  # not seen long enough after it yet (low frame rates): judged again later
            if not kept:
                young.beside_ok = False
                return False
            young.beside_kept.add(neighbour)
        young.beside_ok = True
        return True

    def _neighbour_is_new(self, young: Fragment, lost_s: float) -> bool:
        """Whether someone the young fragment appeared beside was itself first seen less than ``settle_s`` before
        the lost identity was last seen (or later): that neighbour may be the lost person as well."""
        return any(n in self.fragments and self.fragments[n].first_s > lost_s - self.settle_s
                   for n in young.beside_of)

    def absorb(self, source: int, target: int) -> None:
        """Fold fragment ``source`` into identity ``target`` (after any merge, whatever decided it)."""
        src = self.fragments.pop(source, None)
        dst = self.fragments.get(target)
        if src is None:
            return
        if dst is None:
            self.fragments[target] = src
            src.decided = True
            return
        newer, older = (src, dst) if src.last_s >= dst.last_s else (dst, src)
        merged = Fragment(min(src.first_s, dst.first_s), newer.last_s, newer.boxes.copy(), newer.n,
                          src.clean + dst.clean, src.clean_n + dst.clean_n, src.any + dst.any, src.any_n + dst.any_n,
                          older.first_box, decided=True)
        merged.covered = None if newer.covered is None else newer.covered.copy()
        self.fragments[target] = merged

    def exchange_tail(self, a: int, b: int, since_s: float, boxes: np.ndarray, colours: np.ndarray,
                      clean: np.ndarray) -> None:
        """A repaired jump: identity ``a`` goes on with young ``b``'s fragment (its boxes and colours), and ``b``
        starts again, as a young fragment that may still be linked (for ``decide_s`` from now), from what ``a``'s
        tracker showed after ``since_s``: ``boxes (N, 5)`` (t, cx, cy, w, h), colour signatures ``(N, D)``,
        unoccluded ``(N,)`` (the samples kept of it; their colours also leave ``a``'s sums, so at frame rates
        above the sampling rate some of them stay there)."""
        young, old = self.fragments.pop(b, None), self.fragments.get(a)
        if young is not None and old is not None:
            _cut_tail(old, since_s, colours, clean, self.history)
            kept = old.recent()
            old.keep(np.vstack([kept, young.recent()]), np.concatenate([old.recent_covered(), young.recent_covered()]),
                     self.history)
            old.last_s = max(old.last_s, young.last_s)
            old.clean, old.clean_n = old.clean + young.clean, old.clean_n + young.clean_n
            old.any, old.any_n = old.any + young.any, old.any_n + young.any_n
        if len(boxes):
            self.fragments[b] = self._restart(boxes, colours, clean)

    def hand_tail(self, source: int, target: int, since_s: float, boxes: np.ndarray, colours: np.ndarray,
                  clean: np.ndarray) -> None:
        """A repaired takeover: what identity ``source``'s tracker showed after ``since_s`` - ``boxes (N, 5)`` (t, cx,
        cy, w, h), colour signatures ``(N, D)``, unoccluded ``(N,)`` - was lost identity ``target``'s person, who
        goes on with it; ``source`` is lost from ``since_s`` on (a young track may still be linked to it)."""
        src, dst = self.fragments.get(source), self.fragments.get(target)
        if src is None or dst is None or not len(boxes):
            return
        _cut_tail(src, since_s, colours, clean, self.history)
        dst.keep(np.vstack([dst.recent(), boxes]), np.concatenate([dst.recent_covered(), ~np.asarray(clean, bool)]),
                 self.history)
        dst.last_s = max(dst.last_s, float(boxes[-1, 0]))
        dst.any, dst.any_n = dst.any + colours.sum(axis=0), dst.any_n + len(colours)
        dst.clean, dst.clean_n = dst.clean + colours[clean].sum(axis=0), dst.clean_n + int(np.count_nonzero(clean))

    def split_tail(self, source: int, new: int, since_s: float, boxes: np.ndarray, colours: np.ndarray,
                   clean: np.ndarray) -> None:
        """A split identity: what ``source``'s tracker showed after ``since_s`` (``boxes (N, 5)``, colours ``(N, D)``,
        unoccluded ``(N,)``) is identity ``new``'s, a young fragment that may still be linked (for ``decide_s``
        from now); ``source`` is lost from ``since_s`` on."""
        src = self.fragments.get(source)
        if src is None or not len(boxes):
            return
        _cut_tail(src, since_s, colours, clean, self.history)
        self.fragments[new] = self._restart(boxes, colours, clean)

    def _restart(self, boxes: np.ndarray, colours: np.ndarray, clean: np.ndarray) -> Fragment:
        """A young fragment of ``boxes (N, 5)`` with their colours ``(N, D)`` and unoccluded flags ``(N,)``, judged
        for ``decide_s`` from its last box."""
        frag = Fragment(float(boxes[0, 0]), float(boxes[-1, 0]), np.zeros((self.history, 5)), first_box=boxes[0],
                        judged_from_s=float(boxes[-1, 0]))
        frag.keep(boxes, ~np.asarray(clean, bool), self.history)
        early = boxes[boxes[:, 0] <= boxes[0, 0] + self.velocity_s]
        frag.early = early[np.linspace(0, len(early) - 1, min(len(early), self.history)).astype(int)]
        frag.any, frag.any_n = colours.sum(axis=0).astype(np.float64), len(colours)
        frag.clean, frag.clean_n = colours[clean].sum(axis=0).astype(np.float64), int(np.count_nonzero(clean))
        return frag

    def rename_neighbours(self, renamed: dict[int, int], since_s: float) -> None:
        """After a repair the boxes after ``since_s`` of each identity in ``renamed`` are the identity it maps to:
        fragments born beside one of them since then were born beside that one."""
        for frag in self.fragments.values():
            if frag.first_s > since_s and any(i in renamed for i in frag.beside_of):
                frag.beside_of = tuple(renamed.get(i, i) for i in frag.beside_of)
                frag.beside_kept = {renamed.get(i, i) for i in frag.beside_kept}

    def cut(self, time_s: float) -> None:
        """A new shot starts at ``time_s`` (``tracking.cuts``): everyone seen before it is no longer where the
        picture shows anyone, so none of them is linked by motion and colours again, nor judged as young."""
        self.cut_s = time_s
        for frag in self.fragments.values():
            frag.decided = True

    def settle(self, identities: tuple[int, ...]) -> None:
        """These identities are no young fragments any more (after a swap repair their boxes mix two people)."""
        for identity in identities:
            if identity in self.fragments:
                self.fragments[identity].decided = True

    def forget(self, identities: set[int]) -> None:
        for identity in identities:
            self.fragments.pop(identity, None)


def _cut_tail(frag: Fragment, since_s: float, colours: np.ndarray, clean: np.ndarray, history: int) -> None:
    """In place: ``frag`` less its boxes after ``since_s``; those boxes' colour signatures ``colours (N, D)`` (with
    their unoccluded flags ``clean (N,)``) leave its sums."""
    kept, covered = frag.recent(), frag.recent_covered()
    before = kept[:, 0] <= since_s
    frag.keep(kept[before], covered[before], history)
    if np.any(before):
        frag.last_s = float(kept[before][-1, 0])
    if len(colours):
        frag.any = np.maximum(frag.any - colours.sum(axis=0), 0.0)
        frag.any_n = max(frag.any_n - len(colours), 0)
        frag.clean = np.maximum(frag.clean - colours[clean].sum(axis=0), 0.0)
        frag.clean_n = max(frag.clean_n - int(np.count_nonzero(clean)), 0)


def _overlap(xyxy: np.ndarray) -> np.ndarray:
    """(K, K): the fraction of box i covered by box j (0 on the diagonal)."""
    cover = intersection(xyxy, xyxy) / np.maximum(box_area(xyxy), 1e-6)[:, None]
    np.fill_diagonal(cover, 0.0)
    return cover
