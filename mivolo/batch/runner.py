"""Run many sources on Ray: a pool of workers (actors that load the models once) over the file sources, one
long-running worker per live source, a progress bar over sources, and ``summary.json`` / ``summary.csv``.

    result = run_batch(config, BatchOptions(sources="videos/", output=Path("outputs/batch")))
    result.exit_code   # 0 all done, 3 some failed, 130 / 143 stopped by SIGINT / SIGTERM

Ray runs inside this process on this machine's cores unless ``ray_address`` names a cluster (or Ray is already
initialised, as in tests). A worker process that dies is restarted by Ray and its source retried from the start
(``retries`` times); a source that cannot be read fails with its one-line error and the others go on. The first
SIGINT/SIGTERM asks every worker to finish the outputs of what it has read; a second one kills them (what they had
not finished stays hidden, see ``worker``).
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
import signal
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mivolo.batch.listing import BatchSource, expand_sources
from mivolo.batch.overview import write_overview
from mivolo.batch.results import completed_row, empty_row, totals, write_summary
from mivolo.batch.worker import OLD, PARTIAL, SourceWorker
from mivolo.core.config import PipelineConfig
from mivolo.core.errors import OutputError, UserError
from mivolo.core.paths import ensure_writable_dir
from mivolo.core.signals import SignalScope

log = logging.getLogger(__name__)
WORKER_MEMORY_MB = 1500  # sizing per worker: measured peak RSS 0.98-1.01 GB on 720p (benchmarks/batch.py)
POLL_S = 0.5


@dataclass
class BatchOptions:
    """How a batch runs (``demo.py --batch``): sources, output root, worker count and size, cluster, resume."""

    sources: str
    output: Path
    workers: int = 0  # 0: as many as fit the CPUs (GPUs) and memory, at most one per file source
    ray_address: str | None = None  # None: Ray inside this process; "auto" or "ray://host:10001": a cluster
    cpus_per_source: float = 1.0
    gpus_per_source: float = 0.0
    resume: bool = False
    retries: int = 2  # restarts of a dead worker process, and retries of the source it was running
    progress: bool = True
    log_level: int = logging.WARNING  # of the workers' own logging

    def validate(self) -> None:
        checks = [(self.workers >= 0, "--workers must be 0 (auto) or more"),
                  (self.cpus_per_source > 0, "--cpus-per-source must be positive"),
                  (self.gpus_per_source >= 0, "--gpus-per-source must be 0 or more"),
                  (self.retries >= 0, "batch retries must be 0 or more")]
        for ok, message in checks:
            if not ok:
                raise UserError(message)


@dataclass
class BatchResult:
    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    summary_path: Path
    interrupted: str | None = None  # "SIGINT" / "SIGTERM" (or a test's stop reason)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return {"SIGTERM": 143}.get(self.interrupted, 130)
        return 3 if self.totals["failed"] else 0


class BatchStop(SignalScope):
    """SIGINT/SIGTERM during a batch: the first sets ``reason`` (workers finish their outputs), a second raises
    KeyboardInterrupt (workers are killed). ``request(reason)`` does the same from code (tests, embedding)."""

    def __init__(self) -> None:
        super().__init__()
        self.reason: str | None = None

    def request(self, reason: str = "stop") -> None:
        self.reason = self.reason or reason

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.reason is not None:
            raise KeyboardInterrupt
        self.reason = signal.Signals(signum).name
        log.warning("%s received: every worker finishes the outputs of what it has read (again: stop at once)",
                    self.reason)


def run_batch(config: PipelineConfig, options: BatchOptions, stop: BatchStop | None = None) -> BatchResult:
    """Run every source of ``options.sources`` into ``options.output/<name>/`` and write the summary."""
    options.validate()
    config = worker_config(config, options)
    items = expand_sources(options.sources)
    out = ensure_writable_dir(options.output.expanduser().resolve(), "output folder")
    rows: dict[str, dict[str, Any]] = {}
    if options.resume:
        rows = {item.name: row for item in items if (row := completed_row(out, item)) is not None}
        log.info("resume: %d of %d sources are complete and skipped", len(rows), len(items))
    todo = [item for item in items if item.name not in rows]
    remove_leftovers(out, todo)
    stop = stop or BatchStop()
    start = time.perf_counter()
    meta: dict[str, Any] = {"output": str(out), "ray_address": options.ray_address,
                            "cpus_per_source": options.cpus_per_source, "gpus_per_source": options.gpus_per_source}
    with stop:
        if todo:
            started = connect(options, todo)
            try:
                scheduler = Scheduler(config, options, out, stop)
                rows.update(scheduler.run(todo, done_before=len(rows)))
                meta["workers"] = scheduler.workers
            finally:
                if started:
                    _shutdown()
    ordered = [rows[item.name] for item in items]
    total = totals(ordered, time.perf_counter() - start)
    meta.update(resumed=sum(bool(r.get("resumed")) for r in ordered), interrupted=stop.reason)
    try:
        path = write_summary(out, ordered, total, meta)
        if config.output.save_json and config.output.report:
            log.info("batch report: %s", write_overview(out, ordered, total))
    except OSError as exc:
        raise OutputError(f"cannot write the batch summary to {out}: {exc.strerror or exc}") from None
    return BatchResult(ordered, total, path, stop.reason)


def worker_config(config: PipelineConfig, options: BatchOptions) -> PipelineConfig:
    """The config every worker runs: as many threads as the CPUs it holds (unless set), and the CPU unless it
    holds a GPU share (a worker never uses a GPU Ray did not give it)."""
    config = copy.deepcopy(config)
    config.validate()
    if config.runtime.threads == 0:
        config.runtime.threads = max(1, int(options.cpus_per_source))
    if options.gpus_per_source == 0:
        if config.runtime.device.startswith("cuda"):
            raise UserError(f"--device {config.runtime.device} with --batch needs --gpus-per-source (the GPU share "
                            "each worker holds)")
        config.runtime.device = "cpu"
    elif config.runtime.device == "cpu":
        raise UserError("--gpus-per-source with --device cpu: the GPU share would go unused")
    return config


def remove_leftovers(out: Path, items: list[BatchSource]) -> None:
    """Attempt folders of these sources left by a batch that was killed (never visible as outputs)."""
    for item in items:
        for pattern in (PARTIAL, OLD):
            shutil.rmtree(out / pattern.format(name=item.name), ignore_errors=True)


def connect(options: BatchOptions, items: list[BatchSource]) -> bool:
    """Start Ray in this process (local, loopback only, no dashboard, no usage statistics) or join the cluster at
    ``options.ray_address``; returns whether this call started it (and must shut it down)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    if ray.is_initialized():
        return False
    common = {"logging_level": logging.WARNING, "log_to_driver": True}
    try:
        if options.ray_address:
            ray.init(address=options.ray_address, **common)
        else:
            live = sum(item.live for item in items)
            cpus = max(os.cpu_count() or 1, int((options.workers + live) * options.cpus_per_source + 0.999))
            ray.init(num_cpus=cpus, include_dashboard=False, _node_ip_address="127.0.0.1", **common)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = options.ray_address or "this machine"
        raise UserError(f"cannot start Ray on {where}: {str(exc).splitlines()[0] if str(exc) else exc}") from None
    return True


