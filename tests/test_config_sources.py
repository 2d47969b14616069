import subprocess

import cv2
import numpy as np
import pytest

from mivolo.core.config import PipelineConfig, SourceConfig, apply_mapping, load_config
from mivolo.core.errors import UserError
from mivolo.sources import open_source


def test_yaml_unknown_key_is_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("detector:\n  person_cnf: 0.3\n")
    with pytest.raises(UserError, match="detector.person_cnf"):
        load_config(path)


def test_yaml_wrong_type_is_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("settle:\n  smoothing_window: many\n")
    with pytest.raises(UserError, match="settle.smoothing_window"):
        load_config(path)


def test_yaml_values_apply():
    cfg = apply_mapping(PipelineConfig(), {"settle": {"mode": "temporal", "smoothing_window": 5},
                                          "detector": {"person_conf": 1}})
    assert cfg.settle.mode == "temporal" and cfg.settle.smoothing_window == 5 and cfg.detector.person_conf == 1.0


def test_contradictory_flags_are_refused():
    cfg = PipelineConfig()
    cfg.estimator.disable_faces = True
    with pytest.raises(UserError, match="--disable-faces"):
        cfg.validate()


def _write_video(path, frames=5, size=(64, 48)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, size)
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), (i * 40) % 256, np.uint8))
    writer.release()


def test_video_file_frames_and_timestamps(tmp_path):
    path = tmp_path / "v.mp4"
    _write_video(path, frames=5)
    source = open_source(SourceConfig(input=str(path)))
    frames = list(source)
    assert source.info.fps == pytest.approx(10.0)
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert frames[3].time_s == pytest.approx(0.3)
    assert len(list(source.reopen())) == 5


def test_folder_of_images_as_video_and_as_separate_images(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), np.full((20, 30), i * 50, np.uint8))  # grayscale on purpose
    (tmp_path / "notes.txt").write_text("not an image")
    as_video = open_source(SourceConfig(input=str(tmp_path), as_video=True, fps=5))
    frames = list(as_video)
    assert len(frames) == 3 and frames[0].image.shape == (20, 30, 3) and frames[2].time_s == pytest.approx(0.4)
    assert not as_video.info.independent_frames
    assert open_source(SourceConfig(input=str(tmp_path))).info.independent_frames


def test_16bit_image_becomes_8bit_bgr(tmp_path):
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), np.full((10, 10), 65535, np.uint16))
    (frame,) = list(open_source(SourceConfig(input=str(path))))
    assert frame.image.dtype == np.uint8 and frame.image.shape == (10, 10, 3) and frame.image.max() == 255


def _file(path, data: bytes):
    path.write_bytes(data)
    return path


def _folder(path):
    path.mkdir()
    return path


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing.mp4", "not found"),
    (lambda p: _file(p / "empty.mp4", b""), "empty"),
    (lambda p: _file(p / "text.mp4", b"hello " * 100), "cannot"),
    (lambda p: _file(p / "bad.jpg", b"\xff\xd8garbage"), "cannot decode image"),
    (lambda p: _folder(p / "empty_dir"), "no images"),
])
def test_bad_local_inputs_give_clear_errors(tmp_path, make, message):
    with pytest.raises(UserError, match=message):
        open_source(SourceConfig(input=str(make(tmp_path))))


def test_truncated_video_decodes_what_it_can(tmp_path):
    path = tmp_path / "full.mp4"
    _write_video(path, frames=40, size=(160, 120))
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    try:
        source = open_source(SourceConfig(input=str(cut)))
    except UserError:
        return  # moov atom at the end: nothing decodable, refused cleanly
    assert 0 < len(list(source)) <= 40


@pytest.mark.parametrize("url, message", [
    ("ftp://example.com/video.mp4", "unsupported URL scheme"),
    ("file:///etc/passwd", "unsupported URL scheme"),
    ("http:///nohost.mp4", "no host"),
    ("https://127.0.0.1:9/watch?v=abc", "cannot get a video"),
])
def test_bad_urls_are_refused(url, message):
    with pytest.raises(UserError, match=message):
        open_source(SourceConfig(input=url))


def test_missing_webcam_is_a_clear_error():
    with pytest.raises(UserError, match="webcam 97"):
        open_source(SourceConfig(input="97"))


def test_no_shell_anywhere():
    out = subprocess.run(["grep", "-rn", "shell=True", "mivolo", "tracking", "demo.py"], capture_output=True, text=True)
    assert out.stdout == ""
