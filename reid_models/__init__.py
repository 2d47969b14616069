"""Re-ID model catalog, cache and downloads (``setup_reid_models.py`` is its command line)."""

from pathlib import Path
from typing import Any

from reid_models.catalog import CATALOG, ReIDModel, find
from reid_models.store import cache_dir, download, resolve_reid_weights, verify


def load_custom_reid(weights: Path, device: str = "cpu", half: bool = False) -> Any:
    """CLIP-ReID model for a CLIP-ReID checkpoint, else None (lazy: torch and open_clip load only when asked)."""
    from reid_models.clip_reid import load_custom_reid as _load

    return _load(weights, device, half)


__all__ = ["CATALOG", "ReIDModel", "cache_dir", "download", "find", "load_custom_reid", "resolve_reid_weights",
           "verify"]
