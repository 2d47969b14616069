"""Face to person association: one face per person, Hungarian assignment on face-in-upper-body containment."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from mivolo.core.boxes import box_area, intersection
from mivolo.core.structures import Detections

UPPER_FRACTION = 0.5  # a face belongs in the upper half of its person's box
MIN_CONTAINMENT = 0.6  # at least this share of the face box must lie there
HEAD_ONLY_SHARE = 0.3  # a face this large a share of a person box: the box is a head (a close-up): anywhere in it


def associate(dets: Detections, min_containment: float = MIN_CONTAINMENT) -> Detections:
    """Fill ``dets.pair`` (person row <-> face row): a face pairs with a person when most of it
    (``min_containment``) lies in the upper half of the person's box, or anywhere in it when the face is at least
    ``HEAD_ONLY_SHARE`` of the box (a close-up, where the person detector boxes the head). Unmatched faces and
    persons keep -1."""
    dets.pair[:] = -1
    persons = np.flatnonzero(dets.is_person)
    faces = np.flatnonzero(dets.is_face)
    if len(persons) == 0 or len(faces) == 0:
        return dets
    person_xyxy = dets.xyxy[persons].copy()
    upper = person_xyxy.copy()
    upper[:, 3] = upper[:, 1] + (upper[:, 3] - upper[:, 1]) * UPPER_FRACTION
    face_xyxy = dets.xyxy[faces]
    face_area = np.maximum(box_area(face_xyxy), 1e-6)[:, None]
    containment = intersection(face_xyxy, upper) / face_area
    # a close-up (a photo of a face, a webcam): the person box is the head itself, the face fills most of it
    head_only = face_area / np.maximum(box_area(person_xyxy), 1e-6)[None, :] >= HEAD_ONLY_SHARE
    containment = np.where(head_only, intersection(face_xyxy, person_xyxy) / face_area, containment)
    # Tie-break between overlapping persons: prefer the one whose centre line passes through the face.
    face_cx = (face_xyxy[:, 0] + face_xyxy[:, 2]) / 2
    person_cx = (person_xyxy[:, 0] + person_xyxy[:, 2]) / 2
    person_w = np.maximum(person_xyxy[:, 2] - person_xyxy[:, 0], 1.0)
    off_centre = np.abs(face_cx[:, None] - person_cx[None, :]) / person_w[None, :]
    score = containment - 0.25 * off_centre
    rows, cols = linear_sum_assignment(-score)
    ok = containment[rows, cols] >= min_containment
    face_rows, person_rows = faces[rows[ok]], persons[cols[ok]]
    dets.pair[face_rows] = person_rows
    dets.pair[person_rows] = face_rows
    return dets
