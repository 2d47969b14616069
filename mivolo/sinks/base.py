"""The sink interface: every output of a run is one sink, called in the same three places by the loop.

    sink.open(run_info)                       before the first frame
    sink.write(frame, dets, identities)       after each frame is settled (ids are identity ids)
    sink.close(summary)                       once, after the last frame (also after Ctrl-C / SIGTERM)
    sink.abort()                              instead of close when the outputs cannot be finished

Sinks write under hidden temporary names and rename on close, so every output that exists is complete; abort
removes what a sink had started. ``identities.finished`` holds the identities that left memory since the last
frame (and, at close, all the rest): sinks that write per-identity outputs take them from there.
"""

from __future__ import annotations

from typing import Protocol

from mivolo.core.run import IdentityView, RunInfo, RunSummary
from mivolo.core.structures import Detections, Frame


class Sink(Protocol):
    def open(self, run: RunInfo) -> None: ...

    def write(self, frame: Frame, dets: Detections, identities: IdentityView) -> None: ...

    def close(self, summary: RunSummary) -> None: ...

    def abort(self) -> None: ...
