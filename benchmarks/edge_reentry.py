"""Can clothing colours tell someone who came back in at the edge they left by from someone else coming in there?

    python -m benchmarks.edge_reentry [--output-dir DIR]

The re-linker (``tracking/relink.py``) joins a young track to a lost identity only where the lost one's motion,
extrapolated, is still inside the picture: someone who walks out at an edge and comes back in by it (or whom a
moving camera leaves behind and finds again) is counted twice. A rule for them would have nothing but place,
size, time and clothing colours to go on. This benchmark measures that rule on ground truth, before anyone builds
it: for PETS09-S2L1 (``../shared/data/real``) seen whole and through the scoreboard's narrower views (a still and
a panning window, ``benchmarks.real.through_window``), every pair (a gt person's last box before they leave the
picture, a gt person's first box when they come in) that such a rule would have to judge:

- both boxes at the same edge (a side within ``EDGE_MARGIN_W`` box widths of it; box heights at the top and the
  bottom), the coming-in at most ``MAX_GAP_S`` after the leaving;
- their places along that edge within ``GATE_H`` box heights plus ``GATE_H_PER_S`` per second out;
- their heights (median of three boxes) within ``MAX_SIZE_RATIO``.

For each pair: the same person or two, and the Bhattacharyya colour distance (``tracking.relink.colour_distance``,
as the re-linker computes it) between the mean signatures of the leaving person's last second and the coming-in
person's first second (unoccluded boxes only). A rule is safe only if different people's pairs stay further
apart than the same person's. Results: ``benchmarks/results/edge_reentry.json`` and ``.md``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

EDGE_MARGIN_W = 0.5
MAX_GAP_S = 5.0
GATE_H, GATE_H_PER_S = 1.0, 0.25
MAX_SIZE_RATIO = 1.4
LEFT, RIGHT, TOP, BOTTOM = 1, 2, 4, 8


def edges_at(box: np.ndarray, width: float, height: float, margin: float = EDGE_MARGIN_W) -> int:
    """The edges (``LEFT | RIGHT | TOP | BOTTOM`` bits) of a ``width`` x ``height`` picture that ``box`` (x, y, w, h)
    is at: its side within ``margin`` box widths of it (box heights at the top and the bottom)."""
    x, y, w, h = box
    return ((LEFT if x <= margin * w else 0) | (RIGHT if x + w >= width - margin * w else 0)
            | (TOP if y <= margin * h else 0) | (BOTTOM if y + h >= height - margin * h else 0))


def appearances(gt: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(gt id, rows) for every unbroken stretch of frames in which a gt person is in the picture; ``gt`` (N, >= 6)
    MOTChallenge rows (frame, id, x, y, w, h, ...)."""
    out = []
    for person in np.unique(gt[:, 1]).astype(int):
        rows = gt[gt[:, 1] == person]
        rows = rows[np.argsort(rows[:, 0])]
        breaks = np.flatnonzero(np.diff(rows[:, 0]) > 1)
        for part in np.split(rows, breaks + 1):
            out.append((person, part))
    return out


def edge_pairs(gt: np.ndarray, fps: float, width: float, height: float) -> list[dict]:
    """Every (leaving, coming in) pair at one edge that the rule in the module docstring would judge: ``leaving``
    and ``coming_in`` (gt ids), ``frames`` (the last frame of the one, the first of the other), ``gap_s``,
    ``along`` (their distance along the edge, in gates)."""
    last_frame, first_frame = gt[:, 0].max(), gt[:, 0].min()
    stretches = appearances(gt)
    leaving = [(p, rows[-1], float(np.median(rows[-3:, 5]))) for p, rows in stretches if rows[-1, 0] < last_frame]
    coming = [(p, rows[0], float(np.median(rows[:3, 5]))) for p, rows in stretches if rows[0, 0] > first_frame]
    pairs = []
    for a, out, out_h in leaving:
        for b, back, back_h in coming:
            gap = (back[0] - out[0]) / fps
            if not 0 < gap <= MAX_GAP_S or max(out_h, back_h) / max(min(out_h, back_h), 1.0) > MAX_SIZE_RATIO:
                continue
            shared = edges_at(out[2:6], width, height) & edges_at(back[2:6], width, height)
            if not shared:
                continue
            centre_out, centre_back = out[2:4] + out[4:6] / 2, back[2:4] + back[4:6] / 2
            along = min(abs(centre_out[1] - centre_back[1]) if edge in (LEFT, RIGHT) else
                        abs(centre_out[0] - centre_back[0]) for edge in (LEFT, RIGHT, TOP, BOTTOM) if shared & edge)
            along /= max(out_h, 1.0) * (GATE_H + GATE_H_PER_S * gap)
            if along <= 1.0:
                pairs.append({"leaving": int(a), "coming_in": int(b), "frames": [int(out[0]), int(back[0])],
                              "gap_s": round(float(gap), 2), "along": round(float(along), 3)})
    return pairs


