import cv2
import numpy as np
import pytest

from mivolo.detection.blazeface import MODELS, BlazeFaceDetector, blazeface_anchors
from mivolo.detection.ssdlite import SSDLitePersonDetector, decode, ssd_anchors


def test_ssd_anchor_layout_matches_the_graph_outputs():
    anchors = ssd_anchors()
    assert anchors.shape == (19 * 19 * 3 + (10 * 10 + 5 * 5 + 3 * 3 + 2 * 2 + 1) * 6, 4)
    # the last anchor of the 1x1 layer is the interpolated square one, centred
    assert np.allclose(anchors[-1, :2], 0.5)


def test_zero_encodings_decode_to_the_anchors():
    anchors = ssd_anchors()[:5]
    boxes = decode(np.zeros((5, 4), np.float32), anchors)
    assert np.allclose((boxes[:, 0] + boxes[:, 2]) / 2, anchors[:, 0])
    assert np.allclose(boxes[:, 3] - boxes[:, 1], anchors[:, 3])


def test_blazeface_anchor_counts_match_the_models():
    assert len(blazeface_anchors(MODELS["back"])) == 896
    assert len(blazeface_anchors(MODELS["short"])) == 896
    assert len(blazeface_anchors(MODELS["full"])) == 2304


@pytest.fixture(scope="module")
def astronaut():
    import skimage.data

    return cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)


def test_ssdlite_finds_the_person_in_a_real_photo(astronaut):
    boxes, scores = SSDLitePersonDetector(conf=0.4)(astronaut)
    assert len(boxes) >= 1 and scores.max() > 0.7
    x1, y1, x2, y2 = boxes[np.argmax(scores)]
    assert x1 < 150 and x2 > 250 and y1 < 100  # covers her body, from the head down


def test_blazeface_finds_the_face_where_it_is(astronaut):
    for model in ("back", "full"):
        boxes, scores = BlazeFaceDetector(model, conf=0.5)(astronaut)
        assert len(boxes) == 1, model
        cx, cy = (boxes[0, 0] + boxes[0, 2]) / 2, (boxes[0, 1] + boxes[0, 3]) / 2
        assert 180 < cx < 270 and 80 < cy < 180, (model, boxes)


def test_blank_image_gives_no_detections():
    blank = np.full((360, 640, 3), 127, np.uint8)
    assert len(SSDLitePersonDetector()(blank)[0]) == 0
    assert len(BlazeFaceDetector("full")(blank)[0]) == 0


def test_ssdlite_recall_on_real_mot17_frames(mot_frames):
    """Real pedestrians: the detector must find the large, visible people of MOT17-02 frame 1."""
    gt = np.loadtxt(mot_frames / "gt" / "gt.txt", delimiter=",")
    rows = gt[(gt[:, 0] == 1) & (gt[:, 7] == 1) & (gt[:, 8] > 0.8) & (gt[:, 5] > 250)]
    image = cv2.imread(str(mot_frames / "img1" / "000001.jpg"))
    boxes, _ = SSDLitePersonDetector(conf=0.3)(image)
    from mivolo.core.boxes import iou_matrix

    truth = np.column_stack([rows[:, 2], rows[:, 3], rows[:, 2] + rows[:, 4], rows[:, 3] + rows[:, 5]])
    found = (iou_matrix(truth, boxes).max(axis=1) >= 0.5).sum() if len(boxes) else 0
    assert len(truth) > 0 and found / len(truth) >= 0.5
