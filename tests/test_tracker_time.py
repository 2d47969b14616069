"""The trackers' motion model runs in seconds (``variable_dt``): one person stays one id at low frame rates."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from mivolo.core.config import TrackerConfig
from mivolo.core.paths import CONFIGS_DIR
from mivolo.core.structures import PERSON, Detections
from tracking import Tracker
from tracking.tracker import TRACKERS

IMAGE = np.zeros((480, 960, 3), np.uint8)


def yaml_with(tmp_path: Path, name: str, **changes) -> str:
    data = yaml.safe_load((CONFIGS_DIR / name).read_text())
    data.update(changes)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return str(path)


def walk(tracker_yaml: str, steps_px: list[float], seen: list[bool], fps: float = 5.0) -> list[int]:
    """Ids given to one walker (a 28 x 75 px box moving ``steps_px`` a frame); 0 where not detected."""
    tracker = Tracker(TrackerConfig(tracker=tracker_yaml), fps=fps)
    x, ids = 100.0, []
    for k, (step, visible) in enumerate(zip(steps_px, seen, strict=True)):
        x += step
        boxes = np.array([[x, 200, x + 28, 275]], np.float32) if visible else np.zeros((0, 4), np.float32)
        dets = Detections.from_boxes(boxes, np.full(len(boxes), 0.8, np.float32), PERSON)
        tracker.update(dets, IMAGE, k / fps)
        ids.append(int(dets.track_id[0]) if visible else 0)
    return ids


@pytest.mark.parametrize("name", ["botsort.yaml", "bytetrack.yaml"])
@pytest.mark.parametrize("steps_px, missed", [
    ([4.0] * 8 + [12.0] * 10, 2),   # speeds up while unseen for 0.4 s (PETS09 at 5 fps: a man who starts to hurry)
    ([6.0] * 8 + [-6.0] * 10, 1),   # turns back while unseen for one frame
])
def test_a_walker_who_changes_pace_unseen_keeps_one_id_at_5_fps(tmp_path, name, steps_px, missed):
    seen = [True] * 9 + [False] * missed + [True] * (len(steps_px) - 9 - missed)
    shipped = walk(str(CONFIGS_DIR / name), steps_px, seen)
    per_frame = walk(yaml_with(tmp_path, name, variable_dt=False, kf_process_velocity_scale=1.0), steps_px, seen)
    shipped_ids = {i for i in shipped if i > 0}
    assert shipped_ids == {1} and shipped[-1] == 1
    # the fixed per-frame model (noise of a 1/30 s step spent on a 0.2 s one) loses him: the test can fail
    assert len({i for i in per_frame if i > 0}) == 2


@pytest.mark.parametrize("kind", sorted(TRACKERS))
def test_every_shipped_tracker_runs_its_motion_model_in_seconds(kind):
    data = yaml.safe_load((CONFIGS_DIR / f"{kind}.yaml").read_text())
    assert data.get("variable_dt") is True
    if kind == "strongsort":
        return  # needs Re-ID weights to build
    tracker = Tracker(TrackerConfig(tracker=f"{kind}.yaml"), fps=5)
    assert tracker.persons.variable_dt and tracker.lone_faces.variable_dt
    ids = walk(f"{kind}.yaml", [5.0] * 12, [True] * 12)
    assert len(set(ids[3:])) == 1 and ids[-1] > 0


def test_the_clock_given_to_the_trackers_always_moves_forward():
    tracker = Tracker(TrackerConfig(tracker="botsort.yaml"), fps=10)
    assert tracker._clock(5.0) == 5.0
    assert tracker._clock(5.0) == pytest.approx(5.1)       # a stream repeating a timestamp: one frame period on
    assert tracker._clock(4.0) == pytest.approx(5.2)       # a clock that went back
    assert tracker._clock(None) == pytest.approx(5.3)      # no time given
    assert tracker._clock(float("nan")) == pytest.approx(5.4)
    assert tracker._clock(7.0) == 7.0                      # a gap (frames skipped or lost) is kept as it is
    assert tracker._clock(7.001) == pytest.approx(7.05)    # a burst of buffered stream frames: half a period at least
    tracker.reset()
    assert tracker._clock(0.0) == 0.0                      # a new sequence starts its own clock
    dets = Detections.from_boxes(np.array([[10, 10, 40, 90]], np.float32), np.array([0.9], np.float32), PERSON)
    for _ in range(3):
        tracker.update(dets, IMAGE, 1.0)  # the same time three times does not raise inside boxmot
    assert int(dets.track_id[0]) > 0


def test_with_skipped_frames_the_tracker_keeps_lost_tracks_for_seconds(tmp_path):
    """``--skip-frames 2`` on 30 fps: the tracker is updated 10 times a second, its frame-counted buffer is set so."""
    from benchmarks.motion_model import NoAgeGender
    from mivolo.core.config import PipelineConfig
    from mivolo.core.run import SourceInfo
    from mivolo.pipeline import Pipeline, _abort

    class NoDetector:
        models = {"persons": "none", "faces": "none"}

        def __call__(self, image):
            return Detections.from_boxes(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), PERSON)

    class Source:
        info = SourceInfo("video", "clip", 30.0, 90, False, False)

    frame_rates = {}
    for skip in (0, 2):
        config = PipelineConfig()
        config.tracker.tracker = "botsort.yaml"
        config.detector.skip_frames = skip
        config.runtime.progress = False
        state = Pipeline(config, detector=NoDetector(), estimator=NoAgeGender())._start(Source(), tmp_path / str(skip))
        _abort(state.sinks)
        frame_rates[skip] = (state.tracker.params["frame_rate"], state.tracker._frame_s)
    assert frame_rates[0] == (30, pytest.approx(1 / 30)) and frame_rates[2] == (10, pytest.approx(0.1))


def test_after_a_reset_no_identity_id_is_given_again():
    """Independent images reset the tracker before each one: boxmot's ids start again at 1, ours must not (every
    photo's first person was identity 1: five photos of five people counted as two)."""
    tracker = Tracker(TrackerConfig(tracker="botsort.yaml"), 10)
    image = np.zeros((240, 320, 3), np.uint8)
    seen = []
    for _ in range(3):
        tracker.reset()
        dets = Detections.from_boxes(np.array([[10, 10, 60, 150], [200, 10, 250, 150]], np.float32),
                                     np.array([0.9, 0.9], np.float32), PERSON)
        seen += tracker.update(dets, image, 0.0).track_id.tolist()
    assert len(seen) == 6 and len(set(seen)) == 6


