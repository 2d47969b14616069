"""Detector scores on one scale (mivolo.core.score_calibration) and the benchmark that measures it."""

from pathlib import Path

import numpy as np
import orjson
import pytest

from mivolo.core.config import SettleConfig
from mivolo.core.score_calibration import TABLE, ScoreCalibration
from mivolo.core.structures import FACE, PERSON, Detections
from tracking.identities import Identities

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def default_models() -> dict[str, str]:
    from mivolo.core.config import DetectorConfig
    from mivolo.detection.persons_and_faces import PersonsAndFaces

    return PersonsAndFaces(DetectorConfig()).models


def test_the_shipped_table_covers_the_default_detectors_and_is_monotone():
    calibration = ScoreCalibration.for_models(default_models())
    assert set(calibration.calibrated_models) == {"face", "person"} and not calibration.raw_models
    table = orjson.loads(TABLE.read_bytes())
    for section in ("face", "person"):
        for model, entry in table[section].items():
            raw, calibrated = np.array(entry["raw"]), np.array(entry["calibrated"])
            assert len(raw) == len(calibrated) >= 2, model
            assert np.all(np.diff(raw) >= 0) and np.all(np.diff(calibrated) >= 0), model
            assert 0 < calibrated.min() and calibrated.max() < 1, model  # a few samples never promise 0 or 1


def test_faces_are_mapped_to_the_share_that_was_real():
    calibration = ScoreCalibration.for_models(default_models())
    cls = np.array([FACE, FACE, FACE, PERSON])
    out = calibration(cls, np.array([0.3, 0.55, 0.9, 0.9], np.float32))
    # BlazeFace on the labelled real set: a 0.3 face was real less than half the time, a 0.9 face nearly always
    assert out[0] < 0.5 < out[2] and out[2] >= 0.9 and out[0] <= out[1] <= out[2]
    assert out.dtype == np.float32


def test_models_the_table_does_not_know_keep_raw_scores(tmp_path):
    calibration = ScoreCalibration.for_models({"persons": "my-detector.onnx", "faces": "none"})
    assert calibration.raw_models == {"person": "my-detector.onnx"} and not calibration.knots
    conf = np.array([0.33, 0.77], np.float32)
    assert np.array_equal(calibration(np.array([PERSON, FACE]), conf), conf)
    (tmp_path / "broken.json").write_text("{not json")
    assert not ScoreCalibration.for_models({"persons": "x"}, tmp_path / "broken.json").knots


def vote_once(calibration: ScoreCalibration | None) -> Identities:
    ids = Identities(SettleConfig(min_detection_conf=0.5, min_gender_conf=0.6, min_votes=1), min_frames=1,
                     min_seen_s=0.0, calibration=calibration)
    dets = Detections.from_boxes(np.array([[10, 10, 110, 250], [40, 20, 80, 70]], np.float32),
                                 np.array([0.9, 0.6], np.float32), np.array([PERSON, FACE]))
    dets.track_id[:], dets.pair[:] = 1, [1, 0]
    dets.age[1], dets.gender_p[1], dets.age_gender_conf[1] = 30.0, 0.9, 0.9
    ids.update(0, 0.0, np.zeros((300, 200, 3), np.uint8), dets)
    return ids


def test_min_detection_conf_compares_the_calibrated_score():
    assert vote_once(None).estimates_below_detection_conf == 0  # raw 0.6 passes 0.5
    low = ScoreCalibration(knots={FACE: (np.array([0.0, 1.0]), np.array([0.0, 0.5]))})  # raw 0.6 -> 0.3 real
    ids = vote_once(low)
    assert ids.estimates_below_detection_conf == 1 and ids.max_detection_conf == pytest.approx(0.3)


def test_fit_recovers_a_known_share_and_never_promises_certainty():
    from benchmarks.score_calibration import fit

    rng = np.random.default_rng(0)
    scores = rng.uniform(0, 1, 4000)
    truth = (rng.uniform(0, 1, 4000) < scores).astype(int)  # real with probability = score
    result = fit(scores.tolist(), truth.tolist())
    mapped = np.interp([0.2, 0.5, 0.8], result["raw"], result["calibrated"])
    assert np.allclose(mapped, [0.2, 0.5, 0.8], atol=0.1)
    assert 0 < min(result["calibrated"]) and max(result["calibrated"]) < 1
    assert fit([0.1, 0.9], [1, 1]) is None  # nothing to calibrate against without a negative


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "real").is_dir(), reason="needs ../shared/data (real labelled footage)")
def test_the_shipped_face_knots_are_what_the_benchmark_measures_today():
    """Re-measure the default face search on the labelled real frames: the table must not go stale when the face
    search changes."""
    from benchmarks.face_gate import labelled_items, load_frames
    from benchmarks.score_calibration import build, face_samples, fit

    detector = build({})
    items = labelled_items()
    result = fit(*face_samples(detector, items, load_frames(items, SHARED)))
    shipped = orjson.loads(TABLE.read_bytes())["face"][detector.models["faces"]]
    assert np.allclose(result["raw"], shipped["raw"], atol=1e-3)
    assert np.allclose(result["calibrated"], shipped["calibrated"], atol=1e-3)


def test_raw_reaching_finds_where_boxes_become_mostly_real():
    calibration = ScoreCalibration(knots={PERSON: (np.array([0.2, 0.5, 0.6, 0.9]), np.array([0.2, 0.3, 0.7, 0.9]))})
    assert calibration.raw_reaching(PERSON, 0.5) == 0.6 and calibration.raw_reaching(PERSON, 0.95) is None
    assert calibration.raw_reaching(FACE, 0.5) is None


@pytest.mark.skipif(not (SHARED / "weights" / "yolox_nano.onnx").is_file(), reason="needs ../shared YOLOX-nano")
def test_a_person_model_mostly_wrong_below_a_score_gets_that_threshold_unless_one_is_given():
    from mivolo.core.config import DetectorConfig
    from mivolo.detection.persons_and_faces import PersonsAndFaces

    weights = str(SHARED / "weights" / "yolox_nano.onnx")
    auto = PersonsAndFaces(DetectorConfig(weights=weights))
    table = orjson.loads(TABLE.read_bytes())["person"][auto.models["persons"]]
    first_mostly_real = next(r for r, c in zip(table["raw"], table["calibrated"], strict=True) if c >= 0.5)
    assert auto.person_conf == pytest.approx(first_mostly_real) and auto.person_conf > 0.4
    assert PersonsAndFaces(DetectorConfig(weights=weights, person_conf=0.4)).person_conf == 0.4  # the user's word
    assert PersonsAndFaces(DetectorConfig()).person_conf == 0.4  # SSDLite: mostly real already above 0.25


@pytest.mark.skipif(not (SHARED / "weights" / "yolox_nano.onnx").is_file(), reason="needs ../shared YOLOX-nano")
def test_boxes_below_the_raised_threshold_are_dropped():
    from mivolo.core.config import DetectorConfig
    from mivolo.detection.persons_and_faces import PersonsAndFaces

    detector = PersonsAndFaces(DetectorConfig(weights=str(SHARED / "weights" / "yolox_nano.onnx"),
                                              face_backend="none"))

    def fake_persons(image):
        return np.array([[0, 0, 10, 20], [5, 5, 15, 25]], np.float32), np.array([0.5, 0.8], np.float32)

    detector.persons = fake_persons
    dets = detector(np.zeros((50, 50, 3), np.uint8))
    assert dets.conf.tolist() == pytest.approx([0.8])
