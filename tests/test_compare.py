"""``demo.py --compare``: detections once, one tracking run per Re-ID setting, TrackEval metrics."""

import json

import numpy as np
import pytest
import torch

import demo
from benchmarks.reid_crossing import make_crossing_sequence
from conftest import ROOT, SHARED
from mivolo.evaluation.mot import evaluate_mot
from mivolo.sinks.tracks import interpolate_gaps


def _mot_sequence(root, frames=60):
    """Two people walking on a blank 640x480 scene; det.txt = ground truth boxes (public detections)."""
    seq = root / "SYN-01"
    (seq / "det").mkdir(parents=True)
    (seq / "gt").mkdir()
    (seq / "seqinfo.ini").write_text("[Sequence]\nname=SYN-01\nimDir=img1\nframeRate=25\nseqLength="
                                     f"{frames}\nimWidth=640\nimHeight=480\nimExt=.jpg\n")
    gt, det = [], []
    for f in range(1, frames + 1):
        for pid, (x0, v) in enumerate([(20, 4), (500, -3)], start=1):
            x = x0 + v * f
            gt.append(f"{f},{pid},{x},100,60,160,1,1,1\n")
            det.append(f"{f},-1,{x + 1},{101},{60},{158},0.9\n")
    (seq / "gt" / "gt.txt").write_text("".join(gt))
    (seq / "det" / "det.txt").write_text("".join(det))
    return seq


def test_compare_on_public_detections_writes_metrics(tmp_path, capsys):
    seq = _mot_sequence(tmp_path)
    out = tmp_path / "out"
    assert demo.main(["--input", str(seq), "--compare", "", "--tracker", "bytetrack.yaml", "--output", str(out),
                      "--no-progress"]) == 0
    result = json.loads((out / "compare.json").read_text())
    (run,) = result["runs"]
    assert run["identities"] == 2 and run["IDSW"] == 0 and run["HOTA"] > 80 and run["MOTA"] > 90
    assert "| no Re-ID (baseline) |" in (out / "compare.md").read_text()
    assert "HOTA" in capsys.readouterr().out


def test_compare_runs_once_per_reid_model_on_a_video(sample_clip, tmp_path):
    from boxmot.reid.core.registry import ReIDModelRegistry

    weights = tmp_path / "osnet_x0_25_market1501.pt"
    torch.save(ReIDModelRegistry.build_model("osnet_x0_25", None, num_classes=751, pretrained=False,
                                             use_gpu=False).state_dict(), weights)
    clip, people = sample_clip
    out = tmp_path / "out"
    assert demo.main(["--input", str(clip), "--compare", str(weights), "--tracker", "botsort.yaml",
                      "--output", str(out), "--no-progress"]) == 0
    result = json.loads((out / "compare.json").read_text())
    assert [r["reid"] for r in result["runs"]] == ["no Re-ID (baseline)", "osnet_x0_25_market1501"]
    assert result["runs"][1]["weights"] == str(weights) and "motion_only" not in result["runs"][1]
    assert (out / "tracks_baseline.txt").is_file() and (out / "tracks_osnet_x0_25_market1501.txt").is_file()
    assert result["runs"][1]["reid_ms_per_frame"] > 0 and (out / "detections.npz").is_file()
    assert all(r["identities"] == people for r in result["runs"])


def test_interpolation_fills_short_breaks_only():
    rows = np.array([[1, 7, 0, 0, 10, 10, 0.9, -1, -1, -1], [4, 7, 30, 0, 10, 10, 0.8, -1, -1, -1],
                     [40, 7, 60, 0, 10, 10, 0.9, -1, -1, -1]], float)
    filled = interpolate_gaps(rows, 5)
    assert filled[:, 0].tolist() == [1, 2, 3, 4, 40]  # 1->4 filled, 4->40 too long
    assert filled[1, 2] == 10 and filled[2, 2] == 20 and filled[1, 6] == 0.8


def test_trackeval_scores_a_perfect_tracker_100(tmp_path):
    seq = _mot_sequence(tmp_path)
    assert evaluate_mot(seq / "gt" / "gt.txt", seq / "gt" / "gt.txt", 60, "SYN-01")["HOTA"] == 100.0


def _compare_crossing(tmp_path, reid: str) -> dict[str, dict]:
    seq = make_crossing_sequence(tmp_path, seed=0)
    out = tmp_path / "out"
    assert demo.main(["--input", str(seq), "--compare", reid, "--tracker", "botsort.yaml", "--output", str(out),
                      "--no-progress", "--interpolate", "0"]) == 0
    return {run["reid"]: run for run in json.loads((out / "compare.json").read_text())["runs"]}


