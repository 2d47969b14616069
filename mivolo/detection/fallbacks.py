"""Last-resort detectors that need no model package: dlib's HOG face detector, OpenCV's HOG people detector."""

from __future__ import annotations

import cv2
import numpy as np

from mivolo.core.boxes import clip_boxes


class DlibHogFaceDetector:
    """dlib's frontal face detector (HOG + linear SVM); finds faces of about 40 px and up with one upsampling."""

    name = "dlib-hog-face"

    def __init__(self, conf: float = 0.0, upsample: int = 1) -> None:
        import dlib

        self.detector = dlib.get_frontal_face_detector()
        self.upsample = upsample
        self.threshold = conf

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rgb = np.ascontiguousarray(image[:, :, ::-1])
        rects, scores, _ = self.detector.run(rgb, self.upsample, -0.2)
        boxes = [(r.left(), r.top(), r.right(), r.bottom()) for r in rects]
        xyxy = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        # SVM margins -> (0, 1) confidences
        conf = 1.0 / (1.0 + np.exp(-2.0 * np.asarray(scores, dtype=np.float32)))
        keep = conf >= self.threshold
        height, width = image.shape[:2]
        xyxy = clip_boxes(xyxy, width, height)
        return xyxy[keep], conf[keep].astype(np.float32)


class HogPeopleDetector:
    """OpenCV's HOG + SVM people detector: much weaker than SSDLite, used only when no model package is present."""

    name = "opencv-hog-people"

    def __init__(self, conf: float = 0.4) -> None:
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.conf = conf

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rects, weights = self.hog.detectMultiScale(image, winStride=(8, 8), padding=(8, 8), scale=1.05)
        if len(rects) == 0:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        rects = np.asarray(rects, dtype=np.float32)
        xyxy = np.column_stack([rects[:, 0], rects[:, 1], rects[:, 0] + rects[:, 2], rects[:, 1] + rects[:, 3]])
        conf = 1.0 / (1.0 + np.exp(-np.asarray(weights, dtype=np.float32).reshape(-1)))
        keep = conf >= self.conf
        return xyxy[keep], conf[keep]
