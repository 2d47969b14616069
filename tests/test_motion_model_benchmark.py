"""benchmarks.motion_model: the tracker settings it compares and the replay of recorded detections."""

import numpy as np
import yaml

from benchmarks.motion_model import CASES, MODELS, SHIPPED, Recorded, markdown, tracker_yaml
from mivolo.core.config import TrackerConfig
from mivolo.core.paths import CONFIGS_DIR
from mivolo.core.structures import PERSON, Detections
from tracking import Tracker


def test_each_motion_model_is_the_shipped_botsort_with_its_settings(tmp_path):
    for kind in sorted({case[1] for case in CASES}):
        for name, settings in MODELS.items():
            path = tracker_yaml(settings, tmp_path, kind)
            data = yaml.safe_load(path.read_text())
            assert data["tracker_type"] == kind and data["track_buffer_s"] == 2.0
            assert {k: data[k] for k in settings} == settings, name
            tracker = Tracker(TrackerConfig(tracker=str(path)), fps=10)
            assert tracker.persons.variable_dt is settings["variable_dt"]
        bundled = yaml.safe_load(tracker_yaml(MODELS[SHIPPED], tmp_path, kind).read_text())
        assert bundled == yaml.safe_load((CONFIGS_DIR / f"{kind}.yaml").read_text())  # "shipped" is what ships


def test_recorded_detections_are_replayed_every_step_th_frame_as_fresh_copies():
    frames = [Detections.from_boxes(np.array([[k, 0, k + 10, 20]], np.float32), np.array([0.9], np.float32), PERSON)
              for k in range(6)]
    replay = Recorded(frames, {"persons": "x"}, step=2)
    got = [replay(None) for _ in range(3)]
    assert [float(d.xyxy[0, 0]) for d in got] == [0.0, 2.0, 4.0]
    got[0].track_id[:] = 7
    got[0].xyxy[:] = -1
    assert frames[0].track_id[0] == -1 and frames[0].xyxy[0, 0] == 0  # the pipeline writes into its copy only


def test_the_markdown_has_a_row_per_run():
    rows = [{"detector": "default", "tracker": "botsort", "reid": None, "fps": 10.0, "model": name, "count": 22,
             "people": 19, "HOTA": 71.5, "MOTA": 92.0, "IDF1": 92.7, "spanning": 1} for name in MODELS]
    rows[-1]["reid"] = "osnet.onnx"
    text = markdown({"clip": "PETS09-S2L1", "person_models": {"default": "yolo"}, "rows": rows})
    assert sum(line.startswith("| default | botsort") for line in text.splitlines()) == len(MODELS)
    assert "| default | botsort + osnet.onnx | 10.0 |" in text
