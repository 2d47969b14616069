"""The worker of a batch (one Ray actor): builds the models once and runs many sources, one after the other.

Each source runs exactly as a single run does (the same ``Pipeline``, the same config; tracking and merging per
source, in frame order). A file source is written into a hidden attempt folder ``OUTPUT/.<name>.partial`` that is
renamed to ``OUTPUT/<name>`` when its run is over, so a worker killed in the middle leaves nothing visible, and the
retry starts from an empty attempt folder. A live source (stream, webcam) is written in place, so its
``demographics.jsonl`` can be followed while it runs; a dead attempt leaves only hidden temporary files there,
removed when the next attempt starts.

Ray calls ``run`` in the actor's default concurrency group and ``stop`` / ``frames_done`` / ``info`` in a
``control`` group (other threads), so they answer while a source is running.
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from mivolo.batch.listing import BatchSource
from mivolo.batch.results import empty_row, summary_row
from mivolo.core.atomic import write_json_atomic
from mivolo.core.config import PipelineConfig
from mivolo.core.environment import configure_environment, peak_rss_mb
from mivolo.core.errors import UserError
from mivolo.core.structures import Frame
from mivolo.pipeline import Pipeline
from mivolo.sources import Source, open_source

log = logging.getLogger(__name__)
PARTIAL = ".{name}.partial"
OLD = ".{name}.old"


class StoppableSource(Source):
    """A source that ends early once ``stop`` is set (the run then finishes its outputs as after a last frame)."""

    def __init__(self, inner: Source, stop: threading.Event) -> None:
        super().__init__()
        self.inner = inner
        self.info = inner.info
        self.stats = inner.stats
        self.stop = stop
        self.frames = 0  # frames handed to the pipeline so far (read by the progress bar)
        self.cut = False  # the stop ended it before the source's own end

    def __iter__(self) -> Iterator[Frame]:
        for frame in self.inner:
            if self.stop.is_set():
                self.cut = True
                return
            self.frames += 1
            yield frame

    def reopen(self) -> Source:
        return self.inner.reopen()

    def close(self) -> None:
        self.inner.close()


class SourceWorker:
    """One worker: ``SourceWorker(config)`` loads the models; ``run(source, out_root)`` returns the source's row."""

    def __init__(self, config: PipelineConfig, log_level: int = logging.WARNING) -> None:
        configure_environment()
        logging.basicConfig(level=log_level, format="%(levelname).1s %(name)s: %(message)s")
        logging.getLogger().setLevel(log_level)
        for noisy in ("boxmot", "ultralytics", "yt_dlp"):
            logging.getLogger(noisy).setLevel(max(log_level, logging.WARNING))
        _leave_signals_to_the_driver()
        self.config = copy.deepcopy(config)
        self.config.runtime.progress = False
        self.pipeline: Pipeline | None = None
        self.init_error: str | None = None  # the models could not be loaded (reported by ``info``, not raised)
        try:
            self.pipeline = Pipeline(self.config)
        except UserError as exc:
            self.init_error = str(exc)
        self._stop = threading.Event()
        self._reason = "stop"
        self._source: StoppableSource | None = None

    # ---- control group: answered while a source runs -------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """Where this worker runs, its peak memory (resident set size, MB) and why its models did not load (or None)."""
        return {"host": socket.gethostname(), "pid": os.getpid(), "peak_rss_mb": peak_rss_mb(),
                "error": self.init_error}

    def frames_done(self) -> int:
        return self._source.frames if self._source is not None else 0

    def stop(self, reason: str = "stop") -> None:
        """Finish the current source's outputs for the frames read so far, and take no other source."""
        self._reason = reason
        self._stop.set()

    # ---- default group ---------------------------------------------------------------------------------------------
    def run(self, item: BatchSource, out_root: str) -> dict[str, Any]:
        """Process one source into ``out_root/<item.name>``; returns its summary row (status done / failed /
        interrupted, with a one-line error). Never raises for a source that cannot be read."""
        out = Path(out_root)
        final = out / item.name
        work = final if item.live else out / PARTIAL.format(name=item.name)
        if self._stop.is_set():
            return empty_row(item, "interrupted", f"not started: stopped by {self._reason}")
        if self.pipeline is None:
            return self._failed(item, work, self.init_error or "the models could not be loaded")
        prepare_attempt(work, item.live)
        cfg = self.pipeline.config
        cfg.source.input, cfg.output.dir = item.input, str(work)
        try:
            source = StoppableSource(open_source(cfg.source), self._stop)
            self._source = source
            summary = self.pipeline.run(source)
        except UserError as exc:
            return self._failed(item, work, str(exc))
        except Exception as exc:  # a bug or a library failure: this source fails, the batch goes on
            log.exception("%s failed", item.text)
            return self._failed(item, work, f"{type(exc).__name__}: {exc}")
        finally:
            self._source = None
        status, error = self._outcome(source, summary.interrupted)
        row = {**summary_row(item, summary, source.info.fps, status, error), **self._worker_fields()}
        try:
            finish_attempt(work, final, {**row, "input": item.input}, status == "interrupted" and self._reason)
        except OSError as exc:
            return self._failed(item, work, f"cannot write outputs to {final}: {exc.strerror or exc}")
        return row

    def _outcome(self, source: StoppableSource, interrupted: str | None) -> tuple[str, str | None]:
        if source.cut:
            return "interrupted", f"stopped by {self._reason} after {source.frames} frames"
        if interrupted:
            return "interrupted", f"stopped by {interrupted}"
        if source.stats.lost:
            attempts = self.pipeline.config.source.reconnect_attempts
            return "failed", (f"stream lost: it did not come back after {attempts} reconnect attempts (outputs hold "
                              f"the {source.frames} frames before)")
        return "done", None

    def _failed(self, item: BatchSource, work: Path, error: str) -> dict[str, Any]:
        if not item.live:
            shutil.rmtree(work, ignore_errors=True)
        log.debug("%s failed: %s", item.text, error)
        return {**empty_row(item, "failed", error.splitlines()[0] if error else "failed"), **self._worker_fields()}

    @staticmethod
    def _worker_fields() -> dict[str, Any]:
        return {"worker": f"{socket.gethostname()}:{os.getpid()}", "worker_peak_rss_mb": peak_rss_mb()}


