"""Synthetic people for the colour cues' tests (swap and jump repair): boxes of one height at a fixed row, painted
in two clothing colours (upper and lower body) on a grey frame."""

import numpy as np

RED, BLUE, GREEN, GREY = (30, 30, 220), (220, 40, 30), (40, 200, 40), (128, 128, 128)


def box(cx: float, h: float = 120.0) -> np.ndarray:
    """(4,) xyxy of a person centred at ``cx`` on row 240, ``h`` tall and 0.4 ``h`` wide."""
    return np.array([cx - h / 5, 240 - h / 2, cx + h / 5, 240 + h / 2], np.float32)


def painted(boxes: list[tuple[np.ndarray, tuple, tuple]], width: int = 640, height: int = 480) -> np.ndarray:
    """A BGR frame with each ``(box, top colour, bottom colour)`` painted in order (later ones in front)."""
    image = np.full((height, width, 3), 90, np.uint8)
    for b, top, bottom in boxes:
        x1, y1, x2, y2 = np.round(b).astype(int)
        image[y1:(y1 + y2) // 2, x1:x2] = top
        image[(y1 + y2) // 2:y2, x1:x2] = bottom
    return image
