import json

import cv2
import numpy as np
import pytest

import demo
from conftest import SHARED
from mivolo.core.boxes import iou_matrix
from mivolo.core.errors import UserError
from mivolo.detection.onnx_models import TiledDetector, YoloxOnnxPersonDetector, face_detector_from_onnx

WEIGHTS = SHARED / "weights"


def need(name: str):
    path = WEIGHTS / name
    if not path.is_file():
        pytest.skip("../shared/data is not present")
    return path


@pytest.fixture(scope="module")
def astronaut():
    import skimage.data

    return cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)


def test_yolox_nano_onnx_finds_real_pedestrians(mot_frames):
    detector = YoloxOnnxPersonDetector(need("yolox_nano.onnx"), conf=0.3)
    image = cv2.imread(str(mot_frames / "img1" / "000001.jpg"))
    boxes, scores = detector(image)
    gt = np.loadtxt(mot_frames / "gt" / "gt.txt", delimiter=",")
    rows = gt[(gt[:, 0] == 1) & (gt[:, 7] == 1) & (gt[:, 8] > 0.5)]
    truth = np.column_stack([rows[:, 2], rows[:, 3], rows[:, 2] + rows[:, 4], rows[:, 3] + rows[:, 5]])
    recall = (iou_matrix(truth, boxes).max(axis=1) >= 0.5).mean()
    assert recall >= 0.3 and (scores >= 0.3).all()


@pytest.mark.parametrize("name", ["face_detection_yunet_2026may.onnx", "version-RFB-320.onnx"])
def test_onnx_face_detectors_find_the_face(astronaut, name):
    detector = face_detector_from_onnx(need(name), conf=0.6)
    boxes, _ = detector(astronaut)
    assert len(boxes) == 1
    cx, cy = (boxes[0, 0] + boxes[0, 2]) / 2, (boxes[0, 1] + boxes[0, 3]) / 2
    assert 180 < cx < 270 and 80 < cy < 180


def test_a_person_detector_is_not_a_face_detector():
    with pytest.raises(UserError, match="not a YuNet or Ultra-Light"):
        face_detector_from_onnx(need("yolox_nano.onnx"), conf=0.5)
    with pytest.raises(UserError, match="not a YOLOX"):
        YoloxOnnxPersonDetector(need("version-RFB-320.onnx"))


def test_tiles_add_small_people_and_drop_fragments_cut_by_tile_edges():
    class Fake:
        name = "fake"

        def __call__(self, image):
            h, w = image.shape[:2]
            if w == 1000:  # the whole frame: only the big person
                return np.array([[100, 100, 300, 900]], np.float32), np.array([0.9], np.float32)
            # every tile: a small person inside it, and a fragment touching its right edge
            return (np.array([[50, 50, 70, 100], [w - 40, 10, w, 60]], np.float32),
                    np.array([0.8, 0.7], np.float32))

    boxes, _ = TiledDetector(Fake(), 2, overlap=0.0)(np.zeros((1000, 1000, 3), np.uint8))
    widths = boxes[:, 2] - boxes[:, 0]
    assert (widths == 200).sum() == 1 and (widths == 20).sum() == 4  # one big + one small per tile
    # fragments survive only where the tile edge is the image edge (right column tiles)
    assert (widths == 40).sum() == 2


def test_pipeline_with_yolox_and_yunet(sample_clip, tmp_path):
    yolox, yunet = need("yolox_nano.onnx"), need("face_detection_yunet_2026may.onnx")
    clip, people = sample_clip
    out = tmp_path / "out"
    assert demo.main(["--input", str(clip), "--output", str(out), "--detector-weights", str(yolox),
                      "--face-weights", str(yunet), "--no-progress"]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["models"]["persons"] == "yolox-onnx:yolox_nano.onnx" and run["models"]["faces"].startswith("yunet")
    rows = json.loads((out / "identities.json").read_text())["identities"]
    assert len([r for r in rows if r["gender"]]) >= people - 1


def test_yolox_pth_round_trip_and_architecture_from_tensors(tmp_path):
    import torch

    from mivolo.detection.yolox_torch import EXPERIMENTS, YoloxTorchDetector, load_yolox, save_random_yolox

    sizes = {}
    for experiment in ("yolox_nano", "yolox_s", "yolox_m"):
        path = save_random_yolox(tmp_path / f"{experiment}.pth", experiment)
        model, name = load_yolox(path)
        assert name == experiment
        sizes[experiment] = sum(p.numel() for p in model.parameters()) / 1e6
    assert abs(sizes["yolox_nano"] - 0.91) < 0.01 and abs(sizes["yolox_s"] - 8.97) < 0.01  # the published sizes
    assert abs(sizes["yolox_m"] - 25.33) < 0.01 and len(EXPERIMENTS) == 6
    face = save_random_yolox(tmp_path / "yolox_s_face.pth", "yolox_s", num_classes=1)
    detector = YoloxTorchDetector(face, conf=0.01, size=320)
    out, ratio = detector.raw(np.zeros((240, 320, 3), np.uint8))
    assert out.shape == (len(detector.grid), 6) and ratio == 1.0  # 4 box + objectness + 1 class
    broken = tmp_path / "broken.pth"
    data = torch.load(face, weights_only=True)
    data["model"].pop("head.obj_preds.0.bias")
    torch.save(data, broken)
    with pytest.raises(UserError, match="do not fit"):
        load_yolox(broken)


def test_pipeline_with_yolox_pth_persons_and_face_model(sample_clip, tmp_path):
    from mivolo.detection.yolox_torch import save_random_yolox

    persons = save_random_yolox(tmp_path / "yolox_nano.pth", "yolox_nano")
    faces = save_random_yolox(tmp_path / "yolox_nano_face.pth", "yolox_nano", num_classes=1)
    out = tmp_path / "out"
    assert demo.main(["--input", str(sample_clip[0]), "--output", str(out), "--detector-weights", str(persons),
                      "--face-weights", str(faces), "--max-frames", "3", "--no-progress"]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["models"]["persons"] == "yolox_nano:yolox_nano.pth"
    assert run["models"]["faces"] == "yolox_nano:yolox_nano_face.pth"


def test_faces_found_in_upscaled_person_crops_map_back_to_frame_coordinates():
    from mivolo.detection.faces_in_persons import FaceFinder, head_regions

    seen_shapes = []

    def crop_detector(crop):
        seen_shapes.append(crop.shape[:2])
        h, w = crop.shape[:2]  # a face in the middle of the (upscaled) head region
        return np.array([[w * 0.4, h * 0.2, w * 0.6, h * 0.45]], np.float32), np.array([0.9], np.float32)

    image = np.zeros((1000, 1000, 3), np.uint8)
    person = np.array([[400, 300, 460, 500]], np.float32)  # 60 x 200 px person
    boxes, _ = FaceFinder(None, crop_detector, crop_size=256)(image, person)
    region = head_regions(person, 1000, 1000)[0]
    assert max(seen_shapes[0]) == 256  # the crop was upscaled for the detector
    x1, y1, x2, y2 = boxes[0]
    rw, rh = region[2] - region[0], region[3] - region[1]
    assert x1 == pytest.approx(region[0] + 0.4 * rw, abs=1) and y2 == pytest.approx(region[1] + 0.45 * rh, abs=1)
    assert 400 <= (x1 + x2) / 2 <= 460 and 300 <= y1 < 400  # on the person's head, in frame pixels
