"""Two people cross and stop to talk: does a Re-ID setting keep the ids that motion alone loses?

    python -m benchmarks.reid_crossing [--reid osnet_x0_25_msmt17.onnx,...] [--tracker botsort.yaml] [--seeds 6]

The scene (a MOTChallenge sequence folder written for each noise draw, 640x360 at 25 fps, exact ground truth): two
real pedestrians (the people of ultralytics' bus.jpg) walk towards each other. The one further away arrives first
and stops; the nearer one walks briskly in front of them and stops right there, hiding them, to talk; after a short
talk both walk on the way they were going, so they pass each other. Public detections are the ground-truth boxes
with 1 px noise, minus the hidden person while less than half of them is visible (what a detector with NMS
reports). With motion alone, the hidden person's lost track sits where they stopped; when the nearer person stops
over it, their own track overshoots and the lost track is the closer match: it takes the nearer person's box (an
identity switch) and the hidden person comes out under a new id. The appearance cue is there to prevent exactly
this; the far person stands a little further back so their lost track never overlaps the nearer person's box enough
for boxmot to drop it as a duplicate (which no Re-ID could undo).

Each Re-ID setting runs through ``demo.py --compare`` (detections shared, TrackEval HOTA/MOTA/IDF1/IDSW) once
per noise draw; the result file lists every run and how many draws each setting got through without a switch.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

import cv2
import numpy as np
import orjson

from mivolo.evaluation.sample import background, load_sprites

log = logging.getLogger(__name__)
RESULTS = Path(__file__).resolve().parent / "results"
SIZE = (640, 360)
FPS = 25
FRAMES = 180
HIDDEN_BELOW = 0.5  # a person less than half visible is not detected
NEAR_HEIGHT, NEAR_FOOT = 172, 350
FAR_HEIGHT, FAR_FOOT = 164, 334


def _people() -> list[np.ndarray]:
    """The near (front) and far (rear) person: bus.jpg's middle and left pedestrians, scaled to the scene."""
    sprites = {s.name: s.image for s in load_sprites()}
    near, far = sprites["bus_middle"], sprites["bus_left"]
    scaled = []
    for image, height in ((near, NEAR_HEIGHT), (far, FAR_HEIGHT)):
        width = int(round(image.shape[1] * height / image.shape[0]))
        scaled.append(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA))
    return scaled


