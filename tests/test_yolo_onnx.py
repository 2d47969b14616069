"""ultralytics exports (`yolo export format=onnx`) as --detector-weights: recognised, decoded as ultralytics does."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

import demo
from mivolo.core.boxes import iou_matrix
from mivolo.core.config import DetectorConfig
from mivolo.core.errors import UserError
from mivolo.detection import build_detector
from mivolo.detection.onnx_models import ort_session
from mivolo.detection.persons_and_faces import build_face_finder
from mivolo.detection.yolo_onnx import YoloOnnxModel, yolo_onnx_layout

pytest.importorskip("onnx")  # ultralytics' ONNX export needs it


def random_yolo(path: Path, names: tuple[str, ...]) -> Path:
    """A random-init YOLOv8n whose batch-norm statistics are set on noise images, so its scores vary with the
    image (plain random init gives the same score everywhere, and NMS ties would decide the comparison)."""
    import torch
    from ultralytics import YOLO

    from mivolo.detection.ultralytics_yolo import save_random_yolo

    torch.manual_seed(0)
    model = YOLO(str(save_random_yolo(path, names)))
    net = model.model
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # cumulative average over the passes below
    net.train()
    with torch.no_grad():
        for _ in range(2):
            net(torch.rand(4, 3, 320, 320))
    net.eval()
    for head in net.model[-1].cv3:
        torch.nn.init.normal_(head[-1].bias, -1.0, 0.1)  # scores spread around 0.5 instead of saturating
        with torch.no_grad():
            head[-1].bias[0] += 1.0 if len(names) > 2 else 0.0  # a COCO model: persons win the best class often
    model.save(str(path))
    return path


def export(pt: Path, **kwargs) -> Path:
    from ultralytics import YOLO

    return Path(YOLO(str(pt)).export(format="onnx", imgsz=320, simplify=False, **kwargs))


@pytest.fixture(scope="module")
def person_face(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("yolo")
    pt = random_yolo(folder / "pf.pt", ("person", "face"))
    return pt, export(pt)


def noise(height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return cv2.GaussianBlur(rng.integers(0, 255, (height, width, 3), np.uint8), (0, 0), 3)


def ours(onnx: Path, conf: float = 0.5) -> YoloOnnxModel:
    session = ort_session(onnx)
    return YoloOnnxModel(onnx, session, yolo_onnx_layout(session, onnx), conf, 0.45, [0, 1])


def ultralytics_boxes(weights: Path, image: np.ndarray, conf: float = 0.5) -> tuple[np.ndarray, ...]:
    from ultralytics import YOLO

    boxes = YOLO(str(weights), task="detect").predict(image, imgsz=320, conf=conf, iou=0.45, verbose=False)[0].boxes
    return boxes.xyxy.numpy(), boxes.conf.numpy(), boxes.cls.numpy().astype(int)


def assert_same_detections(ref: tuple[np.ndarray, ...], got: tuple[np.ndarray, ...], px: float) -> None:
    (a, a_conf, a_cls), (b, b_conf, b_cls) = ref, got
    assert len(a) >= 10 and len(a) == len(b)
    match = iou_matrix(a, b).argmax(axis=1)
    assert sorted(match) == list(range(len(b)))  # one to one
    assert np.abs(a - b[match]).max() < px
    assert np.abs(a_conf - b_conf[match]).max() < 1e-4 and (a_cls == b_cls[match]).all()


def test_layout_is_read_from_the_export_metadata(person_face):
    _, onnx = person_face
    layout = yolo_onnx_layout(ort_session(onnx), onnx)
    assert (layout.height, layout.width, layout.end2end) == (320, 320, False)
    assert layout.names == {0: "person", 1: "face"}
    assert ort_session(onnx).get_outputs()[0].shape == [1, 6, 2100]  # (1, 4 + 2 classes, boxes at 320 px)


def test_onnx_boxes_equal_ultralytics_predict_on_the_pt(person_face):
    pt, onnx = person_face
    image = noise(480, 480)  # square: ultralytics' .pt letterbox (minimum rectangle) and the fixed one agree
    assert_same_detections(ultralytics_boxes(pt, image), ours(onnx)(image), px=0.01)


def test_onnx_boxes_equal_ultralytics_own_onnx_predict_with_padding(person_face):
    _, onnx = person_face
    image = noise(480, 300)  # portrait: padded left and right
    assert_same_detections(ultralytics_boxes(onnx, image), ours(onnx)(image), px=1e-3)


def test_fp16_and_int8_exports_run(person_face, tmp_path):
    """fp16 (half=True; on CPU ultralytics converts the graph, inputs/outputs stay float32) and int8 (static
    quantisation, calibrated on a local folder): same (1, 6, 2100) layout, decoded as ultralytics does."""
    import shutil

    pt = Path(shutil.copy(person_face[0], tmp_path / "pf.pt"))  # exports write (and int8 deletes) pf.onnx beside it
    fp16 = export(pt, half=True)
    image = noise(480, 480)
    fp32 = ultralytics_boxes(pt, image)
    got = ours(fp16)(image)
    assert len(got[0]) >= 0.9 * len(fp32[0])
    assert (iou_matrix(fp32[0], got[0]).max(axis=1) > 0.9).mean() > 0.9  # fp16 rounding moves scores a little
    data = tmp_path / "calib"
    for split in ("images", "labels"):
        (data / split / "val").mkdir(parents=True)
    for i in range(2):
        cv2.imwrite(str(data / "images" / "val" / f"{i}.jpg"), noise(320, 320))
        (data / "labels" / "val" / f"{i}.txt").write_text("0 0.5 0.5 0.2 0.4\n")
    (data / "data.yaml").write_text(f"path: {data}\ntrain: images/val\nval: images/val\nnames:\n  0: person\n"
                                    "  1: face\n")
    int8 = export(pt, int8=True, data=str(data / "data.yaml"))
    assert ort_session(int8).get_outputs()[0].shape == [1, 6, 2100]
    ref = ultralytics_boxes(int8, image, conf=0.3)
    got = ours(int8, conf=0.3)(image)
    assert len(ref[0]) == len(got[0]) and (len(ref[0]) == 0 or np.abs(ref[0] - got[0][
        iou_matrix(ref[0], got[0]).argmax(axis=1)]).max() < 1e-3)


def test_end_to_end_export_and_float16_inputs(person_face, tmp_path):
    """``nms=True`` (as YOLO26 exports by default): (1, 300, 6) rows decoded as ultralytics does; a graph with
    float16 inputs and outputs (a CUDA half export) is fed float16."""
    import shutil

    import onnx
    from onnxruntime.transformers import float16

    pt = Path(shutil.copy(person_face[0], tmp_path / "e2e.pt"))
    e2e = export(pt, nms=True)
    layout = yolo_onnx_layout(ort_session(e2e), e2e)
    assert layout.end2end and ort_session(e2e).get_outputs()[0].shape == [1, 300, 6]
    image = noise(480, 300)
    (a, a_conf, a_cls), (b, b_conf, b_cls) = ultralytics_boxes(e2e, image), ours(e2e)(image)
    assert len(a) >= 10 and np.abs(a - b).max() < 1e-3 and np.abs(a_conf - b_conf).max() < 1e-6  # same rows, in order
    assert (a_cls == b_cls).all()
    half = tmp_path / "half_io.onnx"
    onnx.save(float16.convert_float_to_float16(onnx.load(person_face[1]), keep_io_types=False), half)
    assert yolo_onnx_layout(ort_session(half), half).fp16_input
    got, ref = ours(half)(image), ours(person_face[1])(image)
    assert (iou_matrix(ref[0], got[0]).max(axis=1) > 0.9).mean() > 0.9


def test_a_file_without_metadata_is_recognised_by_its_shape(person_face, tmp_path):
    import onnx

    model = onnx.load(person_face[1])
    del model.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(model, bare)
    layout = yolo_onnx_layout(ort_session(bare), bare)
    assert layout.names == {0: "person", 1: "class1"} and (layout.height, layout.width) == (320, 320)


def test_person_face_export_runs_end_to_end(person_face, sample_clip, tmp_path):
    out = tmp_path / "out"
    assert demo.main(["--input", str(sample_clip[0]), "--output", str(out), "--detector-weights",
                      str(person_face[1]), "--max-frames", "3", "--no-progress", "--save-json"]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["models"]["persons"] == run["models"]["faces"] == "yolo-onnx:pf.onnx"
    assert run["frames_processed"] == 3 and (out / "demographics.json").is_file()


def test_coco_export_gets_faces_from_the_face_finder(tmp_path, sample_clip):
    coco = tuple(["person", *(f"thing{i}" for i in range(1, 80))])
    onnx = export(random_yolo(tmp_path / "coco.pt", coco))
    assert ort_session(onnx).get_outputs()[0].shape == [1, 84, 2100]
    detector = build_detector(DetectorConfig(weights=str(onnx), person_conf=0.3))
    face_names = "+".join(build_face_finder(DetectorConfig())[1])  # the face models, named as calibrated
    assert face_names.startswith("blazeface")
    assert detector.models == {"persons": "yolo-onnx:coco.onnx", "faces": face_names}
    dets = detector(noise(480, 640))
    assert dets.person_rows().size > 0  # random persons at 0.3, their faces searched in crops (none in noise)
    out = tmp_path / "out"
    assert demo.main(["--input", str(sample_clip[0]), "--output", str(out), "--detector-weights", str(onnx),
                      "--max-frames", "2", "--no-progress"]) == 0


def test_wrong_onnx_file_gets_one_line(tmp_path, capsys):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Flatten", ["images"], ["out"])], "g",
                              [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 192])])
    wrong = tmp_path / "classifier.onnx"
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # one ONNX Runtime 1.24 reads
    onnx.save(model, wrong)
    with pytest.raises(UserError, match="not an ultralytics YOLO export .* or a YOLOX export"):
        build_detector(DetectorConfig(weights=str(wrong)))
    import cv2

    frame = tmp_path / "frame.png"  # a usable input: the weights are what is wrong
    cv2.imwrite(str(frame), np.full((120, 160, 3), 90, np.uint8))
    assert demo.main(["--input", str(frame), "--output", str(tmp_path / "o"), "--detector-weights",
                      str(wrong)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "classifier.onnx" in err[0] and "[1, 192]" in err[0]


def test_openvino_and_tensorrt_need_their_packages(tmp_path, capsys):
    import importlib.util

    folder = tmp_path / "pf_openvino_model"
    folder.mkdir()
    (folder / "pf.xml").write_text("<net/>")
    engine = tmp_path / "pf.engine"
    engine.write_bytes(b"\0" * 64)
    for weights, package in ((folder, "openvino"), (engine, "tensorrt")):
        if importlib.util.find_spec(package) is not None:
            continue
        with pytest.raises(UserError, match=f"needs the {package} package.*pip install {package}"):
            build_detector(DetectorConfig(weights=str(weights)))
    with pytest.raises(UserError, match="not an ultralytics OpenVINO export"):
        build_detector(DetectorConfig(weights=str(tmp_path)))


def test_openvino_export_runs_through_ultralytics(person_face, tmp_path):
    """Runs where `pip install openvino` was done (not a dependency of ours): the export folder is a detector."""
    pytest.importorskip("openvino")
    import shutil

    from ultralytics import YOLO

    pt = Path(shutil.copy(person_face[0], tmp_path / "pf.pt"))
    folder = Path(YOLO(str(pt)).export(format="openvino", imgsz=320))
    assert folder.name == "pf_openvino_model"
    detector = build_detector(DetectorConfig(weights=str(folder), person_conf=0.5, face_conf=0.5))
    assert detector.models == {"persons": "yolo:pf_openvino_model", "faces": "yolo:pf_openvino_model"}
    image = noise(480, 480)
    ref = ultralytics_boxes(pt, image)[0]
    dets = detector(image)
    # OpenVINO computes in lower precision on CPU: most boxes agree closely, NMS may pick a few others
    assert abs(len(dets.xyxy) - len(ref)) <= 3 and (iou_matrix(ref, dets.xyxy).max(axis=1) > 0.9).mean() > 0.75
