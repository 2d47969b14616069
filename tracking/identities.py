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

from mivolo.config import SettleConfig
from mivolo.structures import Detections

FULL_WEIGHT_FACE_PX = 64.0  # faces this tall or taller get full weight


@dataclass
class Label:
    age: float | None
    gender: str | None  # "male" | "female" | None
    confidence: float  # 0..1: agreement and amount of evidence

    @property
    def male_p(self) -> float | None:
        return None if self.gender is None else self.confidence if self.gender == "male" else 1 - self.confidence


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
    best_score: float = -1.0
    best_age: float | None = None
    best_male_p: float | None = None
    window: deque = field(default_factory=deque)
    crop: np.ndarray | None = None
    crop_score: float = -1.0
    crop_frame: int = -1
    centre: tuple[float, float] = (0.0, 0.0)
    track_ids: list[int] = field(default_factory=list)  # tracker fragments merged into this identity


@dataclass
class IdentityRecord:
    id: int
    age: float | None
    gender: str | None
    confidence: float
    first_seen_s: float
    last_seen_s: float
    first_frame: int
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


class Identities:
    """Per-track running statistics; ``update(frame_index, time_s, image, dets)`` once per frame."""

    def __init__(self, config: SettleConfig, crop_margin: float = 0.1) -> None:
        self.config = config
        self.tracks: dict[int, TrackState] = {}
        self.crop_margin = crop_margin

    # ---- per frame -------------------------------------------------------------------------------------------
    def needs_estimate(self, track_id: int) -> bool:
        state = self.tracks.get(track_id)
        if state is None:
            return True
        if self.config.mode == "temporal":
            return True  # the live window needs fresh estimates
        return state.votes < self.config.votes_to_settle

    def update(self, frame_index: int, time_s: float, image: np.ndarray, dets: Detections) -> None:
        """Add presence and the age/gender estimates of this frame's tracked rows."""
        face_rows = dets.is_face
        seen: set[int] = set()
        # One row per identity: the person row if any, else its face row.
        for row in np.flatnonzero(dets.track_id >= 0):
            tid = int(dets.track_id[row])
            person_row = row if not face_rows[row] else (int(dets.pair[row]) if dets.pair[row] >= 0 else -1)
            face_row = row if face_rows[row] else (int(dets.pair[row]) if dets.pair[row] >= 0 else -1)
            if tid in seen:
                continue
            seen.add(tid)
            state = self.tracks.get(tid)
            if state is None:
                state = self.tracks[tid] = TrackState(tid, time_s, time_s, frame_index, frame_index,
                                                      window=deque(maxlen=self.config.smoothing_window),
                                                      track_ids=[tid])
            state.last_s, state.last_frame = time_s, frame_index
            state.frames_seen += 1
            box_row = person_row if person_row >= 0 else face_row
            x1, y1, x2, y2 = dets.xyxy[box_row]
            state.centre = (float((x1 + x2) / 2), float((y1 + y2) / 2))
            self._vote(state, dets, box_row, face_row)
            self._keep_best_crop(state, frame_index, image, dets, box_row, face_row)

    def _vote(self, state: TrackState, dets: Detections, box_row: int, face_row: int) -> None:
        est_row = face_row if face_row >= 0 and not np.isnan(dets.age[face_row]) else box_row
        age = float(dets.age[est_row])
        male_p = float(dets.gender_p[est_row])
        if np.isnan(age) and np.isnan(male_p):
            return
        det_conf = float(dets.conf[est_row])
        if det_conf < self.config.min_detection_conf:
            return
        ag_conf = float(dets.age_gender_conf[est_row]) if not np.isnan(dets.age_gender_conf[est_row]) else 0.5
        size = 1.0
        if face_row >= 0:
            face_h = float(dets.xyxy[face_row, 3] - dets.xyxy[face_row, 1])
            size = min(1.0, max(face_h, 1.0) / FULL_WEIGHT_FACE_PX)
        weight = det_conf * ag_conf * size
        state.votes += 1
        if not np.isnan(age):
            state.age_wsum += weight * age
            state.age_w += weight
        gender_ok = not np.isnan(male_p) and max(male_p, 1 - male_p) >= self.config.min_gender_conf
        if gender_ok:
            state.male_wsum += weight * male_p
            state.gender_w += weight
        score = weight
        if score > state.best_score and gender_ok:
            state.best_score, state.best_age, state.best_male_p = score, (None if np.isnan(age) else age), male_p
        state.window.append((age, male_p if gender_ok else np.nan, weight))

    def _keep_best_crop(self, state: TrackState, frame_index: int, image: np.ndarray, dets: Detections,
                        box_row: int, face_row: int) -> None:
        """Keep the crop with the best score: large sharp faces first, then large confident bodies."""
        face_h = float(dets.xyxy[face_row, 3] - dets.xyxy[face_row, 1]) if face_row >= 0 else 0.0
        box = dets.xyxy[box_row]
        body_h = float(box[3] - box[1])
        score = float(dets.conf[box_row]) * (1.0 + min(body_h, 400.0) / 400.0) + (2.0 * min(face_h, 96.0) / 96.0)
        if score <= state.crop_score:
            return
        height, width = image.shape[:2]
        x1, y1, x2, y2 = box
        mx, my = (x2 - x1) * self.crop_margin, (y2 - y1) * self.crop_margin
        x1, y1 = int(max(0, x1 - mx)), int(max(0, y1 - my))
        x2, y2 = int(min(width, x2 + mx)), int(min(height, y2 + my))
        if x2 - x1 < 2 or y2 - y1 < 2:
            return
        state.crop = image[y1:y2, x1:x2].copy()
        state.crop_score = score
        state.crop_frame = frame_index

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
            if g_ok.any() and values[g_ok, 2].sum() > 0:
                gender, conf = _gender_from_mean(float(np.average(values[g_ok, 1], weights=values[g_ok, 2])))
            else:
                gender, conf = None, 0.0
            return Label(age, gender, conf)
        return self.final_label(track_id)

    def final_label(self, track_id: int) -> Label:
        return self.final_label_of(self.tracks[track_id])

    def final_label_of(self, state: TrackState) -> Label:
        if self.config.mode == "confidence":
            if state.best_male_p is None:
                return Label(state.age_wsum / state.age_w if state.age_w > 0 else None, None, 0.0)
            gender = "male" if state.best_male_p >= 0.5 else "female"
            return Label(state.best_age, gender, max(state.best_male_p, 1 - state.best_male_p))
        age = state.age_wsum / state.age_w if state.age_w > 0 else None
        gender, conf = _gender_from_mean(state.male_wsum / state.gender_w) if state.gender_w > 0 else (None, 0.0)
        return Label(age, gender, conf)

    def merge(self, source_id: int, target_id: int) -> None:
        """Fold identity ``source_id`` (a track fragment) into ``target_id``: all its evidence counts there."""
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
            target.first_s, target.first_frame = source.first_s, source.first_frame
        if source.last_s > target.last_s:
            target.last_s, target.last_frame, target.centre = source.last_s, source.last_frame, source.centre
        target.frames_seen += source.frames_seen
        target.age_wsum += source.age_wsum
        target.age_w += source.age_w
        target.male_wsum += source.male_wsum
        target.gender_w += source.gender_w
        target.votes += source.votes
        if source.best_score > target.best_score:
            target.best_score, target.best_age, target.best_male_p = source.best_score, source.best_age, \
                source.best_male_p
        target.window.extend(source.window)
        if source.crop_score > target.crop_score:
            target.crop, target.crop_score, target.crop_frame = source.crop, source.crop_score, source.crop_frame
        target.track_ids = sorted({*target.track_ids, *source.track_ids})

    # ---- leaving memory --------------------------------------------------------------------------------------
    def record_of(self, state: TrackState) -> IdentityRecord:
        label = self.final_label_of(state)
        return IdentityRecord(id=state.track_id, age=label.age, gender=label.gender, confidence=label.confidence,
                              first_seen_s=state.first_s, last_seen_s=state.last_s, first_frame=state.first_frame,
                              last_frame=state.last_frame, frames_seen=state.frames_seen, estimates=state.votes,
                              track_ids=sorted(state.track_ids))

    def pop_stale(self, now_s: float) -> list[TrackState]:
        """Tracks unseen for ``forget_after_s``: removed from memory and handed to the caller to finalise."""
        stale = [tid for tid, s in self.tracks.items() if now_s - s.last_s > self.config.forget_after_s]
        return [self.tracks.pop(tid) for tid in stale]

    def pop_all(self) -> list[TrackState]:
        states = list(self.tracks.values())
        self.tracks.clear()
        return states
