"""Many sources on Ray (``demo.py --batch``): the same results as single runs, failures kept to their source, a
killed worker retried, resume, a lost stream. One local Ray with 2 CPUs for the whole module."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import pytest

import demo
from mivolo.batch import BatchOptions, BatchStop, expand_sources, run_batch
from mivolo.batch.listing import name_sources
from mivolo.batch.results import completed_row, csv_bytes, totals
from mivolo.core.errors import UserError

CLIP_PEOPLE = {"c1": 1, "c2": 2, "c3": 3}


@pytest.fixture(scope="module")
def ray_local():
    """Ray started once for the module: this process, 2 CPUs, no dashboard, no usage statistics."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", logging_level=logging.WARNING)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """Three short clips with 1, 2 and 3 people (640x360, 6 fps, 19-29 frames)."""
    from mivolo.evaluation.sample import make_sample_video

    folder = tmp_path_factory.mktemp("clips")
    for name, people in CLIP_PEOPLE.items():
        make_sample_video(folder / f"{name}.mp4", fps=6.0, size=(640, 360), people=people, seconds_per_crossing=3.0)
    return folder


FLAGS = ["--no-progress", "--threads", "1", "--save-json"]


@pytest.fixture(scope="module")
def single_runs(clips, tmp_path_factory) -> dict[str, dict]:
    """identities.json of each clip from sequential single runs (demo.py's config, one pipeline)."""
    from mivolo import Pipeline

    out = tmp_path_factory.mktemp("single")
    args = demo.build_parser().parse_args(["--input", str(clips / "c1.mp4"), *FLAGS])
    config = demo.config_from_args(args)
    pipeline = Pipeline(config)
    result = {}
    for name in CLIP_PEOPLE:
        config.source.input, config.output.dir = str(clips / f"{name}.mp4"), str(out / name)
        pipeline.run()
        result[name] = json.loads((out / name / "identities.json").read_text())
    return result


def config_for(extra: list[str] | None = None):
    args = demo.build_parser().parse_args(["--batch", "x", *FLAGS, *(extra or [])])
    return demo.config_from_args(args)


def hidden_files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*"))


def comparable(identities: dict) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "best_crop"} for row in identities["identities"]]


# ---- with Ray ------------------------------------------------------------------------------------------------------


def test_parallel_batch_matches_single_runs_and_a_bad_source_fails_alone(ray_local, clips, single_runs, tmp_path):
    videos = tmp_path / "videos"
    shutil.copytree(clips, videos)
    (videos / "broken.mp4").write_bytes(b"this is not a video\n" * 10)
    out = tmp_path / "out"
    result = run_batch(config_for(), BatchOptions(sources=str(videos), output=out, workers=2, progress=False))
    rows = {row["name"]: row for row in result.rows}
    assert [row["name"] for row in result.rows] == ["broken", "c1", "c2", "c3"]
    assert rows["broken"]["status"] == "failed" and "cannot open" in rows["broken"]["error"]
    assert "\n" not in rows["broken"]["error"] and not (out / "broken").exists()
    for name in CLIP_PEOPLE:
        batch = json.loads((out / name / "identities.json").read_text())
        assert comparable(batch) == comparable(single_runs[name])  # exactly the same people, labels, frames
        row = rows[name]
        assert row["status"] == "done" and row["identities"] == single_runs[name]["count"] > 0
        assert row["people_estimate"] == single_runs[name]["people_estimate"]["people"]
        genders = [i["gender"] for i in single_runs[name]["identities"]]
        assert (row["men"], row["women"], row["unknown"]) == (genders.count("male"), genders.count("female"),
                                                              genders.count(None))
        assert sum(row["age_groups"].values()) == sum(i["age"] is not None for i in single_runs[name]["identities"])
        run = json.loads((out / name / "run.json").read_text())
        assert run["batch"]["status"] == "done" and run["files"]["run"] == str((out / name / "run.json").resolve())
        assert (out / name / "demographics.json").is_file() and (out / name / "tracks.txt").is_file()
    assert len({rows[n]["worker"] for n in CLIP_PEOPLE}) == 2  # two workers shared the three clips
    assert result.exit_code == 3 and result.totals["failed"] == 1 and result.totals["done"] == 3
    assert result.totals["identities"] == sum(s["count"] for s in single_runs.values())
    summary = json.loads((out / "summary.json").read_text())
    assert summary["totals"] == result.totals and summary["sources"][0]["error"] == rows["broken"]["error"]
    csv_lines = (out / "summary.csv").read_text().splitlines()
    assert len(csv_lines) == 6 and csv_lines[-1].startswith("(total)") and "3 done, 1 failed" in csv_lines[-1]
    overview = (out / "report.html").read_text()  # the batch's own page: totals, and each source's report linked
    assert f'id="total-people">{result.totals["identities"]}<' in overview and 'id="sources">3 of 4<' in overview
    assert f'id="people-estimate">{result.totals["people_estimate"]}<' in overview
    assert all(f'href="{n}/report.html"' in overview and (out / n / "report.html").is_file() for n in CLIP_PEOPLE)
    assert 'href="broken' not in overview and "failed: cannot open" in overview
    assert hidden_files(out) == []


