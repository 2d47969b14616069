"""tracks.txt (MOTChallenge) and the per-frame box rows the annotated video is drawn from: one source for both.

During the run each frame's tracked rows go to a hidden spool file (9 float32 per box, memory stays flat). At
close the rows are read back once, rows between a tracker id swap and its repair (the merge step's
``swaps_repaired``: from when the two people parted) get their right ids, ids are replaced by the identity they
ended up in (later merges), track breaks of up to ``interpolate`` frames are filled, and ``tracks.txt`` is
written; ``final_rows`` keeps them for the video's second pass. Frame numbers are 1-based everywhere (MOTChallenge).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mivolo.core.atomic import write_bytes_atomic
from mivolo.core.run import IdentityView, RunInfo, RunSummary
from mivolo.core.structures import Detections, Frame

# Spooled row: frame (1-based), id, kind, x1, y1, x2, y2, conf, time (s); final rows drop the time
FRAME, ID, KIND, X1, Y1, X2, Y2, CONF, TIME = range(9)
COLUMNS = 8
SPOOL_COLUMNS = 9
PERSON_ROW, PAIRED_FACE_ROW, LONE_FACE_ROW = 0, 1, 2


def mot_text(rows: np.ndarray) -> str:
    """MOTChallenge lines ``frame,id,x,y,w,h,conf,-1,-1,-1`` of an (N, >=7) array of MOT rows."""
    return "".join(f"{int(r[0])},{int(r[1])},{r[2]:.2f},{r[3]:.2f},{r[4]:.2f},{r[5]:.2f},{r[6]:.4f},-1,-1,-1\n"
                   for r in rows)


def interpolate_gaps(rows: np.ndarray, max_gap: int) -> np.ndarray:
    """Fill breaks of at most ``max_gap`` frames inside each track by linear interpolation of the box.

    rows: (N, >=7) MOT rows (frame, id, x, y, w, h, conf, ...); interpolated rows get the lower of the two
    confidences and copy the other columns of the row before the break. Returns rows sorted by (frame, id).
    """
    if max_gap <= 0 or len(rows) == 0:
        return rows
    added = []
    for tid in np.unique(rows[:, 1]):
        track = rows[rows[:, 1] == tid]
        track = track[np.argsort(track[:, 0], kind="stable")]
        gaps = np.diff(track[:, 0])
        for k in np.flatnonzero((gaps > 1) & (gaps <= max_gap + 1)):
            a, b = track[k], track[k + 1]
            steps = np.arange(a[0] + 1, b[0])
            t = ((steps - a[0]) / (b[0] - a[0]))[:, None]
            block = np.repeat(a[None, :], len(steps), axis=0)
            block[:, 0] = steps
            block[:, 2:6] = a[2:6] + t * (b[2:6] - a[2:6])
            block[:, 6] = min(a[6], b[6])
            added.append(block)
    if not added:
        return rows
    out = np.vstack([rows, *added])
    return out[np.lexsort((out[:, 1], out[:, 0]))]


def spool_rows(frame_number: int, dets: Detections, time_s: float = 0.0) -> np.ndarray:
    """(K, 9) float32 spool rows of the tracked boxes of one frame (``frame_number`` 1-based)."""
    rows = np.flatnonzero(dets.track_id >= 0)
    if len(rows) == 0:
        return np.zeros((0, SPOOL_COLUMNS), np.float32)
    kind = np.where(dets.is_person[rows], PERSON_ROW, np.where(dets.pair[rows] >= 0, PAIRED_FACE_ROW, LONE_FACE_ROW))
    return np.column_stack([np.full(len(rows), frame_number), dets.track_id[rows], kind, dets.xyxy[rows],
                            dets.conf[rows], np.full(len(rows), time_s)]).astype(np.float32)


def undo_swaps(rows: np.ndarray, swaps: list[dict]) -> None:
    """In place: rows (N, 9) spooled between a repaired swap's ``parted_s`` and ``at_s`` carried each other's
    identity ids (the swap is only seen a moment after the two people parted); exchange them, in repair order."""
    for swap in sorted(swaps, key=lambda s: s["at_s"]):
        a, b = swap["identities"]
        window = (rows[:, TIME] > np.float32(swap["parted_s"])) & (rows[:, TIME] < np.float32(swap["at_s"]))
        ids = rows[:, ID]
        is_a, is_b = window & (ids == a), window & (ids == b)
        ids[is_a], ids[is_b] = b, a


class TracksSink:
    """``tracks.txt``: one line per tracked person (or face without a person) per frame, final identity ids."""

    def __init__(self, interpolate: int = 0, keep_rows: bool = False) -> None:
        self.interpolate = interpolate
        self.keep_rows = keep_rows  # keep ``final_rows`` after close (the video's second pass reads them)
        self.final_rows: np.ndarray = np.zeros((0, COLUMNS), np.float32)
        self.spool_path: Path | None = None
        self._spool = None

    def open(self, run: RunInfo) -> None:
        self.path = run.output_dir / "tracks.txt"
        self.spool_path = run.output_dir / ".tracks.spool"
        self._spool = open(self.spool_path, "wb")

    def write(self, frame: Frame, dets: Detections, identities: IdentityView) -> None:
        block = spool_rows(frame.index + 1, dets, frame.time_s)
        if len(block):
            self._spool.write(block.tobytes())

    def close(self, summary: RunSummary) -> None:
        self._spool.close()
        rows = np.fromfile(self.spool_path, dtype=np.float32).reshape(-1, SPOOL_COLUMNS)
        undo_swaps(rows, summary.merging.get("swaps_repaired") or [])
        rows = np.ascontiguousarray(rows[:, :COLUMNS])
        if summary.view is not None and len(rows):
            rows[:, ID] = summary.view.final_ids(rows[:, ID].astype(np.int64))
        counted = np.isin(rows[:, ID], np.fromiter(summary.records, np.int64, len(summary.records)))
        rows = rows[counted]  # identities too short to count (detector noise) are not in any output
        self.final_rows = self._fill_gaps(rows)
        mot = self.final_rows[self.final_rows[:, KIND] != PAIRED_FACE_ROW]
        xywh = np.column_stack([mot[:, X1], mot[:, Y1], mot[:, X2] - mot[:, X1], mot[:, Y2] - mot[:, Y1]])
        text = mot_text(np.column_stack([mot[:, FRAME], mot[:, ID], xywh, mot[:, CONF]]))
        write_bytes_atomic(self.path, text.encode())
        self.spool_path.unlink(missing_ok=True)
        summary.files["tracks"] = str(self.path)
        if not self.keep_rows:
            self.final_rows = self.final_rows[:0]

    def _fill_gaps(self, rows: np.ndarray) -> np.ndarray:
        """Interpolate person and lone-face rows (the boxes that stand for a person); faces of persons as they are."""
        if self.interpolate <= 0 or len(rows) == 0:
            return rows[np.lexsort((rows[:, ID], rows[:, FRAME]))]
        tracked = rows[:, KIND] != PAIRED_FACE_ROW
        as_mot = rows[tracked][:, [FRAME, ID, X1, Y1, X2, Y2, CONF, KIND]]  # x1..y2 interpolate like x, y, w, h
        filled = interpolate_gaps(as_mot, self.interpolate)[:, [0, 1, 7, 2, 3, 4, 5, 6]]
        out = np.vstack([filled, rows[~tracked]]).astype(np.float32)
        return out[np.lexsort((out[:, ID], out[:, FRAME]))]

    def abort(self) -> None:
        if self._spool is not None:
            self._spool.close()
        if self.spool_path is not None:
            self.spool_path.unlink(missing_ok=True)