def _shutdown() -> None:
    import ray

    ray.shutdown()


def check_fits(options: BatchOptions, resources: dict[str, float]) -> None:
    """A worker that no node can hold would wait forever: say so instead (one line, exit 2)."""
    if options.gpus_per_source > resources.get("GPU", 0.0):
        raise UserError(f"--gpus-per-source {options.gpus_per_source:g}: the Ray cluster has "
                        f"{resources.get('GPU', 0.0):g} GPUs")
    if options.cpus_per_source > resources.get("CPU", 0.0):
        raise UserError(f"--cpus-per-source {options.cpus_per_source:g}: the Ray cluster has "
                        f"{resources.get('CPU', 0.0):g} CPUs")


def default_workers(files: int, live: int, options: BatchOptions, resources: dict[str, float]) -> int:
    """Workers for the file sources: what the free CPUs (GPUs when asked) and memory hold beside the live sources,
    at most one per file, at least one."""
    fit = (resources.get("CPU", 1.0) - live * options.cpus_per_source) / options.cpus_per_source
    if options.gpus_per_source > 0:
        fit = min(fit, (resources.get("GPU", 0.0) - live * options.gpus_per_source) / options.gpus_per_source)
    memory_mb = resources.get("memory", 0.0) / 2**20
    if memory_mb > 0:
        fit = min(fit, memory_mb / WORKER_MEMORY_MB - live)
    return max(1, min(files, int(fit)))


@dataclass
class Running:
    actor: Any
    item: BatchSource


