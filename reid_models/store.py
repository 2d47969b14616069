"""The Re-ID weight cache: catalog name or local path -> file on disk; downloads with resume, hash and rename."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path

from mivolo.core.errors import UserError
from mivolo.core.paths import cache_dir as shared_cache_dir
from mivolo.core.paths import ensure_writable_dir
from reid_models.catalog import ReIDModel, find

log = logging.getLogger(__name__)
CHUNK = 1 << 16
TIMEOUT_S = 30


def cache_dir() -> Path:
    """The Re-ID weight cache: $MIVOLO_CACHE_DIR/reid_models, else $XDG_CACHE_HOME/mivolo-crowd/reid_models, ..."""
    return shared_cache_dir("reid_models")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _hash_book(folder: Path) -> Path:
    return folder / "hashes.json"


def recorded_hashes(folder: Path | None = None) -> dict[str, str]:
    path = _hash_book(folder or cache_dir())
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        return {}


def _record_hash(folder: Path, filename: str, digest: str) -> None:
    book = recorded_hashes(folder)
    book[filename] = digest
    tmp = _hash_book(folder).with_suffix(".tmp")
    tmp.write_text(json.dumps(book, indent=2, sort_keys=True))
    os.replace(tmp, _hash_book(folder))


def expected_hash(model: ReIDModel, folder: Path) -> str | None:
    return model.sha256 or recorded_hashes(folder).get(model.filename)


def cached_path(model: ReIDModel, folder: Path | None = None) -> Path | None:
    path = (folder or cache_dir()) / model.filename
    return path if path.is_file() else None


def download(model: ReIDModel, folder: Path | None = None, progress: bool = True, url: str | None = None) -> Path:
    """Fetch ``model`` into the cache: resume a partial file, check the hash, rename into place atomically."""
    folder = ensure_writable_dir(folder or cache_dir(), "Re-ID cache", "; set MIVOLO_CACHE_DIR")
    target = folder / model.filename
    partial = folder / f".{model.filename}.part"
    start = partial.stat().st_size if partial.exists() else 0
    response = _open_download(model, url or model.url, start)
    if response is not None:
        with response:
            _receive(model, response, partial, start, progress)
    digest = sha256_of(partial)
    expected = expected_hash(model, folder)
    if expected and digest != expected:
        partial.unlink(missing_ok=True)
        raise UserError(f"{model.name}: sha256 {digest[:16]}… does not match the expected {expected[:16]}…; the "
                        "file was deleted")
    os.replace(partial, target)
    if not expected:
        _record_hash(folder, model.filename, digest)
        log.info("%s: no published checksum; recorded sha256 %s for later --verify", model.name, digest[:16])
    return target


def _open_download(model: ReIDModel, url: str, start: int):  # -> http.client.HTTPResponse | None
    """The server's response from byte ``start`` on; None when a resumed file is already complete."""
    request = urllib.request.Request(url, headers={"User-Agent": "mivolo-crowd"})
    if start:
        request.add_header("Range", f"bytes={start}-")
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and start:  # already complete
            return None
        raise UserError(f"cannot download {model.name}: the server answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(f"cannot download {model.name}: {reason} (offline? download it elsewhere and pass the file "
                        "path to --reid-weights)") from None


def _receive(model: ReIDModel, response, partial: Path, start: int, progress: bool) -> None:
    """Append (resumed, HTTP 206) or write the body into ``partial``, with a progress bar."""
    if "text/html" in (response.headers.get("Content-Type") or ""):
        raise UserError(f"cannot download {model.name}: the server sent a web page, not the model (Google "
                        f"Drive confirmation or quota page); fetch {model.url} in a browser and pass the file")
    resumed = response.status == 206
    total = response.headers.get("Content-Length")
    total_bytes = int(total) + (start if resumed else 0) if total else model.size_bytes
    bar = _progress_bar(model.name, total_bytes, start if resumed else 0) if progress else None
    try:
        with open(partial, "ab" if resumed else "wb") as handle:
            for block in iter(lambda: response.read(CHUNK), b""):
                handle.write(block)
                if bar is not None:
                    bar.update(len(block))
    except (OSError, TimeoutError) as exc:
        raise UserError(f"download of {model.name} interrupted ({exc}); run it again to resume") from None
    finally:
        if bar is not None:
            bar.close()


def _progress_bar(name: str, total: int | None, initial: int):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, desc=name, leave=False)


def verify(folder: Path | None = None) -> list[tuple[str, bool, str]]:
    """(file, ok, reason) for each cached catalog file; a corrupted file is deleted."""
    folder = folder or cache_dir()
    results = []
    for path in sorted(folder.glob("*.pt")) + sorted(folder.glob("*.pth")) + sorted(folder.glob("*.onnx")):
        model = find(path.stem)
        if model is None:
            continue
        expected = expected_hash(model, folder)
        if expected is None:
            results.append((path.name, False, "no recorded hash"))
            continue
        ok = sha256_of(path) == expected
        if not ok:
            path.unlink()
        results.append((path.name, ok, "ok" if ok else "hash mismatch: deleted"))
    return results


def resolve_reid_weights(name_or_path: str) -> Path:
    """A local file, or a catalog name already in the cache. Nothing is downloaded here."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    model = find(name_or_path)
    if model is None:
        raise UserError(f"Re-ID weights {name_or_path!r}: no such file, and not a catalog name "
                        "(python setup_reid_models.py --list)")
    cached = cached_path(model)
    if cached is None:
        raise UserError(f"Re-ID model {model.name} is not downloaded yet: python setup_reid_models.py --download "
                        f"{model.name}")
    expected = expected_hash(model, cache_dir())
    if expected and sha256_of(cached) != expected:
        raise UserError(f"cached {cached} does not match its recorded sha256: run setup_reid_models.py --verify")
    return cached
