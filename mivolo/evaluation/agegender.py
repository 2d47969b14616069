"""Age/gender accuracy on labelled face datasets: the layouts MiVOLO uses plus a plain UTKFace-named folder.

Annotation CSVs (utk, imdb, lagenda, fairface, adience, agedb as MiVOLO's tools write them): columns
``img_name, age, gender, face_x0, face_y0, face_x1, face_y1`` and optionally ``person_x0 .. person_y1``;
-1 marks a missing value; ``age`` may be a range ``a;b`` (adience, fairface); ``gender`` is M or F.
A folder: images named ``age_gender_race_*.jpg`` (UTKFace: gender 0 = male, 1 = female), or a ``labels.csv``
with ``filename, age, gender`` columns beside them.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mivolo.core.errors import UserError

DATASET_TYPES = ("utk", "imdb", "lagenda", "fairface", "adience", "agedb", "folder")
AGE_BANDS = ((0, 13), (13, 20), (20, 30), (30, 40), (40, 50), (50, 60), (60, 70), (70, 200))
UTK_NAME = re.compile(r"^(\d+)_([01])_")


@dataclass
class Sample:
    image_path: Path
    age: float | None  # years, or the centre of a range
    age_range: tuple[float, float] | None
    male: bool | None
    face: np.ndarray | None  # xyxy or None
    person: np.ndarray | None


def _box(values: list[str]) -> np.ndarray | None:
    box = np.array([float(v) for v in values], dtype=np.float64)
    return None if (box == -1).all() else box


def _age(text: str) -> tuple[float | None, tuple[float, float] | None]:
    text = text.strip()
    if text in ("", "-1"):
        return None, None
    if ";" in text:
        low, high = (float(v) for v in text.split(";"))
        return (low + high) / 2, (low, high)
    return float(text), None


def read_annotations(csv_path: Path, images_dir: Path) -> list[Sample]:
    samples = []
    with open(csv_path, newline="") as handle:
        reader = csv.DictReader(handle)
        needed = {"img_name", "age", "gender", "face_x0", "face_y0", "face_x1", "face_y1"}
        if not needed <= set(reader.fieldnames or []):
            raise UserError(f"{csv_path}: not a MiVOLO annotation file (needs columns {', '.join(sorted(needed))})")
        with_persons = "person_x0" in (reader.fieldnames or [])
        for row in reader:
            age, age_range = _age(row["age"])
            gender = row["gender"].strip().upper()
            person = _box([row[k] for k in ("person_x0", "person_y0", "person_x1", "person_y1")]) \
                if with_persons else None
            samples.append(Sample(images_dir / row["img_name"], age, age_range,
                                  None if gender not in ("M", "F") else gender == "M",
                                  _box([row[k] for k in ("face_x0", "face_y0", "face_x1", "face_y1")]), person))
    return samples


def read_folder(folder: Path) -> list[Sample]:
    labels = folder / "labels.csv"
    samples = []
    if labels.is_file():
        with open(labels, newline="") as handle:
            for row in csv.DictReader(handle):
                gender = row.get("gender", "").strip().lower()
                male = True if gender in ("male", "m", "0") else False if gender in ("female", "f", "1") else None
                samples.append(Sample(folder / row["filename"], float(row["age"]), None, male, None, None))
        return samples
    for path in sorted(folder.iterdir()):
        match = UTK_NAME.match(path.name)
        if match and path.suffix.lower() in (".jpg", ".jpeg", ".png"):
            samples.append(Sample(path, float(match.group(1)), None, match.group(2) == "0", None, None))
    return samples


def load_dataset(kind: str, images: Path, annotations: Path | None, split: str | None) -> list[Sample]:
    if kind not in DATASET_TYPES:
        raise UserError(f"unknown dataset type {kind!r} (valid: {', '.join(DATASET_TYPES)})")
    if not images.is_dir():
        raise UserError(f"image folder not found: {images}")
    if kind == "folder":
        samples = read_folder(images)
    else:
        source = annotations or images.parent / "annotations"
        files = [source] if source.is_file() else sorted(source.glob("*.csv")) if source.is_dir() else []
        files = [f for f in files if split is None or split in f.name]
        if not files:
            raise UserError(f"no annotation CSV found at {source}" + (f" for split {split!r}" if split else ""))
        samples = [s for f in files for s in read_annotations(f, images)]
    samples = [s for s in samples if s.age is not None or s.male is not None]
    if not samples:
        raise UserError(f"no labelled samples in {images}")
    return samples


@dataclass
class Prediction:
    age: float
    male_p: float


def _batches(samples: list[Sample], batch_size: int, find_face: Callable[[np.ndarray], np.ndarray | None] | None,
             counts: dict[str, int]) -> Iterator[list[tuple[np.ndarray, Sample]]]:
    """Readable images with their face box (found by ``find_face`` where the sample has none), in batches."""
    batch = []
    for sample in samples:
        image = cv2.imread(str(sample.image_path))
        if image is None:
            counts["unreadable_images"] += 1
            continue
        if sample.face is None and find_face is not None:
            sample.face = find_face(image)
            if sample.face is None:
                counts["images_without_detectable_face"] += 1
                height, width = image.shape[:2]
                sample.face = np.array([0, 0, width, height], np.float64)  # a face chip: the whole image
        batch.append((image, sample))
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def evaluate(samples: list[Sample], predict: Callable[[list[tuple[np.ndarray, Sample]]], list[Prediction]],
             batch_size: int, find_face: Callable[[np.ndarray], np.ndarray | None] | None) -> dict:
    """Run ``predict`` over batches of (image, sample) and compute the report."""
    ages_true, ages_pred, genders_true, genders_pred, ranges, gender_ages = [], [], [], [], [], []
    counts = {"unreadable_images": 0, "images_without_detectable_face": 0}
    started = time.perf_counter()
    evaluated = 0
    for batch in _batches(samples, batch_size, find_face, counts):
        for (_, sample), pred in zip(batch, predict(batch), strict=True):
            evaluated += 1
            if sample.age is not None and np.isfinite(pred.age):
                ages_true.append(sample.age)
                ages_pred.append(pred.age)
                ranges.append(sample.age_range)
            if sample.male is not None and np.isfinite(pred.male_p):
                genders_true.append(sample.male)
                genders_pred.append(pred.male_p >= 0.5)
                gender_ages.append(pred.age)
    seconds = time.perf_counter() - started
    report: dict = {"samples": len(samples), "evaluated": evaluated, **counts, "seconds": round(seconds, 3),
                    "images_per_second": round(evaluated / seconds, 2) if seconds > 0 else None}
    if ages_true:
        report.update(age_report(np.array(ages_true), np.array(ages_pred), ranges))
    if genders_true:
        right = np.array(genders_true) == np.array(genders_pred)
        report["gender_accuracy"] = round(float(np.mean(right) * 100), 2)
        report["gender_by_predicted_age"] = gender_by_age(right, np.array(gender_ages, np.float64))
    return report


GENDER_AGE_BANDS = ((0, 8), (8, 13), (13, 20), (20, 200))  # small children, older ones, teens, adults


def gender_by_age(right: np.ndarray, predicted_age: np.ndarray) -> dict:
    """Gender accuracy per band of the *predicted* age (``GENDER_AGE_BANDS``; a NaN age: band "unknown"): ``right``
    (N,) bool, ``predicted_age`` (N,). What a video run knows of a person is the age the model gave, so this is
    where a rule such as "no gender below some age" (``--min-gender-age``) can be judged."""
    bands = {}
    for low, high in GENDER_AGE_BANDS:
        mask = (predicted_age >= low) & (predicted_age < high)
        if mask.any():
            name = f"{low}-{high - 1}" if high < 200 else f"{low}+"
            bands[name] = {"n": int(mask.sum()), "right": int(right[mask].sum()),
                           "accuracy": round(float(right[mask].mean() * 100), 2)}
    unknown = np.isnan(predicted_age)
    if unknown.any():
        bands["unknown"] = {"n": int(unknown.sum()), "right": int(right[unknown].sum()),
                            "accuracy": round(float(right[unknown].mean() * 100), 2)}
    return bands


def age_report(true: np.ndarray, pred: np.ndarray, ranges: list[tuple[int, int] | None]) -> dict:
    """MAE, CS@5, MAE per age band and (for datasets labelled with ranges) the share inside the range."""
    errors = np.abs(true - pred)
    report: dict = {"age_mae": round(float(errors.mean()), 3), "age_cs5": round(float((errors <= 5).mean() * 100), 2)}
    bands = {}
    for low, high in AGE_BANDS:
        mask = (true >= low) & (true < high)
        if mask.any():
            name = f"{low}-{high - 1}" if high < 200 else f"{low}+"
            bands[name] = {"n": int(mask.sum()), "mae": round(float(errors[mask].mean()), 3)}
    report["age_bands"] = bands
    if any(r is not None for r in ranges):
        hits = [r[0] <= p <= r[1] for p, r in zip(pred, ranges, strict=True) if r is not None]
        report["age_group_accuracy"] = round(float(np.mean(hits) * 100), 2)
    return report
