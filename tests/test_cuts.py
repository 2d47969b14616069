"""Cuts between shots (tracking.cuts): found from the pictures alone, and across one no id, path or estimate
reaches."""

from pathlib import Path

import numpy as np
import orjson
import pytest
from painted_people import BLUE, GREEN, GREY, RED, box

from benchmarks.real import garbage
from mivolo.core.config import PipelineConfig
from mivolo.core.structures import PERSON, Detections
from tracking.cuts import CUT, GLITCH, REPEAT, SAME, SceneCuts


def scene(seed: int, shift: int = 0) -> np.ndarray:
    """A 640x480 textured picture (a street, a hall), seen ``shift`` px further right."""
    import cv2

    rng = np.random.default_rng(seed)
    texture = cv2.resize((rng.random((60, 100, 3)) * 255).astype(np.uint8), (800, 480))
    return np.ascontiguousarray(texture[:, shift:shift + 640])


def verdicts(cuts: SceneCuts, images: list[np.ndarray]) -> list[str]:
    """The check's verdict on each frame of ``images`` at 10 fps, each with the frame after it."""
    return [cuts(image, k / 10, images[k + 1] if k + 1 < len(images) else None) for k, image in enumerate(images)]


def test_a_cut_is_another_picture_a_pan_is_not():
    cuts = SceneCuts()
    pan = [scene(1, shift) for shift in range(0, 40, 4)]  # a camera panning 4 px a frame
    assert verdicts(cuts, [*pan, scene(2), scene(2, 4)]) == [SAME] * 10 + [CUT, SAME]  # then another shot
    across = SceneCuts()  # the same place from across the square
    mirrored = [np.ascontiguousarray(scene(2, shift)[:, ::-1]) for shift in (0, 4)]
    assert verdicts(across, [scene(2), *mirrored]) == [SAME, CUT, SAME]
    dark = SceneCuts()
    assert verdicts(dark, [np.zeros((480, 640, 3), np.uint8), np.full((480, 640, 3), 3, np.uint8),
                           np.full((480, 640, 3), 9, np.uint8)]) == [SAME, REPEAT, SAME]  # no cut
    grey = SceneCuts()  # a stream's grey frame between two of the same shot: no cut, in or out
    assert verdicts(grey, [scene(1), np.full((480, 640, 3), 128, np.uint8), scene(1, 4)]) == [SAME] * 3
    fade = SceneCuts()  # a fade through black to another shot: one cut
    assert verdicts(fade, [scene(1), np.zeros((480, 640, 3), np.uint8), scene(2), scene(2, 4)]) \
        == [SAME, SAME, CUT, SAME]
    passing = SceneCuts()  # someone walks close past the camera: half the picture changes, not all of it
    near = [scene(1) for _ in range(4)]
    for k, image in enumerate(near):  # a dark coat close to the lens, over the left half for four frames
        image[:, 5 * k:5 * k + 300] = (40 + k, 38, 35)
    assert verdicts(passing, [scene(1), *near, scene(1), scene(1, 4), scene(9), scene(9, 4)]) \
        == [SAME] * 7 + [CUT, SAME]


@pytest.mark.parametrize("kind", ["grey", "smear", "green"])
@pytest.mark.parametrize("rows_from", [0.1, 0.5])
def test_a_frame_decoded_as_garbage_is_left_out_not_taken_for_a_cut(kind, rows_from):
    """Garbage over the lower half or nine tenths of one frame: that frame is left out, the shot goes on (before,
    garbage over most of the picture was two cuts: into it and out of it, and everyone in view was counted again)."""
    shot = [scene(1, shift) for shift in range(0, 24, 4)]
    frames = [*shot[:3], garbage(shot[3], kind, 1.0 - rows_from, np.random.default_rng(0)), *shot[4:]]
    assert verdicts(SceneCuts(), frames) == [SAME, SAME, SAME, GLITCH, SAME, SAME]


