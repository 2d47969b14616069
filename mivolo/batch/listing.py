"""The sources of a batch: ``--batch SOURCES`` (a folder, a glob, or a text file of one source per line) as a list
of ``BatchSource`` with unique, stable output folder names."""

from __future__ import annotations

import glob
import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from mivolo.core.errors import UserError
from mivolo.sources import IMAGE_SUFFIXES, LIVE_SUFFIXES, STREAM_SCHEMES, VIDEO_SUFFIXES

log = logging.getLogger(__name__)
RESERVED_NAMES = {"summary.json", "summary.csv"}
MAX_NAME = 60


@dataclass(frozen=True)
class BatchSource:
    """One source of a batch: its output folder name, what ``--input`` would be, and how it is read.

    ``text`` is the source as the user wrote it; ``input`` is what the pipeline opens (files as absolute paths,
    so workers on any node and in any folder read the same file). ``live``: a stream or a webcam (a long-running
    actor of its own; outputs written in place so they can be followed).
    """

    name: str
    text: str
    input: str
    kind: str  # video | url | stream | webcam
    live: bool


def expand_sources(spec: str) -> list[BatchSource]:
    """The sources ``spec`` names: a folder (its video files), a glob, a text file or a single video file."""
    spec = spec.strip()
    if not spec:
        raise UserError("--batch needs a folder, a glob or a text file of sources")
    path = Path(spec).expanduser()
    if path.is_dir():
        texts = [str(p) for p in sorted(path.iterdir()) if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES]
        if not texts:
            raise UserError(f"folder {path} holds no video files ({', '.join(sorted(VIDEO_SUFFIXES))})")
    elif path.is_file() and path.suffix.lower() not in VIDEO_SUFFIXES | IMAGE_SUFFIXES:
        texts = read_source_list(path)
    elif path.is_file():
        texts = [str(path)]
    elif glob.has_magic(spec):
        texts = sorted(p for p in glob.glob(str(path)) if Path(p).is_file())
        if not texts:
            raise UserError(f"--batch {spec}: the pattern matches no files")
    else:
        raise UserError(f"--batch {spec}: not a folder, a file or a pattern that matches files")
    return name_sources([_classify(text) for text in texts])


def read_source_list(path: Path) -> list[str]:
    """One source per line (file, URL, RTSP/HTTP stream, webcam index); blank lines and lines starting with ``#``
    are skipped.

    Relative file paths are read relative to the list file's folder."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read the source list {path}: {exc}") from None
    texts = []
    for line in lines:
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if not text.isdigit() and "://" not in text and not Path(text).expanduser().is_absolute():
            text = str(path.parent / text)
        texts.append(text)
    if not texts:
        raise UserError(f"the source list {path} names no sources")
    return texts


def _classify(text: str) -> tuple[str, str, str, bool]:
    """(text, input, kind, live) of one source."""
    if text.isdigit():
        return text, text, "webcam", True
    if "://" in text:
        parsed = urlparse(text)
        live = parsed.scheme.lower() in STREAM_SCHEMES or Path(parsed.path).suffix.lower() in LIVE_SUFFIXES
        return text, text, "stream" if live else "url", live
    return text, str(Path(text).expanduser().resolve()), "video", False


def base_name(text: str, kind: str) -> str:
    """A folder name for a source: the file's stem, ``webcamN``, or host and path of a URL (safe characters only)."""
    if kind == "webcam":
        raw = f"webcam{text}"
    elif kind in ("stream", "url"):
        parsed = urlparse(text)
        raw = f"{parsed.netloc}{Path(parsed.path).with_suffix('')}"
    else:
        raw = Path(text).stem
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", raw).strip("._-")[:MAX_NAME] or "source"
    return name


def name_sources(entries: list[tuple[str, str, str, bool]]) -> list[BatchSource]:
    """Unique folder names: names that collide (ignoring case) all get ``-`` and 6 hex digits of their source, so a
    source keeps its folder whatever order the list is in. The same source listed twice is run once."""
    seen_inputs: set[str] = set()
    unique = []
    for text, target, kind, live in entries:
        if target in seen_inputs:
            log.warning("%s is listed more than once; it runs once", text)
            continue
        seen_inputs.add(target)
        unique.append((text, target, kind, live))
    names = [base_name(text, kind) for text, _, kind, _ in unique]
    folded = [n.lower() for n in names]
    out = []
    for (text, target, kind, live), name in zip(unique, names, strict=True):
        if folded.count(name.lower()) > 1 or name.lower() in RESERVED_NAMES:
            name = f"{name}-{hashlib.sha1(target.encode()).hexdigest()[:6]}"
        out.append(BatchSource(name=name, text=text, input=target, kind=kind, live=live))
    return out
