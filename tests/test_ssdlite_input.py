"""SSDLite at an input other than 300x300: anchors for the larger maps, boxes in image pixels."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from mivolo.core.boxes import iou_matrix
from mivolo.detection.ssdlite import INPUT_SIZE, SSDLitePersonDetector, feature_map_sizes, parse_input_size, ssd_anchors

PETS = Path("/work/shared/data/real/PETS09-S2L1/vtest.avi")


def test_default_maps_are_the_300_px_ones():
    assert feature_map_sizes(INPUT_SIZE, INPUT_SIZE) == [(19, 19), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1)]
    assert np.array_equal(ssd_anchors(), ssd_anchors((300, 300)))


def test_anchors_keep_their_pixel_size_at_a_larger_input():
    small, large = ssd_anchors((300, 300)), ssd_anchors((512, 384))
    rows, cols = feature_map_sizes(384, 512)[0]
    assert (rows, cols) == (24, 32)
    # first layer, first anchor: 0.1 of 300 px = 30 px tall and wide, in both inputs
    assert small[0, 2] * 300 == pytest.approx(30, rel=1e-4)
    assert large[0, 2] * 384 == pytest.approx(30, rel=1e-4)
    assert large[0, 3] * 512 == pytest.approx(30, rel=1e-4)
    assert len(large) == 3 * rows * cols + 6 * sum(r * c for r, c in feature_map_sizes(384, 512)[1:])


@pytest.fixture(scope="module")
def pets_frame():
    if not PETS.is_file():
        pytest.skip("PETS09-S2L1 not available")
    cap = cv2.VideoCapture(str(PETS))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 40)
    ok, frame = cap.read()
    cap.release()
    if not ok:
        pytest.skip("PETS09-S2L1 unreadable")
    return frame


@pytest.mark.parametrize("size", [(400, 300), (512, 384)])
def test_larger_input_boxes_agree_with_the_300_px_run(pets_frame, size):
    detector = SSDLitePersonDetector(conf=0.3, input_size=size)
    # the graph's own map sizes are the ones the anchors were built for
    assert detector.map_sizes == feature_map_sizes(size[1], size[0])
    large, _ = detector(pets_frame)
    assert detector.map_sizes == feature_map_sizes(size[1], size[0])
    small, _ = SSDLitePersonDetector(conf=0.3)(pets_frame)
    assert len(small) >= 3 and len(large) >= 3
    iou = iou_matrix(small, large)
    # most people found at the larger size sit on a 300 px box, in the same image pixels
    assert np.mean(iou.max(axis=0) >= 0.4) >= 0.5
    pairs = [(i, j) for j, i in enumerate(iou.argmax(axis=0)) if iou[i, j] >= 0.4]
    centres = lambda b: np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], axis=1)  # noqa: E731
    shift = centres(large[[j for _, j in pairs]]) - centres(small[[i for i, _ in pairs]])
    assert np.all(np.abs(shift.mean(axis=0)) <= 8)  # no systematic offset from the anchor grid
    height, width = pets_frame.shape[:2]
    assert large[:, [0, 2]].max() <= width and large[:, [1, 3]].max() <= height
    heights = large[:, 3] - large[:, 1]
    assert 40 <= np.median(heights) <= 140  # PETS people are about 80 px tall


def test_input_size_parsing():
    assert parse_input_size(None) == (300, 300)
    assert parse_input_size("400x300") == (400, 300)
    assert parse_input_size("512") == (512, 512)
    assert parse_input_size((528, 300)) == (528, 300)
    for bad in ("big", "1x2x3", "10x300", 5000):
        with pytest.raises(ValueError):
            parse_input_size(bad)


def test_build_person_detector_reads_the_input_size():
    from mivolo.core.config import DetectorConfig
    from mivolo.detection.persons_and_faces import build_person_detector

    config = DetectorConfig()
    assert build_person_detector(config).input_size == (300, 300)
    config.ssd_input = "400x300"  # the field this setting asks DetectorConfig for
    assert build_person_detector(config).input_size == (400, 300)