def test_pictures_changing_every_frame_are_left_out_for_a_while_then_taken_as_a_new_shot():
    """Garbage over several frames (each unlike the last) is left out; a new shot whose first frames are garbage
    is cut at once its picture holds; pictures that never hold are taken as a new shot after max_suspect_s."""
    cuts = SceneCuts(max_suspect_s=0.5)
    frames = [scene(1), scene(1, 4), scene(5), scene(6), scene(1, 8), scene(7), scene(8), scene(2), scene(2, 4)]
    assert verdicts(cuts, frames) == [SAME, SAME, GLITCH, GLITCH, SAME, GLITCH, GLITCH, CUT, SAME]
    restless = SceneCuts(max_suspect_s=0.5)
    frames = [scene(1), *(scene(10 + k) for k in range(10))]
    assert verdicts(restless, frames) == [SAME, *[GLITCH] * 6, CUT, GLITCH, GLITCH, CUT]  # the last: nothing after it


def run_pipeline(frames: list[np.ndarray], fps: float, detector, estimator, out: Path, scene_cuts: bool = True) -> None:
    """The pipeline (BoT-SORT, no face embeddings, people counted from 0.5 s) over ``frames`` at ``fps``, its
    outputs in ``out``."""
    from benchmarks.stacks import FrameSource
    from mivolo.pipeline import Pipeline

    config = PipelineConfig()
    config.tracker.tracker = "botsort.yaml"
    config.tracker.scene_cuts = scene_cuts
    config.output.dir = str(out)
    config.output.save_json = True
    config.runtime.progress = False
    config.settle.min_seen_s = 0.5
    Pipeline(config, detector=detector, estimator=estimator, face_embedder=lambda *a: None).run(
        FrameSource(frames, len(frames), fps=fps))


class Boxes:
    """A detector that returns one person box per frame from a list (the pipeline fills the ids)."""

    models = {"persons": "test", "faces": "none"}

    def __init__(self, boxes: list[np.ndarray]) -> None:
        self.boxes, self.k = boxes, 0

    def __call__(self, image: np.ndarray) -> Detections:
        b = self.boxes[min(self.k, len(self.boxes) - 1)]
        self.k += 1
        return Detections.from_boxes(b[None], np.array([0.9], np.float32), PERSON)


@pytest.mark.parametrize("cuts", [True, False])
def test_across_a_cut_the_person_standing_where_someone_stood_is_someone_else(cuts, tmp_path):
    """One shot: a man in red and blue walks right. The next shot (another camera) shows a woman in green and grey
    where he would be: the tracker would carry his id onto her; after a cut she is someone else."""
    from benchmarks.motion_model import NoAgeGender

    frames, boxes = [], []
    for k in range(40):
        b = box(200 + 4 * k)
        person = (RED, BLUE) if k < 20 else (GREEN, GREY)
        image = scene(1 if k < 20 else 2)
        x1, y1, x2, y2 = np.round(b).astype(int)
        image[y1:(y1 + y2) // 2, x1:x2], image[(y1 + y2) // 2:y2, x1:x2] = person
        frames.append(image)
        boxes.append(b)
    run_pipeline(frames, 10.0, Boxes(boxes), NoAgeGender(), tmp_path, scene_cuts=cuts)
    identities = orjson.loads((tmp_path / "identities.json").read_bytes())["identities"]
    spans = sorted((i["first_frame"], i["last_frame"]) for i in identities)
    assert spans == ([(1, 20), (21, 40)] if cuts else [(1, 40)])
    shots = orjson.loads((tmp_path / "run.json").read_bytes())["shots"]
    assert shots == ({"cuts_s": [2.0], "frames_left_out": 0, "frames_repeated": 0} if cuts else None)


class PaintedPeople:
    """A detector that finds the painted man (red over blue) in the picture, wherever he is (none on garbage)."""

    models = {"persons": "test", "faces": "none"}

    def __call__(self, image: np.ndarray) -> Detections:
        red = np.all(image == RED, axis=2)
        blue = np.all(image == BLUE, axis=2)
        if red.sum() < 100 or blue.sum() < 100:
            return Detections()
        ys, xs = np.nonzero(red | blue)
        return Detections.from_boxes(np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32),
                                     np.array([0.9], np.float32), PERSON)


