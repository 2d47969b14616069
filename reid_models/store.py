"""The Re-ID weight cache: catalog name or local path -> file on disk (``mivolo.core.model_store`` does the work)."""

from __future__ import annotations

from pathlib import Path

from mivolo.core.model_store import ModelStore, sha256_of
from reid_models.catalog import CATALOG, ReIDModel, find

STORE = ModelStore("reid_models", CATALOG, find, "setup_reid_models.py", "--reid-weights")


def cache_dir() -> Path:
    """The Re-ID weight cache: $MIVOLO_CACHE_DIR/reid_models, else $XDG_CACHE_HOME/mivolo-crowd/reid_models, ..."""
    return STORE.cache_dir()


def recorded_hashes(folder: Path | None = None) -> dict[str, str]:
    return STORE.recorded_hashes(folder)


def expected_hash(model: ReIDModel, folder: Path) -> str | None:
    return STORE.expected_hash(model, folder)


def cached_path(model: ReIDModel, folder: Path | None = None) -> Path | None:
    return STORE.cached_path(model, folder)


def download(model: ReIDModel, folder: Path | None = None, progress: bool = True, url: str | None = None) -> Path:
    """Fetch ``model`` into the cache: resume a partial file, check the hash, rename into place atomically."""
    return STORE.download(model, folder, progress, url)


def verify(folder: Path | None = None) -> list[tuple[str, bool, str]]:
    """(file, ok, reason) for each cached catalog file; a corrupted file is deleted."""
    return STORE.verify(folder)


def resolve_reid_weights(name_or_path: str) -> Path:
    """A local file, or a catalog name already in the cache. Nothing is downloaded here."""
    return STORE.resolve(name_or_path, "Re-ID weights")


__all__ = ["STORE", "cache_dir", "cached_path", "download", "expected_hash", "recorded_hashes",
           "resolve_reid_weights", "sha256_of", "verify"]
