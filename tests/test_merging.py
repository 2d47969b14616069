import json

import numpy as np
import pytest

import demo
from mivolo.core.config import SettleConfig
from mivolo.core.structures import FACE, PERSON, Detections
from tracking import Identities
from tracking.merging import IdentityMerger

RNG = np.random.default_rng(0)


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


PERSON_A = unit(RNG.normal(size=128))
PERSON_B = unit(RNG.normal(size=128))


def feed(merger: IdentityMerger, track: int, start: float, vector: np.ndarray, samples: int = 4, step: float = 0.5):
    merge = None
    for k in range(samples):
        merge = merger.observe(track, start + k * step, unit(vector + RNG.normal(scale=0.01, size=128))) or merge
    return merge


def test_two_fragments_of_one_face_merge_across_a_gap():
    merger = IdentityMerger(threshold=0.9)
    feed(merger, 1, 0.0, PERSON_A)
    merge = feed(merger, 2, 10.0, PERSON_A)
    assert merge is not None and merge.into == 1 and merge.similarity > 0.99 and merge.gap_s == pytest.approx(8.5)
    assert merger.identity_of(2) == 1
    assert merger.resolve(np.array([2, 1, -1])).tolist() == [1, 1, -1]


def test_people_visible_at_the_same_time_never_merge():
    merger = IdentityMerger(threshold=0.5)
    feed(merger, 1, 0.0, PERSON_A, samples=8)  # on screen from 0.0 to 3.5 s
    assert feed(merger, 2, 1.0, PERSON_A) is None  # appears at 1.0 s while 1 is still visible: identical face or not


def test_no_merge_after_the_forget_window_or_for_another_face():
    merger = IdentityMerger(threshold=0.9, max_gap_s=5.0)
    feed(merger, 1, 0.0, PERSON_A)
    assert feed(merger, 2, 30.0, PERSON_A) is None  # gone longer than max_gap_s (--forget-after)
    assert feed(merger, 3, 60.0, PERSON_B) is None  # a different face


def test_threshold_and_ambiguity_edges():
    merger = IdentityMerger(threshold=0.999)
    feed(merger, 1, 0.0, PERSON_A)
    assert feed(merger, 2, 10.0, unit(PERSON_A + 0.2 * PERSON_B)) is None  # similar, below the threshold
    merger = IdentityMerger(threshold=0.9)
    feed(merger, 1, 0.0, PERSON_A)
    merge = feed(merger, 2, 10.0, PERSON_A)
    assert merge is not None and merge.similarity >= 0.9  # at or above the threshold: merged
    # two earlier identities that match equally well: ambiguous, so no merge
    twins = IdentityMerger(threshold=0.5, margin=0.05)
    twins.decided.update({1, 3})  # two look-alikes already on record
    feed(twins, 1, 0.0, PERSON_A)
    feed(twins, 3, 5.0, PERSON_A)
    assert feed(twins, 5, 10.0, PERSON_A) is None and twins.identity_of(5) == 5


def test_signature_memory_is_fixed_size():
    merger = IdentityMerger(threshold=0.9, max_samples=8, min_interval_s=0.0)
    for k in range(500):
        merger.observe(1, k * 0.1, PERSON_A)
    signature = merger.signatures[1]
    assert signature.samples == 8 and signature.vector_sum.shape == (128,)
    assert not merger.needs_embedding(1)


def test_identities_merge_adds_the_evidence():
    image = np.zeros((400, 400, 3), np.uint8)
    ids = Identities(SettleConfig(min_votes=2))  # one look each: the merge makes the two needed

    def dets(track: int, age: float, male: float) -> Detections:
        d = Detections.from_boxes([[0, 0, 100, 300], [30, 10, 80, 70]], [0.9, 0.9], [PERSON, FACE])
        d.pair[:] = [1, 0]
        d.track_id[:] = track
        d.age[:], d.gender_p[:], d.age_gender_conf[:] = age, male, 0.9
        return d

    ids.update(0, 0.0, image, dets(1, 20, 0.9))
    ids.update(50, 5.0, image, dets(2, 40, 0.9))
    ids.merge(2, 1)
    state = ids.tracks[1]
    assert 2 not in ids.tracks and state.track_ids == [1, 2] and state.frames_seen == 2 and state.votes == 2
    assert ids.final_label(1).age == pytest.approx(30) and state.last_s == 5.0