def _trajectories(frames: int, centre: int = 320, offset: int = 0, talk: int = 15,
                  near_speed: float = 7.0) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal centre of the near and far person per frame (1-based frame times, linear in between)."""
    far_stop = 1 + (600 - (centre + offset)) / 4  # the far person walks in from the right at 4 px/frame
    near_stop = far_stop + 12  # the near person arrives 12 frames later, from the left
    walk_on = near_stop + talk
    t = np.arange(1, frames + 1)
    near = np.interp(t, [near_stop - (centre - 40) / near_speed, near_stop, walk_on, walk_on + 60],
                     [40, centre, centre, centre + 300])
    far = np.interp(t, [1, far_stop, walk_on, walk_on + 60],
                    [600, centre + offset, centre + offset, centre + offset - 240])
    return near, far


def make_crossing_sequence(root: Path, seed: int = 0, jitter: float = 1.0, frames: int = FRAMES) -> Path:
    """Write the MOTChallenge sequence folder (img1/, det/det.txt, gt/gt.txt, seqinfo.ini); returns it."""
    width, height = SIZE
    seq = root / f"CROSSING-{seed:02d}"
    for sub in ("img1", "det", "gt"):
        (seq / sub).mkdir(parents=True, exist_ok=True)
    (seq / "seqinfo.ini").write_text(f"[Sequence]\nname={seq.name}\nimDir=img1\nframeRate={FPS}\nseqLength={frames}\n"
                                     f"imWidth={width}\nimHeight={height}\nimExt=.jpg\n")
    near_img, far_img = _people()
    near_x, far_x = _trajectories(frames)
    scene = background(width, height)
    rng = np.random.default_rng(seed)
    gt, det = [], []
    for index in range(frames):
        frame = scene.copy()
        boxes = []
        placed = ((far_img, far_x[index], FAR_FOOT), (near_img, near_x[index], NEAR_FOOT))  # far one drawn first
        for image, cx, foot in placed:
            h, w = image.shape[:2]
            x, y = int(round(cx - w / 2)), foot - h
            x1, x2 = max(x, 0), min(x + w, width)
            frame[y:foot, x1:x2] = image[:, x1 - x:x2 - x]
            boxes.append((x1, y, x2 - x1, h))
        (fx, _, fw, _), (nx, _, nw, _) = boxes
        overlap = max(0, min(fx + fw, nx + nw) - max(fx, nx))
        visible = {1: 1.0, 2: 1.0 - overlap / fw}  # person 1: near, person 2: far (hidden behind person 1)
        for pid, (x, y, w, h) in ((1, boxes[1]), (2, boxes[0])):
            gt.append(f"{index + 1},{pid},{x},{y},{w},{h},1,1,{visible[pid]:.3f}\n")
            if visible[pid] >= HIDDEN_BELOW:
                nx_, ny_, nw_, nh_ = rng.normal(0.0, jitter, 4)
                det.append(f"{index + 1},-1,{x + nx_:.1f},{y + ny_:.1f},{w + nw_:.1f},{h + nh_:.1f},0.9,-1,-1,-1\n")
        cv2.imwrite(str(seq / "img1" / f"{index + 1:06d}.jpg"), frame)
    (seq / "gt" / "gt.txt").write_text("".join(gt))
    (seq / "det" / "det.txt").write_text("".join(det))
    return seq


def run(reid: list[str], tracker: str, seeds: int) -> dict:
    import demo

    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(seeds):
            seq = make_crossing_sequence(Path(tmp), seed)
            out = Path(tmp) / f"out{seed}"
            code = demo.main(["--input", str(seq), "--compare", ",".join(reid), "--tracker", tracker,
                              "--output", str(out), "--no-progress", "--interpolate", "0"])
            if code != 0:
                raise RuntimeError(f"--compare failed with exit code {code}")
            for row in orjson.loads((out / "compare.json").read_bytes())["runs"]:
                runs.append({"seed": seed, **{k: row[k] for k in ("reid", "identities", "HOTA", "MOTA", "IDF1",
                                                                    "IDSW", "reid_ms_per_frame")}})
    settings = list(dict.fromkeys(r["reid"] for r in runs))
    summary = {}
    for label in settings:
        mine = [r for r in runs if r["reid"] == label]
        summary[label] = {"draws_without_switch": sum(r["IDSW"] == 0 for r in mine), "draws": len(mine),
                          "mean_IDF1": round(float(np.mean([r["IDF1"] for r in mine])), 2),
                          "mean_identities": round(float(np.mean([r["identities"] for r in mine])), 2)}
    return {"benchmark": "reid_crossing", "people": 2, "tracker": tracker, "frames": FRAMES, "summary": summary,
            "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reid", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "weights"
                                              / "osnet_x0_25_msmt17.onnx"),
                        help="comma-separated Re-ID weights or catalog names (default: the OSNet ONNX in ../shared)")
    parser.add_argument("--tracker", default="botsort.yaml")
    parser.add_argument("--seeds", type=int, default=6, help="noise draws of the detections")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    from benchmarks.__main__ import meta

    result = {**run([r for r in args.reid.split(",") if r], args.tracker, args.seeds), "meta": meta()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = Path(args.tracker).name.removesuffix(".yaml")
    name = "reid_crossing.json" if stem == "botsort" else f"reid_crossing_{stem}.json"
    (RESULTS / name).write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    for label, row in result["summary"].items():
        log.warning("%s: %d/%d draws without an id switch, IDF1 %.2f, %.2f identities for 2 people", label,
                    row["draws_without_switch"], row["draws"], row["mean_IDF1"], row["mean_identities"])


if __name__ == "__main__":
    main()
