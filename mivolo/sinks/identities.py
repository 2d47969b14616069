"""identities.json and identities.csv: one row per counted person (schema in README)."""

from __future__ import annotations

import csv
import io

from mivolo.core.atomic import write_bytes_atomic, write_json_atomic
from mivolo.core.run import SCHEMA_VERSION, IdentityView, RunInfo, RunSummary
from mivolo.core.structures import Detections, Frame

IDENTITY_COLUMNS = ["id", "age", "gender", "confidence", "first_seen_s", "last_seen_s", "first_frame", "last_frame",
                    "frames_seen", "estimates", "track_ids", "best_crop"]


def identities_csv(rows: list[dict]) -> bytes:
    """RFC 4180 CSV of identity rows (``track_ids`` space-separated, None as empty)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=IDENTITY_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        values = {k: ("" if row.get(k) is None else row.get(k)) for k in IDENTITY_COLUMNS}
        values["track_ids"] = " ".join(str(t) for t in row.get("track_ids") or [])
        writer.writerow(values)
    return buffer.getvalue().encode()


class IdentitiesSink:
    """Writes ``summary.records`` at close (rows are small; each identity's row is final when it leaves memory)."""

    def open(self, run: RunInfo) -> None:
        pass

    def write(self, frame: Frame, dets: Detections, identities: IdentityView) -> None:
        pass

    def close(self, summary: RunSummary) -> None:
        rows = sorted(summary.records.values(), key=lambda r: r["id"])
        write_json_atomic(summary.output_dir / "identities.json",
                          {"schema_version": SCHEMA_VERSION, "count": len(rows), "not_counted": summary.not_counted,
                           "people_estimate": summary.people_estimate, "identities": rows})
        write_bytes_atomic(summary.output_dir / "identities.csv", identities_csv(rows))
        summary.files["identities"] = str(summary.output_dir / "identities.json")
        summary.files["identities_csv"] = str(summary.output_dir / "identities.csv")

    def abort(self) -> None:
        pass
