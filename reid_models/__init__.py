"""Re-ID model catalog, cache and downloads (``setup_reid_models.py`` is its command line)."""

from reid_models.catalog import CATALOG, ReIDModel, find
from reid_models.store import cache_dir, download, resolve_reid_weights, verify

__all__ = ["CATALOG", "ReIDModel", "cache_dir", "download", "find", "resolve_reid_weights", "verify"]