@pytest.mark.parametrize("kind", ["smear", "green"])
def test_garbage_frames_from_a_stream_do_not_make_anyone_count_twice(kind, tmp_path):
    """A man walks right for 4 s; three frames of it decode as garbage over nine tenths of the picture. He is one
    person, the three frames are left out (before: six cuts, three identities for him)."""
    from benchmarks.motion_model import NoAgeGender

    frames = []
    for k in range(40):
        x1, y1, x2, y2 = np.round(box(150 + 8 * k)).astype(int)
        image = scene(1)
        image[y1:(y1 + y2) // 2, x1:x2], image[(y1 + y2) // 2:y2, x1:x2] = RED, BLUE
        frames.append(garbage(image, kind, 0.9, np.random.default_rng(0)) if k in (10, 21, 30) else image)
    run_pipeline(frames, 10.0, PaintedPeople(), NoAgeGender(), tmp_path)
    identities = orjson.loads((tmp_path / "identities.json").read_bytes())["identities"]
    assert [(i["first_frame"], i["last_frame"]) for i in identities] == [(1, 40)]
    shots = orjson.loads((tmp_path / "run.json").read_bytes())["shots"]
    assert shots == {"cuts_s": [], "frames_left_out": 3, "frames_repeated": 0}


class CountingEstimator:
    """Gives every person row an age and a gender, and notes where the first one stood each time it was asked."""

    name = "counting"
    needs_faces = False

    def __init__(self) -> None:
        self.asked_at: list[int] = []

    def __call__(self, image: np.ndarray, dets: Detections, rows: np.ndarray) -> Detections:
        self.asked_at.append(int(dets.xyxy[rows[0], 0]))
        dets.age[rows], dets.gender_p[rows], dets.age_gender_conf[rows] = 30.0, 0.9, 0.9
        return dets


@pytest.mark.parametrize("scene_cuts", [True, False])
def test_footage_stored_with_each_frame_three_times_is_tracked_on_its_own_frames(scene_cuts, tmp_path):
    """Filmed at 10 fps, stored at 30 (each frame three times): the repeats are shown with the boxes of the frame
    they repeat, and give no estimates of their own (three alike votes are not three views of a face)."""
    frames = []
    for k in range(30):
        x1, y1, x2, y2 = np.round(box(150 + 12 * k)).astype(int)
        image = scene(1)
        image[y1:(y1 + y2) // 2, x1:x2], image[(y1 + y2) // 2:y2, x1:x2] = RED, BLUE
        frames += [image, image.copy(), image.copy()]
    estimator = CountingEstimator()
    run_pipeline(frames, 30.0, PaintedPeople(), estimator, tmp_path, scene_cuts=scene_cuts)
    identities = orjson.loads((tmp_path / "identities.json").read_bytes())["identities"]
    assert [(i["first_frame"], i["last_frame"], i["frames_seen"]) for i in identities] == [(1, 90, 90)]
    run = orjson.loads((tmp_path / "run.json").read_bytes())
    asked_twice_on_one_picture = len(estimator.asked_at) - len(set(estimator.asked_at))
    if scene_cuts:
        assert run["shots"] == {"cuts_s": [], "frames_left_out": 0, "frames_repeated": 60}
        assert asked_twice_on_one_picture == 0 and len(estimator.asked_at) >= 3
    else:  # without the check each picture is estimated as often as it is stored: the test can fail
        assert run["shots"] is None and asked_twice_on_one_picture > 0
