"""What the report shows, read from one output folder: identities.json, demographics.json, crops/ and run.json.

Everything here is computed from those files alone (so a batch overview can read many folders the same way):
the headline figures, the series of the charts and the gallery rows.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np
import orjson

from mivolo.sinks.demographics import AGE_GROUPS

UNKNOWN = "unknown"


@dataclass
class Headline:
    """The figures at the top of the report (counts of identities.json; times in seconds)."""

    people: int
    men: int
    women: int
    unknown: int
    median_dwell_s: float | None
    video_s: float | None
    frames: int | None
    fps: float | None
    people_estimate: int | None = None  # identities.json people_estimate.people (lost-and-found joined)


@dataclass
class ReportData:
    """One run's outputs as the report reads them.

    ``identities``: the rows of identities.json; ``demographics``: demographics.json (None when absent);
    ``run``: run.json's content (or the same record handed over by the run before run.json is written).
    """

    folder: Path
    identities: list[dict]
    demographics: dict | None
    run: dict = field(default_factory=dict)
    people_estimate: dict | None = None  # identities.json's block (tracking.people_estimate)

    @property
    def privacy(self) -> str:
        return str((self.run.get("privacy") or {}).get("level") or _config(self.run, "output", "privacy") or "off")

    @property
    def source_name(self) -> str:
        return str((self.run.get("source") or {}).get("name") or self.folder.name)


def _read_json(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc})") from None


def _config(run: dict, section: str, key: str) -> Any:
    return ((run.get("config") or {}).get(section) or {}).get(key)


def load_folder(folder: Path, run: dict | None = None) -> ReportData:
    """Read an output folder; ``run`` replaces run.json (the run's own record, before run.json exists).

    Raises FileNotFoundError when identities.json is missing (the one file a report cannot do without).
    """
    folder = Path(folder)
    identities_path = folder / "identities.json"
    if not identities_path.is_file():
        raise FileNotFoundError(f"{identities_path} not found: not an output folder of a finished run")
    content = _read_json(identities_path)
    rows = list(content.get("identities") or [])
    if run is None:
        run = _read_json(folder / "run.json") if (folder / "run.json").is_file() else {}
    demographics_name = _config(run, "output", "json_output_path") or "demographics.json"
    demographics_path = folder / demographics_name
    demographics = _read_json(demographics_path) if demographics_path.is_file() else None
    return ReportData(folder, rows, demographics, run, content.get("people_estimate"))


def dwell_s(row: dict) -> float:
    """Seconds between an identity's first and last sighting."""
    return max(0.0, float(row["last_seen_s"]) - float(row["first_seen_s"]))


def headline(data: ReportData) -> Headline:
    rows = data.identities
    men = sum(r.get("gender") == "male" for r in rows)
    women = sum(r.get("gender") == "female" for r in rows)
    source = data.run.get("source") or {}
    fps = float(source.get("fps") or 0.0) or None
    frames = data.run.get("frames_processed")
    if frames is None and data.demographics is not None:
        frames = (data.demographics.get("source") or {}).get("frames")
    video_s = frames / fps if frames is not None and fps else None
    return Headline(people=len(rows), men=men, women=women, unknown=len(rows) - men - women,
                    median_dwell_s=median(dwell_s(r) for r in rows) if rows else None,
                    video_s=video_s, frames=frames, fps=fps,
                    people_estimate=(data.people_estimate or {}).get("people"))


def presence(data: ReportData) -> tuple[np.ndarray, np.ndarray]:
    """People present over time from demographics.json's buckets, missing buckets as zeros.

    Returns (edges (B+1,) seconds, counts (3, B) men / women / unknown gender per bucket); empty without buckets.
    """
    buckets = (data.demographics or {}).get("buckets") or []
    if not buckets:
        return np.zeros(0), np.zeros((3, 0))
    step = float(data.demographics.get("interval_s") or (buckets[0]["end_s"] - buckets[0]["start_s"]) or 1.0)
    first = min(int(round(b["start_s"] / step)) for b in buckets)
    last = max(int(round(b["start_s"] / step)) for b in buckets)
    counts = np.zeros((3, last - first + 1))
    for b in buckets:
        k = int(round(b["start_s"] / step)) - first
        counts[:, k] = (b["men"], b["women"], b["unknown_gender"])
    edges = (np.arange(first, last + 2)) * step
    return edges, counts


def nice_step(span_s: float, max_bins: int = 40) -> float:
    """A round bucket width (1, 2, 5, 10, 15, 30 s, 1, 2, 5, 10, 15, 30 min, 1 h, ...) giving at most ``max_bins``."""
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400):
        if span_s / step <= max_bins:
            return float(step)
    return float(math.ceil(span_s / max_bins / 86400) * 86400)


def arrivals(data: ReportData, video_s: float | None) -> tuple[np.ndarray, np.ndarray]:
    """New identities per time bucket: (edges (B+1,) seconds, counts (3, B) men / women / unknown)."""
    firsts = np.array([float(r["first_seen_s"]) for r in data.identities])
    span = max(video_s or 0.0, float(firsts.max()) if len(firsts) else 0.0, 1.0)
    step = nice_step(span)
    edges = np.arange(0.0, span + step, step)
    if len(edges) < 2 or edges[-1] < span:
        edges = np.append(edges, edges[-1] + step)
    counts = np.zeros((3, len(edges) - 1))
    for row in data.identities:
        k = min(int(float(row["first_seen_s"]) // step), len(edges) - 2)
        counts[_gender_index(row.get("gender")), k] += 1
    return edges, counts


def _gender_index(gender: str | None) -> int:
    return {"male": 0, "female": 1}.get(gender or "", 2)


def group_bounds(label: str) -> tuple[float, float]:
    """An age group label of demographics.json ("20-29", "70+") as [low, high) in years."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)|\+)\s*", label)
    if match is None:
        raise ValueError(f"age group {label!r} is not of the form 'a-b' or 'a+'")
    low, high = match.groups()
    return float(low), (float(high) + 1 if high is not None else math.inf)


def pyramid(data: ReportData) -> tuple[list[str], np.ndarray, int, int]:
    """Age groups by gender: (labels (G,), counts (2, G) men / women, people with an age but no gender, people
    without an age). Groups are demographics.json's ``age_groups`` (the default groups without it)."""
    labels = list((data.demographics or {}).get("age_groups") or AGE_GROUPS)
    bounds = [group_bounds(label) for label in labels]
    counts = np.zeros((2, len(labels)), dtype=np.int64)
    no_gender = no_age = 0
    for row in data.identities:
        age = row.get("age")
        if age is None:
            no_age += 1
            continue
        side = _gender_index(row.get("gender"))
        if side == 2:
            no_gender += 1
            continue
        for k, (low, high) in enumerate(bounds):
            if low <= float(age) < high:
                counts[side, k] += 1
                break
    return labels, counts, no_gender, no_age


def dwell_times(data: ReportData) -> np.ndarray:
    """(N,) dwell seconds of the N identities."""
    return np.array([dwell_s(r) for r in data.identities], dtype=np.float64)
