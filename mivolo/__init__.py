"""Crowd demographics from video: detect, track, and settle one age and gender per person.

``from mivolo import Pipeline, PipelineConfig`` is the Python API the CLI (demo.py) uses. Importing the package
is cheap and has no side effects; ``Pipeline`` applies the process settings it needs when it is built.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:  # lazy: importing mivolo must stay cheap
    if name in ("Pipeline", "RunSummary"):
        from mivolo import pipeline

        return getattr(pipeline, name)
    if name in ("PipelineConfig", "load_config"):
        from mivolo.core import config

        return getattr(config, name)
    raise AttributeError(f"module 'mivolo' has no attribute {name!r}")


__all__ = ["Pipeline", "PipelineConfig", "RunSummary", "__version__", "load_config"]