def colour_samples(video: Path, gt: np.ndarray) -> dict[tuple[int, int], np.ndarray]:
    """(frame, gt id) -> colour signature (``tracking.relink.colour_signature``) of every gt box that no other gt
    box covers by 30 % or more, read from ``video`` (frame k of the video is frame k of ``gt``)."""
    import cv2

    from mivolo.core.boxes import box_area, intersection
    from tracking.relink import colour_signature

    samples, capture, frame = {}, cv2.VideoCapture(str(video)), 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frame += 1
        rows = gt[gt[:, 0] == frame]
        if not len(rows):
            continue
        xyxy = np.c_[rows[:, 2:4], rows[:, 2:4] + rows[:, 4:6]].astype(np.float32)
        cover = intersection(xyxy, xyxy) / np.maximum(box_area(xyxy), 1e-6)[:, None]
        np.fill_diagonal(cover, 0.0)
        clean = cover.max(axis=1) < 0.3
        for k, signature in zip(np.flatnonzero(clean), colour_signature(image, xyxy[clean]), strict=True):
            samples[(frame, int(rows[k, 1]))] = signature
    capture.release()
    return samples


def colour_distances(pairs: list[dict], samples: dict, fps: float) -> None:
    """In place: each pair's ``colour`` distance (None where either side has no unoccluded box in its second)."""
    from tracking.relink import colour_distance

    span = max(int(round(fps)), 1)

    def mean(person: int, frames: range) -> np.ndarray | None:
        found = [samples[(f, person)] for f in frames if (f, person) in samples]
        return np.mean(found, axis=0) if found else None

    for pair in pairs:
        out, back = pair["frames"]
        a = mean(pair["leaving"], range(out - span + 1, out + 1))
        b = mean(pair["coming_in"], range(back, back + span))
        pair["colour"] = None if a is None or b is None else round(float(colour_distance(a, b)), 3)


def summary(pairs: list[dict]) -> dict:
    """Same-person and different-people pairs and their colour distances; ``separable``: every different-people
    pair further apart than every same-person pair."""
    same = sorted(p["colour"] for p in pairs if p["leaving"] == p["coming_in"] and p["colour"] is not None)
    other = sorted(p["colour"] for p in pairs if p["leaving"] != p["coming_in"] and p["colour"] is not None)
    return {"same_person": len(same), "different_people": len(other), "same_colour": same, "different_colour": other,
            "different_closer_than_a_same": sum(c <= max(same) for c in other) if same else 0,
            "different_closer_than_every_same": sum(c < min(same) for c in other) if same else 0,
            "separable": bool(not same or not other or min(other) > max(same))}


def run(output_dir: Path | None = None) -> dict | None:
    import cv2

    from benchmarks.real import REAL, gt_pedestrians, mot_sequence, read_mot, through_window, write_results

    clip = mot_sequence(REAL / "PETS09-S2L1")
    if clip is None:
        print("edge re-entry: ../shared/data/real/PETS09-S2L1 not found; nothing to run", flush=True)
        return None
    result: dict = {"rule": {"edge_margin_w": EDGE_MARGIN_W, "max_gap_s": MAX_GAP_S, "gate_h": GATE_H,
                             "gate_h_per_s": GATE_H_PER_S, "max_size_ratio": MAX_SIZE_RATIO}, "clips": {}}
    with tempfile.TemporaryDirectory() as tmp:
        views = [clip] + [v for view in ("window", "pan") if (v := through_window(clip, view, Path(tmp)))]
        for view in views:
            capture = cv2.VideoCapture(str(view.input))
            fps, width, height = (capture.get(p) for p in (cv2.CAP_PROP_FPS, cv2.CAP_PROP_FRAME_WIDTH,
                                                           cv2.CAP_PROP_FRAME_HEIGHT))
            capture.release()
            gt = gt_pedestrians(read_mot(view.gt))
            pairs = edge_pairs(gt, fps, width, height)
            colour_distances(pairs, colour_samples(view.input, gt), fps)
            result["clips"][view.name] = {"pairs": pairs, **summary(pairs)}
            print(f"{view.name}: {result['clips'][view.name] | {'pairs': len(pairs)}}", flush=True)
    every = [p for c in result["clips"].values() for p in c["pairs"]]
    result["all"] = summary(every)
    write_results("edge_reentry", result, markdown(result), output_dir)
    return result


def markdown(result: dict) -> str:
    lines = ["# Coming back in at an edge: same person or someone else? (clothing colours)", "",
             "| clip | same person | different people | same: colour distances | different: colour distances "
             "| different closer than a same (than every same) | separable |", "|---|---|---|---|---|---|---|"]
    for name, c in [*result["clips"].items(), ("all", result["all"])]:
        closer = f"{c['different_closer_than_a_same']} ({c['different_closer_than_every_same']})"
        lines.append(f"| {name} | {c['same_person']} | {c['different_people']} | {c['same_colour']} | "
                     f"{c['different_colour']} | {closer} | {c['separable']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from benchmarks.real import focused_main

    return focused_main(argv, "edge_reentry", __doc__, run, markdown)


if __name__ == "__main__":
    sys.exit(main())
