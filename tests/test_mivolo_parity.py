"""MiVOLO crops and network input against the reference implementation's inference-path rules.

Every expected value here is worked out by hand from the reference's rules (WildChlamydia/MiVOLO,
``PersonAndFaceResult.crop_object`` / ``collect_crops``, ``prepare_classification_images``), written as literal
boxes, rectangles and sizes, never computed by the code under test:

- boxes truncate to int, then clamp to the last pixel (x <= W-1, y <= H-1); crop = image[y1:y2, x1:x2];
- a person crop under 50 px on either side is dropped;
- every face and every other person with IoU >= 1e-6 is blacked out from its unclamped int box; another
  person's cut-out snaps to a crop edge within 30 % of the side; faces do not snap;
- no trimming: the crop keeps the full box; dropped when under 40 % of its values (pixels x channels) are non-zero;
- letterbox (bilinear, centred, black), BGR->RGB, /255, ImageNet mean/std; a missing crop is zeros, normalised.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from mivolo.estimation import load_mivolo
from mivolo.estimation.mivolo_crops import face_crop, network_input, person_crop
from mivolo.estimation.mivolo_net import save_random_checkpoint

NAN = [np.nan] * 4
MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])
# Scene: 120 x 200 frame whose every value is non-zero; two overlapping persons, one face each.
A = [10.7, 5.2, 90.9, 115.0]  # int (10, 5, 90, 115): crop rows 5:115, cols 10:90 -> 110 x 80
B = [70.0, 0.0, 200.0, 120.0]  # reaches the right/bottom edge: clamped to (70, 0, 199, 119) -> 119 x 129
F1 = [30.0, 10.0, 50.0, 30.0]  # A's face
F2 = [120.0, 5.0, 150.0, 35.0]  # B's face


def _ints(box: list[float]) -> np.ndarray:
    return np.array(box, dtype=np.float64).astype(np.int64)


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return np.random.default_rng(7).integers(1, 256, (120, 200, 3), dtype=np.uint8)


def _expected_a(image: np.ndarray) -> np.ndarray:
    crop = image[5:115, 10:90].copy()
    crop[0:110, 60:80] = 0  # B: x 70-10=60 .. min(200-10, 80)=80; y 0..min(115, 110)=110, snapped to full height
    crop[5:25, 20:40] = 0  # F1 (its own face): x 20..40, y 5..25, not snapped
    return crop


def _expected_b(image: np.ndarray) -> np.ndarray:
    crop = image[0:119, 70:199].copy()
    crop[0:119, 0:20] = 0  # A: x 0..20; y 5..115 snapped to 0..119 (5/119 and 4/119 are under 30 %)
    crop[5:35, 50:80] = 0  # F2: x 120-70=50 .. 80, y 5..35
    return crop


def test_person_crops_keep_the_full_box_with_others_blacked_out(frame):
    a = person_crop(frame, _ints(A), _ints(B)[None], np.array([_ints(F1), _ints(F2)]))
    b = person_crop(frame, _ints(B), _ints(A)[None], np.array([_ints(F1), _ints(F2)]))
    assert a is not None and a.shape == (110, 80, 3)  # not trimmed to 60 columns
    assert np.array_equal(a, _expected_a(frame))
    assert b is not None and b.shape == (119, 129, 3)  # the last column/row of the frame is not part of it
    assert np.array_equal(b, _expected_b(frame))


def test_person_size_limit_is_50_px_per_side_after_clamping(frame):
    none = np.zeros((0, 4), np.int64)
    assert person_crop(frame, np.array([0, 0, 49, 100]), none, none) is None
    assert person_crop(frame, np.array([0, 0, 100, 49]), none, none) is None
    assert person_crop(frame, np.array([0, 0, 50, 50]), none, none).shape == (50, 50, 3)
    assert person_crop(frame, np.array([150, 0, 250, 60]), none, none) is None  # clamped to 150..199: 49 px
    assert person_crop(frame, np.array([149, 0, 250, 60]), none, none).shape == (60, 50, 3)


def test_remaining_share_counts_non_zero_values_not_pixels():
    none = np.zeros((0, 4), np.int64)
    image = np.zeros((100, 200, 3), np.uint8)
    image[:, :100] = (0, 0, 200)  # one channel of three set: 1/3 of the values are non-zero
    image[:, 100:] = (0, 200, 200)  # 2/3
    assert person_crop(image, np.array([0, 0, 60, 60]), none, none) is None
    assert person_crop(image, np.array([120, 0, 180, 60]), none, none) is not None


def test_forty_percent_remaining_is_kept_and_less_is_dropped():
    image = np.full((110, 110, 3), 9, np.uint8)
    person = np.array([0, 0, 100, 100])
    none = np.zeros((0, 4), np.int64)
    kept = person_crop(image, person, none, np.array([[0, 0, 60, 100]]))  # faces do not snap: 40 columns left
    assert kept is not None and kept.shape == (100, 100, 3)
    assert (kept[:, :60] == 0).all() and (kept[:, 60:] == 9).all()
    assert person_crop(image, person, none, np.array([[0, 0, 61, 100]])) is None  # 39 %


def test_boxes_below_the_iou_threshold_are_not_cut_out():
    image = np.full((1100, 1100, 3), 5, np.uint8)
    person = np.array([0, 0, 1000, 1000])
    none = np.zeros((0, 4), np.int64)
    # 1 px of overlap over a union of 1e6 + 51*51 - 1 px: IoU 9.97e-7 < 1e-6, so pixel (999, 999) stays
    grazing = person_crop(image, person, none, np.array([[999, 999, 1050, 1050]]))
    assert grazing[999, 999].tolist() == [5, 5, 5]
    # 10 x 10 px of overlap: IoU ~1e-4, cut out
    touching = person_crop(image, person, none, np.array([[990, 990, 1010, 1010]]))
    assert (touching[990:1000, 990:1000] == 0).all() and touching[989, 989].tolist() == [5, 5, 5]


def test_face_crops_truncate_and_clamp_to_the_last_pixel(frame):
    assert np.array_equal(face_crop(frame, np.array([180, 10, 200, 40])), frame[10:40, 180:199])
    assert np.array_equal(face_crop(frame, np.array([-5, -3, 10, 10])), frame[0:10, 0:10])
    assert face_crop(frame, np.array([250, 10, 260, 40])) is None  # nothing of it is in the frame


def _letterboxed(crop: np.ndarray, size: tuple[int, int], pads: tuple[int, int, int, int]) -> np.ndarray:
    resized = cv2.resize(crop, size, interpolation=cv2.INTER_LINEAR) if crop.shape[1::-1] != size else crop
    top, bottom, left, right = pads
    boxed = cv2.copyMakeBorder(resized, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    assert boxed.shape == (224, 224, 3)
    rgb = cv2.cvtColor(boxed, cv2.COLOR_BGR2RGB)
    return ((rgb / 255.0 - MEAN) / STD).astype(np.float32).transpose(2, 0, 1)


def _missing() -> np.ndarray:
    value = (np.float32(0) - MEAN.astype(np.float32)) / STD.astype(np.float32)
    return np.broadcast_to(value[:, None, None], (3, 224, 224)).astype(np.float32)


def _expected_inputs(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows: (F1, A), (F2, B), (F2, none), (none, A). Sizes worked out from the letterbox rule:
    A 110x80 -> r=224/110, 163x224, pad 30.5 -> left 30, right 31; B 119x129 -> r=224/129, 224x207, pad 8.5 ->
    top 8, bottom 9; faces 20x20 and 30x30 -> 224x224, no pad."""
    f1 = _letterboxed(image[10:30, 30:50], (224, 224), (0, 0, 0, 0))
    f2 = _letterboxed(image[5:35, 120:150], (224, 224), (0, 0, 0, 0))
    a = _letterboxed(_expected_a(image), (163, 224), (0, 0, 30, 31))
    b = _letterboxed(_expected_b(image), (224, 207), (8, 9, 0, 0))
    return np.stack([f1, f2, f2, _missing()]), np.stack([a, b, _missing(), a])


