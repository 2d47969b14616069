"""Bad files, faults and untrusted weights: one clear line, the right exit code, nothing executed or lost."""

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mivolo.core.config import TrackerConfig
from mivolo.core.errors import UserError
from tracking import Tracker

ROOT = Path(__file__).resolve().parents[1]


def run_demo(*args: str, limit_bytes: int | None = None, **kwargs) -> subprocess.CompletedProcess:
    def limit() -> None:
        if limit_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.run([sys.executable, str(ROOT / "demo.py"), *args, "--no-progress"], capture_output=True,
                          text=True, cwd=ROOT, timeout=300, preexec_fn=limit, **kwargs)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture()
def evil(tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "evil.pt"
    torch.save({"model": _Payload(marker), "state_dict": {}}, path)
    return path, marker


def test_malicious_detector_weights_do_not_run(sample_clip, tmp_path, evil):
    path, marker = evil
    result = run_demo("--input", str(sample_clip[0]), "--output", str(tmp_path / "o"), "--detector-weights", str(path))
    assert result.returncode == 2 and "refusing to load" in one_error_line(result)
    assert not marker.exists()


def test_malicious_reid_weights_do_not_run(evil):
    path, marker = evil
    with pytest.raises(UserError, match="refusing to load"):
        Tracker(TrackerConfig(tracker="botsort.yaml", reid_weights=str(path)), fps=25)
    assert not marker.exists()


@pytest.mark.slow
def test_weights_of_the_wrong_kind(sample_clip, tmp_path):
    from mivolo.detection.ultralytics_yolo import save_random_yolo
    from mivolo.estimation.mivolo_net import save_random_checkpoint

    detector = save_random_yolo(tmp_path / "det.pt")
    mivolo = save_random_checkpoint(tmp_path / "mivolo.pth.tar", with_persons=False)
    clip = str(sample_clip[0])
    result = run_demo("--input", clip, "--output", str(tmp_path / "a"), "--detector-weights", str(mivolo))
    assert result.returncode == 2 and "--checkpoint" in one_error_line(result)
    result = run_demo("--input", clip, "--output", str(tmp_path / "b"), "--checkpoint", str(detector))
    assert result.returncode == 2 and "--detector-weights" in one_error_line(result)
    truncated = tmp_path / "cut.pt"
    truncated.write_bytes(detector.read_bytes()[:3000])
    result = run_demo("--input", clip, "--output", str(tmp_path / "c"), "--detector-weights", str(truncated))
    assert result.returncode == 2
    one_error_line(result)
    coco = save_random_yolo(tmp_path / "cars.pt", names=("car", "bus"))
    result = run_demo("--input", clip, "--output", str(tmp_path / "d"), "--detector-weights", str(coco))
    assert result.returncode == 2 and "no 'person' or 'face' class" in one_error_line(result)


@pytest.mark.slow
def test_ultralytics_person_face_checkpoint_runs_in_the_pipeline(sample_clip, tmp_path):
    from mivolo.detection.ultralytics_yolo import save_random_yolo

    weights = save_random_yolo(tmp_path / "yolov8n_person_face.pt")
    result = run_demo("--input", str(sample_clip[0]), "--output", str(tmp_path / "o"), "--detector-weights",
                      str(weights), "--max-frames", "3", "--save-json")
    assert result.returncode == 0, result.stderr
    run = json.loads((tmp_path / "o" / "run.json").read_text())
    assert run["models"]["persons"] == "yolo:yolov8n_person_face.pt" and run["frames_processed"] == 3


@pytest.mark.slow
def test_sigterm_stops_cleanly_with_143(tmp_path):
    from mivolo.evaluation.sample import make_sample_video

    clip = tmp_path / "long.mp4"
    make_sample_video(clip, fps=25.0, size=(640, 360))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, str(ROOT / "demo.py"), "--input", str(clip), "--output", str(out),
                             "--save-json", "--no-progress"], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not (out / ".tracks.spool").exists():
        time.sleep(0.1)
    time.sleep(0.5)
    started = time.time()
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "Traceback" not in stderr
    assert time.time() - started < 10
    run = json.loads((out / "run.json").read_text())
    assert run["interrupted"] == "SIGTERM"
    json.loads((out / "demographics.json").read_text())


@pytest.mark.slow
def test_disk_full_gives_a_clear_error_and_keeps_earlier_outputs(sample_clip, tmp_path):
    out = tmp_path / "out"
    clip = str(sample_clip[0])
    first = run_demo("--input", clip, "--output", str(out), "--save-json")
    assert first.returncode == 0
    before = (out / "identities.json").read_text()
    second = run_demo("--input", clip, "--output", str(out), "--save-json", "--draw", limit_bytes=300_000)
    assert second.returncode == 1 and "cannot write outputs" in one_error_line(second)
    assert (out / "identities.json").read_text() == before  # the earlier run's file is intact
    json.loads((out / "demographics.json").read_text())
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary leftovers


@pytest.mark.slow
def test_tiny_huge_and_changing_frames(tmp_path):
    tiny = tmp_path / "tiny.png"
    cv2.imwrite(str(tiny), np.zeros((1, 1, 3), np.uint8))
    result = run_demo("--input", str(tiny), "--output", str(tmp_path / "a"))
    assert result.returncode == 2 and "too small" in one_error_line(result)
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "0.png"), np.full((4320, 7680, 3), 90, np.uint8))  # an 8K frame
    cv2.imwrite(str(frames / "1.png"), np.full((480, 640, 3), 90, np.uint8))  # then a different size
    cv2.imwrite(str(frames / "2.jpg"), np.full((480, 640), 90, np.uint8))  # grayscale
    (frames / "readme.txt").write_text("not a frame")
    result = run_demo("--input", str(frames), "--as-video", "--output", str(tmp_path / "b"), "--draw")
    assert result.returncode == 0, result.stderr
    run = json.loads((tmp_path / "b" / "run.json").read_text())
    assert run["frames_processed"] == 3 and run["source"]["resized_frames"] == 2
