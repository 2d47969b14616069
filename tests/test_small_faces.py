"""Small faces anywhere in the frame (no bodies): the default face search finds faces of 48-96 px in 720p."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.small_faces import SHARED, build_clip, load_chips, match_faces, score
from mivolo.detection.blazeface import MODELS, BlazeFaceScan, anchor_centres, blazeface_anchors, whole_frame_faces


def test_anchor_centres_any_input_size():
    # square inputs: the model's own anchor layout
    assert np.allclose(anchor_centres(MODELS["short"].strides, 128, 128) / 128, blazeface_anchors(MODELS["short"]))
    # 640x352 (a 720p frame at 0.5): stride 8 -> 80x44 cells x 2, stride 16 -> 40x22 cells x 6
    anchors = anchor_centres(MODELS["short"].strides, 352, 640)
    assert len(anchors) == 80 * 44 * 2 + 40 * 22 * 6
    assert anchors[:, 0].max() < 640 and anchors[:, 1].max() < 352


def test_scan_input_size_and_blank_frame():
    scan = BlazeFaceScan("short", 0.5)
    assert scan.input_size(720, 1280) == (352, 640)
    boxes, conf = scan(np.full((720, 1280, 3), 128, np.uint8))
    assert boxes.shape == (0, 4) and conf.shape == (0,)


def test_clip_builder_without_shared(tmp_path):
    chips = [np.random.default_rng(k).integers(0, 255, (200, 200, 3), dtype=np.uint8) for k in range(6)]
    clip = build_clip(chips, frames=8, sizes=(24, 48), people=6, shared=tmp_path)  # gradient background
    assert len(clip.frames) == 8 and clip.frames[0].shape == (720, 1280, 3)
    boxes = np.concatenate(clip.boxes)
    assert len(boxes) and ((boxes[:, 2] - boxes[:, 0]) >= 24).all() and ((boxes[:, 2] - boxes[:, 0]) <= 48).all()
    assert match_faces(boxes[:3], boxes[:3] + 1).all()


@pytest.fixture(scope="module")
def face_clip():
    chips = load_chips()
    if not chips:
        pytest.skip("../shared/data/faces/utkface_sample is not present")
    return build_clip(chips, frames=4, sizes=(48, 96), people=40, seed=3, shared=SHARED)


def test_default_stack_finds_small_faces_without_bodies(face_clip):
    from mivolo.core.config import DetectorConfig
    from mivolo.core.structures import FACE
    from mivolo.detection import build_detector

    detector = build_detector(DetectorConfig())

    def faces(image):
        dets = detector(image)
        return dets.xyxy[dets.cls == FACE]

    result = score(face_clip, faces, warmup=0)
    assert result["recall_per_frame_min"] >= 0.95, result  # one full-range 192 px pass: ~0.1
    assert result["false_pos_per_frame"] <= 0.5, result


def test_single_full_range_pass_misses_them(face_clip):
    """What the default did before: the full-range model on the letterboxed frame finds few 48-96 px faces."""
    full = whole_frame_faces(0)
    assert score(face_clip, lambda image: full(image)[0], warmup=0)["recall"] < 0.5


def test_faces_below_a_persons_head_region_are_dropped():
    from mivolo.detection.faces_in_persons import below_heads

    person = np.array([[100, 100, 200, 400]], np.float32)
    faces = np.array([[130, 105, 170, 145],  # head
                      [120, 280, 150, 310],  # a hand at hip height
                      [400, 280, 430, 310]], np.float32)  # outside any body
    assert below_heads(faces, person).tolist() == [False, True, False]
    assert below_heads(faces, np.zeros((0, 4), np.float32)).tolist() == [False] * 3
