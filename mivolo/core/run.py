"""What a run tells its sinks: ``RunInfo`` when it opens, ``RunSummary`` when it closes; the identity view."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mivolo.core.config import PipelineConfig
from mivolo.core.structures import FinishedIdentity, Label

SCHEMA_VERSION = "1.1"


@dataclass
class SourceInfo:
    """What is known of a source before reading it (``length`` None for streams)."""

    kind: str  # image | folder | video | url | stream | webcam
    name: str
    fps: float
    length: int | None = None
    rewindable: bool = False  # can be read again from the start (second drawing pass)
    independent_frames: bool = False  # separate images: nothing is tracked across them


class IdentityView(Protocol):
    """The settling stage as sinks see it (tracking.Identities implements it)."""

    finished: list[FinishedIdentity]  # identities finalised since the last frame (taken by the sinks)

    def live_label(self, identity_id: int) -> Label: ...

    def final_ids(self, ids: np.ndarray) -> np.ndarray:
        """(K,) ids written earlier -> (K,) the identity each one ended up in (after later merges)."""
        ...


@dataclass
class RunInfo:
    """Given to every sink's ``open``."""

    output_dir: Path
    source: SourceInfo
    config: PipelineConfig
    device: str = "cpu"
    models: dict[str, str] = field(default_factory=dict)
    reopen: Callable[[], Any] | None = None  # a fresh reader of the source from its start (None if not rewindable)


@dataclass
class RunSummary:
    """The result of a run; given to every sink's ``close`` and returned to the caller.

    ``records`` holds one output row per counted identity (identities.json), ``files`` the outputs written
    (filled in by the sinks as they close), ``stage_ms`` the mean milliseconds per frame of each stage.
    """

    output_dir: Path
    frames: int = 0
    seconds: float = 0.0
    interrupted: str | None = None  # "SIGINT" / "SIGTERM"
    stage_ms: dict[str, float] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    records: dict[int, dict] = field(default_factory=dict)
    not_counted: dict[str, int] = field(default_factory=dict)  # identities that are not people, by reason
    people_estimate: dict[str, Any] | None = None  # tracking.people_estimate (None for separate images)
    source_stats: dict[str, Any] = field(default_factory=dict)
    merging: dict[str, Any] = field(default_factory=dict)
    shots: dict[str, Any] | None = None  # tracking.cuts: cuts between shots, garbage frames left out (video only)
    view: IdentityView | None = None  # the settled identities (final ids of rows written earlier)
    stop_requested: Callable[[], bool] = lambda: False  # a signal arrived while the outputs were being written

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def men(self) -> int:
        return sum(r["gender"] == "male" for r in self.records.values())

    @property
    def women(self) -> int:
        return sum(r["gender"] == "female" for r in self.records.values())

    @property
    def identities(self) -> int:
        return len(self.records)

    @property
    def exit_code(self) -> int:
        return {"SIGINT": 130, "SIGTERM": 143}.get(self.interrupted or "", 0)
