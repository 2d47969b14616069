"""Flags that seed (MiVOLO / tracking fork) scripts pass: they run, with at most one warning line, as users expect."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import setup_reid_models
from mivolo.core.config import TrackerConfig
from mivolo.estimation.mivolo_net import save_random_checkpoint

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("seed") / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for i in range(4):
        writer.write(np.full((120, 160, 3), 40 + i * 20, np.uint8))
    writer.release()
    return path


def _demo(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "demo.py"), *args, "--no-progress"], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def _lines_with(text: str, needle: str) -> list[str]:
    return [line for line in text.splitlines() if needle in line]


def test_with_persons_on_the_offline_estimator_warns_once_and_runs(clip, tmp_path):
    result = _demo("--input", str(clip), "--output", str(tmp_path / "o"), "--with-persons")
    assert result.returncode == 0, result.stderr
    (warning,) = _lines_with(result.stderr, "--with-persons")
    assert warning.startswith("W ") and "face+body" in warning and "Traceback" not in result.stderr
    assert (tmp_path / "o" / "run.json").is_file()


def test_with_persons_on_a_face_only_checkpoint_warns_once_and_runs(clip, tmp_path):
    checkpoint = save_random_checkpoint(tmp_path / "face.pth.tar", with_persons=False)
    result = _demo("--input", str(clip), "--output", str(tmp_path / "o"), "--checkpoint", str(checkpoint),
                   "--with-persons")
    assert result.returncode == 0, result.stderr
    (warning,) = _lines_with(result.stderr, "--with-persons")
    assert warning.startswith("W ") and "face.pth.tar" in warning


def test_disable_faces_without_a_body_model_is_still_an_error(clip, tmp_path):
    result = _demo("--input", str(clip), "--output", str(tmp_path / "o"), "--with-persons", "--disable-faces")
    assert result.returncode == 2 and len(_lines_with(result.stderr, "error:")) == 1


def test_half_on_cpu_warns_once_and_runs_in_fp32(clip, tmp_path):
    result = _demo("--input", str(clip), "--output", str(tmp_path / "o"), "--half", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    (warning,) = _lines_with(result.stderr, "--half")
    assert warning.startswith("W ") and "cpu" in warning
    assert json.loads((tmp_path / "o" / "run.json").read_text())["config"]["runtime"]["half"] is False


def test_json_output_path_in_a_folder_that_does_not_exist_yet(clip, tmp_path):
    result = _demo("--input", str(clip), "--output", "o", "--json-output-path", "out/demographics.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "o" / "out" / "demographics.json").read_text())["source"]["frames"] == 4
    # the output folder repeated in the path names the same place, not o/o/...
    result = _demo("--input", str(clip), "--output", "o", "--json-output-path", "o/more/d.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "o" / "more" / "d.json").is_file() and not (tmp_path / "o" / "o").exists()
    result = _demo("--input", str(clip), "--output", "o", "--json-output-path", "../d.json", cwd=tmp_path)
    assert result.returncode == 2 and len(_lines_with(result.stderr, "error:")) == 1
    assert "inside the output folder" in result.stderr and not (tmp_path / "d.json").exists()


def _random_osnet(path: Path) -> Path:
    import torch
    from boxmot.reid.core.registry import ReIDModelRegistry

    torch.save(ReIDModelRegistry.build_model("osnet_x0_25", None, num_classes=751, pretrained=False,
                                             use_gpu=False).state_dict(), path)
    return path


def test_setup_reid_models_use_accepts_a_local_weights_file(tmp_path, monkeypatch, capsys):
    from tracking import Tracker

    monkeypatch.setenv("MIVOLO_CACHE_DIR", str(tmp_path / "cache"))
    weights = _random_osnet(tmp_path / "my_osnet.pt")
    yaml_path = tmp_path / "botsort.yaml"
    yaml_path.write_text((ROOT / "mivolo" / "configs" / "botsort.yaml").read_text())
    assert setup_reid_models.main(["--use", str(weights), "--tracker-yaml", str(yaml_path)]) == 0
    assert f"reid_weights: {weights.resolve()}" in yaml_path.read_text()
    assert Tracker(TrackerConfig(tracker=str(yaml_path)), 25).has_reid  # the tracker now runs with these weights
    capsys.readouterr()
    assert setup_reid_models.main(["--use", str(tmp_path / "gone.pt"), "--tracker-yaml", str(yaml_path)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "not found" in line and "gone.pt" in line
    (tmp_path / "notes.txt").write_text("x")
    assert setup_reid_models.main(["--use", str(tmp_path / "notes.txt"), "--tracker-yaml", str(yaml_path)]) == 2
    assert "not Re-ID weights" in capsys.readouterr().err
