"""The crowd trick: small faces are found inside upscaled person crops, plus on the whole frame, merged by NMS."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from mivolo.core.boxes import box_area, intersection, nms
from mivolo.core.structures import FACE, Detections

BoxFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
HEAD_FRACTION = 0.45  # the upper part of a person box searched for a face
MIN_PERSON_HEIGHT = 24


def head_regions(person_xyxy: np.ndarray, width: int, height: int) -> np.ndarray:
    """Square-ish regions over the upper part of each person box (xyxy, int, clipped)."""
    x1, y1, x2, y2 = person_xyxy.T
    w, h = x2 - x1, y2 - y1
    side = np.maximum(w, h * HEAD_FRACTION)
    cx = (x1 + x2) / 2
    regions = np.stack([cx - side / 2, y1 - 0.05 * h, cx + side / 2, y1 - 0.05 * h + side], axis=1)
    regions[:, [0, 2]] = np.clip(regions[:, [0, 2]], 0, width)
    regions[:, [1, 3]] = np.clip(regions[:, [1, 3]], 0, height)
    return np.round(regions).astype(np.int64)


def below_heads(face_xyxy: np.ndarray, person_xyxy: np.ndarray, containment: float = 0.8) -> np.ndarray:
    """Faces lying inside a person box below its head region (hands, logos on a shirt): (F,) bool.

    A face inside a visible body is in the upper part of that body; the whole-frame scan finds faces anywhere,
    so what it finds lower down in a person box is not that person's face (and, in a view from above, not the
    face of someone behind either, whose head is higher in the picture).
    """
    if len(face_xyxy) == 0 or len(person_xyxy) == 0:
        return np.zeros(len(face_xyxy), bool)
    inside = intersection(face_xyxy, person_xyxy) / np.maximum(box_area(face_xyxy), 1.0)[:, None] >= containment
    centre_y = (face_xyxy[:, 1] + face_xyxy[:, 3])[:, None] / 2
    head_bottom = person_xyxy[None, :, 1] + HEAD_FRACTION * (person_xyxy[None, :, 3] - person_xyxy[None, :, 1])
    return (inside & (centre_y > head_bottom)).any(axis=1)


class FaceFinder:
    """Faces of a frame: ``frame_detector`` on the whole frame and ``crop_detector`` on person head regions.

    Only persons whose head region holds no frame-level face are searched again, so the extra cost grows
    with the faces the full-frame pass missed, not with every person.
    """

    def __init__(self, frame_detector: BoxFn | None, crop_detector: BoxFn | None, crop_size: int = 256,
                 nms_iou: float = 0.4) -> None:
        self.frame_detector = frame_detector
        self.crop_detector = crop_detector
        self.crop_size = crop_size
        self.nms_iou = nms_iou
        self.crops_searched = 0

    def __call__(self, image: np.ndarray, person_xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xyxy, conf, _ = self.find(image, person_xyxy)
        return xyxy, conf

    def find(self, image: np.ndarray, person_xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(face boxes, confidences, index of the person whose crop each face came from, -1 for the frame)."""
        height, width = image.shape[:2]
        boxes, scores = [np.zeros((0, 4), np.float32)], [np.zeros(0, np.float32)]
        sources = [np.zeros(0, np.int64)]
        if self.frame_detector is not None:
            b, s = self.frame_detector(image)
            body = below_heads(b, person_xyxy)
            b, s = b[~body], s[~body]
            boxes.append(b)
            scores.append(s)
            sources.append(np.full(len(b), -1, np.int64))
        if self.crop_detector is not None and len(person_xyxy):
            tall = np.flatnonzero((person_xyxy[:, 3] - person_xyxy[:, 1]) >= MIN_PERSON_HEIGHT)
            regions = head_regions(person_xyxy[tall], width, height)
            if len(boxes[-1]) and len(regions):
                covered = intersection(regions.astype(np.float32), boxes[-1]).max(axis=1) > 0
                regions, tall = regions[~covered], tall[~covered]
            for person, (x1, y1, x2, y2) in zip(tall, regions, strict=True):
                if x2 - x1 < 4 or y2 - y1 < 4:
                    continue
                crop = image[y1:y2, x1:x2]
                scale = self.crop_size / max(crop.shape[:2])
                if scale > 1.0:
                    crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
                else:
                    scale = 1.0
                b, s = self.crop_detector(crop)
                self.crops_searched += 1
                if len(b):
                    boxes.append(b / scale + np.array([x1, y1, x1, y1], dtype=np.float32))
                    scores.append(s)
                    sources.append(np.full(len(b), person, np.int64))
        xyxy = np.concatenate(boxes).astype(np.float32)
        conf = np.concatenate(scores).astype(np.float32)
        keep = nms(xyxy, conf, self.nms_iou)
        return xyxy[keep], conf[keep], np.concatenate(sources)[keep]


def faces_with_sources(persons: Detections, face_xyxy: np.ndarray, face_conf: np.ndarray,
                       sources: np.ndarray) -> Detections:
    """Persons + faces; a face found in a person's crop is paired with that person (the best one per person)."""
    faces = Detections.from_boxes(face_xyxy, face_conf, FACE)
    dets = Detections.concat([persons, faces])
    offset = len(persons)
    for face in np.argsort(-face_conf):
        person = int(sources[face])
        if person >= 0 and dets.pair[person] < 0:
            dets.pair[person] = offset + face
            dets.pair[offset + face] = person
    return dets
