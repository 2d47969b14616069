"""A cache of catalogued model files: download with resume, sha256 check, atomic rename; verify; resolve names.

Shared by the Re-ID catalog (``setup_reid_models.py``) and the detector / age-gender catalog
(``setup_models.py``). A catalog entry needs ``name``, ``filename``, ``url`` (None: no public download),
``sha256`` (None: not published; the first download's hash is recorded in ``hashes.json`` and checked from
then on) and ``size_bytes`` (None: unknown until downloaded).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mivolo.core.errors import UserError
from mivolo.core.paths import cache_dir as shared_cache_dir
from mivolo.core.paths import ensure_writable_dir

log = logging.getLogger(__name__)
CHUNK = 1 << 16
TIMEOUT_S = 30
HASH_BOOK = "hashes.json"


class CatalogEntry(Protocol):
    name: str
    url: str | None
    sha256: str | None
    size_bytes: int | None

    @property
    def filename(self) -> str: ...


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        return {}


@dataclass(frozen=True)
class ModelStore:
    """One cache folder (``cache_dir(kind)``) for the files of one catalog."""

    kind: str  # cache sub-folder: reid_models, models
    catalog: Sequence[CatalogEntry]
    find: Callable[[str], CatalogEntry | None]
    tool: str  # the command line that fills this cache, for messages
    flag: str  # the flag that takes a local file instead, for messages

    def cache_dir(self) -> Path:
        """$MIVOLO_CACHE_DIR/<kind>, else $XDG_CACHE_HOME/mivolo-crowd/<kind>, else ~/.cache/mivolo-crowd/<kind>."""
        return shared_cache_dir(self.kind)

    def recorded_hashes(self, folder: Path | None = None) -> dict[str, str]:
        return read_json((folder or self.cache_dir()) / HASH_BOOK)

    def _record_hash(self, folder: Path, filename: str, digest: str) -> None:
        book = self.recorded_hashes(folder)
        book[filename] = digest
        write_json_atomic(folder / HASH_BOOK, book)

    def expected_hash(self, entry: CatalogEntry, folder: Path | None = None) -> str | None:
        return entry.sha256 or self.recorded_hashes(folder).get(entry.filename)

    def cached_path(self, entry: CatalogEntry, folder: Path | None = None) -> Path | None:
        path = (folder or self.cache_dir()) / entry.filename
        return path if path.is_file() else None

    def download(self, entry: CatalogEntry, folder: Path | None = None, progress: bool = True,
                 url: str | None = None) -> Path:
        """Fetch ``entry`` into the cache: resume a partial file, check the hash, rename into place atomically."""
        url = url or entry.url
        if not url:
            raise UserError(f"{entry.name} has no public download; get the file from its publisher and pass it "
                            f"with {self.flag} FILE")
        folder = ensure_writable_dir(folder or self.cache_dir(), "model cache", "; set MIVOLO_CACHE_DIR")
        target = folder / entry.filename
        partial = folder / f".{entry.filename}.part"
        start = partial.stat().st_size if partial.exists() else 0
        response = self._open(entry, url, start)
        if response is not None:
            with response:
                self._receive(entry, url, response, partial, start, progress)
        digest = sha256_of(partial)
        expected = self.expected_hash(entry, folder)
        if expected and digest != expected:
            partial.unlink(missing_ok=True)
            raise UserError(f"{entry.name}: sha256 {digest[:16]}… does not match the expected {expected[:16]}…; "
                            "the file was deleted")
        os.replace(partial, target)
        if not expected:
            self._record_hash(folder, entry.filename, digest)
            log.info("%s: no published checksum; recorded sha256 %s (trust on first use, checked by --verify)",
                     entry.name, digest)
        return target

    def _open(self, entry: CatalogEntry, url: str, start: int):  # -> http.client.HTTPResponse | None
        """The server's response from byte ``start`` on; None when a resumed file is already complete."""
        request = urllib.request.Request(url, headers={"User-Agent": "mivolo-crowd"})
        if start:
            request.add_header("Range", f"bytes={start}-")
        try:
            return urllib.request.urlopen(request, timeout=TIMEOUT_S)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and start:  # already complete
                return None
            raise UserError(f"cannot download {entry.name}: the server answered {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise UserError(f"cannot download {entry.name}: {reason} (offline? download it elsewhere and pass the "
                            f"file path to {self.flag})") from None

    def _receive(self, entry: CatalogEntry, url: str, response, partial: Path, start: int, progress: bool) -> None:
        """Append (resumed, HTTP 206) or write the body into ``partial``, with a progress bar."""
        if "text/html" in (response.headers.get("Content-Type") or ""):
            raise UserError(f"cannot download {entry.name}: the server sent a web page, not the model (Google "
                            f"Drive confirmation or quota page); fetch {url} in a browser and pass the file "
                            f"with {self.flag}")
        resumed = response.status == 206
        total = response.headers.get("Content-Length")
        total_bytes = int(total) + (start if resumed else 0) if total else entry.size_bytes
        bar = _progress_bar(entry.name, total_bytes, start if resumed else 0) if progress else None
        try:
            with open(partial, "ab" if resumed else "wb") as handle:
                for block in iter(lambda: response.read(CHUNK), b""):
                    handle.write(block)
                    if bar is not None:
                        bar.update(len(block))
        except (OSError, TimeoutError) as exc:
            raise UserError(f"download of {entry.name} interrupted ({exc}); run it again to resume") from None
        finally:
            if bar is not None:
                bar.close()

    def verify(self, folder: Path | None = None) -> list[tuple[str, bool, str]]:
        """(file, ok, reason) for each cached catalog file; a corrupted file is deleted."""
        folder = folder or self.cache_dir()
        results = []
        for entry in self.catalog:
            path = folder / entry.filename
            if not path.is_file():
                continue
            expected = self.expected_hash(entry, folder)
            if expected is None:
                results.append((path.name, False, "no recorded hash"))
                continue
            ok = sha256_of(path) == expected
            if not ok:
                path.unlink()
            results.append((path.name, ok, "ok" if ok else "hash mismatch: deleted"))
        return results

    def resolve(self, name_or_path: str, what: str) -> Path:
        """A local file, or a catalog name already in the cache (hash checked). Nothing is downloaded here."""
        path = Path(name_or_path).expanduser()
        if path.exists():
            return path
        entry = self.find(name_or_path)
        if entry is None:
            raise UserError(f"{what} {name_or_path!r}: no such file, and not a catalog name (python {self.tool} "
                            "--list)")
        cached = self.cached_path(entry)
        if cached is None:
            raise UserError(f"{entry.name} is not downloaded yet: python {self.tool} --download {entry.name}")
        expected = self.expected_hash(entry)
        if expected and sha256_of(cached) != expected:
            raise UserError(f"cached {cached} does not match its recorded sha256: run {self.tool} --verify")
        return cached


def _progress_bar(name: str, total: int | None, initial: int):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, desc=name, leave=False)