def _worker_running_a_source() -> int | None:
    import psutil

    for child in psutil.Process().children(recursive=True):
        try:
            if child.name().startswith("ray::SourceWorker.run"):
                return child.pid
        except psutil.NoSuchProcess:
            continue
    return None


@pytest.mark.slow
def test_worker_killed_mid_source_is_retried_and_leaves_no_partial_files(ray_local, clips, single_runs, tmp_path):
    out = tmp_path / "out"
    attempt = out / ".c3.partial"
    holder: dict = {}
    options = BatchOptions(sources=str(clips / "c3.mp4"), output=out, workers=1, progress=False, retries=2)
    thread = threading.Thread(target=lambda: holder.update(result=run_batch(config_for(), options)))
    thread.start()
    killed = None
    deadline = time.monotonic() + 120
    while not (attempt / ".tracks.spool").is_file() and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.02)
    time.sleep(1.0)  # the sinks are open: the worker is about a quarter into the clip's 29 frames
    pid = _worker_running_a_source()
    if pid is not None and (attempt / ".tracks.spool").is_file():
        os.kill(pid, signal.SIGKILL)
        killed = pid
    thread.join(timeout=180)
    assert killed is not None, "the worker was never seen in the middle of the source"
    row = holder["result"].rows[0]
    assert row["status"] == "done" and not row["worker"].endswith(f":{killed}")  # a new process finished it
    assert comparable(json.loads((out / "c3" / "identities.json").read_text())) == comparable(single_runs["c3"])
    assert hidden_files(out) == []  # the dead attempt's folder and temporary files are gone
    assert holder["result"].exit_code == 0


@pytest.mark.slow
def test_resume_after_an_interrupted_batch_runs_only_the_unfinished_sources(ray_local, clips, single_runs, tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("c1", "c2"):
        shutil.copy(clips / f"{name}.mp4", videos)
    out = tmp_path / "out"
    stop = BatchStop()
    holder: dict = {}
    options = BatchOptions(sources=str(videos), output=out, workers=1, progress=False)
    thread = threading.Thread(target=lambda: holder.update(result=run_batch(config_for(), options, stop)))
    thread.start()
    deadline = time.monotonic() + 120
    while not (out / "c1" / "run.json").is_file() and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.request("test stop")  # as a Ctrl-C: c2 is interrupted (or never started)
    thread.join(timeout=120)
    first = {row["name"]: row for row in holder["result"].rows}
    assert first["c1"]["status"] == "done" and first["c2"]["status"] == "interrupted"
    assert holder["result"].exit_code == 130
    assert completed_row(out, expand_sources(str(videos))[1]) is None  # c2's outputs (if any) are not complete
    before = (out / "c1" / "run.json").stat().st_mtime_ns
    (out / ".c2.partial").mkdir(exist_ok=True)  # as a worker killed by a second Ctrl-C leaves it
    (out / ".c2.partial" / ".tracks.spool").write_bytes(b"half")

    second = run_batch(config_for(), BatchOptions(sources=str(videos), output=out, workers=1, progress=False,
                                                  resume=True))
    rows = {row["name"]: row for row in second.rows}
    assert rows["c1"].get("resumed") and not rows["c2"].get("resumed") and rows["c2"]["status"] == "done"
    assert (out / "c1" / "run.json").stat().st_mtime_ns == before  # c1 was not run again
    assert rows["c1"]["identities"] == first["c1"]["identities"]
    assert comparable(json.loads((out / "c2" / "identities.json").read_text())) == comparable(single_runs["c2"])
    assert second.exit_code == 0 and json.loads((out / "summary.json").read_text())["resumed"] == 1
    assert hidden_files(out) == []


class _DroppingCamera(BaseHTTPRequestHandler):
    """An MJPEG camera: sends some frames, then goes away for good (the server closes its socket)."""

    frames: list[bytes] = []

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        for jpeg in self.frames:
            self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg)
                             + jpeg + b"\r\n")
            self.wfile.flush()
            time.sleep(0.2)
        threading.Thread(target=lambda: (self.server.shutdown(), self.server.server_close())).start()

    def log_message(self, *args):
        pass


