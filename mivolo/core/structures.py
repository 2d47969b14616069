"""The one data structure: the boxes of one frame as parallel numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

PERSON = 0
FACE = 1
UNCHECKED, REJECTED, ACCEPTED = -1, 0, 1  # face_ok values
CLASS_NAMES = {PERSON: "person", FACE: "face"}


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame: its index in the source, its time and the BGR pixels."""

    index: int
    time_s: float
    image: np.ndarray


def _empty(dtype: type, *shape: int, fill: float = 0) -> np.ndarray:
    return np.full((0, *shape), fill, dtype=dtype)


@dataclass(slots=True)
class Detections:
    """N boxes of one frame (persons and faces), one row each, as parallel numpy columns.

    ``xyxy (N, 4) float32`` pixels; ``conf (N,) float32``; ``cls (N,) int16`` (PERSON / FACE);
    ``track_id (N,) int64`` (-1 until tracked; identity ids after the merge step); ``pair (N,) int64`` the row of
    the matched face (for a person) or person (for a face), -1 if none; ``age``, ``gender_p`` (probability of
    male) and ``age_gender_conf`` ``(N,) float32``, NaN where not estimated; ``face_ok (N,) int8`` the face-quality
    gate's verdict on a face row (1 a real, usable face, whose box is then dlib's HOG face box; 0 rejected: back of
    a head, blurred, too small; -1 not checked). Stages add columns by writing into the arrays; nobody keeps Python
    objects per box. Columns are checked on construction.

    >>> dets = Detections.from_boxes([[0, 0, 10, 20], [2, 1, 6, 5]], [0.9, 0.8], [PERSON, FACE])
    >>> len(dets), dets[dets.is_face].xyxy.tolist()
    (2, [[2.0, 1.0, 6.0, 5.0]])
    """

    xyxy: np.ndarray = field(default_factory=lambda: _empty(np.float32, 4))
    conf: np.ndarray = field(default_factory=lambda: _empty(np.float32))
    cls: np.ndarray = field(default_factory=lambda: _empty(np.int16))
    track_id: np.ndarray = field(default_factory=lambda: _empty(np.int64))
    pair: np.ndarray = field(default_factory=lambda: _empty(np.int64))
    age: np.ndarray = field(default_factory=lambda: _empty(np.float32))
    gender_p: np.ndarray = field(default_factory=lambda: _empty(np.float32))
    age_gender_conf: np.ndarray = field(default_factory=lambda: _empty(np.float32))
    face_ok: np.ndarray = field(default_factory=lambda: _empty(np.int8))

    @classmethod
    def from_boxes(cls, xyxy: np.ndarray, conf: np.ndarray, classes: np.ndarray | int) -> Detections:
        xyxy = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
        n = len(xyxy)
        labels = np.full(n, classes, dtype=np.int16) if np.isscalar(classes) else np.asarray(classes, np.int16)
        return cls(
            xyxy=xyxy,
            conf=np.asarray(conf, dtype=np.float32).reshape(n),
            cls=labels.reshape(n),
            track_id=np.full(n, -1, dtype=np.int64),
            pair=np.full(n, -1, dtype=np.int64),
            age=np.full(n, np.nan, dtype=np.float32),
            gender_p=np.full(n, np.nan, dtype=np.float32),
            age_gender_conf=np.full(n, np.nan, dtype=np.float32),
            face_ok=np.full(n, UNCHECKED, dtype=np.int8),
        )

    @classmethod
    def concat(cls, parts: list[Detections]) -> Detections:
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls()
        if len(parts) == 1:
            return parts[0]
        offsets = np.cumsum([0] + [len(p) for p in parts[:-1]])
        pairs = [np.where(p.pair >= 0, p.pair + off, -1) for p, off in zip(parts, offsets, strict=True)]
        merged = {f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)}
        merged["pair"] = np.concatenate(pairs)
        return cls(**merged)

    def __post_init__(self) -> None:
        self.validate()

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, mask_or_index: np.ndarray) -> Detections:
        """``dets[mask]`` / ``dets[rows]``: the same as ``select``."""
        return self.select(mask_or_index)

    def select(self, mask_or_index: np.ndarray) -> Detections:
        """Rows by boolean mask or index array. ``pair`` is re-mapped to the new row numbers."""
        index = np.flatnonzero(mask_or_index) if np.asarray(mask_or_index).dtype == bool else np.asarray(mask_or_index)
        new_row = np.full(len(self), -1, dtype=np.int64)
        new_row[index] = np.arange(len(index))
        old_pair = self.pair[index]
        pair = np.where(old_pair >= 0, new_row[np.clip(old_pair, 0, None)], -1) if len(index) else old_pair
        out = Detections(**{f.name: getattr(self, f.name)[index] for f in fields(Detections)})
        out.pair = pair.astype(np.int64)
        return out

    @property
    def is_person(self) -> np.ndarray:
        return self.cls == PERSON

    @property
    def is_face(self) -> np.ndarray:
        return self.cls == FACE

    def usable_face_rows(self) -> np.ndarray:
        """(N,) int64: like ``face_rows``, but -1 where the face was rejected by the face-quality gate."""
        rows = self.face_rows()
        return np.where((rows >= 0) & (self.face_ok[np.maximum(rows, 0)] != REJECTED), rows, -1)

    def face_rows(self) -> np.ndarray:
        """(N,) int64: for each row, the row of its face (itself for a face, its pair for a person) or -1."""
        return np.where(self.is_face, np.arange(len(self)), np.where(self.is_person, self.pair, -1)).astype(np.int64)

    def person_rows(self) -> np.ndarray:
        """(N,) int64: for each row, the row of its person (itself for a person, its pair for a face) or -1."""
        return np.where(self.is_person, np.arange(len(self)), np.where(self.is_face, self.pair, -1)).astype(np.int64)

    def identity_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One entry per tracked identity of this frame: ``(ids (K,), box_rows (K,), face_rows (K,))``.

        The box row is the identity's person row if it has one, else its face row; ``face_rows`` is -1 where the
        identity shows no usable face (none, or one the face-quality gate rejected). Ids are in ascending order.
        """
        tracked = np.flatnonzero(self.track_id >= 0)
        ids, first = np.unique(self.track_id[tracked], return_index=True)
        rows = tracked[first]
        person = self.person_rows()[rows]
        box_rows = np.where(person >= 0, person, rows)
        return ids.astype(np.int64), box_rows.astype(np.int64), self.usable_face_rows()[rows]

    def validate(self) -> None:
        """Raise ValueError unless every column has one value per row and ``xyxy`` is (N, 4)."""
        n = len(self)
        if self.xyxy.ndim != 2 or self.xyxy.shape[1] != 4:
            raise ValueError(f"Detections.xyxy must be (N, 4), got {self.xyxy.shape}")
        for f in fields(self):
            if len(getattr(self, f.name)) != n:
                raise ValueError(f"Detections column {f.name} has {len(getattr(self, f.name))} rows, expected {n}")


@dataclass
class Label:
    """The settled (or live) label of one identity; None where the evidence is not enough."""

    age: float | None
    gender: str | None  # "male" | "female" | None
    confidence: float  # 0..1: agreement and amount of evidence


@dataclass
class FinishedIdentity:
    """An identity that left memory: its output row (see README, identities.json) and its best crop (BGR)."""

    row: dict
    crop: np.ndarray | None = None
