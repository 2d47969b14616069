"""tracks.txt (MOTChallenge) and the per-frame box rows the annotated video is drawn from: one source for both.

During the run each frame's tracked rows go to a hidden spool file (9 float32 per box, memory stays flat). At
close the rows are read back once, rows between a tracker id swap (or jump) and its repair (the merge step's
``swaps_repaired``: from the moment it happened) get their right ids, ids are replaced by the identity they
ended up in (later merges), track breaks of up to ``interpolate`` frames are filled, each track's boxes are
smoothed over time (Gaussian, sigma ``smooth_s`` seconds), and ``tracks.txt`` is written; ``final_rows`` keeps
them for the video's second pass. Frame numbers are 1-based everywhere (MOTChallenge).
"""

from __future__ import annotations

import logging
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

log = logging.getLogger(__name__)


def mot_text(rows: np.ndarray) -> str:
    """MOTChallenge lines ``frame,id,x,y,w,h,conf,-1,-1,-1`` of an (N, >=7) array of MOT rows."""
    return "".join(f"{int(r[0])},{int(r[1])},{r[2]:.2f},{r[3]:.2f},{r[4]:.2f},{r[5]:.2f},{r[6]:.4f},-1,-1,-1\n"
                   for r in rows)


def _track_order(rows: np.ndarray) -> np.ndarray:
    """Row order by (id, frame): each track's rows together, in time (one sort, no per-id scans)."""
    return np.lexsort((rows[:, 0], rows[:, 1]))


def interpolate_gaps(rows: np.ndarray, max_gap: int) -> np.ndarray:
    """Fill breaks of at most ``max_gap`` frames inside each track by linear interpolation of the box.

    rows: (N, >=7) MOT rows (frame, id, x, y, w, h, conf, ...); interpolated rows get the lower of the two
    confidences and copy the other columns of the row before the break. Returns rows sorted by (frame, id).
    """
    if max_gap <= 0 or len(rows) == 0:
        return rows
    track = rows[_track_order(rows)]
    gaps = np.diff(track[:, 0])
    same = track[1:, 1] == track[:-1, 1]
    added = []
    for k in np.flatnonzero(same & (gaps > 1) & (gaps <= max_gap + 1)):
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


def smooth_tracks(rows: np.ndarray, sigma_frames: float, kind_column: int | None = None) -> np.ndarray:
    """Gaussian smoothing over time of each track's box, within runs of consecutive frames (never across a break,
    nor, with ``kind_column``, across a change of box kind: a face tracked alone, then its person's body).

    rows: (N, >=6) MOT rows (frame, id, then four box columns); returns a copy with columns 2:6 replaced by their
    Gaussian-weighted mean over the frames within 3 sigma (weights renormalised at a run's ends, so a track's first
    and last boxes stay where they were seen, on average). Detector boxes jitter by several pixels from frame to
    frame (parts of a neighbour, a swinging arm); the person does not.
    """
    out = rows.copy()
    if sigma_frames <= 0 or len(rows) < 2:
        return out
    half = max(1, int(np.ceil(3 * sigma_frames)))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma_frames) ** 2)
    order = _track_order(rows)
    track = rows[order]
    cut = (np.diff(track[:, 0]) != 1) | (track[1:, 1] != track[:-1, 1])
    if kind_column is not None:
        cut |= track[1:, kind_column] != track[:-1, kind_column]
    bounds = np.r_[0, np.flatnonzero(cut) + 1, len(track)]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        if b - a < 2:
            continue
        keep = slice(half, half + b - a)  # "full" then cut: also right for runs shorter than the kernel
        norm = np.convolve(np.ones(b - a), kernel)[keep]
        for col in range(2, 6):
            out[order[a:b], col] = np.convolve(track[a:b, col], kernel)[keep] / norm
    return out


def spool_rows(frame_number: int, dets: Detections, time_s: float = 0.0) -> np.ndarray:
    """(K, 9) float32 spool rows of the tracked boxes of one frame (``frame_number`` 1-based)."""
    rows = np.flatnonzero(dets.track_id >= 0)
    if len(rows) == 0:
        return np.zeros((0, SPOOL_COLUMNS), np.float32)
    kind = np.where(dets.is_person[rows], PERSON_ROW, np.where(dets.pair[rows] >= 0, PAIRED_FACE_ROW, LONE_FACE_ROW))
    return np.column_stack([np.full(len(rows), frame_number), dets.track_id[rows], kind, dets.xyxy[rows],
                            dets.conf[rows], np.full(len(rows), time_s)]).astype(np.float32)


