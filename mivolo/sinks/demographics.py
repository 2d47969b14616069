"""demographics.json: per time bucket, who was there (id, gender, age, confidence, centre, crop) and the counts.

During the run each finished bucket is appended to a spool file (one JSON line), so memory does not grow with
video length; ``close`` assembles the final file from the spool with each identity's settled label. For live
sources (``live=True``) each bucket is also appended to ``demographics.jsonl`` as it closes (live labels), so a
dashboard or ``tail -f`` can follow a camera while it runs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson

from mivolo.core.atomic import write_json_atomic
from mivolo.core.paths import inside
from mivolo.core.run import SCHEMA_VERSION, IdentityView, RunInfo, RunSummary
from mivolo.core.structures import Detections, Frame

AGE_GROUPS = ("0-12", "13-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70+")
_GROUP_EDGES = (13, 20, 30, 40, 50, 60, 70)


def age_group(age: float | None) -> str | None:
    if age is None or math.isnan(age):
        return None
    for edge, name in zip(_GROUP_EDGES, AGE_GROUPS, strict=False):
        if age < edge:
            return name
    return AGE_GROUPS[-1]


def count_people(people: list[dict]) -> dict:
    groups = dict.fromkeys(AGE_GROUPS, 0)
    men = women = 0
    for person in people:
        men += person["gender"] == "male"
        women += person["gender"] == "female"
        group = age_group(person["age"])
        if group is not None:
            groups[group] += 1
    return {"total_people": len(people), "men": men, "women": women, "unknown_gender": len(people) - men - women,
            "age_groups": groups}


class DemographicsSink:
    """``demographics.json``: per ``interval_s`` bucket, who was there and the counts (schema in README).

    Each closed bucket is appended to a hidden spool (one JSON line) so memory stays flat; ``close`` assembles
    the file with each identity's final id and (unless ``use_live_labels``) its settled label and crop.
    """

    def __init__(self, file_name: str = "demographics.json", interval_s: float = 1.0,
                 use_live_labels: bool = False, live: bool = False) -> None:
        self.file_name = file_name
        self.interval_s = interval_s
        self.use_live_labels = use_live_labels
        self.live = live  # also append each closed bucket to demographics.jsonl as it closes
        self.live_fd: int | None = None
        self.bucket = -1
        self.people: dict[int, list] = {}
        self.spool = None
        self.spool_path: Path | None = None

    def open(self, run: RunInfo) -> None:
        self.path = inside(run.output_dir, Path(self.file_name))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.spool_path = self.path.with_name(f".{self.path.name}.spool")
        self.spool = open(self.spool_path, "wb")
        if self.live:
            self.live_fd = os.open(self.path.with_suffix(".jsonl"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND)
        self.meta = {"name": run.source.name, "kind": run.source.kind, "fps": run.source.fps}
        self.settle_mode = run.config.settle.mode

    def write(self, frame: Frame, dets: Detections, identities: IdentityView) -> None:
        bucket = int(frame.time_s // self.interval_s)
        if bucket != self.bucket:
            self._flush()
            self.bucket = bucket
        ids, box_rows, _ = dets.identity_rows()
        centres = (dets.xyxy[box_rows, :2] + dets.xyxy[box_rows, 2:]) / 2
        for tid, (cx, cy) in zip(ids.tolist(), centres.tolist(), strict=True):
            label = identities.live_label(tid)
            self.people[tid] = [round(cx, 1), round(cy, 1), label.age, label.gender, label.confidence]

    def _flush(self) -> None:
        if self.bucket >= 0 and self.spool is not None:
            self.spool.write(orjson.dumps({"b": self.bucket, "p": self.people}, option=orjson.OPT_NON_STR_KEYS)
                             + b"\n")
            if self.live_fd is not None:
                os.write(self.live_fd, self._live_line())  # one whole line per write: a reader never sees half
        self.people = {}

    def _live_line(self) -> bytes:
        """The bucket that just closed as one JSON line: ids and labels as known at that moment (the final file
        may merge ids and settle labels differently), every identity seen counted."""
        people = [{"id": pid, "gender": gender, "age": None if age is None else round(float(age), 1),
                   "confidence": round(float(conf or 0.0), 3), "centre": [cx, cy]}
                  for pid, (cx, cy, age, gender, conf) in sorted(self.people.items())]
        start = self.bucket * self.interval_s
        return orjson.dumps({"start_s": round(start, 3), "end_s": round(start + self.interval_s, 3),
                             **count_people(people), "people": people}) + b"\n"

    def _close_live(self) -> None:
        if self.live_fd is not None:
            os.close(self.live_fd)
            self.live_fd = None

    def close(self, summary: RunSummary) -> None:
        self._flush()
        self._close_live()
        self.spool.close()
        final_ids = summary.view.final_ids if summary.view is not None else (lambda ids: ids)
        with open(self.spool_path, "rb") as spool:
            buckets = [self._bucket(orjson.loads(line), summary.records, final_ids) for line in spool]
        summary_people = [{"gender": r["gender"], "age": r["age"]} for r in summary.records.values()]
        write_json_atomic(self.path, {
            "schema_version": SCHEMA_VERSION,
            "source": {**self.meta, "frames": summary.frames, "gaps": summary.source_stats.get("gaps") or []},
            "interval_s": self.interval_s,
            "settle_mode": self.settle_mode,
            "age_groups": list(AGE_GROUPS),
            "summary": count_people(summary_people),
            "people_estimate": summary.people_estimate,
            "buckets": buckets,
        })
        self.spool_path.unlink(missing_ok=True)
        summary.files["demographics"] = str(self.path)

    def _bucket(self, item: dict, records: dict[int, dict], final_ids: Callable[[np.ndarray], np.ndarray]) -> dict:
        """One bucket of the file: each person once (under its final id), counted only if it is an identity."""
        keys = np.array([int(k) for k in item["p"]], dtype=np.int64)
        people, seen = [], set()
        for pid, (cx, cy, age, gender, conf) in zip(final_ids(keys).tolist(), item["p"].values(), strict=True):
            row = records.get(pid)
            if pid in seen or row is None:
                continue
            seen.add(pid)
            if not self.use_live_labels:
                age, gender, conf = row["age"], row["gender"], row["confidence"]
            people.append({"id": pid, "gender": gender, "age": None if age is None else round(float(age), 1),
                           "confidence": round(float(conf or 0.0), 3), "centre": [cx, cy],
                           "crop": row.get("best_crop")})
        people.sort(key=lambda p: p["id"])
        start = item["b"] * self.interval_s
        return {"start_s": round(start, 3), "end_s": round(start + self.interval_s, 3), **count_people(people),
                "people": people}

    def abort(self) -> None:
        self._close_live()  # its lines are whole buckets: it stays, valid, as it was followed
        if self.spool is not None and not self.spool.closed:
            self.spool.close()
        if self.spool_path is not None:
            self.spool_path.unlink(missing_ok=True)
