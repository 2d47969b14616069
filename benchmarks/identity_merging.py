"""One person, one identity: people leave and come back; how many identities does the run report?

    python -m benchmarks.identity_merging

A generated 720p clip (the 6 sample people cross, leave, and walk back) with exact ground truth. For the run with
and without ``--no-merge``: identities found / people, ids per person (fragmentation), false merges (one reported
identity covering two people), IDF1/MOTA (py-motmetrics), merge similarities, and per-identity gender agreement.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[1]


def _motmetrics():
    """py-motmetrics 1.4 still calls np.asfarray, removed in NumPy 2: give it the equivalent."""
    if not hasattr(np, "asfarray"):
        np.asfarray = lambda a, dtype=np.float64: np.asarray(a, dtype=dtype)  # type: ignore[attr-defined]
    import motmetrics

    return motmetrics


def score(tracks_txt: Path, gt_txt: Path, identities: list[dict] | None = None,
          genders: list[str] | None = None) -> dict:
    mm = _motmetrics()

    gt = np.loadtxt(gt_txt, delimiter=",", ndmin=2)
    hyp = np.loadtxt(tracks_txt, delimiter=",", ndmin=2) if tracks_txt.stat().st_size else np.zeros((0, 10))
    acc = mm.MOTAccumulator(auto_id=False)
    matched: dict[int, set[int]] = defaultdict(set)  # reported id -> people it covered
    per_person: dict[int, set[int]] = defaultdict(set)  # person -> reported ids
    for frame in np.unique(np.concatenate([gt[:, 0], hyp[:, 0]])).astype(int):
        g, h = gt[gt[:, 0] == frame], hyp[hyp[:, 0] == frame]
        distances = mm.distances.iou_matrix(g[:, 2:6], h[:, 2:6], max_iou=0.5)
        acc.update(g[:, 1].astype(int), h[:, 1].astype(int), distances, frameid=int(frame))
    events = acc.mot_events
    for _, row in events[events.Type.isin(["MATCH", "SWITCH"])].iterrows():
        matched[int(row.HId)].add(int(row.OId))
        per_person[int(row.OId)].add(int(row.HId))
    summary = mm.metrics.create().compute(acc, metrics=["idf1", "mota", "num_switches"], name="run")
    people = len(np.unique(gt[:, 1]))
    gender_rows = {}
    if identities is not None and genders is not None:
        counts = events[events.Type.isin(["MATCH", "SWITCH"])].groupby("HId")["OId"].agg(lambda s: s.mode().iloc[0])
        judged = [(r["gender"], genders[int(counts[r["id"]]) - 1]) for r in identities if r["id"] in counts.index]
        labelled = [(g, t) for g, t in judged if g is not None]
        gender_rows = {"identities_with_gender": len(labelled),
                       "gender_accuracy_per_identity": round(sum(g == t for g, t in labelled) / len(labelled) * 100, 1)
                       if labelled else None}
    return {"people": people, "identities_reported": len(np.unique(hyp[:, 1])) if len(hyp) else 0,
            "ids_per_person": round(float(np.mean([len(v) for v in per_person.values()])), 3) if per_person else None,
            "people_found": len(per_person),
            "false_merges": sum(len(v) > 1 for v in matched.values()),
            "idf1": round(float(summary["idf1"].iloc[0]) * 100, 2),
            "mota": round(float(summary["mota"].iloc[0]) * 100, 2),
            "id_switches": int(summary["num_switches"].iloc[0]), **gender_rows}


def main() -> None:
    import demo
    from mivolo.evaluation.sample import make_sample_video, sample_genders

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clip, gt = work / "comeback.mp4", work / "gt.txt"
        make_sample_video(clip, fps=15.0, size=(1280, 720), come_back=True, ground_truth=gt)
        one_way, one_way_gt = work / "oneway.mp4", work / "oneway_gt.txt"
        make_sample_video(one_way, fps=15.0, size=(1280, 720), ground_truth=one_way_gt)
        genders = sample_genders()
        variants = [("merging", []), ("no_merge", ["--no-merge"]),
                    ("botsort_no_merge", ["--no-merge", "--tracker", "botsort.yaml"])]
        onnx = ROOT.parent / "shared" / "data" / "weights" / "osnet_x0_25_msmt17.onnx"
        if onnx.is_file():
            variants.append(("botsort_osnet_no_merge", ["--no-merge", "--tracker", "botsort.yaml", "--reid-weights",
                                                        str(onnx)]))
            variants.append(("botsort_osnet_merging", ["--tracker", "botsort.yaml", "--reid-weights", str(onnx)]))
        runs = [(name, extra, clip, gt) for name, extra in variants]
        runs += [("one_way_merging", [], one_way, one_way_gt),
                 ("one_way_no_merge", ["--no-merge"], one_way, one_way_gt)]
        for name, extra, video, truth in runs:
            out = work / name
            demo.main(["--input", str(video), "--output", str(out), "--no-progress", *extra])
            run = orjson.loads((out / "run.json").read_bytes())
            identities = orjson.loads((out / "identities.json").read_bytes())["identities"]
            results[name] = {**score(out / "tracks.txt", truth, identities, genders),
                             "identities_json": len(identities),
                             "merges": run["identity_merging"].get("merges", []), "fps": run["fps"]}
            print(name, results[name])
    out_file = ROOT / "benchmarks" / "results" / "identity_merging.json"
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_bytes(orjson.dumps({"clip": "sample 1280x720 15 fps, 6 people cross and come back (one_way_*: "
                                               "the same people crossing once)", **results},
                                      option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
