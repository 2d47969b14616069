"""Unknown rather than wrong: a gender or an age needs enough good evidence; rejected faces never vote."""

import numpy as np
import pytest

from mivolo.core.config import SettleConfig
from mivolo.core.structures import ACCEPTED, FACE, PERSON, REJECTED, Detections
from tracking import Identities

IMAGE = np.zeros((480, 640, 3), np.uint8)


def one_look(track_id: int, age: float, male_p: float, face_ok: int = ACCEPTED, conf: float = 0.9) -> Detections:
    """A person with a 64 px face, both estimated (as the estimators write them)."""
    dets = Detections.from_boxes([[0, 0, 100, 300], [30, 10, 81, 74]], [conf, conf], [PERSON, FACE])
    dets.pair[:] = [1, 0]
    dets.track_id[:] = track_id
    dets.face_ok[1] = face_ok
    if face_ok != REJECTED:  # estimators never read a rejected face, so neither row gets an estimate
        dets.age[:], dets.gender_p[:] = age, male_p
        dets.age_gender_conf[:] = max(male_p, 1 - male_p)
    return dets


def settle(looks: list[tuple[float, float, int]], **config) -> tuple:
    ids = Identities(SettleConfig(**config))
    for i, (age, male_p, ok) in enumerate(looks):
        ids.update(i, i / 10, IMAGE, one_look(4, age, male_p, ok))
    label = ids.final_label(4)
    return label.gender, label.age


def test_two_good_faces_are_not_enough_three_are():
    assert settle([(30, 0.9, ACCEPTED)] * 2) == (None, None)
    gender, age = settle([(30, 0.9, ACCEPTED)] * 3)
    assert gender == "male" and age == pytest.approx(30)


def test_faces_that_disagree_leave_the_gender_unknown_but_keep_the_age():
    gender, age = settle([(30, 0.9, ACCEPTED), (32, 0.1, ACCEPTED), (34, 0.85, ACCEPTED), (36, 0.15, ACCEPTED)])
    assert gender is None and age == pytest.approx(33, abs=0.5)


def test_a_probability_near_a_coin_toss_is_unknown():
    assert settle([(30, 0.62, ACCEPTED)] * 6, min_gender_conf=0.65)[0] is None


def test_a_child_by_its_settled_age_gets_no_gender_when_the_model_cannot_tell():
    """The offline model's gender calls on faces it aged under 8 were a coin toss (UTKFace): no gender below
    ``min_gender_age``, the age stays; adults keep theirs; 0 (MiVOLO's) withholds nothing."""
    assert settle([(5, 0.95, ACCEPTED)] * 4, min_gender_age=8.0) == (None, pytest.approx(5))
    assert settle([(5, 0.95, ACCEPTED)] * 4, min_gender_age=0.0)[0] == "male"
    assert settle([(30, 0.95, ACCEPTED)] * 4, min_gender_age=8.0)[0] == "male"
    # one frame's low age estimate does not decide: the settled (weighted mean) age does
    assert settle([(4, 0.95, ACCEPTED)] + [(25, 0.95, ACCEPTED)] * 3, min_gender_age=8.0)[0] == "male"
    ids = Identities(SettleConfig(mode="temporal", min_gender_age=8.0))
    for i in range(4):
        ids.update(i, i / 10, IMAGE, one_look(4, 5, 0.95))
    assert ids.live_label(4).gender is None and ids.live_label(4).age == pytest.approx(5)


def test_rejected_faces_never_vote():
    """Backs of heads that the gate rejected: many looks, no gender and no age."""
    assert settle([(25, 0.05, REJECTED)] * 10) == (None, None)
    assert settle([(25, 0.05, REJECTED)] * 10 + [(40, 0.9, ACCEPTED)] * 3)[0] == "male"


def test_a_merge_adds_up_the_evidence_of_both_fragments():
    ids = Identities(SettleConfig())
    for i in range(2):
        ids.update(i, i / 10, IMAGE, one_look(1, 30, 0.1))
        ids.update(i + 5, 1 + i / 10, IMAGE, one_look(2, 32, 0.15))
    assert ids.final_label(1).gender is None and ids.final_label(2).gender is None
    ids.merge(2, 1)
    assert ids.final_label(1).gender == "female"
    assert ids.final_ids(np.array([2, 1, 7])).tolist() == [1, 1, 7]


def lone_face(track_id: int, face_ok: int) -> Detections:
    dets = Detections.from_boxes([[30, 10, 81, 74]], [0.9], FACE)
    dets.track_id[:] = track_id
    dets.face_ok[:] = face_ok
    return dets


def test_a_face_only_identity_counts_once_a_real_face_was_seen():
    ids = Identities(SettleConfig(), faces_need_confirming=True)
    for i in range(11):  # 1 s: long enough to be a person
        ids.update(i, i / 10, IMAGE, lone_face(1, REJECTED))  # a "face" the gate never accepted: no person
        ids.update(i, i / 10, IMAGE, lone_face(2, REJECTED if i < 10 else ACCEPTED))  # one real look is enough
        ids.update(i, i / 10, IMAGE, one_look(3, 30, 0.9, REJECTED))  # a body: a person, face or not
    ids.retire(None)
    assert sorted(f.row["id"] for f in ids.finished) == [2, 3]
    assert ids.not_counted == {"too_short": 0, "face_never_confirmed": 1}
    without_gate = Identities(SettleConfig())
    for i in range(11):
        without_gate.update(i, i / 10, IMAGE, lone_face(1, -1))
    without_gate.retire(None)
    assert [f.row["id"] for f in without_gate.finished] == [1]  # no gate: nothing to confirm with


def test_the_pipeline_takes_the_estimators_own_age_unless_told(tmp_path):
    """``settle.min_gender_age`` None: the estimator's (8 for the offline model, 0 for MiVOLO); run.json's resolved
    config shows it; a value given (``--min-gender-age``) wins."""
    from mivolo.core.config import PipelineConfig
    from mivolo.estimation.mivolo_estimator import MiVOLOEstimator
    from mivolo.estimation.offline import OfflineAgeGender
    from mivolo.pipeline import Pipeline

    class NoDetector:
        models = {"persons": "none", "faces": "none"}

        def __call__(self, image):
            return Detections.from_boxes(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), PERSON)

    class Estimator:
        name, needs_faces, min_gender_age = "stub", True, 8.0

        def __call__(self, image, dets, rows):
            return dets

    assert OfflineAgeGender.min_gender_age == 8.0 and MiVOLOEstimator.min_gender_age == 0.0
    resolved = []
    for given in (None, 0.0, 18.0):
        config = PipelineConfig()
        config.settle.min_gender_age = given
        Pipeline(config, detector=NoDetector(), estimator=Estimator(), face_embedder=lambda *a: None)
        resolved.append(config.settle.min_gender_age)
    assert resolved == [8.0, 0.0, 18.0]
