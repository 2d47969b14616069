from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
os.environ.setdefault("XDG_CACHE_HOME", str(ROOT / ".cache"))

from mivolo.core.environment import configure_environment  # noqa: E402 (after the cache folder is chosen)

configure_environment()


@pytest.fixture(scope="session")
def sample_clip(tmp_path_factory) -> tuple[Path, int]:
    """A short generated clip with a known number of people (3), at a low frame rate to keep tests fast."""
    from mivolo.evaluation.sample import make_sample_video

    path = tmp_path_factory.mktemp("clip") / "crowd3.mp4"
    people = make_sample_video(path, fps=8.0, size=(960, 540), people=3)
    return path, people


@pytest.fixture(scope="session")
def mot_frames() -> Path:
    path = SHARED / "mot" / "MOT17-02-FRCNN"
    if not (path / "img1").is_dir():
        pytest.skip("../shared/data is not present")
    return path
