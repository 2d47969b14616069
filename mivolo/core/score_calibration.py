"""Detector scores on one scale: the share of detections with that raw score that were real.

BlazeFace, YuNet, SSDLite and YOLOX each score on their own scale, so one ``--min-detection-conf`` would mean
different things per detector. ``benchmarks/score_calibration.py`` measures, on labelled real footage, how often a
detection with a given raw score was real and writes knots per model name to ``configs/score_calibration.json``;
``ScoreCalibration`` maps raw scores through them (linear between knots, flat beyond the ends). Models the table
does not name keep their raw scores (``calibrated_models`` says which are on the common scale).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson

from mivolo.core.paths import CONFIGS_DIR
from mivolo.core.structures import FACE, PERSON

TABLE = CONFIGS_DIR / "score_calibration.json"
KINDS = {PERSON: ("person", "persons"), FACE: ("face", "faces")}  # class -> (table section, detector.models key)
log = logging.getLogger(__name__)
MOSTLY_REAL = 0.5  # without --person-conf, boxes of scores whose calibrated share real is below this are dropped


@dataclass
class ScoreCalibration:
    """``knots[cls] = (raw (K,), calibrated (K,))`` for the classes whose model the table knows; ``__call__`` maps
    ``(cls (N,), conf (N,))`` to (N,) float32 calibrated scores (raw where no knots)."""

    knots: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    calibrated_models: dict[str, str] = field(default_factory=dict)  # "face"/"person" -> model name
    raw_models: dict[str, str] = field(default_factory=dict)  # models the table does not know

    def __call__(self, cls: np.ndarray, conf: np.ndarray) -> np.ndarray:
        out = np.asarray(conf, np.float32).copy()
        for kind, (raw, calibrated) in self.knots.items():
            rows = np.asarray(cls) == kind
            if rows.any():
                out[rows] = np.interp(out[rows], raw, calibrated).astype(np.float32)
        return out

    def raw_reaching(self, cls: int, share: float) -> float | None:
        """The lowest raw score of class ``cls`` whose calibrated share real is at least ``share`` (None: no knots
        for that class, or never reached)."""
        if cls not in self.knots:
            return None
        raw, calibrated = self.knots[cls]
        reached = np.flatnonzero(calibrated >= share)
        return float(raw[reached[0]]) if len(reached) else None

    @classmethod
    def for_models(cls, models: dict[str, str] | None, table: Path = TABLE) -> ScoreCalibration:
        """The calibration of a detector's ``models`` ({"persons": name, "faces": name}); empty without a table."""
        entries = _table(table)
        result = cls()
        for kind, (section, key) in KINDS.items():
            name = (models or {}).get(key)
            if not name or name == "none":
                continue
            entry = entries.get(section, {}).get(name)
            if entry is None:
                result.raw_models[section] = name
                continue
            result.knots[kind] = (np.asarray(entry["raw"], np.float64), np.asarray(entry["calibrated"], np.float64))
            result.calibrated_models[section] = name
        return result


def calibrated_person_conf(model_name: str, floor: float, share: float = MOSTLY_REAL) -> float:
    """The person threshold of a model run without ``--person-conf``: ``floor``, raised to the lowest raw score from
    which its boxes were real at least ``share`` of the time on labelled real footage (when the table knows it)."""
    reached = ScoreCalibration.for_models({"persons": model_name}).raw_reaching(PERSON, share)
    if reached is None or reached <= floor:
        return floor
    log.info("person threshold %.2f for %s: its boxes below that were real less than %d%% of the time on labelled "
             "real footage (benchmarks/score_calibration.py)", reached, model_name, round(100 * share))
    return reached


@functools.lru_cache(maxsize=4)
def _table(path: Path) -> dict:
    """The calibration table, read once per process (the detector and the settling stage both ask)."""
    try:
        return orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        log.warning("no detector score calibration (%s unreadable): --min-detection-conf compares raw scores", path)
        return {}
