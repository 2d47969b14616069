"""demographics.json: per time bucket, who was there (id, gender, age, confidence, centre, crop) and the counts.

During the run each finished bucket is appended to a spool file (one JSON line), so memory does not grow with
video length; ``close`` assembles the final file from the spool with each identity's settled label.
"""

from __future__ import annotations

import math
from pathlib import Path

import orjson

from mivolo.sinks.atomic import write_json_atomic

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


class DemographicsWriter:
    def __init__(self, path: Path, interval_s: float, use_live_labels: bool) -> None:
        self.path = path
        self.interval_s = interval_s
        self.use_live_labels = use_live_labels
        self.spool_path = path.with_name(f".{path.name}.spool")
        self.spool = open(self.spool_path, "wb")
        self.bucket = -1
        self.people: dict[int, list] = {}

    def write(self, time_s: float, entries: list[tuple[int, float, float, float | None, str | None, float]]) -> None:
        """entries: (id, centre x, centre y, live age, live gender, live confidence) of this frame."""
        bucket = int(time_s // self.interval_s)
        if bucket != self.bucket:
            self._flush()
            self.bucket = bucket
        for tid, cx, cy, age, gender, conf in entries:
            self.people[tid] = [round(cx, 1), round(cy, 1), age, gender, conf]

    def _flush(self) -> None:
        if self.bucket >= 0:
            self.spool.write(orjson.dumps({"b": self.bucket, "p": self.people}, option=orjson.OPT_NON_STR_KEYS)
                             + b"\n")
        self.people = {}

    def close(self, identities: dict[int, dict], meta: dict, alias: dict[int, int] | None = None) -> None:
        """identities: id -> identity row (final label, best_crop); ids absent from it are not counted.

        ``alias`` maps merged track ids to the identity they joined (one person counted once per bucket).
        """
        alias = alias or {}
        self._flush()
        self.spool.close()
        buckets = []
        with open(self.spool_path, "rb") as spool:
            for line in spool:
                item = orjson.loads(line)
                people = []
                seen: set[int] = set()
                for key, (cx, cy, age, gender, conf) in item["p"].items():
                    pid = alias.get(int(key), int(key))
                    if pid in seen:
                        continue
                    seen.add(pid)
                    row = identities.get(pid)
                    if row is None:
                        continue
                    if not self.use_live_labels:
                        age, gender, conf = row["age"], row["gender"], row["confidence"]
                    people.append({"id": pid, "gender": gender,
                                   "age": None if age is None else round(float(age), 1),
                                   "confidence": round(float(conf or 0.0), 3), "centre": [cx, cy],
                                   "crop": row.get("best_crop")})
                people.sort(key=lambda p: p["id"])
                start = item["b"] * self.interval_s
                buckets.append({"start_s": round(start, 3), "end_s": round(start + self.interval_s, 3),
                                **count_people(people), "people": people})
        summary_people = [{"gender": r["gender"], "age": r["age"]} for r in identities.values()]
        write_json_atomic(self.path, {
            "schema_version": meta["schema_version"],
            "source": meta["source"],
            "interval_s": self.interval_s,
            "settle_mode": meta["settle_mode"],
            "age_groups": list(AGE_GROUPS),
            "summary": count_people(summary_people),
            "buckets": buckets,
        })
        self.spool_path.unlink(missing_ok=True)

    def discard(self) -> None:
        if not self.spool.closed:
            self.spool.close()
        self.spool_path.unlink(missing_ok=True)