def test_motion_alone_loses_the_ids_of_two_people_crossing(tmp_path):
    """The crossing scene is hard for motion: without Re-ID, BoT-SORT switches ids and reports a third person."""
    base = _compare_crossing(tmp_path, "")["no Re-ID (baseline)"]
    assert base["IDSW"] >= 1 and base["identities"] == 3 and base["IDF1"] < 70


def test_reid_keeps_the_ids_that_motion_alone_loses(tmp_path):
    onnx = SHARED / "weights" / "osnet_x0_25_msmt17.onnx"
    if not onnx.is_file():
        pytest.skip("needs the real OSNet x0.25 ONNX in ../shared/data/weights (random weights cannot tell "
                    "people apart)")
    runs = _compare_crossing(tmp_path, str(onnx))
    base, reid = runs["no Re-ID (baseline)"], runs["osnet_x0_25_msmt17"]
    assert base["IDSW"] >= 1 and base["identities"] == 3
    assert reid["IDSW"] == 0 and reid["identities"] == 2 and reid["IDF1"] > base["IDF1"] + 30


def _random_osnet(path):
    from boxmot.reid.core.registry import ReIDModelRegistry

    torch.save(ReIDModelRegistry.build_model("osnet_x0_25", None, num_classes=751, pretrained=False,
                                             use_gpu=False).state_dict(), path)
    return path


def test_compare_with_a_tracker_that_needs_reid_has_no_baseline(tmp_path, capsys):
    seq = _mot_sequence(tmp_path, frames=20)
    out = tmp_path / "out"
    assert demo.main(["--input", str(seq), "--compare", "", "--tracker", "strongsort.yaml", "--output", str(out),
                      "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs a Re-ID model" in err[0]
    weights = _random_osnet(tmp_path / "osnet_x0_25_market1501.pt")
    assert demo.main(["--input", str(seq), "--compare", str(weights), "--tracker", "strongsort.yaml",
                      "--output", str(out), "--no-progress"]) == 0
    (run,) = json.loads((out / "compare.json").read_text())["runs"]
    assert run["reid"] == "osnet_x0_25_market1501" and run["reid_ms_per_frame"] is None and run["identities"] == 2
    assert "| n/a |" in (out / "compare.md").read_text()


def test_run_names_are_short_file_safe_and_unique():
    from mivolo.evaluation.compare import short_names

    assert short_names(["baseline", "/tmp/shared/data/weights/osnet_x0_25_msmt17.onnx", "osnet_x1_0_market1501",
                        "/a/osnet_x0_25_msmt17.pt", "my model (v2).pth"]) == \
        ["baseline", "osnet_x0_25_msmt17", "osnet_x1_0_market1501", "osnet_x0_25_msmt17_2", "my_model__v2"]


def test_reid_runs_on_a_sequence_without_its_frames_are_marked_motion_only(tmp_path, caplog):
    seq = _mot_sequence(tmp_path, frames=20)  # det.txt and gt.txt, but no img1/ files
    weights = _random_osnet(tmp_path / "osnet_x0_25_market1501.pt")
    out = tmp_path / "out"
    with caplog.at_level("WARNING", logger="mivolo.evaluation.compare"):
        assert demo.main(["--input", str(seq), "--compare", str(weights), "--tracker", "botsort.yaml",
                          "--output", str(out), "--no-progress"]) == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "20 of 20 frames are missing" in warnings[0]
    baseline, reid = json.loads((out / "compare.json").read_text())["runs"]
    assert "motion_only" not in baseline and reid["motion_only"] is True and reid["frames_missing"] == 20
    assert "| osnet_x0_25_market1501 (motion-only: 20 frames missing) |" in (out / "compare.md").read_text()


def test_baseline_ignores_reid_weights_written_into_the_tracker_yaml(tmp_path):
    from mivolo.core.config import TrackerConfig
    from tracking import Tracker

    weights = _random_osnet(tmp_path / "osnet_x0_25_market1501.pt")
    config = tmp_path / "botsort_reid.yaml"
    config.write_text((ROOT / "mivolo" / "configs" / "botsort.yaml").read_text() + f"\nreid_weights: {weights}\n")
    assert Tracker(TrackerConfig(tracker=str(config)), 25).has_reid
    assert not Tracker(TrackerConfig(tracker=str(config)), 25, reid_from_yaml=False).has_reid