def prepare_attempt(work: Path, live: bool) -> None:
    """Remove what a dead attempt left: the whole attempt folder of a file source; the hidden temporary files
    (sinks' ``.*.part`` / ``.*.spool``) in a live source's folder."""
    if not live:
        shutil.rmtree(work, ignore_errors=True)
        return
    if work.is_dir():
        for path in sorted(work.rglob(".*"), reverse=True):
            if path.is_file():
                path.unlink(missing_ok=True)


def finish_attempt(work: Path, final: Path, row: dict[str, Any], interrupted: str | bool | None) -> None:
    """Mark ``run.json`` with the batch's verdict (``batch``: the summary row) and paths of the final folder, then
    move a file source's attempt folder into place (an earlier ``final`` is replaced)."""
    run_json = work / "run.json"
    run = orjson.loads(run_json.read_bytes())
    moved = str(final)
    run["batch"] = row
    run["config"]["output"]["dir"] = moved
    run["files"] = {k: v.replace(str(work), moved, 1) for k, v in run.get("files", {}).items()}
    if interrupted and not run.get("interrupted"):
        run["interrupted"] = interrupted
    write_json_atomic(run_json, run)
    if work == final:
        return
    old = final.with_name(OLD.format(name=final.name))
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(work, final)
    shutil.rmtree(old, ignore_errors=True)


def _leave_signals_to_the_driver() -> None:
    """A Ctrl-C in the terminal reaches every process of the group: workers ignore it and wait for the driver's
    ``stop`` (which finishes their outputs)."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        pass