def test_stream_that_never_comes_back_fails_after_its_retries(ray_local, clips, tmp_path):
    capture = cv2.VideoCapture(str(clips / "c2.mp4"))
    jpegs = []
    while len(jpegs) < 12:
        ok, image = capture.read()
        if not ok:
            break
        jpegs.append(cv2.imencode(".jpg", image)[1].tobytes())
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DroppingCamera)
    _DroppingCamera.frames = jpegs
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/cam.mjpg"
    listing = tmp_path / "cameras.txt"
    listing.write_text(f"# cameras\n{url}\n")
    (tmp_path / "settings.yaml").write_text("source:\n  reconnect_attempts: 2\n  reconnect_backoff_s: 0.05\n")
    out = tmp_path / "out"
    config = config_for(["--config", str(tmp_path / "settings.yaml")])
    result = run_batch(config, BatchOptions(sources=str(listing), output=out, progress=False))
    row = result.rows[0]
    assert row["kind"] == "stream" and row["status"] == "failed" and row["error"].startswith("stream lost")
    assert "2 reconnect attempts" in row["error"] and 0 < row["frames"] <= 12
    folder = out / row["name"]
    assert json.loads((folder / "demographics.json").read_text())["source"]["frames"] == row["frames"]
    live = (folder / "demographics.jsonl").read_text().splitlines()
    assert live and all(json.loads(line)["end_s"] > json.loads(line)["start_s"] for line in live)  # closed buckets
    assert result.exit_code == 3 and hidden_files(out) == []


# ---- without Ray -----------------------------------------------------------------------------------------------------


