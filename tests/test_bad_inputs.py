"""The bad-input corpus, generated here (no binary blobs in the repository): every case gives one clear line on
stderr and exit code 2, or, for inputs that are odd but usable, a normal run."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import demo


def _video(path: Path, frames: int = 12, size=(160, 120), fourcc: str = "MJPG") -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10, size)
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), (i * 20) % 256, np.uint8))
    writer.release()
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bad_inputs")
    (root / "zero.mp4").write_bytes(b"")
    (root / "text.mp4").write_text("this is not a video\n" * 50)
    full = _video(root / "full.avi", frames=30)
    (root / "truncated.avi").write_bytes(full.read_bytes()[: int(full.stat().st_size * 0.6)])
    cv2.imwrite(str(root / "gray.png"), np.full((120, 160), 128, np.uint8))
    cv2.imwrite(str(root / "deep16.png"), np.full((120, 160, 3), 40000, np.uint16))
    Image.new("CMYK", (160, 120), (10, 200, 30, 0)).save(root / "cmyk.jpg")
    cv2.imwrite(str(root / "one_pixel.png"), np.zeros((1, 1, 3), np.uint8))
    cv2.imwrite(str(root / "8k.png"), np.full((4320, 7680, 3), 70, np.uint8))
    mixed = root / "mixed"
    mixed.mkdir()
    cv2.imwrite(str(mixed / "a.png"), np.zeros((120, 160, 3), np.uint8))
    cv2.imwrite(str(mixed / "b.png"), np.zeros((240, 320, 3), np.uint8))  # another size
    (mixed / "notes.txt").write_text("hello")
    (mixed / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (root / "empty_dir").mkdir()
    (root / "unknown_key.yaml").write_text("detector:\n  person_confidence: 0.5\n")
    (root / "wrong_type.yaml").write_text("output:\n  json_interval_s: soon\n")
    (root / "not_yaml.yaml").write_text("detector: [unclosed\n")
    (root / "weights_text.pt").write_text("not weights")
    return root


BAD = {
    "zero-byte file": (["{root}/zero.mp4"], "empty"),
    "text file named .mp4": (["{root}/text.mp4"], "cannot"),
    "1x1 image": (["{root}/one_pixel.png"], "too small"),
    "folder without images": (["{root}/empty_dir"], "no images"),
    "missing file": (["{root}/nope.mp4"], "not found"),
    "URL that is not reachable": (["http://127.0.0.1:9/watch?v=x"], "cannot get a video"),
    "unsupported URL scheme": (["ftp://example.org/video.mp4"], "unsupported URL scheme"),
    "webcam that does not exist": (["97"], "webcam 97"),
    "config with an unknown key": (["{root}/gray.png", "--config", "{root}/unknown_key.yaml"], "person_confidence"),
    "config with a wrong type": (["{root}/gray.png", "--config", "{root}/wrong_type.yaml"], "json_interval_s"),
    "config that is not YAML": (["{root}/gray.png", "--config", "{root}/not_yaml.yaml"], "not valid YAML"),
    "tracker that does not exist": (["{root}/gray.png", "--tracker", "sort9.yaml"], "bytetrack.yaml"),
    "detector weights missing": (["{root}/gray.png", "--detector-weights", "{root}/none.pt"], "not found"),
    "detector weights not a torch file": (["{root}/gray.png", "--detector-weights", "{root}/weights_text.pt"],
                                          "not a current-format torch file"),
    "MiVOLO checkpoint not a torch file": (["{root}/gray.png", "--checkpoint", "{root}/weights_text.pt"],
                                           "cannot read MiVOLO checkpoint"),
    "face weights missing": (["{root}/gray.png", "--face-weights", "{root}/none.onnx"], "not found"),
    "contradictory flags": (["{root}/gray.png", "--disable-faces"], "--disable-faces"),
    "negative skip": (["{root}/gray.png", "--skip-frames", "-1"], "--skip-frames"),
    "negative age": (["{root}/gray.png", "--min-gender-age", "-3"], "--min-gender-age"),
}


INPUT_CASES = {"zero-byte file", "text file named .mp4", "1x1 image", "folder without images", "missing file",
               "URL that is not reachable", "unsupported URL scheme", "webcam that does not exist"}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_gives_one_line_and_exit_2(case, corpus, tmp_path, capsys):
    args, message = BAD[case]
    args = [a.format(root=corpus) for a in args]
    code = demo.main(["--input", args[0], *args[1:], "--output", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2, err
    assert len(errors) == 1 and message in errors[0], err
    assert "Traceback" not in err
    if case in INPUT_CASES:  # the input is checked before any model loads: the error is all there is to read
        assert err.strip().splitlines() == errors, err


USABLE = {
    "truncated video": ["{root}/truncated.avi"],
    "grayscale image": ["{root}/gray.png"],
    "16-bit image": ["{root}/deep16.png"],
    "CMYK JPEG": ["{root}/cmyk.jpg"],
    "8K frame": ["{root}/8k.png"],
    "folder mixing images, sizes and other files": ["{root}/mixed", "--as-video"],
}


@pytest.mark.parametrize("case", sorted(USABLE))
def test_odd_but_usable_inputs_run(case, corpus, tmp_path, capsys):
    args = [a.format(root=corpus) for a in USABLE[case]]
    code = demo.main(["--input", args[0], *args[1:], "--output", str(tmp_path / "out"), "--save-json",
                      "--no-progress"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err and (tmp_path / "out" / "demographics.json").is_file()


@pytest.mark.parametrize("argv", [["--input", "x.mp4", "--bogus"], ["--input", "x.mp4", "--tile", "two"], []])
def test_bad_flag_gives_one_line_and_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        demo.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and err[0].startswith("demo.py: error:") and "--help" in err[0]
