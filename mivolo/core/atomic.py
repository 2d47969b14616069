"""Atomic writes: a temporary file beside the target, then ``os.replace``; readers never see half a file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

import orjson

JSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def write_bytes_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")  # per process: two workers may write one cache file
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_json_atomic(path: Path, obj: Any) -> None:
    write_bytes_atomic(path, orjson.dumps(obj, option=JSON_OPTIONS) + b"\n")


class StreamingFile:
    """A text file written line by line under a hidden name and renamed into place on ``commit``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.part")
        self.handle: IO[str] | None = open(self.tmp, "w", encoding="utf-8", newline="")

    def write(self, text: str) -> None:
        assert self.handle is not None
        self.handle.write(text)

    def commit(self) -> None:
        if self.handle is None:
            return
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        self.handle = None
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None
        self.tmp.unlink(missing_ok=True)
