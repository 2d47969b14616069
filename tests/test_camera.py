"""Scene coordinates under a moving camera (tracking.camera) and where they are used: the re-linker's extrapolation
across a gap."""

import numpy as np
import pytest

from mivolo.core.config import MergeConfig
from mivolo.core.structures import PERSON, Detections
from tracking import MergeStep
from tracking.camera import CameraPath, as_3x3, map_boxes


def shift(dx: float, dy: float = 0.0) -> np.ndarray:
    """The warp of a picture whose content moved by (dx, dy) px since the previous frame (the camera panned the
    other way)."""
    return np.array([[1, 0, dx], [0, 1, dy]], np.float32)


def test_boxes_keep_their_scene_place_while_the_camera_pans_and_zooms():
    path = CameraPath()
    for k in range(5):
        path.advance(k * 0.1, shift(-10.0) if k else None)  # the camera pans right: content moves 10 px left
    box = np.array([[300.0, 100.0, 340.0, 200.0]])
    scene = path.to_scene(0.4, box)
    assert scene[0] == pytest.approx([340, 100, 380, 200])  # 4 frames, 40 px
    assert path.to_picture(0.4, scene) == pytest.approx(box)
    assert path.to_picture(0.2, scene) == pytest.approx(np.array([[320, 100, 360, 200]]))  # where frame 2 showed it
    assert path.point_to_picture(0.0, 360.0, 150.0) == pytest.approx((360.0, 150.0))
    zoom = np.array([[2.0, 0, 0], [0, 2.0, 0], [0, 0, 1]])
    assert map_boxes(zoom, box) == pytest.approx(np.array([[600, 200, 680, 400]]))  # centre mapped, size scaled
    assert path.moved and not CameraPath().moved
    assert as_3x3(np.full((2, 3), np.nan)) == pytest.approx(np.eye(3))  # a failed estimate: no motion


def test_old_transforms_are_dropped():
    path = CameraPath(keep_s=1.0)
    for k in range(50):
        path.advance(k * 0.1, shift(-1.0))
    assert len(path.times) <= 11 and path.at(0.0) is path.transforms[0]


def textured(offset: int) -> np.ndarray:
    """A 320x240 picture of a fixed random texture, seen ``offset`` px further right (the camera panned right)."""
    rng = np.random.default_rng(0)
    scene = (rng.random((240, 400)) * 255).astype(np.uint8)
    scene = np.repeat(np.repeat(scene[::4, ::4], 4, 0), 4, 1)[:240, :400]
    import cv2

    scene = cv2.GaussianBlur(scene, (5, 5), 1.5)
    return np.dstack([scene[:, offset:offset + 320]] * 3).copy()


def test_camera_motion_follows_a_pan_and_leaves_people_out():
    from tracking.camera import CameraMotion

    motion = CameraMotion()
    warps = [as_3x3(motion(textured(6 * k), np.zeros((0, 4)))) for k in range(4)]
    assert warps[0] == pytest.approx(np.eye(3))
    for warp in warps[1:]:  # the content moves 6 px left each frame
        assert warp[0, 2] == pytest.approx(-6.0, abs=0.5) and abs(warp[1, 2]) < 0.5
    # a still camera, most of its picture filled by people walking (a texture moving 10 px a frame in their box):
    # with their boxes left out it stays still; taking them in, it would follow them
    people = np.array([[20.0, 0.0, 270.0, 240.0]])
    masked, unmasked = CameraMotion(), CameraMotion()
    for k in range(3):
        image = textured(0)
        image[:, 20:270] = textured(10 * k)[:, 20:270]
        warp, fooled = as_3x3(masked(image, people)), as_3x3(unmasked(image, np.zeros((0, 4))))
    assert warp == pytest.approx(np.eye(3), abs=0.2)
    assert abs(fooled[0, 2]) > 5.0


def persons(xyxy: np.ndarray, ids: list[int]) -> Detections:
    dets = Detections.from_boxes(xyxy, np.full(len(xyxy), 0.9, np.float32), PERSON)
    dets.track_id[:] = ids
    return dets


def pan_case(with_camera: bool) -> list[tuple[int, int]]:
    """A person walks right at 100 px/s in the scene while the camera pans right at 150 px/s: in the picture they
    drift left at 50 px/s. Lost for 1.5 s while the camera swings back (50 px/s the other way), they come back as
    track 7 just as it stops, where their scene path puts them: 300 px right of where their picture path would,
    and their own picture path traced back misses where they were lost by 0.6 box heights."""
    from test_relink import BLUE, RED, frame_with, person_box

    warp = [shift(0.0)]
    config = MergeConfig()
    config.camera_motion = with_camera
    step = MergeStep(config, None, 60.0, camera=(lambda image, boxes: warp[0]) if with_camera else None)
    merged = []
    step.on_merge = lambda a, b: merged.append((a, b))
    x = 400.0
    for k in range(10):
        warp[0] = shift(-15.0 if k else 0.0)  # the camera pans: the picture's content moves 15 px left a frame
        x += (10.0 - 15.0) if k else 0.0
        box = person_box(x)
        step(frame_with([(box, RED, BLUE)]), k * 0.1, persons(box, [1]))
    warp[0] = shift(5.0)  # the camera swings back
    nobody = np.zeros((0, 4), np.float32)
    for k in range(10, 24):  # the merge stage runs on every frame, people or not
        x += 15.0
        step(frame_with([]), k * 0.1, persons(nobody, []))
    x += 15.0
    for k in range(24, 34):
        warp[0] = shift(5.0 if k == 24 else 0.0)  # and stops
        x += 10.0 if k > 24 else 0.0
        box = person_box(x)
        step(frame_with([(box, RED, BLUE)]), k * 0.1, persons(box, [7]))
    return merged


def test_a_panning_camera_does_not_hide_where_someone_was_going():
    assert pan_case(with_camera=True) == [(7, 1)]
    assert pan_case(with_camera=False) == []
