"""--privacy off|blur|strict: blurred faces are no longer faces to our detectors; strict keeps no face pixels and
no face signatures; face signatures live in memory only and go when an identity is finalised."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

import demo
import mivolo.pipeline
from mivolo.core.boxes import iou_matrix
from mivolo.core.config import SettleConfig
from mivolo.core.privacy import HEAD_FRACTION, blur_people, blur_regions, privacy_regions
from mivolo.core.structures import FACE, PERSON, Detections
from tracking import Identities
from tracking.merging import MergeStep

ROOT = Path(__file__).resolve().parents[1]
UTK = ROOT.parent / "shared" / "data" / "faces" / "utkface_sample"


@pytest.fixture(scope="module")
def detectors() -> dict:
    from mivolo.detection.blazeface import BlazeFaceDetector, whole_frame_faces
    from mivolo.detection.fallbacks import DlibHogFaceDetector

    return {"blazeface-short": BlazeFaceDetector("short"), "blazeface-scan": whole_frame_faces(),
            "dlib-hog": DlibHogFaceDetector()}


def test_regions_cover_grown_faces_and_the_heads_of_persons():
    regions = privacy_regions(np.array([[100, 100, 140, 150], [0, 0, 100, 300]]), np.array([True, False]))
    assert regions[0].tolist() == [90, 87.5, 150, 162.5]  # 25 % more on every side
    assert regions[1].tolist() == [0, 0, 100, pytest.approx(300 * HEAD_FRACTION)]
    image = np.random.default_rng(0).integers(0, 255, (200, 200, 3), np.uint8)
    out = blur_regions(image.copy(), np.array([[-20, -20, 50, 50], [190, 190, 400, 400]]))  # clipped, not failing
    assert not np.array_equal(out[:50, :50], image[:50, :50]) and np.array_equal(out[60:180, 60:180],
                                                                                   image[60:180, 60:180])


def _faces_found(detector, images: list[np.ndarray]) -> int:
    return sum(len(detector(image)[0]) > 0 for image in images)


def _in_frame(face: np.ndarray, size: int = 96) -> np.ndarray:
    """A face scaled to ``size`` px on a plain 640x360 frame, as a face in a video."""
    frame = np.full((360, 640, 3), 120, np.uint8)
    frame[100:100 + size, 300:300 + size] = cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA)
    return frame


@pytest.mark.parametrize("layout", ["photo", "in a frame"])
def test_a_blurred_face_is_not_found_by_our_face_detectors(detectors, layout):
    if not UTK.is_dir():
        pytest.skip("../shared/data/faces/utkface_sample is not present")
    faces = [cv2.imread(str(p)) for p in sorted(UTK.glob("*.jpg"))]
    images = [f if layout == "photo" else _in_frame(f) for f in faces]
    blurred = []
    for image in images:  # the box our pipeline would blur: the face as the default face detectors find it
        boxes, _ = detectors["blazeface-scan"](image)
        boxes = boxes if len(boxes) else detectors["blazeface-short"](image)[0]
        blurred.append(blur_people(image, boxes, np.ones(len(boxes), bool)) if len(boxes) else image)
    for name, detector in detectors.items():
        assert _faces_found(detector, images) >= 0.8 * len(images), name  # they are faces to this detector ...
        assert _faces_found(detector, blurred) == 0, name  # ... and no longer once blurred


def _frame_with_face() -> tuple[np.ndarray, Detections]:
    image = np.random.default_rng(1).integers(0, 255, (400, 400, 3), np.uint8)
    dets = Detections.from_boxes([[100, 50, 200, 390], [130, 60, 170, 110]], [0.9, 0.9], [PERSON, FACE])
    dets.track_id[:] = 1
    dets.pair[:] = [1, 0]
    return image, dets


@pytest.mark.parametrize("privacy", ["off", "blur", "strict"])
def test_identities_keep_a_blurred_crop_or_none(privacy):
    image, dets = _frame_with_face()
    identities = Identities(SettleConfig(min_frames=1), min_seen_s=0.0, privacy=privacy)
    identities.update(0, 0.0, image, dets)
    identities.retire(None)
    crop = identities.finished[0].crop
    if privacy == "strict":
        assert crop is None
        return
    # the crop is the person box with a 10 % margin: (90, 16)-(210, 424) clipped to the image
    face = (slice(60 - 16, 110 - 16), slice(130 - 90, 170 - 90))
    legs = (slice(300 - 16, 380 - 16), slice(110 - 90, 190 - 90))
    original = image[16:400, 90:210]
    assert np.array_equal(crop[legs], original[legs])
    assert np.array_equal(crop[face], original[face]) == (privacy == "off")


# ---- whole runs ----------------------------------------------------------------------------------------------------
def _run(clip: Path, out: Path, *args: str) -> Path:
    assert demo.main(["--input", str(clip), "--output", str(out), "--save-json", "--no-progress", *args]) == 0
    return out


def _video_faces(path: Path, detector) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    found = []
    while True:
        ok, frame = capture.read()
        if not ok:
            return found
        found.append(detector(frame)[0])


@pytest.mark.slow
def test_blur_run_leaves_no_findable_face_in_video_or_crops(sample_clip, tmp_path, detectors):
    clip, _ = sample_clip
    off = _run(clip, tmp_path / "off", "--draw")
    blur = _run(clip, tmp_path / "blur", "--draw", "--privacy", "blur")
    assert json.loads((blur / "run.json").read_text())["privacy"]["level"] == "blur"
    for name, detector in detectors.items():
        crops_off = [cv2.imread(str(p)) for p in sorted((off / "crops").glob("*.jpg"))]
        crops_blur = [cv2.imread(str(p)) for p in sorted((blur / "crops").glob("*.jpg"))]
        assert len(crops_blur) == len(crops_off) > 0
        if name != "blazeface-short":  # the short-range model looks for faces filling its input: not in crops
            assert _faces_found(detector, crops_off) >= len(crops_off) - 1, name
        assert _faces_found(detector, crops_blur) == 0, name
    # real faces of the plain video: where the whole-frame scan and dlib's HOG detector agree
    scan, hog = detectors["blazeface-scan"], detectors["dlib-hog"]
    truth = [a[iou_matrix(a, b).max(axis=1) > 0.3] if len(a) and len(b) else a[:0]
             for a, b in zip(_video_faces(off / "annotated.mp4", scan), _video_faces(off / "annotated.mp4", hog),
                             strict=True)]
    assert sum(len(t) for t in truth) >= 10
    for found in (_video_faces(blur / "annotated.mp4", scan), _video_faces(blur / "annotated.mp4", hog)):
        assert len(found) == len(truth)
        hits = [iou_matrix(t, f).max() > 0.3 for t, f in zip(truth, found, strict=True) if len(t) and len(f)]
        assert not any(hits)
    assert not list(blur.glob(".*"))  # the blur spool is gone


class RecordingMergeStep(MergeStep):
    """The merge step, recording how many face signatures it holds and what is left after each ``forget``."""

    instances: list[RecordingMergeStep] = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.most_signed = 0
        self.left_after_forget: list[set[int]] = []
        RecordingMergeStep.instances.append(self)

    def __call__(self, image, time_s, dets):
        out = super().__call__(image, time_s, dets)
        signed = sum(s.samples > 0 for s in self.merger.signatures.values())
        self.most_signed = max(self.most_signed, signed)
        return out

    def forget(self, identity_ids: set[int]) -> None:
        super().forget(identity_ids)
        self.left_after_forget.append(identity_ids & set(self.merger.signatures))


@pytest.fixture(scope="module")
def strict_run(sample_clip, tmp_path_factory):
    clip, people = sample_clip
    patch = pytest.MonkeyPatch()
    patch.setattr(mivolo.pipeline, "MergeStep", RecordingMergeStep)
    RecordingMergeStep.instances.clear()
    try:  # identities that leave for 1 s are finalised during the run, the others at its end
        out = _run(clip, tmp_path_factory.mktemp("strict"), "--privacy", "strict", "--forget-after", "1")
    finally:
        patch.undo()
    return out, people, RecordingMergeStep.instances[-1]


def test_face_signatures_live_in_memory_and_go_when_an_identity_is_finalised(strict_run):
    _, people, merge = strict_run
    assert merge.most_signed >= 2  # faces were signed during the run ...
    assert len(merge.left_after_forget) >= 2 and all(left == set() for left in merge.left_after_forget)
    assert merge.merger.signatures == {}  # ... and none is left once every identity is finalised


def test_strict_keeps_no_face_pixels_and_no_signatures(strict_run):
    out, people, _ = strict_run
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert files == ["demographics.json", "identities.csv", "identities.json", "report.html", "run.json",
                     "tracks.txt"]
    rows = json.loads((out / "identities.json").read_text())["identities"]
    assert len(rows) == people and all(r["best_crop"] is None for r in rows)
    demographics = json.loads((out / "demographics.json").read_text())
    assert all(p["crop"] is None for b in demographics["buckets"] for p in b["people"])
    run = json.loads((out / "run.json").read_text())
    assert run["privacy"]["level"] == run["config"]["output"]["privacy"] == "strict"
    html = (out / "report.html").read_text()
    assert "data:image" not in html and html.count('class="silhouette"') == people

    def vectors(node) -> int:
        """Lists of 16 or more real numbers anywhere in a JSON document (an embedding has 128 or 512)."""
        if isinstance(node, dict):
            return sum(vectors(v) for v in node.values())
        if isinstance(node, list):
            flat = len(node) >= 16 and all(isinstance(v, float) for v in node)
            return int(flat) + sum(vectors(v) for v in node)
        return 0

    assert vectors([[0.5] * 128]) == 1  # the check finds one
    assert sum(vectors(json.loads((out / f).read_text())) for f in files if f.endswith(".json")) == 0


@pytest.mark.parametrize("extra, message", [(["--draw"], "--privacy strict writes no video"),
                                            (["--save-crops"], "--privacy strict keeps no crops"),
                                            (["--privacy", "fuzzy"], "invalid choice")])
def test_strict_refuses_what_it_cannot_keep(sample_clip, tmp_path, capsys, extra, message):
    clip, _ = sample_clip
    args = ["--input", str(clip), "--output", str(tmp_path), "--no-progress"]
    args += extra if extra[0] == "--privacy" else ["--privacy", "strict", *extra]
    try:
        code = demo.main(args)
    except SystemExit as exc:  # argparse
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0]
    assert not (tmp_path / "identities.json").exists()
