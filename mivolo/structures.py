"""The one data structure: the boxes of one frame as parallel numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

PERSON = 0
FACE = 1
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
    """N boxes of one frame (persons and faces), one row each.

    Stages add columns by writing into the arrays; nobody keeps Python objects per box.
    ``pair`` is the row index of the matched face (for a person) or person (for a face).
    ``gender_p`` is the probability of male; NaN where not estimated.
    """

    xyxy: np.ndarray = field(default_factory=lambda: _empty(np.float32, 4))
    conf: np.ndarray = field(default_factory=lambda: _empty(np.float32))
    cls: np.ndarray = field(default_factory=lambda: _empty(np.int16))
    track_id: np.ndarray = field(default_factory=lambda: _empty(np.int64))
    pair: np.ndarray = field(default_factory=lambda: _empty(np.int64))
    age: np.ndarray = field(default_factory=lambda: _empty(np.float32))
    gender_p: np.ndarray = field(default_factory=lambda: _empty(np.float32))
    age_gender_conf: np.ndarray = field(default_factory=lambda: _empty(np.float32))

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

    def __len__(self) -> int:
        return len(self.xyxy)

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

    def validate(self) -> None:
        n = len(self)
        for f in fields(self):
            if len(getattr(self, f.name)) != n:
                raise ValueError(f"Detections column {f.name} has {len(getattr(self, f.name))} rows, expected {n}")
