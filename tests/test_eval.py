import json

import cv2
import numpy as np
import pytest

import eval_pretrained
from conftest import SHARED
from mivolo.estimation.mivolo_net import save_random_checkpoint
from mivolo.evaluation.agegender import load_dataset


def test_offline_model_on_real_utkface_sample(tmp_path):
    """Issue point 7: faces aligned the way the age/gender model was trained.

    On these 72 faces the package on its own (dlib HOG detection + alignment) scores MAE 6.69 / gender 81.9 %;
    BlazeFace boxes handed over as they are score MAE 8.67 / 75.0 %; re-detected with dlib's HOG around the box
    MAE 6.72 / 80.6 %.
    """
    folder = SHARED / "faces" / "utkface_sample"
    if not folder.is_dir():
        pytest.skip("../shared/data is not present")
    reports = {}
    for align in ("box", "redetect"):
        out = tmp_path / f"{align}.json"
        assert eval_pretrained.main(["--dataset-type", "folder", "--dataset-images", str(folder),
                                     "--face-align", align, "--output", str(out)]) == 0
        reports[align] = json.loads(out.read_text())
    report = reports["redetect"]
    assert report["evaluated"] == 72
    assert sum(b["n"] for b in report["age_bands"].values()) == 72
    assert report["faces_redetected"] >= 65  # nearly every face gets dlib's own box
    # within noise of the package alone (6.69 / 81.9 %); the boxes as detected (8.67 / 75.0 %) fail both
    assert report["age_mae"] <= 7.2 and report["gender_accuracy"] >= 79
    assert reports["box"]["age_mae"] - report["age_mae"] >= 1.0


def test_mivolo_on_an_annotation_csv_with_persons_and_ranges(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        cv2.imwrite(str(images / f"{i}.jpg"), rng.integers(0, 255, (240, 200, 3), dtype=np.uint8))
    annotations = tmp_path / "annotations"
    annotations.mkdir()
    (annotations / "test_valid.csv").write_text(
        "img_name,age,gender,face_x0,face_y0,face_x1,face_y1,person_x0,person_y0,person_x1,person_y1\n"
        "0.jpg,25,M,60,20,120,90,30,10,170,230\n"
        "1.jpg,38;43,F,-1,-1,-1,-1,20,10,180,230\n"
        "2.jpg,-1,F,50,30,110,100,-1,-1,-1,-1\n")
    samples = load_dataset("adience", images, None, "valid")
    assert len(samples) == 3 and samples[1].age_range == (38.0, 43.0) and samples[1].face is None
    checkpoint = save_random_checkpoint(tmp_path / "m.pth.tar", with_persons=True)
    report = eval_pretrained.run(eval_pretrained.build_parser().parse_args([
        "--dataset-type", "adience", "--dataset-images", str(images), "--checkpoint", str(checkpoint),
        "--with-persons", "--batch-size", "2"]))
    assert report["evaluated"] == 3
    assert sum(band["n"] for band in report["age_bands"].values()) == 2  # two samples have an age (one a range)
    assert report["age_group_accuracy"] in (0.0, 100.0)  # one sample has a range: inside it or not
    assert report["gender_accuracy"] in (0.0, 33.33, 66.67, 100.0)  # three genders, each right or wrong


def test_bad_dataset_arguments_exit_2(tmp_path, capsys):
    assert eval_pretrained.main(["--dataset-type", "imdb", "--dataset-images", str(tmp_path)]) == 2
    assert "annotation" in capsys.readouterr().err


def test_gender_accuracy_by_the_age_the_model_gave():
    from mivolo.evaluation.agegender import gender_by_age

    right = np.array([True, False, True, True, True, False])
    bands = gender_by_age(right, np.array([3.0, 7.9, 12.9, 25.0, 67.0, np.nan]))
    assert bands == {"0-7": {"n": 2, "right": 1, "accuracy": 50.0}, "8-12": {"n": 1, "right": 1, "accuracy": 100.0},
                     "20+": {"n": 2, "right": 2, "accuracy": 100.0}, "unknown": {"n": 1, "right": 0, "accuracy": 0.0}}
