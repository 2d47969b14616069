"""SIGINT/SIGTERM handlers installed for the length of a ``with`` block and put back after it."""

from __future__ import annotations

import signal
from typing import Any


class SignalScope:
    """Base of the stop flags: ``with Flag():`` routes SIGINT and SIGTERM to ``self._handle(signum, frame)`` and
    restores the previous handlers on exit (outside the main thread no handler can be set: nothing is routed)."""

    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, _frame: Any) -> None:
        raise NotImplementedError

    def __enter__(self) -> SignalScope:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: no handlers
                pass
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
