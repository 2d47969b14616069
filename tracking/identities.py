"""Settle ONE age and ONE gender per identity from running per-track statistics (no frame history).

Modes:
- ``global``: weighted mean age and weighted mean P(male) over every estimate of the track (default);
- ``confidence``: the single estimate with the best composite score (detection confidence x age/gender
  confidence x face size), filtered by ``min_detection_conf`` / ``min_gender_conf``;
- ``temporal``: live labels are the mean of the last ``smoothing_window`` estimates; the final label is global.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from mivolo.core.boxes import clip_boxes
from mivolo.core.config import SettleConfig
from mivolo.core.privacy import blur_people
from mivolo.core.score_calibration import ScoreCalibration
from mivolo.core.structures import ACCEPTED, Detections, FinishedIdentity, Label
from tracking.people_estimate import PeopleEstimate, estimate_people

FULL_WEIGHT_FACE_PX = 64.0  # faces this tall or taller get full weight
RECENT_VOTES_S = 8.0  # votes are also kept one by one this long: a later id repair can move them (``exchange``)


@dataclass(frozen=True)
class Vote:
    """One estimate's contribution to an identity."""

    time_s: float
    weight: float
    age: float  # NaN: no age
    male_p: float  # NaN: no gender (or below ``min_gender_conf``)


@dataclass
class TrackState:
    track_id: int
    first_s: float
    last_s: float
    first_frame: int
    last_frame: int
    frames_seen: int = 0
    age_wsum: float = 0.0
    age_w: float = 0.0
    male_wsum: float = 0.0
    gender_w: float = 0.0
    votes: int = 0
    age_votes: int = 0
    gender_votes: int = 0
    male_votes_w: float = 0.0  # weight of the votes that said male (agreement between the faces)
    female_votes_w: float = 0.0
    best_score: float = -1.0
    best_age: float | None = None
    best_male_p: float | None = None
    best_s: float = -np.inf  # when the best estimate was taken
    recent: deque = field(default_factory=deque)  # the votes of the last ``RECENT_VOTES_S`` (Vote)
    window: deque = field(default_factory=deque)
    crop: np.ndarray | None = None
    crop_score: float = -1.0
    crop_frame: int = -1
    crop_s: float = -np.inf
    centre: tuple[float, float] = (0.0, 0.0)
    body_seen: bool = False  # a person box was part of this identity at least once
    face_confirmed: bool = False  # the face-quality gate accepted one of its faces at least once
    last_looked_s: float = -np.inf  # when its face was last checked / estimated (``to_look_at``)
    track_ids: list[int] = field(default_factory=list)  # tracker fragments merged into this identity
    ends: np.ndarray = field(default_factory=lambda: np.zeros((2, 5)))  # first and last sighting: t, x1, y1, x2, y2


@dataclass
class IdentityRecord:
    id: int
    age: float | None
    gender: str | None
    confidence: float
    first_seen_s: float
    last_seen_s: float
    first_frame: int  # 1-based, as in tracks.txt (MOTChallenge)
    last_frame: int
    frames_seen: int
    estimates: int
    track_ids: list[int] = field(default_factory=list)
    best_crop: str | None = None

    def as_row(self) -> dict:
        return {
            "id": self.id,
            "age": None if self.age is None else round(self.age, 1),
            "gender": self.gender,
            "confidence": round(self.confidence, 3),
            "first_seen_s": round(self.first_seen_s, 3),
            "last_seen_s": round(self.last_seen_s, 3),
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
            "frames_seen": self.frames_seen,
            "estimates": self.estimates,
            "track_ids": self.track_ids,
            "best_crop": self.best_crop,
        }


def _gender_from_mean(male_p: float) -> tuple[str, float]:
    """Gender and confidence from the weighted mean probability of male (an honest, non-saturating score)."""
    return ("male", male_p) if male_p >= 0.5 else ("female", 1 - male_p)


def lowest_first(keys: list[tuple], budget: int) -> np.ndarray:
    """Indices of the ``budget`` smallest ``keys`` (ties by position), in ascending index order."""
    return np.sort(np.array(sorted(range(len(keys)), key=keys.__getitem__)[:budget], dtype=np.int64))


