"""identities.json / identities.csv and the MOTChallenge tracks.txt."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from mivolo.sinks.atomic import StreamingFile, write_bytes_atomic, write_json_atomic
from mivolo.structures import Detections

IDENTITY_COLUMNS = ["id", "age", "gender", "confidence", "first_seen_s", "last_seen_s", "first_frame", "last_frame",
                    "frames_seen", "estimates", "track_ids", "best_crop"]


def write_identities(out_dir: Path, rows: list[dict], schema_version: str) -> None:
    rows = sorted(rows, key=lambda r: r["id"])
    write_json_atomic(out_dir / "identities.json", {"schema_version": schema_version, "count": len(rows),
                                                    "identities": rows})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=IDENTITY_COLUMNS, extrasaction="ignore")  # RFC 4180 line ends
    writer.writeheader()
    for row in rows:
        values = {k: ("" if row.get(k) is None else row.get(k)) for k in IDENTITY_COLUMNS}
        values["track_ids"] = " ".join(str(t) for t in row.get("track_ids") or [])
        writer.writerow(values)
    write_bytes_atomic(out_dir / "identities.csv", buffer.getvalue().encode())


def mot_text(rows: np.ndarray) -> str:
    """MOTChallenge lines ``frame,id,x,y,w,h,conf,-1,-1,-1`` of an (N, >=7) array of MOT rows."""
    return "".join(f"{int(r[0])},{int(r[1])},{r[2]:.2f},{r[3]:.2f},{r[4]:.2f},{r[5]:.2f},{r[6]:.4f},-1,-1,-1\n"
                   for r in rows)


class MotTracksWriter:
    """``frame,id,x,y,w,h,conf,-1,-1,-1`` per tracked identity (1-based frames), as MOTChallenge expects."""

    def __init__(self, path: Path) -> None:
        self.file = StreamingFile(path)

    def write(self, frame_index: int, dets: Detections) -> None:
        rows = np.flatnonzero((dets.track_id >= 0) & (dets.is_person | (dets.pair < 0)))
        if len(rows) == 0:
            return
        x1, y1, x2, y2 = dets.xyxy[rows].T
        lines = [f"{frame_index + 1},{tid},{a:.2f},{b:.2f},{w:.2f},{h:.2f},{c:.4f},-1,-1,-1\n"
                 for tid, a, b, w, h, c in zip(dets.track_id[rows], x1, y1, x2 - x1, y2 - y1, dets.conf[rows],
                                               strict=True)]
        self.file.write("".join(lines))

    def close(self, alias: dict[int, int] | None = None, interpolate: int = 0) -> None:
        """Commit. ``alias`` maps merged track ids to their identity; ``interpolate`` fills track breaks of up to
        that many frames (linear). Either rewrites the file once at the end (it is read whole for that)."""
        if (alias or interpolate) and self.file.handle is not None:
            from mivolo.mot_eval import interpolate_gaps

            self.file.handle.flush()
            self.file.handle.close()
            self.file.handle = None
            rows = np.loadtxt(self.file.tmp, delimiter=",", ndmin=2) if self.file.tmp.stat().st_size else \
                np.zeros((0, 10))
            if alias and len(rows):
                rows[:, 1] = [alias.get(int(t), int(t)) for t in rows[:, 1]]
            rows = interpolate_gaps(rows, interpolate)
            fixed = StreamingFile(self.file.path.with_name(self.file.path.name + ".remap"))
            fixed.write(mot_text(rows))
            self.file.tmp.unlink()
            fixed.commit()
            fixed.path.replace(self.file.path)
            return
        self.file.commit()
