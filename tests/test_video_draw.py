"""The annotated video names every identity on screen: a face seen without its body carries the label itself."""

import numpy as np

from mivolo.sinks.video import draw

IMAGE = np.zeros((400, 400, 3), np.uint8)
FACE = np.array([[100, 150, 140, 190]], np.float32)
PERSON = np.array([[250, 100, 330, 380]], np.float32)


def tag_area(canvas: np.ndarray) -> np.ndarray:
    return canvas[125:148, 102:160]  # just above the face box, where a label is drawn


def test_a_lone_face_is_labelled_and_a_face_with_its_body_is_not():
    lone = draw(IMAGE, FACE, np.array([4]), np.array([1]), {4: "#4 F 30"}, "")
    assert tag_area(lone).any()
    with_body = draw(IMAGE, np.vstack([FACE, PERSON]), np.array([4, 4]), np.array([1, 0]), {4: "#4 F 30"}, "")
    assert not tag_area(with_body).any()  # the label sits on the person box instead
    assert with_body[90:100, 252:300].any()