class Identities:
    """Per-identity running statistics; ``update(frame_index, time_s, image, dets)`` once per frame.

    Identities unseen for ``forget_after_s`` leave memory through ``retire``; those seen in at least
    ``min_frames`` frames and for at least ``min_seen_s`` seconds (less is detector noise or a track fragment too
    short to be a person) land in ``finished`` for the sinks to take; the others are tallied in ``not_counted``.
    """

    def __init__(self, config: SettleConfig, crop_margin: float = 0.1, min_frames: int | None = None,
                 min_votes: int | None = None, faces_need_confirming: bool = False,
                 min_seen_s: float | None = None, privacy: str = "off",
                 calibration: ScoreCalibration | None = None) -> None:
        """``min_frames`` / ``min_votes`` / ``min_seen_s`` override the config (1, 1, 0 for separate images: one
        look is all there is).

        ``privacy`` (``mivolo.core.privacy``): ``blur`` obscures every face and head of the frame inside a crop
        before it is kept; ``strict`` keeps no crop at all (no face pixels stay in memory or reach an output).

        ``calibration`` maps the detector's raw scores to the share of such detections that were real
        (``mivolo.core.score_calibration``): ``min_detection_conf`` and the vote weights use that scale.

        ``faces_need_confirming`` (a face gate runs): an identity seen only as a face (never with a body) counts
        as a person only once the gate accepted one of its faces; a "face" that never was one is not a person.
        """
        self.faces_need_confirming = faces_need_confirming
        self.privacy = privacy
        self.config = config
        self.calibration = calibration or ScoreCalibration()
        self.tracks: dict[int, TrackState] = {}
        self.crop_margin = crop_margin
        self.min_frames = max(1, config.min_frames if min_frames is None else min_frames)
        self.min_votes = max(1, config.min_votes if min_votes is None else min_votes)
        self.min_seen_s = max(0.0, config.min_seen_s if min_seen_s is None else min_seen_s)
        self.not_counted = {"too_short": 0, "face_never_confirmed": 0}  # retired identities that are not people
        self.estimates_seen = 0  # estimates offered to the vote, and those a --min-*-conf threshold turned away
        self.estimates_below_detection_conf = 0
        self.max_detection_conf = 0.0
        self.finished: list[FinishedIdentity] = []
        self.alias: dict[int, int] = {}  # merged id -> the identity it joined (flat: no chains)
        self.ends: dict[int, np.ndarray] = {}  # counted identities that left memory: (2, 5) first/last sighting
        self.frame_size = (0, 0)  # width, height
        self.start_s: float | None = None  # time of the first frame
        self.cuts_s: list[float] = []  # cuts between shots (``tracking.cuts``), for the people estimate

    # ---- per frame -------------------------------------------------------------------------------------------
    def needs_estimate(self, track_id: int) -> bool:
        state = self.tracks.get(track_id)
        if state is None:
            return True
        if self.config.mode == "temporal":
            return True  # the live window needs fresh estimates
        return state.votes < self.config.votes_to_settle

    def to_look_at(self, ids: np.ndarray, time_s: float, budget: int) -> np.ndarray:
        """(K,) bool over ``ids``: the identities whose faces are checked and estimated in this frame.

        Those that still need estimates; at most ``budget`` of them (0: no cap), fewest votes first, then the one
        looked at longest ago, so in a dense crowd each frame costs a bounded time and everyone gets a turn.
        """
        wanted = np.array([self.needs_estimate(int(t)) for t in ids], dtype=bool)
        if budget > 0 and np.count_nonzero(wanted) > budget:
            candidates = np.flatnonzero(wanted)
            states = [self.tracks.get(int(ids[k])) for k in candidates]
            keys = [(s.votes, s.last_looked_s, int(ids[k])) if s is not None else (0, -np.inf, int(ids[k]))
                    for k, s in zip(candidates, states, strict=True)]
            wanted[:] = False
            wanted[candidates[lowest_first(keys, budget)]] = True
        for k in np.flatnonzero(wanted):
            state = self.tracks.get(int(ids[k]))
            if state is not None:
                state.last_looked_s = time_s
        return wanted

    def update(self, frame_index: int, time_s: float, image: np.ndarray, dets: Detections) -> None:
        """Add presence and the age/gender estimates of this frame's tracked rows (0-based ``frame_index``)."""
        self.frame_size = (image.shape[1], image.shape[0])
        self.start_s = time_s if self.start_s is None else min(self.start_s, time_s)
        for tid, box_row, face_row in zip(*dets.identity_rows(), strict=True):
            tid = int(tid)
            state = self.tracks.get(tid)
            if state is None:
                state = self.tracks[tid] = TrackState(tid, time_s, time_s, frame_index, frame_index,
                                                      window=deque(maxlen=self.config.smoothing_window),
                                                      track_ids=[tid])
                state.ends[0] = (time_s, *dets.xyxy[box_row])
            state.last_s, state.last_frame = time_s, frame_index
            state.ends[1] = (time_s, *dets.xyxy[box_row])
            state.frames_seen += 1
            state.body_seen |= bool(dets.is_person[box_row])
            state.face_confirmed |= bool(face_row >= 0 and dets.face_ok[face_row] == ACCEPTED)
            x1, y1, x2, y2 = dets.xyxy[box_row]
            state.centre = (float((x1 + x2) / 2), float((y1 + y2) / 2))
            self._vote(state, time_s, dets, box_row, face_row)
            self._keep_best_crop(state, frame_index, time_s, image, dets, box_row, face_row)

    def _vote(self, state: TrackState, time_s: float, dets: Detections, box_row: int, face_row: int) -> None:
        est_row = face_row if face_row >= 0 and not np.isnan(dets.age[face_row]) else box_row
        age = float(dets.age[est_row])
        male_p = float(dets.gender_p[est_row])
        if np.isnan(age) and np.isnan(male_p):
            return
        det_conf = float(self.calibration(dets.cls[est_row:est_row + 1], dets.conf[est_row:est_row + 1])[0])
        self.estimates_seen += 1
        self.max_detection_conf = max(self.max_detection_conf, det_conf)
        if det_conf < self.config.min_detection_conf:
            self.estimates_below_detection_conf += 1
            return
        ag_conf = float(dets.age_gender_conf[est_row]) if not np.isnan(dets.age_gender_conf[est_row]) else 0.5
        size = 1.0
        if face_row >= 0:
            face_h = float(dets.xyxy[face_row, 3] - dets.xyxy[face_row, 1])
            size = min(1.0, max(face_h, 1.0) / FULL_WEIGHT_FACE_PX)
        gender_ok = not np.isnan(male_p) and max(male_p, 1 - male_p) >= self.config.min_gender_conf
        vote = Vote(time_s, det_conf * ag_conf * size, age, male_p if gender_ok else np.nan)
        self._add_vote(state, vote)
        state.window.append((age, vote.male_p, vote.weight))
        state.recent.append(vote)
        while state.recent and state.recent[0].time_s < time_s - RECENT_VOTES_S:
            state.recent.popleft()

    @staticmethod
    def _add_vote(state: TrackState, vote: Vote, sign: int = 1) -> None:
        """Add (``sign`` -1: take back) one vote's contribution to the running sums."""
        weight = sign * vote.weight
        state.votes += sign
        if not np.isnan(vote.age):
            state.age_wsum += weight * vote.age
            state.age_w += weight
            state.age_votes += sign
        if not np.isnan(vote.male_p):
            state.male_wsum += weight * vote.male_p
            state.gender_w += weight
            state.gender_votes += sign
            if vote.male_p >= 0.5:
                state.male_votes_w += weight
            else:
                state.female_votes_w += weight
            if sign > 0:
                Identities._consider_best(state, vote)
        if state.age_votes == 0:  # no rounding residue once every vote is taken back
            state.age_wsum = state.age_w = 0.0
        if state.gender_votes == 0:
            state.male_wsum = state.gender_w = state.male_votes_w = state.female_votes_w = 0.0

    @staticmethod
    def _consider_best(state: TrackState, vote: Vote) -> None:
        """``vote`` (one with a gender) becomes the identity's best estimate if it weighs more."""
        if vote.weight > state.best_score:
            state.best_score, state.best_s = vote.weight, vote.time_s
            state.best_age, state.best_male_p = (None if np.isnan(vote.age) else vote.age), vote.male_p

    def exchange(self, a: int, b: int, since_s: float) -> None:
        """A repaired tracker id swap or jump: what identities ``a`` and ``b`` were given after ``since_s`` showed
        the other one's person. Their votes since then (kept one by one for ``RECENT_VOTES_S``) and crops taken
        since then change sides; a best estimate taken since then is replaced by the best one left."""
        states = self.tracks.get(a), self.tracks.get(b)
        if states[0] is None or states[1] is None:
            return
        moved = []
        for state in states:
            later = [v for v in state.recent if v.time_s > since_s]
            state.recent = deque(v for v in state.recent if v.time_s <= since_s)
            for vote in later:
                self._add_vote(state, vote, -1)
            if state.best_s > since_s:  # the best of the votes it keeps
                state.best_score, state.best_s, state.best_age, state.best_male_p = -1.0, -np.inf, None, None
                for vote in state.recent:
                    if not np.isnan(vote.male_p):
                        self._consider_best(state, vote)
            moved.append(later)
        for state, votes in zip(states, reversed(moved), strict=True):
            for vote in votes:
                self._add_vote(state, vote)
            state.recent = deque(sorted([*state.recent, *votes], key=lambda v: v.time_s))
        self._exchange_crops(states, since_s)

    def split(self, a: int, new: int, since_s: float, last_xyxy: np.ndarray, first_xyxy: np.ndarray) -> None:
        """An identity split in two (``tracking.splits``): what ``a`` was given after ``since_s`` showed another
        person, identity ``new`` from now on. ``new`` takes those votes and crops (as ``exchange`` moves them), its
        sightings since then (its frames counted in proportion to the time) and its first box ``first_xyxy``
        (4,); ``a`` was last seen at ``since_s`` with ``last_xyxy`` (4,)."""
        state = self.tracks.get(a)
        if state is None or new in self.tracks or not state.first_s <= since_s < state.last_s:
            return
        share = (state.last_s - since_s) / max(state.last_s - state.first_s, 1e-6)
        moved = min(state.frames_seen - 1, int(round(state.frames_seen * share)))
        frames = state.last_frame - state.first_frame
        split_frame = state.last_frame - int(round(frames * share))
        other = self.tracks[new] = TrackState(new, since_s, state.last_s, split_frame + 1, state.last_frame,
                                              frames_seen=moved, window=deque(maxlen=self.config.smoothing_window),
                                              track_ids=[new], body_seen=state.body_seen, centre=state.centre)
        other.ends[0], other.ends[1] = (since_s, *first_xyxy), state.ends[1]
        state.last_s, state.last_frame, state.frames_seen = since_s, split_frame, state.frames_seen - moved
        state.ends[1] = (since_s, *last_xyxy)
        self.exchange(a, new, since_s)

    @staticmethod
    def _exchange_crops(states: tuple[TrackState, TrackState], since_s: float) -> None:
        """Crops taken after ``since_s`` showed the other identity's person: each goes there (if better than what
        that one keeps) and leaves its identity without a crop until a better one comes."""
        crops = [(s.crop, s.crop_score, s.crop_frame, s.crop_s) if s.crop_s > since_s else None for s in states]
        for state, crop in zip(states, crops, strict=True):
            if crop is not None:
                state.crop, state.crop_score, state.crop_frame, state.crop_s = None, -1.0, -1, -np.inf
        for state, crop in zip(states, reversed(crops), strict=True):
            if crop is not None and crop[1] > state.crop_score:
                state.crop, state.crop_score, state.crop_frame, state.crop_s = crop

    def _keep_best_crop(self, state: TrackState, frame_index: int, time_s: float, image: np.ndarray,
                        dets: Detections, box_row: int, face_row: int) -> None:
        """Keep the crop with the best score: large sharp faces first, then large confident bodies."""
        if self.privacy == "strict":
            return
        face_h = float(dets.xyxy[face_row, 3] - dets.xyxy[face_row, 1]) if face_row >= 0 else 0.0
        box = dets.xyxy[box_row]
        body_h = float(box[3] - box[1])
        score = float(dets.conf[box_row]) * (1.0 + min(body_h, 400.0) / 400.0) + (2.0 * min(face_h, 96.0) / 96.0)
        if score <= state.crop_score:
            return
        height, width = image.shape[:2]
        margin = (box[2:] - box[:2]) * self.crop_margin
        x1, y1, x2, y2 = clip_boxes(np.concatenate([box[:2] - margin, box[2:] + margin])[None], width, height)[0]
        x1, y1, x2, y2 = int(x1), int(y1), int(x2), int(y2)
        if x2 - x1 < 2 or y2 - y1 < 2:
            return
        state.crop = image[y1:y2, x1:x2].copy()
        if self.privacy == "blur":  # every face and head of the frame that reaches into the crop
            offset = np.array([x1, y1, x1, y1], dtype=np.float32)
            state.crop = blur_people(state.crop, dets.xyxy - offset, dets.is_face)
        state.crop_score = score
        state.crop_frame, state.crop_s = frame_index, time_s

    # ---- labels ----------------------------------------------------------------------------------------------
    def live_label(self, track_id: int) -> Label:
        state = self.tracks.get(track_id)
        if state is None:
            return Label(None, None, 0.0)
        if self.config.mode == "temporal" and state.window:
            values = np.array(list(state.window), dtype=np.float64)
            age_ok = ~np.isnan(values[:, 0])
            age = float(np.average(values[age_ok, 0], weights=values[age_ok, 2])) if age_ok.any() and \
                values[age_ok, 2].sum() > 0 else None
            g_ok = ~np.isnan(values[:, 1])
            if g_ok.sum() >= self.min_votes and values[g_ok, 2].sum() > 0 and not self._too_young(age):
                gender, conf = _gender_from_mean(float(np.average(values[g_ok, 1], weights=values[g_ok, 2])))
            else:
                gender, conf = None, 0.0
            return Label(age, gender, conf)
        return self.final_label(track_id)

    def final_label(self, track_id: int) -> Label:
        return self.final_label_of(self.tracks[track_id])

    def final_label_of(self, state: TrackState) -> Label:
        """The settled label; age and gender stay None (unknown) without enough good evidence (``settled``)."""
        age = self._settled_age(state)
        if not self.gender_settled(state):
            return Label(age, None, 0.0)
        if self.config.mode == "confidence" and state.best_male_p is not None:
            gender = "male" if state.best_male_p >= 0.5 else "female"
            return Label(state.best_age if age is not None else None, gender,
                         max(state.best_male_p, 1 - state.best_male_p))
        gender, conf = _gender_from_mean(state.male_wsum / state.gender_w)
        return Label(age, gender, conf)

    def gender_settled(self, state: TrackState) -> bool:
        """Enough good evidence for a gender: ``min_votes`` estimates that passed the thresholds, faces that agree
        (the weight of the majority side at least ``min_gender_agreement``) and a mean probability at least
        ``min_gender_conf`` away from a coin toss; and not a child by its settled age (below ``min_gender_age``),
        whose gender the model cannot tell."""
        if state.gender_votes < self.min_votes or state.gender_w <= 0 or state.male_votes_w + state.female_votes_w <= 0:
            return False
        if self._too_young(self._settled_age(state)):
            return False
        agreement = max(state.male_votes_w, state.female_votes_w) / (state.male_votes_w + state.female_votes_w)
        mean = state.male_wsum / state.gender_w
        return agreement >= self.config.min_gender_agreement and max(mean, 1 - mean) >= self.config.min_gender_conf

    def _settled_age(self, state: TrackState) -> float | None:
        """The weighted mean age of ``min_votes`` estimates or more (None: not enough of them)."""
        return state.age_wsum / state.age_w if state.age_w > 0 and state.age_votes >= self.min_votes else None

    def _too_young(self, age: float | None) -> bool:
        """Whether a settled ``age`` (None: unknown) is below ``min_gender_age`` (no gender then)."""
        return age is not None and age < (self.config.min_gender_age or 0.0)

    def final_ids(self, ids: np.ndarray) -> np.ndarray:
        """(K,) ids written earlier -> (K,) the identity each one ended up in (after later merges)."""
        ids = np.asarray(ids, dtype=np.int64)
        if not self.alias or len(ids) == 0:
            return ids
        return np.array([self.alias.get(int(i), int(i)) for i in ids], dtype=np.int64)

    def merge(self, source_id: int, target_id: int) -> None:
        """Fold identity ``source_id`` (a track fragment) into ``target_id``: all its evidence counts there."""
        self.alias[source_id] = target_id
        for child, parent in list(self.alias.items()):  # keep the map flat
            if parent == source_id:
                self.alias[child] = target_id
        source = self.tracks.pop(source_id, None)
        target = self.tracks.get(target_id)
        if source is None:
            return
        if target is None:
            source.track_id = target_id
            source.track_ids = sorted({target_id, *source.track_ids})
            self.tracks[target_id] = source
            return
        if source.first_s < target.first_s:
            target.first_s, target.first_frame, target.ends[0] = source.first_s, source.first_frame, source.ends[0]
        if source.last_s > target.last_s:
            target.last_s, target.last_frame, target.centre = source.last_s, source.last_frame, source.centre
            target.ends[1] = source.ends[1]
        target.frames_seen += source.frames_seen
        target.age_wsum += source.age_wsum
        target.age_w += source.age_w
        target.male_wsum += source.male_wsum
        target.gender_w += source.gender_w
        target.votes += source.votes
        target.age_votes += source.age_votes
        target.gender_votes += source.gender_votes
        target.male_votes_w += source.male_votes_w
        target.female_votes_w += source.female_votes_w
        if source.best_score > target.best_score:
            target.best_score, target.best_age, target.best_male_p, target.best_s = source.best_score, \
                source.best_age, source.best_male_p, source.best_s
        target.window.extend(source.window)
        target.recent = deque(sorted([*target.recent, *source.recent], key=lambda v: v.time_s))
        if source.crop_score > target.crop_score:
            target.crop, target.crop_score, target.crop_frame, target.crop_s = source.crop, source.crop_score, \
                source.crop_frame, source.crop_s
        target.track_ids = sorted({*target.track_ids, *source.track_ids})
        target.body_seen |= source.body_seen
        target.face_confirmed |= source.face_confirmed

    # ---- leaving memory --------------------------------------------------------------------------------------
    def record_of(self, state: TrackState) -> IdentityRecord:
        label = self.final_label_of(state)
        return IdentityRecord(id=state.track_id, age=label.age, gender=label.gender, confidence=label.confidence,
                              first_seen_s=state.first_s, last_seen_s=state.last_s, first_frame=state.first_frame + 1,
                              last_frame=state.last_frame + 1, frames_seen=state.frames_seen, estimates=state.votes,
                              track_ids=sorted(state.track_ids))

    def retire(self, now_s: float | None = None) -> list[TrackState]:
        """Identities unseen for ``forget_after_s`` (all of them when ``now_s`` is None) leave memory.

        Those seen often enough to count are appended to ``finished`` (row and best crop); every retired state is
        returned, so the caller can drop what other stages keep about those ids.
        """
        gone = [tid for tid, s in self.tracks.items()
                if now_s is None or now_s - s.last_s > self.config.forget_after_s]
        states = [self.tracks.pop(tid) for tid in gone]
        for state in states:
            reason = self.not_counted_reason(state)
            if reason is None:
                self.finished.append(FinishedIdentity(self.record_of(state).as_row(), state.crop))
                self.ends[state.track_id] = state.ends.copy()
            else:
                self.not_counted[reason] += 1
        return states

    def people_estimate(self) -> PeopleEstimate:
        """People among the counted identities that left memory, when lost-and-found ones are one person
        (``tracking.people_estimate``)."""
        ends = np.stack(list(self.ends.values())) if self.ends else np.zeros((0, 2, 5))
        return estimate_people(ends, self.frame_size, self.start_s or 0.0, cuts_s=tuple(self.cuts_s))

    def cut(self, time_s: float) -> None:
        """A new shot starts at ``time_s`` (``tracking.cuts``): no one is found again across it."""
        self.cuts_s.append(float(time_s))

    def not_counted_reason(self, state: TrackState) -> str | None:
        """Why an identity is not a person to count (None: it is one): seen in too few frames or for too short a
        time, or (with a face gate) seen only as a face that the gate never accepted."""
        if state.frames_seen < self.min_frames or state.last_s - state.first_s < self.min_seen_s:
            return "too_short"
        if not (state.body_seen or state.face_confirmed or not self.faces_need_confirming):
            return "face_never_confirmed"
        return None

    def counts(self, state: TrackState) -> bool:
        """Whether an identity is a person to count (see ``not_counted_reason``)."""
        return self.not_counted_reason(state) is None
