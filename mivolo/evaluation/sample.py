"""A sample crowd clip built from photos of people that ship inside installed packages (no media committed).

People: the two pedestrians of ultralytics' bus.jpg, the two men of ultralytics' zidane.jpg, Grace Hopper
from matplotlib's sample data and Eileen Collins from scikit-image's astronaut. Each walks in from the left,
crosses the frame and leaves; they never overlap, so the clip has exactly ``len(people)`` identities.

    python -m mivolo.evaluation.sample samples/crowd.mp4
"""

from __future__ import annotations

import argparse
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sprite:
    name: str
    image: np.ndarray  # BGR
    height: int  # drawn height in pixels
    gender: str  # of the person in the photo (for benchmarks)


def _ultralytics_asset(name: str) -> np.ndarray:
    from mivolo.core.paths import package_file

    path = package_file("ultralytics", "assets", name, install_hint="its bus.jpg and zidane.jpg are used")
    image = cv2.imread(str(path))
    if image is None:
        raise FileNotFoundError(path)
    return image


def load_sprites() -> list[Sprite]:
    import matplotlib.cbook
    import skimage.data

    bus = _ultralytics_asset("bus.jpg")
    zidane = _ultralytics_asset("zidane.jpg")
    hopper = cv2.imread(str(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    astronaut = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    return [
        Sprite("bus_left", bus[405:916, 40:222], 500, "male"),
        Sprite("zidane_jpg_right", zidane[40:714, 690:1130], 420, "male"),
        Sprite("bus_middle", bus[395:866, 210:358], 500, "male"),
        Sprite("grace_hopper", hopper[0:560, 0:490], 380, "female"),
        Sprite("zidane_jpg_left", zidane[190:714, 230:690], 420, "male"),
        Sprite("astronaut", astronaut[10:490, 0:380], 380, "female"),
    ]


def background(width: int, height: int) -> np.ndarray:
    """A plain wall and floor, with some texture so camera-motion compensation has something to lock on."""
    rng = np.random.default_rng(7)
    wall = np.linspace(190, 150, height, dtype=np.float32)[:, None, None] * np.array([1.0, 0.95, 0.85], np.float32)
    image = np.broadcast_to(wall, (height, width, 3)).copy()
    floor = int(height * 0.72)
    image[floor:] = np.array([110, 120, 125], np.float32)
    image += rng.normal(0, 6, image.shape).astype(np.float32)
    for x in range(0, width, 160):
        cv2.line(image, (x, floor), (x + (x - width // 2) // 2, height), (90, 100, 105), 2)
    return np.clip(image, 0, 255).astype(np.uint8)


def make_sample_video(path: str | Path, fps: float = 15.0, size: tuple[int, int] = (1280, 720),
                      people: int | None = None, seconds_per_crossing: float = 4.0, come_back: bool = False,
                      ground_truth: str | Path | None = None) -> int:
    """Write the clip; returns the number of distinct people in it.

    ``come_back``: after everyone has crossed, they walk back (right to left) in the same order, so each person
    leaves and re-enters once: a tracker alone sees twice as many tracks as there are people.
    ``ground_truth``: also write each person's visible box per frame in MOTChallenge format
    (``frame,id,x,y,w,h,1,1,1``; person ids 1..N stay the same when they come back).
    """
    sprites = load_sprites()[: people or None]
    width, height = size
    base = background(width, height)
    scaled = []
    for sprite in sprites:
        h = int(sprite.height * height / 720)
        w = int(sprite.image.shape[1] * h / sprite.image.shape[0])
        scaled.append(cv2.resize(sprite.image, (w, h), interpolation=cv2.INTER_AREA))
    speed = (width + max(s.shape[1] for s in scaled)) / seconds_per_crossing  # px per second
    gap_s = (max(s.shape[1] for s in scaled) + 0.12 * width) / speed  # entries never overlap
    one_way = gap_s * (len(scaled) - 1) + seconds_per_crossing + 0.3
    duration = one_way * (2 if come_back else 1)
    frames = int(duration * fps)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.part{path.suffix}")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"cannot write {path}")
    floor = int(height * 0.95)
    truth_lines: list[str] = []
    for index in range(frames):
        t = index / fps
        back = t >= one_way
        t_pass = t - one_way if back else t
        canvas = base.copy()
        for i, sprite in enumerate(scaled):
            h, w = sprite.shape[:2]
            x = int(-w + (t_pass - i * gap_s) * speed)
            if back:  # walking back the other way (the photo is not mirrored: faces stay as they were)
                x = width - x - w
            bob = int(4 * np.sin(2 * np.pi * 1.5 * t + i))  # a little walking bounce
            y = floor - h + bob
            x1, x2 = max(x, 0), min(x + w, width)
            if x2 <= x1:
                continue
            y1, y2 = max(y, 0), min(y + h, height)
            canvas[y1:y2, x1:x2] = sprite[y1 - y:y2 - y, x1 - x:x2 - x]
            truth_lines.append(f"{index + 1},{i + 1},{x1},{y1},{x2 - x1},{y2 - y1},1,1,1\n")
        writer.write(canvas)
    writer.release()
    os.replace(tmp, path)
    if ground_truth is not None:
        Path(ground_truth).write_text("".join(truth_lines))
    log.info("sample: %s, %d frames at %.0f fps, %d people", path, frames, fps, len(scaled))
    return len(scaled)


def sample_genders(people: int | None = None) -> list[str]:
    """Gender of person 1..N of the clip (ground truth for benchmarks)."""
    return [sprite.gender for sprite in load_sprites()[: people or None]]


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the sample crowd clip")
    parser.add_argument("output", nargs="?", default="samples/crowd.mp4")
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--people", type=int, default=None, help="how many of the 6 people (default all)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    make_sample_video(args.output, fps=args.fps, people=args.people)


if __name__ == "__main__":
    main()