@pytest.mark.slow
def test_people_who_come_back_are_counted_once(tmp_path):
    from mivolo.evaluation.sample import make_sample_video

    clip = tmp_path / "back.mp4"
    people = make_sample_video(clip, fps=10.0, size=(960, 540), people=3, come_back=True)
    merged, plain = tmp_path / "merged", tmp_path / "plain"
    assert demo.main(["--input", str(clip), "--output", str(merged), "--save-json", "--no-progress"]) == 0
    assert demo.main(["--input", str(clip), "--output", str(plain), "--no-merge", "--no-progress"]) == 0
    rows = json.loads((merged / "identities.json").read_text())["identities"]
    assert len(rows) == people
    assert all(len(r["track_ids"]) >= 2 for r in rows)  # each person: the way there and the way back
    assert json.loads((plain / "identities.json").read_text())["count"] >= 2 * people - 1
    run = json.loads((merged / "run.json").read_text())
    assert run["identity_merging"]["count"] >= people and all(m["similarity"] >= 0.965
                                                              for m in run["identity_merging"]["merges"]
                                                              if m["cue"] == "face")
    tracked_ids = {int(line.split(",")[1]) for line in (merged / "tracks.txt").read_text().splitlines()}
    assert tracked_ids == {r["id"] for r in rows}  # tracks.txt speaks of persons, not fragments
    demographics = json.loads((merged / "demographics.json").read_text())
    assert demographics["summary"]["total_people"] == people


BODY_A = unit(RNG.normal(size=512))
BODY_B = unit(RNG.normal(size=512))


def feed_body(merger, track, start, vector, samples=4, step=0.5):
    merge = None
    for k in range(samples):
        merge = merger.observe_body(track, start + k * step,
                                    unit(vector + RNG.normal(scale=0.01, size=vector.shape))) or merge
    return merge


def test_body_signatures_merge_people_never_seen_with_a_face():
    merger = IdentityMerger(threshold=0.9, body_threshold=0.85)
    feed_body(merger, 1, 0.0, BODY_A)  # seen from behind only
    merge = feed_body(merger, 2, 10.0, BODY_A)
    assert merge is not None and merge.into == 1
    assert feed_body(merger, 3, 20.0, BODY_B) is None  # another body: no merge


def test_bodies_that_disagree_veto_a_face_match():
    merger = IdentityMerger(threshold=0.9, body_veto=0.5)
    feed(merger, 1, 0.0, PERSON_A)
    feed_body(merger, 1, 0.0, BODY_A)
    feed_body(merger, 2, 10.0, BODY_B)  # same-looking face, entirely different body
    assert feed(merger, 2, 10.0, PERSON_A) is None and merger.identity_of(2) == 2


def test_a_dense_crowd_is_embedded_a_few_faces_per_frame_newest_identities_first():
    """20 lone faces in view: each frame embeds at most max_face_embeddings_per_frame of them, those with the
    fewest samples first, so every identity gets its first sample within three frames."""
    from mivolo.core.config import MergeConfig
    from mivolo.core.structures import FACE, Detections
    from tracking import MergeStep

    calls: list[int] = []

    def embed(image, xyxy):
        calls.append(len(xyxy))
        return np.tile(np.eye(128, dtype=np.float32)[0], (len(xyxy), 1))

    step = MergeStep(MergeConfig(max_face_embeddings_per_frame=8, relink=False, handover=False), embed, 60.0)
    xs = np.arange(20) * 60.0 + 10
    boxes = np.stack([xs, np.full(20, 100.0), xs + 48, np.full(20, 160.0)], axis=1).astype(np.float32)
    image = np.zeros((480, 1280, 3), np.uint8)
    for k in range(3):
        dets = Detections.from_boxes(boxes, np.full(20, 0.9, np.float32), FACE)
        dets.track_id[:] = np.arange(1, 21)
        step(image, k * 0.3, dets)
    assert calls == [8, 8, 8]
    samples = [step.merger.signatures[t].samples for t in range(1, 21)]
    assert min(samples) == 1 and max(samples) == 2  # nobody got a second look before everyone had a first
    unlimited = MergeStep(MergeConfig(max_face_embeddings_per_frame=0, relink=False, handover=False), embed, 60.0)
    calls.clear()
    unlimited(image, 0.0, dets)
    assert calls == [20]