def undo_swaps(rows: np.ndarray, swaps: list[dict]) -> None:
    """In place: rows (N, 9) spooled between a repaired swap's (or jump's) ``since_s`` and its ``at_s`` carried
    each other's identity ids (a swap is only seen a moment after the two people parted); exchange them, in
    repair order."""
    for swap in sorted(swaps, key=lambda s: s["at_s"]):
        a, b = swap["identities"]
        written_a, written_b = swap.get("written_as") or ([a], [b])  # ids merged into a (b) before the repair too
        window = (rows[:, TIME] > np.float32(swap["since_s"])) & (rows[:, TIME] < np.float32(swap["at_s"]))
        ids = rows[:, ID]
        is_a, is_b = window & np.isin(ids, written_a), window & np.isin(ids, written_b)
        ids[is_a], ids[is_b] = b, a


def drop_repeated_ids(rows: np.ndarray) -> tuple[np.ndarray, int]:
    """(N, 8) final rows -> (rows, how many were dropped): an identity shows at most one box per frame.

    Only a bug upstream (relabelling that gave two people's rows one id) repeats one; outputs stay valid anyway
    (MOTChallenge tools refuse a repeated id, the video would draw one label twice): of the person and lone-face
    rows sharing a frame and an id, a person's box is kept before a lone face's, and among those the one nearest
    the box the id kept in its frame before (the most confident where there is none). Faces of persons are left
    alone (they share their person's id). Only the frames with a repeat are visited.
    """
    tracked = np.flatnonzero(rows[:, KIND] != PAIRED_FACE_ROW)
    if len(tracked) < 2:
        return rows, 0
    order = tracked[np.lexsort((rows[tracked, FRAME], rows[tracked, ID]))]  # by id, then frame
    keys = rows[order][:, [ID, FRAME]]
    starts = np.r_[0, np.flatnonzero(np.any(np.diff(keys, axis=0) != 0, axis=1)) + 1]  # one group per (id, frame)
    sizes = np.diff(np.r_[starts, len(order)])
    if not (sizes > 1).any():
        return rows, 0
    centres = np.column_stack([rows[:, X1] + rows[:, X2], rows[:, Y1] + rows[:, Y2]]) / 2
    kept_in_group: dict[int, int] = {}
    drop: list[int] = []
    for g in np.flatnonzero(sizes > 1):
        here = order[starts[g]:starts[g] + sizes[g]]
        candidates = here[rows[here, KIND] == PERSON_ROW]
        candidates = candidates if len(candidates) else here
        before = None
        if g > 0 and keys[starts[g - 1], 0] == keys[starts[g], 0]:  # the same id's frame before
            before = kept_in_group.get(g - 1, order[starts[g - 1]])
        if before is None:
            best = candidates[np.argmax(rows[candidates, CONF])]
        else:
            best = candidates[np.argmin(np.linalg.norm(centres[candidates] - centres[before], axis=1))]
        kept_in_group[g] = int(best)
        drop.extend(int(r) for r in here if r != best)
    keep = np.ones(len(rows), bool)
    keep[drop] = False
    return rows[keep], len(drop)


class TracksSink:
    """``tracks.txt``: one line per tracked person (or face without a person) per frame, final identity ids."""

    def __init__(self, interpolate: int = 0, keep_rows: bool = False, smooth_s: float = 0.0) -> None:
        self.interpolate = interpolate
        self.smooth_s = smooth_s  # sigma of the Gaussian smoothing of boxes over time, seconds (0: off)
        self.fps = 0.0
        self.keep_rows = keep_rows  # keep ``final_rows`` after close (the video's second pass reads them)
        self.final_rows: np.ndarray = np.zeros((0, COLUMNS), np.float32)
        self.spool_path: Path | None = None
        self._spool = None

    def open(self, run: RunInfo) -> None:
        self.path = run.output_dir / "tracks.txt"
        self.spool_path = run.output_dir / ".tracks.spool"
        self.fps = 0.0 if run.source.independent_frames else float(run.source.fps or 0.0)
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
        rows, repeated = drop_repeated_ids(rows)
        if repeated:
            log.warning("tracks: %d boxes dropped whose identity already had a box in the same frame", repeated)
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
        """Interpolate, then smooth, person and lone-face rows (the boxes that stand for a person); faces of persons
        as they are."""
        sigma = self.smooth_s * self.fps
        if (self.interpolate <= 0 and sigma <= 0) or len(rows) == 0:
            return rows[np.lexsort((rows[:, ID], rows[:, FRAME]))]
        tracked = rows[:, KIND] != PAIRED_FACE_ROW
        as_mot = rows[tracked][:, [FRAME, ID, X1, Y1, X2, Y2, CONF, KIND]]  # x1..y2 interpolate like x, y, w, h
        filled = smooth_tracks(interpolate_gaps(as_mot, self.interpolate), sigma, kind_column=7)
        filled = filled[:, [0, 1, 7, 2, 3, 4, 5, 6]]
        out = np.vstack([filled, rows[~tracked]]).astype(np.float32)
        return out[np.lexsort((out[:, ID], out[:, FRAME]))]

    def abort(self) -> None:
        if self._spool is not None:
            self._spool.close()
        if self.spool_path is not None:
            self.spool_path.unlink(missing_ok=True)
