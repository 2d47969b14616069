"""Face-signature merge threshold on real same- and different-person pairs: ``python -m benchmarks.merge_calibration``.

A merge compares two signatures: the mean of up to 6 L2-normalised dlib embeddings of one track's faces that
passed the face gate. This measures the cosine similarity of such signatures:
- same person: the labelled real faces of Intel's face-demographics GIFs (``benchmarks/face_gate_labels.json``,
  label ``face``); each person (left-to-right slot of ``labels.json``) is split into disjoint groups of 6 faces
  from different frames, and every two groups of one person are a same-person pair;
- different people: the same groups across two people of the GIFs, and the 72 UTKFace faces (72 people), each
  seen as a video would see it: 6 copies shrunk to 32-64 px faces (one signature per person; duplicate photos
  in UTKFace are dropped).
Reported: both distributions, and the false-merge rate (different-person pairs at or above the threshold) and
miss rate (same-person pairs below it) for thresholds around the default. Results in
``benchmarks/results/merge_calibration.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import orjson

from benchmarks.face_gate import SHARED, labelled_items, load_frames, small_face, utk_chips
from mivolo.core.config import MergeConfig
from mivolo.detection.face_quality import FaceQualityGate

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "merge_calibration.json"
GROUP = 6  # embeddings per signature (IdentityMerger.max_samples)
THRESHOLDS = (0.90, 0.93, 0.95, 0.96, 0.965, 0.97, 0.98)


def signature(vectors: np.ndarray) -> np.ndarray:
    mean = vectors.mean(axis=0)
    return mean / max(float(np.linalg.norm(mean)), 1e-6)


def gif_people(items: list[dict], frames: dict, embedder, gate: FaceQualityGate) -> dict[str, list[np.ndarray]]:
    """{gif/slot: [embedding of each gate-accepted labelled face, in frame order]}.

    People never swap their left-to-right order in these clips, so in a frame that shows as many labelled faces as
    the clip has people, the k-th face from the left is person k; other frames are not used. Each detector's
    faces of a frame are taken separately (the set holds BlazeFace and YuNet boxes of the same faces).
    """
    labels = json.loads((SHARED / "real" / "intel" / "labels.json").read_text())
    people: dict[str, list[np.ndarray]] = {}
    for source in sorted({i["source"] for i in items if i["source"].endswith(".gif")}):
        count = len(labels[Path(source).name]["people"])
        for number, detector in sorted({(i["frame"], i["detector"]) for i in items if i["source"] == source}):
            faces = sorted((i for i in items if i["source"] == source and i["frame"] == number
                            and i["detector"] == detector and i["label"] == "face"),
                           key=lambda i: i["face"][0] + i["face"][2])
            if len(faces) != count:
                continue
            image, boxes = frames[(source, number)], np.array([f["face"] for f in faces], np.float32)
            ok = gate(image, boxes).ok
            for slot in np.flatnonzero(ok):
                people.setdefault(f"{Path(source).stem}/{slot}", []).append(embedder(image, boxes[slot:slot + 1])[0])
    return people


def utk_signatures(embedder, rng: np.random.Generator) -> list[np.ndarray]:
    """One signature per UTKFace person from 6 copies shrunk to 32-64 px faces (video-like resolution)."""
    out, seen = [], []
    for chip in utk_chips():
        if any(chip.shape == s.shape and np.abs(chip.astype(int) - s).mean() < 2 for s in seen):
            continue  # UTKFace holds a few photos twice under two labels: the same person, not two
        seen.append(chip)
        vectors = []
        for px in rng.integers(32, 65, GROUP):
            image, box = small_face(chip, int(px))
            vectors.append(embedder(image, box.astype(np.float32))[0])
        out.append(signature(np.array(vectors)))
    return out


def summary(x: np.ndarray) -> dict:
    if len(x) == 0:
        return {"n": 0}
    return {"n": int(len(x)), "min": round(float(x.min()), 4), "p5": round(float(np.percentile(x, 5)), 4),
            "median": round(float(np.median(x)), 4), "p95": round(float(np.percentile(x, 95)), 4),
            "max": round(float(x.max()), 4)}


def rates(same: np.ndarray, different: np.ndarray) -> list[dict]:
    return [{"threshold": t, "false_merge_rate": round(float((different >= t).mean()), 4),
             "false_merges": int((different >= t).sum()), "miss_rate": round(float((same < t).mean()), 4)}
            for t in THRESHOLDS]


def run() -> dict:
    from tracking.face_signature import FaceEmbedder

    embedder, gate, rng = FaceEmbedder(), FaceQualityGate(), np.random.default_rng(0)
    items = [i for i in labelled_items() if i["source"].endswith(".gif")]
    people = gif_people(items, load_frames(items), embedder, gate)
    groups = {name: [signature(np.array(v[k:k + GROUP])) for k in range(0, len(v) - GROUP + 1, GROUP)]
              for name, v in people.items()}
    same = np.array([a @ b for g in groups.values() for a, b in itertools.combinations(g, 2)])
    across = np.array([a @ b for (na, ga), (nb, gb) in itertools.combinations(groups.items(), 2)
                       if na.split("/")[0] == nb.split("/")[0] for a in ga for b in gb])
    utk = utk_signatures(embedder, rng)
    utk_pairs = np.array([a @ b for a, b in itertools.combinations(utk, 2)])
    different = np.concatenate([across, utk_pairs])
    return {"signature_size": GROUP, "default_threshold": MergeConfig.threshold,
            "gif_faces_per_person": {k: len(v) for k, v in people.items()},
            "same_person": summary(same), "different_people_in_one_clip": summary(across),
            "different_people_utkface": summary(utk_pairs), "by_threshold": rates(same, different)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.merge_calibration", description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not (SHARED / "real" / "intel").is_dir():
        print("../shared/data is not present: nothing to measure")
        return 0
    result = run()
    args.output.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