def stands_then_returns(name: str, fps: float, period_s: float, gap_s: float) -> tuple[int, int, int]:
    """Ids of one person standing still, unseen for ``gap_s``, then seen at the same place, updates every
    ``period_s`` on a tracker built for ``fps`` (as when frames repeating the last one are left out); and the
    tracker's lost-track buffer (updates) in the end."""
    tracker = Tracker(TrackerConfig(tracker=name), fps=fps)
    box = np.array([[100, 200, 128, 275]], np.float32)
    ids, t = [], 0.0
    for visible in [True] * 20 + [False] * int(round(gap_s / period_s)) + [True] * 5:
        dets = Detections.from_boxes(box if visible else box[:0], np.full(int(visible), 0.8, np.float32), PERSON)
        tracker.update(dets, IMAGE, t)
        t += period_s
        if visible:
            ids.append(int(dets.track_id[0]))
    buffer = getattr(tracker.persons, "max_time_lost", getattr(tracker.persons, "max_age", None))
    return ids[0], ids[-1], buffer


@pytest.mark.parametrize("name", ["botsort.yaml", "bytetrack.yaml", "ocsort.yaml"])
def test_a_lost_track_is_kept_its_seconds_at_the_rate_updates_really_come(name):
    """The shipped YAMLs keep a lost track 2 s. A 30 fps source that shows each frame three times (footage filmed
    at 10 fps; the repeats are left out): updates come every 0.1 s. Someone unseen for 3 s is not taken back by the
    old track (a 2 s buffer counted in 30 fps frames would hold 6 s); unseen for 1 s, he is."""
    first, last, buffer = stands_then_returns(name, fps=30.0, period_s=0.1, gap_s=3.0)
    assert buffer == 20 and first != last
    first, last, buffer = stands_then_returns(name, fps=30.0, period_s=0.1, gap_s=1.0)
    assert buffer == 20 and first == last
    assert stands_then_returns(name, fps=30.0, period_s=1 / 30, gap_s=1.0)[2] == 60  # every frame: as sized


def test_the_lost_track_buffer_lengthens_at_once_when_updates_speed_up():
    """A still scene (its repeated frames left out: one update a second), then people walk in (10 updates a
    second): the buffer holds 2 s at the new rate from the third fast update on, not after the median caught up."""
    tracker = Tracker(TrackerConfig(tracker="botsort.yaml"), fps=10.0)
    none = Detections.from_boxes(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), PERSON)
    times = [float(k) for k in range(15)] + [14.0 + 0.1 * k for k in range(1, 4)]
    for t in times[:15]:
        tracker.update(none, IMAGE, t)
    assert tracker.persons.max_time_lost == 2
    for t in times[15:]:
        tracker.update(none, IMAGE, t)
    assert tracker.persons.max_time_lost == 20
