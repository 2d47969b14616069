"""Face boxes turned into the box dlib's landmark model expects (mivolo/estimation/offline.py)."""

import cv2
import numpy as np
import pytest

from conftest import SHARED
from mivolo.estimation.offline import BoxRule, HogRedetector, OfflineAgeGender, box_rule_for

UTK = SHARED / "faces" / "utkface_sample"


def test_box_rule_makes_a_shifted_square():
    out = BoxRule(scale=1.2, dx=0.1, dy=-0.05)(np.array([[10, 20, 50, 120.0]]))
    side = 1.2 * np.sqrt(40 * 100)
    np.testing.assert_allclose(out[0, 2] - out[0, 0], side)
    np.testing.assert_allclose(out[0, 3] - out[0, 1], side)
    np.testing.assert_allclose((out[0, 0] + out[0, 2]) / 2, 30 + 4)
    np.testing.assert_allclose((out[0, 1] + out[0, 3]) / 2, 70 - 5)
    assert box_rule_for("yunet:face_detection_yunet_2023mar.onnx") == box_rule_for("yunet") != BoxRule()
    assert box_rule_for("something-else") == BoxRule()


def test_redetector_finds_nothing_on_noise():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (240, 240, 3), dtype=np.uint8)
    assert HogRedetector()(image, np.array([60, 60, 180, 180.0])) is None


def test_bad_boxes_and_modes():
    with pytest.raises(ValueError):
        OfflineAgeGender(align="nope")
    model = OfflineAgeGender(min_face_px=12)
    image = np.zeros((100, 100, 3), np.uint8)
    ages, male, conf = model.predict_faces(image, np.array([[np.nan] * 4, [10, 10, 15, 15]]))
    assert np.isnan(ages).all() and np.isnan(male).all() and np.isnan(conf).all()
    assert len(model.predict_faces(image, np.zeros((0, 4)))[0]) == 0


def test_redetector_recovers_the_whole_face_from_a_partial_box():
    """A box over one part of a face (as BlazeFace's back-camera model draws on close-ups) -> dlib's face box."""
    if not UTK.is_dir():
        pytest.skip("../shared/data is not present")
    path = next(UTK.glob("73_0_3_*.jpg"), None) or sorted(UTK.glob("*.jpg"))[0]
    rgb = np.ascontiguousarray(cv2.imread(str(path))[:, :, ::-1])
    import dlib

    full = dlib.get_frontal_face_detector()(rgb, 0)
    assert len(full) == 1
    hog = np.array([full[0].left(), full[0].top(), full[0].right() + 1, full[0].bottom() + 1], float)
    side = hog[2] - hog[0]
    partial = np.array([hog[0] + 0.2 * side, hog[1] + 0.2 * side, hog[0] + 0.55 * side, hog[1] + 0.55 * side])
    found = HogRedetector()(rgb, partial)
    assert found is not None
    # same face, same size within HOG's pyramid step (about 20 %)
    assert abs((found[2] - found[0]) / side - 1) < 0.25
    assert np.abs((found[:2] + found[2:]) / 2 - (hog[:2] + hog[2:]) / 2).max() < 0.15 * side
