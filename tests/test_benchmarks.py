"""The benchmark instrument in quick mode: every part runs and the result file is complete and consistent."""

import json

import pytest

from benchmarks.__main__ import main


@pytest.mark.slow
def test_quick_benchmark_writes_a_complete_result(tmp_path):
    out = tmp_path / "quick.json"
    assert main(["--quick", "--output", str(out), "--only", "offline", "seed", "scaling", "memory", "mivolo"]) == 0
    result = json.loads(out.read_text())
    assert result["quick"] and result["meta"]["commit"] and result["meta"]["cpus"] >= 1
    for key in ("offline", "seed"):
        row = result[key]
        stages = row["stage_ms_per_frame"]
        assert row["frames"] > 0 and row["fps"] > 0 and set(stages) >= {"decode", "detect", "track", "age_gender"}
        whole_ms = 1000 * row["wall_s_including_outputs"] / row["frames"]  # the loop and the closing outputs
        assert sum(stages.values()) <= whole_ms * 1.05  # stage times add up to no more than the whole
    assert result["seed"]["identities"] > 0  # injected boxes reached tracking and settling
    assert [r["people_in_frame"] for r in result["scaling"]] == [5, 20]
    assert len(result["memory"]) == 2 and all(r["peak_rss_mb"] > 0 for r in result["memory"])
    assert set(result["mivolo"]["ms_per_crop_by_batch"]) == {"1", "8"}
    assert "| offline |" in out.with_suffix(".md").read_text()
    assert all(result[key]["overhead_pct"] is not None for key in ("offline", "seed"))  # one unit: percent


def test_quick_mode_leaves_no_files_in_the_results_folder(capsys):
    from benchmarks.__main__ import RESULTS

    before = sorted(p.name for p in RESULTS.iterdir())
    assert main(["--quick", "--only", "accuracy"]) == 0  # accuracy is skipped in quick mode: a fast, empty run
    assert sorted(p.name for p in RESULTS.iterdir()) == before
    assert "written: " in capsys.readouterr().out


@pytest.mark.slow
def test_quick_batch_benchmark_measures_one_and_two_workers(tmp_path):
    from benchmarks.batch import run

    out = tmp_path / "batch.json"
    result = run(quick=True, output=out)
    assert [r["workers"] for r in result["runs"]] == [1, 2] and result["clips"] == 2
    for row in result["runs"]:
        assert row["frames"] > 0 and row["video_minutes_per_wall_minute"] > 0 and row["per_worker_video_x"] > 0
        assert len(row["worker_peak_rss_mb"]) == row["workers"] and min(row["worker_peak_rss_mb"]) > 100
        assert row["stage_ms_per_frame"]["detect"] > 0 and row["identities"] > 0
    assert json.loads(out.read_text())["runs"][1]["workers"] == 2


def test_a_partial_run_replaces_only_its_parts_of_the_result_file():
    from benchmarks.__main__ import RESULTS, merged_parts, summary_markdown

    full = json.loads((RESULTS / "latest.json").read_text())  # a full run as written
    partial = {"quick": False, "meta": {"commit": "bbb", "cpus": 2, "torch_threads": 2, "time": "t1"},
               "memory": [{"minutes": 0.5, "frames": 450, "peak_rss_mb": 888.1}]}
    merged = merged_parts(full, partial)
    assert merged["scaling"] == full["scaling"] and merged["offline"] == full["offline"]
    assert merged["memory"] == partial["memory"]
    # the parts measured later than the full run keep their own meta; the memory part now has the partial run's
    assert merged["meta"] == full["meta"] and merged["parts_meta"] == {**full.get("parts_meta", {}),
                                                                       "memory": partial["meta"]}
    text = summary_markdown(merged)
    assert "memory: measured later (commit bbb, t1)" in text and "| 0.5 | 450 | 888.1 |" in text


def test_a_partial_run_from_the_command_line_keeps_the_other_parts(tmp_path, monkeypatch):
    import benchmarks.__main__ as bench
    from benchmarks.__main__ import RESULTS, merged_parts

    out = tmp_path / "latest.json"
    out.write_bytes((RESULTS / "latest.json").read_bytes())
    full = json.loads(out.read_text())
    measured = {"model": "MiVOLO-D1 224 face+body", "device": "cpu", "half": False, "threads": 2,
                "ms_per_crop_by_batch": {"1": 1.0}}
    monkeypatch.setattr(bench, "bench_mivolo", lambda *args, **kwargs: measured)
    assert bench.main(["--only", "mivolo", "--output", str(out)]) == 0
    written = json.loads(out.read_text())
    assert written["mivolo"] == measured and written["offline"] == full["offline"] and written["meta"] == full["meta"]
    assert "mivolo: measured later" in out.with_suffix(".md").read_text()
    assert merged_parts(full, {"quick": False, "meta": {}, "real": None})["real"] == full["real"]  # nothing ran
    quick = {"quick": True, "meta": {}, "memory": []}
    assert merged_parts(full, quick) == quick  # quick numbers never mix into a full result