def test_network_input_matches_the_rules(frame):
    faces, bodies = _expected_inputs(frame)
    crops = [_expected_a(frame), _expected_b(frame), None]
    assert np.array_equal(network_input(crops, 224), np.stack([bodies[0], bodies[1], _missing()]))
    assert np.array_equal(network_input([frame[10:30, 30:50], frame[5:35, 120:150]], 224), faces[:2])


def test_predictions_equal_the_reference_rules_on_a_random_checkpoint(tmp_path, frame):
    net = load_mivolo(str(save_random_checkpoint(tmp_path / "fb.pth.tar", with_persons=True, seed=4)))
    faces = np.array([F1, F2, F2, NAN])
    persons = np.array([A, B, NAN, A])
    ages, male = net.predict(frame, faces, persons, all_faces=np.array([F1, F2]), all_persons=np.array([A, B]))
    face_in, body_in = _expected_inputs(frame)
    with torch.inference_mode():
        out = net.model(torch.from_numpy(np.concatenate([face_in, body_in], axis=1))).float()
    meta = net.meta
    want_ages = (out[:, 2] * (meta.max_age - meta.min_age) + meta.avg_age).numpy()
    want_male = out[:, :2].softmax(-1)[:, 0].numpy()
    age_diff, male_diff = np.abs(ages - want_ages).max(), np.abs(male - want_male).max()
    assert age_diff == 0.0 and male_diff == 0.0, (age_diff, male_diff)  # README quotes this maximum difference


def test_mot17_02_frame_1_person_crops(mot_frames):
    """22 pedestrians of the ground truth (no faces). Track 8 (x 1416..1600, y 431..767) is the only crop left:
    track 2 (x 1338..1505, y 418..797) cuts columns 0..89 over the full height (snapped: 0 and 30 px from the
    edges); track 22 (x 1478..1541, y 434..558) cuts columns 62..125, rows 3..127 snapped to 0..127 (62/184 and
    59/184 are over 30 %, so its columns are not snapped). Tracks 21 and 22 are cut out entirely by track 2 and
    track 8; the rest are under 50 px wide or left with under 40 %."""
    image = cv2.imread(str(mot_frames / "img1" / "000001.jpg"))
    gt = np.loadtxt(mot_frames / "gt" / "gt.txt", delimiter=",")
    gt = gt[(gt[:, 0] == 1) & (gt[:, 6] == 1) & (gt[:, 7] == 1)]
    assert len(gt) == 22
    boxes = np.column_stack([gt[:, 2], gt[:, 3], gt[:, 2] + gt[:, 4], gt[:, 3] + gt[:, 5]]).astype(np.int64)
    none = np.zeros((0, 4), np.int64)
    crops = {int(tid): person_crop(image, boxes[i], np.delete(boxes, i, axis=0), none)
             for i, tid in enumerate(gt[:, 1])}
    expected = image[431:767, 1416:1600].copy()
    expected[:, 0:89] = 0
    expected[0:127, 62:125] = 0
    assert crops[8] is not None and crops[8].shape == (336, 184, 3)  # the full box, not 336 x 95
    assert np.array_equal(crops[8], expected)
    assert crops[21] is None and crops[22] is None
    assert [tid for tid, crop in crops.items() if crop is not None] == [8]