def test_sources_from_a_folder_a_glob_and_a_list(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for path in (tmp_path / "a" / "cam.mp4", tmp_path / "b" / "cam.mp4", tmp_path / "a" / "z.avi"):
        path.write_bytes(b"x")
    (tmp_path / "a" / "notes.txt").write_text("not a video")
    assert [s.name for s in expand_sources(str(tmp_path / "a"))] == ["cam", "z"]
    both = expand_sources(str(tmp_path / "*" / "cam.mp4"))
    assert [s.name[:4] for s in both] == ["cam-", "cam-"] and both[0].name != both[1].name
    swapped = name_sources([(s.text, s.input, s.kind, s.live) for s in reversed(both)])
    assert {s.input: s.name for s in swapped} == {s.input: s.name for s in both}  # stable whatever the order
    listing = tmp_path / "list.txt"
    listing.write_text("# comment\na/z.avi\n\nrtsp://10.0.0.5:554/live\nhttps://host/clip.mp4\n0\na/z.avi\n")
    items = expand_sources(str(listing))
    assert [(s.name, s.kind, s.live) for s in items] == [("z", "video", False), ("10.0.0.5_554_live", "stream", True),
                                                         ("host_clip", "url", False), ("webcam0", "webcam", True)]
    assert items[0].input == str((tmp_path / "a" / "z.avi").resolve())
    with pytest.raises(UserError, match="matches no files"):
        expand_sources(str(tmp_path / "*.mkv"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no video files"):
        expand_sources(str(tmp_path / "empty"))


def test_worker_config_threads_and_device():
    from mivolo.batch.runner import worker_config

    config = config_for()
    config.runtime.threads = 0
    sized = worker_config(config, BatchOptions(sources="x", output=Path("o"), cpus_per_source=2))
    assert (sized.runtime.threads, sized.runtime.device) == (2, "cpu") and config.runtime.threads == 0
    config.runtime.device = "cuda"
    with pytest.raises(UserError, match="needs --gpus-per-source"):
        worker_config(config, BatchOptions(sources="x", output=Path("o")))
    assert worker_config(config, BatchOptions(sources="x", output=Path("o"), gpus_per_source=0.25)).runtime.device \
        == "cuda"


def test_workers_that_cannot_fit_are_refused_and_the_default_count_fits():
    from mivolo.batch.runner import check_fits, default_workers

    with pytest.raises(UserError, match="has 0 GPUs"):
        check_fits(BatchOptions(sources="x", output=Path("o"), gpus_per_source=0.5), {"CPU": 2.0})
    with pytest.raises(UserError, match="has 2 CPUs"):
        check_fits(BatchOptions(sources="x", output=Path("o"), cpus_per_source=4), {"CPU": 2.0})
    options = BatchOptions(sources="x", output=Path("o"))
    assert default_workers(10, 0, options, {"CPU": 16.0, "memory": 6 * 2**30}) == 4  # memory: 1.5 GB each
    assert default_workers(10, 1, options, {"CPU": 2.0, "memory": 64 * 2**30}) == 1  # one CPU left beside a stream
    assert default_workers(3, 0, options, {"CPU": 16.0, "memory": 64 * 2**30}) == 3  # one per file


def test_summary_totals_and_csv():
    items = name_sources([("a.mp4", "/v/a.mp4", "video", False), ("b.mp4", "/v/b.mp4", "video", False)])
    from mivolo.batch.results import empty_row

    done = {**empty_row(items[0], "done"), "frames": 30, "video_s": 3.0, "identities": 2, "men": 1, "unknown": 1}
    done["age_groups"]["30-39"] = 1
    failed = empty_row(items[1], "failed", "cannot open b.mp4")
    total = totals([done, failed], wall_s=6.0)
    assert (total["done"], total["failed"], total["interrupted"]) == (1, 1, 0)
    assert total["identities"] == 2 and total["age_groups"]["30-39"] == 1
    assert total["video_minutes_per_wall_minute"] == 0.5
    lines = csv_bytes([done, failed], total).decode().splitlines()
    assert lines[0].startswith("name,source,kind,status,error,frames") and "cannot open b.mp4" in lines[2]
    assert lines[3].startswith("(total),,,\"1 done, 1 failed, 0 interrupted\",,30,3.0")


@pytest.mark.parametrize("argv, message", [
    (["--input", "a.mp4", "--batch", "videos"], "one of them"),
    ([], "one of them"),
    (["--input", "a.mp4", "--workers", "2"], "--workers only apply with --batch"),
    (["--batch", "videos", "--compare", ""], "not with --batch"),
])
def test_batch_flag_mistakes_are_one_line_and_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        demo.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_batch_with_no_sources_is_one_line_and_exit_2(tmp_path, capsys):
    assert demo.main(["--batch", str(tmp_path / "nothing-*.mp4"), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "matches no files" in err and len(err.strip().splitlines()) == 1


def test_resume_accepts_sources_finished_before_the_people_estimate_existed(tmp_path):
    from mivolo.batch.listing import BatchSource
    from mivolo.batch.results import completed_row, empty_row

    item = BatchSource("cam", "cam.mp4", str(tmp_path / "cam.mp4"), "video", live=False)
    row = {**empty_row(item, "done"), "identities": 4, "input": item.input}
    row.pop("people_estimate")  # written by an earlier version
    (tmp_path / "cam").mkdir()
    (tmp_path / "cam" / "run.json").write_text(json.dumps({"batch": row}))
    resumed = completed_row(tmp_path, item)
    assert resumed is not None and resumed["people_estimate"] == 4 and resumed["resumed"]