@dataclass
class Scheduler:
    """Hands file sources to a pool of workers as they free up, and each live source to a worker of its own."""

    config: PipelineConfig
    options: BatchOptions
    out: Path
    stop: BatchStop
    workers: int = 0
    running: dict[Any, Running] = field(default_factory=dict)
    queue: deque[BatchSource] = field(default_factory=deque)
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    stopped: set[Any] = field(default_factory=set)  # runs already asked to stop

    def run(self, items: list[BatchSource], done_before: int = 0) -> dict[str, dict[str, Any]]:
        import ray

        files = [item for item in items if not item.live]
        live = [item for item in items if item.live]
        check_fits(self.options, ray.cluster_resources())
        self.workers = self.options.workers or default_workers(len(files), len(live), self.options,
                                                               ray.available_resources())
        self.queue = deque(files)
        pool = [self._new_worker() for _ in range(min(self.workers, len(files)))]
        streams = [self._new_worker() for _ in live]
        bar = _progress_bar(len(items) + done_before, done_before, self.options.progress)
        try:
            self._check_models(pool + streams)
            for worker, item in zip(streams, live, strict=True):
                self._submit(worker, item)
            for worker in pool:
                self._next(worker)
            while self.running:
                self._tick(bar)
        except KeyboardInterrupt:
            self.stop.request("SIGINT")
            self._kill([r.actor for r in self.running.values()])
        finally:
            if bar is not None:
                bar.close()
        self._close_out()
        self._kill(pool + streams)
        return self.rows

    def _new_worker(self) -> Any:
        import ray

        opts = self.options
        cls = ray.remote(concurrency_groups={"control": 2})(SourceWorker)
        return cls.options(num_cpus=opts.cpus_per_source, num_gpus=opts.gpus_per_source, max_restarts=opts.retries,
                           max_task_retries=opts.retries, runtime_env=_runtime_env()).remote(self.config,
                                                                                             opts.log_level)

    def _check_models(self, workers: list[Any]) -> None:
        """Wait for the workers to load their models; a config that cannot load them ends the batch (exit 2)."""
        import ray
        from ray.exceptions import RayActorError

        for worker in workers:
            try:
                info = ray.get(_control(worker.info).remote())
            except RayActorError as exc:  # its sources fail with this error when they are given to it
                log.warning("a worker could not start: %s", _first_line(exc))
                continue
            if info["error"]:
                self._kill(workers)
                raise UserError(info["error"])

    def _submit(self, worker: Any, item: BatchSource) -> None:
        self.running[worker.run.remote(item, str(self.out))] = Running(worker, item)

    def _next(self, worker: Any) -> bool:
        if self.queue and not self.stop.reason:
            self._submit(worker, self.queue.popleft())
            return True
        return False

    def _tick(self, bar: Any) -> None:
        import ray

        ready, _ = ray.wait(list(self.running), num_returns=len(self.running), timeout=POLL_S)
        if self.stop.reason:
            for ref, run in self.running.items():
                if ref not in self.stopped:
                    self.stopped.add(ref)
                    _control(run.actor.stop).remote(self.stop.reason)
        for ref in ready:
            run = self.running.pop(ref)
            row, alive = self._collect(ref, run.item)
            self.rows[run.item.name] = row
            if bar is not None:
                bar.update(1)
            worker = run.actor if alive else None
            if self.queue and not self.stop.reason:
                self._next(worker or self._new_worker())
            elif worker is not None:  # nothing left for it: free its CPUs / GPU share
                self._kill([worker])
        if bar is not None:
            bar.set_postfix(frames=self._frames(), failed=sum(r["status"] == "failed" for r in self.rows.values()),
                            refresh=True)

    def _collect(self, ref: Any, item: BatchSource) -> tuple[dict[str, Any], bool]:
        """The source's row, and whether its worker is still usable."""
        import ray
        from ray.exceptions import RayActorError, RayTaskError

        try:
            return ray.get(ref), True
        except RayActorError as exc:
            error = f"its worker died and {self.options.retries} retries did not finish it: {_first_line(exc)}"
            log.warning("%s failed: %s", item.text, error)
            return empty_row(item, "failed", error), False
        except RayTaskError as exc:  # raised in the worker outside a source's run (its own errors are rows)
            cause = getattr(exc, "cause", None) or exc
            return empty_row(item, "failed", f"{type(cause).__name__}: {_first_line(cause)}"), True

    def _frames(self) -> int:
        """Frames read so far: finished sources, plus what the running workers report within a short wait."""
        import ray

        done = sum(r["frames"] for r in self.rows.values() if not r.get("resumed"))
        refs = [_control(r.actor.frames_done).remote() for r in self.running.values()]
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0.1) if refs else ([], [])
        for ref in ready:
            try:
                done += ray.get(ref)
            except Exception:  # a worker that died meanwhile: counted when its retry reports
                pass
        return done

    def _close_out(self) -> None:
        """Rows for what did not finish: killed while running, or never started."""
        reason = self.stop.reason or "stop"
        for run in self.running.values():
            self.rows[run.item.name] = empty_row(run.item, "interrupted", f"killed by a second {reason}")
        self.running.clear()
        for item in self.queue:
            self.rows[item.name] = empty_row(item, "interrupted", f"not started: stopped by {reason}")
        self.queue.clear()

    @staticmethod
    def _kill(workers: list[Any]) -> None:
        import ray

        for worker in workers:
            try:
                ray.kill(worker, no_restart=True)
            except Exception:  # already gone
                pass


def _runtime_env() -> dict[str, Any]:
    """Workers import this same code: the folder holding ``mivolo`` goes first on their PYTHONPATH (a folder that
    does not exist on another node is ignored there; install the package on every node of a cluster)."""
    import mivolo

    code = str(Path(mivolo.__file__).resolve().parents[1])
    paths = [code, *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != code]]
    return {"env_vars": {"PYTHONPATH": os.pathsep.join(paths)}}


def _control(method: Any) -> Any:
    """A call in the worker's control group (answered while it runs a source), never retried."""
    return method.options(concurrency_group="control", max_task_retries=0)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _progress_bar(total: int, done: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit="source", desc="batch", dynamic_ncols=True)
