"""Cuts between shots (tracking.cuts): found from the pictures alone, and across one no id, path or estimate
reaches."""

import numpy as np
import orjson
import pytest
from painted_people import BLUE, GREEN, GREY, RED, box

from mivolo.core.config import PipelineConfig
from mivolo.core.structures import PERSON, Detections
from tracking.cuts import SceneCuts


def scene(seed: int, shift: int = 0) -> np.ndarray:
    """A 640x480 textured picture (a street, a hall), seen ``shift`` px further right."""
    import cv2

    rng = np.random.default_rng(seed)
    texture = cv2.resize((rng.random((60, 100, 3)) * 255).astype(np.uint8), (800, 480))
    return np.ascontiguousarray(texture[:, shift:shift + 640])


def test_a_cut_is_another_picture_a_pan_is_not():
    cuts = SceneCuts()
    assert not cuts(scene(1))  # the first frame
    assert not any(cuts(scene(1, shift)) for shift in range(4, 40, 4))  # a camera panning 4 px a frame
    assert cuts(scene(2))  # another shot
    assert not cuts(scene(2))
    assert cuts(np.ascontiguousarray(scene(2)[:, ::-1]))  # the same place from across the square
    dark = SceneCuts()
    assert not dark(np.zeros((480, 640, 3), np.uint8)) and not dark(np.full((480, 640, 3), 3, np.uint8))
    glitch = SceneCuts()  # a stream's grey frame between two of the same shot: no cut, in or out
    assert not any(glitch(image) for image in (scene(1), np.full((480, 640, 3), 128, np.uint8), scene(1, 4)))
    fade = SceneCuts()  # a fade through black to another shot: one cut
    assert [fade(image) for image in (scene(1), np.zeros((480, 640, 3), np.uint8), scene(2))] == [False, False, True]
    passing = SceneCuts()  # someone walks close past the camera: half the picture changes, not all of it
    assert not passing(scene(1))
    near = scene(1)
    near[:, :330] = scene(3)[:, :330]
    assert not passing(near)
    assert passing(scene(4))  # then the shot changes


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
    from benchmarks.stacks import FrameSource
    from mivolo.pipeline import Pipeline

    frames, boxes = [], []
    for k in range(40):
        b = box(200 + 4 * k)
        person = (RED, BLUE) if k < 20 else (GREEN, GREY)
        image = scene(1 if k < 20 else 2)
        x1, y1, x2, y2 = np.round(b).astype(int)
        image[y1:(y1 + y2) // 2, x1:x2], image[(y1 + y2) // 2:y2, x1:x2] = person
        frames.append(image)
        boxes.append(b)
    config = PipelineConfig()
    config.tracker.tracker = "botsort.yaml"
    config.tracker.scene_cuts = cuts
    config.output.dir = str(tmp_path)
    config.output.save_json = True
    config.runtime.progress = False
    config.settle.min_seen_s = 0.5
    Pipeline(config, detector=Boxes(boxes), estimator=NoAgeGender(), face_embedder=lambda *a: None).run(
        FrameSource(frames, len(frames), fps=10.0))
    identities = orjson.loads((tmp_path / "identities.json").read_bytes())["identities"]
    spans = sorted((i["first_frame"], i["last_frame"]) for i in identities)
    assert spans == ([(1, 20), (21, 40)] if cuts else [(1, 40)])
