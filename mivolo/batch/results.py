"""Per-source result rows, their totals, ``summary.json`` / ``summary.csv``, and what ``--resume`` may skip."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

import orjson

from mivolo.batch.listing import BatchSource
from mivolo.core.atomic import write_bytes_atomic, write_json_atomic
from mivolo.core.run import RunSummary
from mivolo.sinks.demographics import AGE_GROUPS, count_people

SUMMARY_VERSION = "1.0"
STATUSES = ("done", "failed", "interrupted")
COUNTS = ("frames", "video_s", "identities", "people_estimate", "men", "women", "unknown")
CSV_COLUMNS = ["name", "source", "kind", "status", "error", "frames", "video_s", "seconds", "fps", "identities",
               "people_estimate", "men", "women", "unknown", *(f"age_{g}" for g in AGE_GROUPS), "output"]


def empty_row(item: BatchSource, status: str, error: str | None = None) -> dict[str, Any]:
    """The row of a source with nothing processed (not started, or failed before its first frame)."""
    return {"name": item.name, "source": item.text, "kind": item.kind, "status": status, "error": error,
            "frames": 0, "video_s": 0.0, "seconds": 0.0, "fps": 0.0, "identities": 0, "people_estimate": 0,
            "men": 0, "women": 0, "unknown": 0, "age_groups": dict.fromkeys(AGE_GROUPS, 0), "output": None}


def summary_row(item: BatchSource, summary: RunSummary, source_fps: float, status: str,
                error: str | None) -> dict[str, Any]:
    """The row of a source whose run wrote its outputs (done, interrupted, or a stream that was lost)."""
    counts = count_people([{"gender": r["gender"], "age": r["age"]} for r in summary.records.values()])
    return {**empty_row(item, status, error), "frames": summary.frames,
            "video_s": round(summary.frames / source_fps, 3) if source_fps > 0 else 0.0,
            "seconds": round(summary.seconds, 3), "fps": round(summary.fps, 2), "identities": counts["total_people"],
            "people_estimate": (summary.people_estimate or {}).get("people", counts["total_people"]),
            "men": counts["men"], "women": counts["women"], "unknown": counts["unknown_gender"],
            "age_groups": counts["age_groups"], "output": item.name}


def totals(rows: list[dict[str, Any]], wall_s: float) -> dict[str, Any]:
    """Sums over every source, how many ended in each status, and throughput (video seconds per wall second)."""
    out: dict[str, Any] = {"sources": len(rows), **{s: sum(r["status"] == s for r in rows) for s in STATUSES}}
    for key in COUNTS:
        out[key] = round(sum(r[key] for r in rows), 3) if key == "video_s" else sum(r[key] for r in rows)
    out["age_groups"] = {g: sum(r["age_groups"][g] for r in rows) for g in AGE_GROUPS}
    out["wall_s"] = round(wall_s, 3)
    processed = sum(r["video_s"] for r in rows if not r.get("resumed"))
    out["video_minutes_per_wall_minute"] = round(processed / wall_s, 3) if wall_s > 0 else 0.0
    return out


def csv_bytes(rows: list[dict[str, Any]], total: dict[str, Any]) -> bytes:
    """One line per source (age groups as ``age_<group>`` columns), then a ``(total)`` line."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        flat = {**row, **{f"age_{g}": n for g, n in row["age_groups"].items()}}
        writer.writerow({k: "" if flat.get(k) is None else flat.get(k) for k in CSV_COLUMNS})
    status = ", ".join(f"{total[s]} {s}" for s in STATUSES)
    writer.writerow({"name": "(total)", "status": status, **{k: total[k] for k in COUNTS},
                     **{f"age_{g}": n for g, n in total["age_groups"].items()}, "seconds": total["wall_s"]})
    return buffer.getvalue().encode()


def write_summary(out_dir: Path, rows: list[dict[str, Any]], total: dict[str, Any], meta: dict[str, Any]) -> Path:
    """``summary.json`` and ``summary.csv`` in ``out_dir``, each written atomically."""
    path = out_dir / "summary.json"
    write_json_atomic(path, {"schema_version": SUMMARY_VERSION, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                             **meta, "totals": total, "sources": rows})
    write_bytes_atomic(out_dir / "summary.csv", csv_bytes(rows, total))
    return path


def completed_row(out_dir: Path, item: BatchSource) -> dict[str, Any] | None:
    """The row of an earlier batch run of ``item`` if its outputs are complete (its ``run.json`` says the batch
    finished it: status done, for this same input), else None."""
    path = out_dir / item.name / "run.json"
    try:
        run = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    row = run.get("batch") if isinstance(run, dict) else None
    if not isinstance(row, dict) or row.get("status") != "done" or row.get("input") != item.input:
        return None
    row = {"people_estimate": row.get("identities"), **row}  # rows of batches from before the estimate existed
    if run.get("interrupted") or not set(row) >= set(empty_row(item, "done")):
        return None
    return {**{k: v for k, v in row.items() if k != "input"}, "name": item.name, "resumed": True}
