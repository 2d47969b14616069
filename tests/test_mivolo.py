import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mivolo.core.errors import UserError
from mivolo.estimation import load_mivolo
from mivolo.estimation.mivolo_crops import letterbox
from mivolo.estimation.mivolo_net import save_random_checkpoint

ROOT = Path(__file__).resolve().parents[1]
NAN = [np.nan] * 4


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    return {"face_body": save_random_checkpoint(folder / "fb.pth.tar", with_persons=True, seed=1),
            "face": save_random_checkpoint(folder / "f.pth.tar", with_persons=False, seed=2),
            "age_only": save_random_checkpoint(folder / "a.pth.tar", with_persons=False, only_age=True, seed=3)}


@pytest.fixture(scope="module")
def scene():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (360, 480, 3), dtype=np.uint8)
    faces = np.array([[60, 30, 110, 90], NAN, [300, 40, 350, 100], [400, 200, 440, 250]], np.float64)
    persons = np.array([[40, 20, 160, 340], [180, 30, 280, 350], [280, 20, 380, 350], NAN], np.float64)
    return image, faces, persons


def test_face_body_checkpoint_predicts_every_row(checkpoints, scene):
    image, faces, persons = scene
    model = load_mivolo(str(checkpoints["face_body"]), with_persons=True)
    assert model.meta.with_persons_model and model.input_size == 224
    ages, male = model.predict(image, faces, persons)
    assert ages.shape == male.shape == (4,)
    assert np.isfinite(ages).all() and ((male > 0) & (male < 1)).all()  # face-only and body-only rows included


def test_batch_equals_one_row_at_a_time(checkpoints, scene):
    image, faces, persons = scene
    model = load_mivolo(str(checkpoints["face_body"]), with_persons=True)
    ages, male = model.predict(image, faces, persons)
    all_faces, all_persons = faces[~np.isnan(faces).any(1)], persons[~np.isnan(persons).any(1)]
    for row in range(len(faces)):
        a, m = model.predict(image, faces[row:row + 1], persons[row:row + 1], all_faces, all_persons)
        assert abs(a[0] - ages[row]) < 0.05 and abs(m[0] - male[row]) < 1e-3


def test_without_with_persons_the_body_input_is_empty(checkpoints, scene):
    image, faces, persons = scene
    with_bodies = load_mivolo(str(checkpoints["face_body"]), with_persons=True).predict(image, faces, persons)
    faces_only = load_mivolo(str(checkpoints["face_body"]), with_persons=False).predict(image, faces, persons)
    assert not np.allclose(with_bodies[0][0], faces_only[0][0])
    assert np.isnan(faces_only[0][1])  # body-only row: nothing to read without person crops


def test_face_only_and_age_only_checkpoints(checkpoints, scene):
    image, faces, persons = scene
    ages, male = load_mivolo(str(checkpoints["face"])).predict(image, faces, persons)
    assert np.isfinite(ages[[0, 2, 3]]).all() and np.isnan(ages[1])
    ages, male = load_mivolo(str(checkpoints["age_only"])).predict(image, faces, persons)
    assert np.isfinite(ages[0]) and np.isnan(male).all()


def test_impossible_flag_combinations(checkpoints):
    with pytest.raises(UserError, match="face\\+body"):
        load_mivolo(str(checkpoints["face"]), disable_faces=True)
    with pytest.raises(UserError, match="--with-persons"):
        load_mivolo(str(checkpoints["face_body"]), with_persons=False, disable_faces=True)


def test_fds_keys_are_dropped_and_wrong_files_refused(tmp_path, checkpoints):
    data = torch.load(checkpoints["face"], weights_only=True)
    data["state_dict"]["fds.running_mean"] = torch.zeros(3)
    torch.save(data, tmp_path / "fds.pth.tar")
    load_mivolo(str(tmp_path / "fds.pth.tar"))
    torch.save({"model": {"conv.weight": torch.zeros(1)}}, tmp_path / "detector.pt")
    with pytest.raises(UserError, match="not a MiVOLO checkpoint"):
        load_mivolo(str(tmp_path / "detector.pt"))
    truncated = tmp_path / "cut.pth.tar"
    truncated.write_bytes(checkpoints["face"].read_bytes()[:5000])
    with pytest.raises(UserError, match="cannot read"):
        load_mivolo(str(truncated))
    data["state_dict"].pop("head.weight")
    torch.save(data, tmp_path / "partial.pth.tar")
    with pytest.raises(UserError, match="do not fit"):
        load_mivolo(str(tmp_path / "partial.pth.tar"))


class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_does_not_run(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth.tar"
    torch.save({"state_dict": {}, "min_age": 0, "max_age": 1, "avg_age": 0, "no_gender": False,
                "payload": _Payload(str(marker))}, evil)
    with pytest.raises(UserError, match="arbitrary unpickling"):
        load_mivolo(str(evil))
    assert not marker.exists()
    result = subprocess.run([sys.executable, str(ROOT / "demo.py"), "--input", str(evil), "--checkpoint", str(evil),
                             "--output", str(tmp_path / "o")], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2 and "Traceback" not in result.stderr and not marker.exists()


def test_letterbox_keeps_aspect_and_centres():
    out = letterbox(np.full((100, 50, 3), 255, np.uint8), 224)
    assert out.shape == (224, 224, 3)
    assert (out[:, :56] == 0).all() and (out[:, 168:] == 0).all() and (out[:, 60:160] == 255).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_half_precision_matches_fp32(checkpoints, scene):
    image, faces, persons = scene
    full = load_mivolo(str(checkpoints["face_body"]), device="cuda").predict(image, faces, persons)
    half = load_mivolo(str(checkpoints["face_body"]), device="cuda", half=True).predict(image, faces, persons)
    assert np.allclose(full[0], half[0], atol=1.0) and np.allclose(full[1], half[1], atol=0.02)
