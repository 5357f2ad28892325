"""One executor runs every stage the same way.

For each paper (or the day): the plan's mode (`--only` runs one stage from cached inputs,
`--force` recomputes), a remembered failure, a cache hit, or compute and store; a paper that
fails is marked with its reason and drops out while the day goes on; progress is reported per
stage. Compute runs where the stage places it: inline, in the run's pool of worker processes
(CPU-bound stages; PyMuPDF is not thread-safe and the GIL would serialize them anyway), or on
the run's event loop (LLM stages, many calls in flight).

`Executor` is the seam: a distributed executor (Ray, for backfills over months of papers) is
another implementation of `run`, and the stages do not change.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import multiprocessing
import os
import signal
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from pipeline import collector, memory
from pipeline.cache import Cache, CorruptEntryError, Stored, digest
from pipeline.errors import MissingInputError, PaperError
from pipeline.observer import Observer
from pipeline.paper import Day, Paper
from pipeline.record import STAGES
from pipeline.runlog import RunLog
from pipeline.settings import Settings
from pipeline.stage import Placement, Stage, fixed_parts, key_part, keyed
from pipeline.stopping import STOP_SIGNALS, Stop
from pipeline.tools import Tools

# Below this many computations, starting worker processes (about a second) costs more than it
# saves: a small day's CPU stages take milliseconds per paper. The fork server, once started,
# serves every later stage's pool.
POOL_THRESHOLD = 16
WORKERS = 2
# Imported once by the fork server, so each worker (a new pool after a crash, each CPU stage's
# pool) starts with the stages already loaded instead of importing them again. Not PyMuPDF:
# `pipeline.stages.extract` imports it where a PDF is opened, so only extract's workers map it
# (~20 MiB of each worker's resident library pages and objects, ~30 MiB of the fork server's);
# chunk's and summarize's workers never do. The summarize stage is named: the backends no longer
# import it (naming a backend must not), and each worker would import it again.
PRELOAD = [
    "pipeline.forkserver_signals",  # first: signals are the run's, from the fork server's start
    "pipeline.stages.extract",
    "pipeline.stages.chunk",
    "pipeline.stages.summarize",
    "pipeline.llm.backends",
]


class Executor(Protocol):
    def run(self, stage: Stage[Any, Any], day: Day) -> None: ...


@dataclass(frozen=True)
class Plan:
    """What the user asked of the stages: recompute some, or run only one."""

    force: frozenset[str] = frozenset()
    only: str | None = None
    order: tuple[str, ...] = STAGES  # the order the run's stages run in (a folder's differs)

    def mode(self, stage: str) -> str:
        """'run', 'load' (upstream of --only: cached output or nothing) or 'skip'.

        Upstream means before the --only stage in the order the stages run (its inputs), or in
        the pipeline's own order (what the day and its report are made of): a folder runs
        extract before its feed, and `--only extract` still reads the cached feed and triage
        rather than leaving the day with file names for titles."""
        if self.only is None or stage == self.only:
            return "run"
        ran_before = self.order.index(stage) < self.order.index(self.only)
        comes_before = STAGES.index(stage) < STAGES.index(self.only)
        return "load" if ran_before or comes_before else "skip"


@dataclass
class Job:
    """One computation: the key, and exactly the values hashed into it."""

    paper_id: str
    key: str
    values: dict[str, Any]  # inputs and params, as compute receives them
    params: dict[str, Any]  # for the cache entry's metadata
    started: float = field(default_factory=time.perf_counter)


Done = Callable[[Job, Any], None]  # a job's output, or the exception it raised
T = TypeVar("T")


class LocalExecutor:
    """Runs stages on this machine: one process pool and one event loop for the whole run."""

    def __init__(
        self,
        settings: Settings,
        cache: Cache,
        log: RunLog,
        tools: Tools,
        plan: Plan,
        observer: Observer,
        loop: asyncio.Runner,
        pool_threshold: int = POOL_THRESHOLD,
        stop: Stop | None = None,
    ) -> None:
        self.settings = settings
        self.cache = cache
        self.log = log
        self.tools = tools
        self.plan = plan
        self.observer = observer
        self.loop = loop
        self.pool_threshold = pool_threshold
        # After the run's stop request no job starts; the started ones finish and are kept.
        self.stop = stop if stop is not None else Stop()
        self._pool: ProcessPoolExecutor | None = None
        self._pool_limit: int | None = None  # its workers' address space (`_workers`)
        self._params: dict[str, dict[str, Any]] = {}
        self._digests = Digests()
        self._key_cache: dict[str, tuple[dict[str, Any], dict[str, Any], tuple[str, str]]] = {}
        # What made each reference served from the cache, to remake it if it proves unreadable
        self._origins: dict[str, tuple[Stage[Any, Any], Job]] = {}

    def run(self, stage: Stage[Any, Any], day: Day) -> None:
        if self.plan.mode(stage.name) == "skip":
            return
        with self.log.timed(stage.name):
            if stage.scope == "day":
                self._day(stage, day)
            else:
                self._papers(stage, day.papers)

    def params(self, stage: Stage[Any, Any]) -> dict[str, Any]:
        """A stage's params, read once per run (loading prompts, resolving the tokenizer)."""
        if stage.name not in self._params:
            self._params[stage.name] = stage.params(self.settings)
        return self._params[stage.name]

    def close(self, *, graceful: bool = True) -> None:
        """Stop the worker processes; after a crash or an interrupt they are killed, so none
        outlives the run however it ends."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if not graceful:
            # ProcessPoolExecutor has no public kill; its processes are in `_processes`.
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.kill()
        pool.shutdown(wait=True, cancel_futures=True)

    # --- the day ---------------------------------------------------------------------

    def _day(self, stage: Stage[Any, Any], day: Day) -> None:
        if not stage.wanted(day, self.params(stage)):
            return  # no bar for a stage with nothing to do
        self.observer.stage_started(stage.name, 1)
        try:
            job = self._job(stage, "*", stage.inputs(day))
            value = self._lookup(stage, job)
            if value is None:
                value = self._settle(stage, job, self._call_inline(stage, job))
            stage.apply(day, value)
        except PaperError as exc:  # the day goes on without this stage's output
            if self.stop.requested:  # it goes no further: the run is stopping
                raise self.stop.stopped() from None
            self.log.warn(stage.failed_day(exc))
        finally:
            self.observer.advanced(stage.name)

    # --- papers ----------------------------------------------------------------------

    def _papers(self, stage: Stage[Any, Any], papers: list[Paper]) -> None:
        params = self.params(stage)
        todo = [p for p in papers if p.live and stage.wanted(p, params)]
        if not todo:
            return
        self.observer.stage_started(stage.name, len(todo))
        pending: dict[int, Paper] = {}
        jobs: list[Job] = []
        for paper in todo:
            try:
                job = self._job(stage, paper.meta.id, stage.inputs(paper))
                cached = self._lookup(stage, job)
            except Exception as exc:
                self._fail(paper, stage, exc)
                continue
            if cached is not None:
                stage.apply(paper, cached)
                self.observer.advanced(stage.name)
            else:
                pending[id(job)] = paper
                jobs.append(job)
        if not jobs:
            return

        def done(job: Job, result: Any) -> None:
            paper = pending[id(job)]
            if isinstance(result, BaseException):
                self._fail(paper, stage, result, job)
                return
            try:
                stage.apply(paper, self._settle(stage, job, result))
            finally:
                self.observer.advanced(stage.name)

        self._compute(stage, jobs, done)

    def _fail(
        self, paper: Paper, stage: Stage[Any, Any], exc: BaseException, job: Job | None = None
    ) -> None:
        try:
            if job is not None and stage.remember_failures and isinstance(exc, PaperError):
                self.cache.put_failure(stage.name, job.key, str(exc))
            paper.failure = self.log.failure(paper.meta.id, stage.name, exc)
        finally:
            self.observer.advanced(stage.name)

    # --- keys and the cache ----------------------------------------------------------

    def cached(self, stage: Stage[Any, Any], paper_id: str, inputs: dict[str, Any]) -> bool:
        """Whether the stage has an entry for these inputs: a guess, before the run reaches the
        stage, at whether it will not compute (an entry may still prove unreadable)."""
        if stage.name in self.plan.force:
            return False
        if self.plan.mode(stage.name) != "run":
            return True  # upstream of --only (cached output or nothing), or skipped
        return self.cache.has(stage.name, self._job(stage, paper_id, inputs).key)

    def _job(self, stage: Stage[Any, Any], paper_id: str, inputs: dict[str, Any]) -> Job:
        params, identities, fixed = self._stage_parts(stage)
        key = keyed(stage, inputs, fixed, self._digests.of)
        return Job(paper_id, key, {**inputs, **params}, {**params, **identities})

    def _stage_parts(
        self, stage: Stage[Any, Any]
    ) -> tuple[dict[str, Any], dict[str, Any], tuple[str, str]]:
        """The params, the tool identities and both as they enter the key, once per stage and
        run (the same for every paper; the prompts' digests are not taken 500 times)."""
        if stage.name not in self._key_cache:
            params = self.params(stage)
            identities = {name: self.tools.identity(name) for name in stage.uses}
            self._key_cache[stage.name] = (params, identities, fixed_parts(params, identities))
        return self._key_cache[stage.name]

    def _lookup(self, stage: Stage[Any, Any], job: Job) -> BaseModel | None:
        """The cached output, or None when it must be computed; raises for a remembered
        failure or, upstream of --only, for a missing input."""
        if stage.name not in self.plan.force and stage.reusable(job.params):
            known = self.cache.failure(stage.name, job.key) if stage.remember_failures else None
            if known is not None:
                self.log.count(stage.name, job.paper_id, "hit")
                raise PaperError(known, paper_id=job.paper_id, stage=stage.name)
            stored = self.cache.stored(stage.name, job.key, stage.output) if stage.lazy else None
            if stored is not None and stage.still_valid(stored):  # reads fields, not the text
                self.log.count(stage.name, job.paper_id, "hit")
                self._origins[stored.file] = (stage, job)
                return stored  # type: ignore[return-value]  # read when a compute needs it
            entry = self.cache.get_with_digest(stage.name, job.key, stage.output)
            if entry is not None and stage.still_valid(entry[0]) and self._whole(stage, entry[0]):
                self.log.count(stage.name, job.paper_id, "hit")
                return self._digests.known(*entry)
        if self.plan.mode(stage.name) == "load":
            raise MissingInputError(
                f"no cached {stage.name} output; run without --only first",
                paper_id=job.paper_id,
                stage=stage.name,
            )
        return None

    def _whole(self, stage: Stage[Any, Any], output: Any) -> bool:
        """Whether a cached output is served: a partial one (`Stage.complete`) only upstream of
        --only, where the run reads what the day had; a run of the stage makes it again."""
        return self.plan.mode(stage.name) == "load" or stage.complete(output)

    def _settle(self, stage: Stage[Any, Any], job: Job, value: Any) -> Any:
        """Store a fresh output (when the stage keeps it) and count it as computed."""
        if isinstance(value, BaseException):
            if stage.remember_failures and isinstance(value, PaperError):
                self.cache.put_failure(stage.name, job.key, str(value))
            raise value
        if isinstance(value, Stored):  # a worker stored it already
            self._origins[value.file] = (stage, job)
            self.cache.learn(stage.name, job.key, value)
        elif stage.keeps(value):
            seconds = round(time.perf_counter() - job.started, 4)
            meta = {"params": key_part(job.params), "seconds": seconds, "paper": job.paper_id}
            stored = self.cache.put(stage.name, job.key, value, meta, by_reference=stage.lazy)
            self._digests.known(value, stored)
        self.log.count(stage.name, job.paper_id, "computed")
        return value

    # --- where compute runs ----------------------------------------------------------

    def _compute(self, stage: Stage[Any, Any], jobs: list[Job], done: Done) -> None:
        tools = {name: self.tools.get(name) for name in stage.uses}
        placement: Placement = stage.placement(tools)
        if placement == "process" and len(jobs) >= self.pool_threshold:
            try:
                self._in_processes(stage, jobs, tools, done)
                return
            except OSError as exc:  # no worker processes to be had: compute here instead
                self.log.warn(f"worker processes could not start ({exc}); working in-process")
        if placement == "async":
            self.loop.run(self._concurrently(stage, jobs, tools, done))
            return
        for job in jobs:
            done(
                job,
                self.stop.stopped()
                if self.stop.requested
                else self._call_inline(stage, job, tools),
            )

    def _call_inline(
        self, stage: Stage[Any, Any], job: Job, tools: dict[str, Any] | None = None
    ) -> Any:
        if tools is None:
            tools = {name: self.tools.get(name) for name in stage.uses}
        try:
            result = stage.compute(**self._resolved(job.values), **tools)
            if inspect.isawaitable(result):
                result = self.loop.run(self._stoppable(_awaited(result)))
            return result
        except Exception as exc:  # one broken paper never stops the day
            return exc

    async def _concurrently(
        self, stage: Stage[Any, Any], jobs: list[Job], tools: dict[str, Any], done: Done
    ) -> None:
        # In batch mode every paper must be waiting at once, or a round holds only a few of them.
        limit = len(jobs) if self.settings.llm.batch else self.settings.llm.concurrency
        gate = asyncio.Semaphore(max(limit, 1))
        # The gate lets tasks in as they were created: the longest papers go first (stable).
        jobs = sorted(jobs, key=lambda job: stage.size(job.values), reverse=True)

        async def one(job: Job) -> None:
            async with gate:
                job.started = time.perf_counter()
                try:
                    if self.stop.requested:  # a paper not started yet waits for the next run
                        raise self.stop.stopped()
                    result: Any = await stage.compute(**self._resolved(job.values), **tools)
                except Exception as exc:  # one broken paper never stops the day
                    result = exc
            done(job, result)

        await self._stoppable(asyncio.gather(*(one(job) for job in jobs)))

    async def _stoppable(self, work: Awaitable[T]) -> T:
        """`work`, awaited; in batch mode a stop cancels it at once (RunStopped). Batch mode's
        calls wait on batches for minutes or hours, whose ids are stored as soon as they exist:
        the next run polls the same batches. (A direct call it made, a fallback or a re-ask,
        is then lost as in a kill.)"""
        if not self.settings.llm.batch:
            return await work
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        forget = self.stop.listen(lambda: loop.call_soon_threadsafe(task.cancel))
        try:
            if self.stop.requested:
                raise self.stop.stopped()
            return await work
        except asyncio.CancelledError:
            if not self.stop.requested:
                raise
            raise self.stop.stopped() from None
        finally:
            forget()

    def _in_processes(
        self, stage: Stage[Any, Any], jobs: list[Job], tools: dict[str, Any], done: Done
    ) -> None:
        broken = self._submit_all(stage, jobs, tools, done)
        # A worker that died (a PyMuPDF crash) broke the pool and every job still in it; give
        # each of those jobs a fresh pool of its own, so a crash takes only its own paper down.
        for job in broken:
            if self.stop.requested:
                done(job, self.stop.stopped())
                continue
            self.close(graceful=False)
            if self._submit_all(stage, [job], tools, done):
                done(job, _crashed(stage, job))
        # Each CPU stage has workers of its own, forked from the fork server (its imports
        # already made, so a new pool costs milliseconds): what a stage leaves in its workers
        # (PyMuPDF's library and fonts, a tokenizer's tables, a fragmented heap) does not ride
        # into the next stage, and no idle worker sits beside the report being written.
        self.close(graceful=not broken)

    def _submit_all(
        self, stage: Stage[Any, Any], jobs: Sequence[Job], tools: dict[str, Any], done: Done
    ) -> list[Job]:
        """Compute the jobs in the pool, reporting each as it finishes; returns the jobs lost
        to a broken pool."""
        pool = self._workers(stage.worker_memory(self.settings))
        futures: dict[Future[Any], Job] = {}
        # Largest first (stable): a stage then ends on short jobs, not with one worker idle
        # while the other reads the longest paper of the day.
        broken: list[Job] = []
        ordered = sorted(jobs, key=lambda job: stage.size(job.values), reverse=True)
        for n, job in enumerate(ordered):
            job.started = time.perf_counter()
            store = self._store_in_worker(stage, job)
            try:
                futures[pool.submit(_compute_in_worker, stage, job.values, tools, store)] = job
            except (BrokenProcessPool, EOFError, OSError):
                # No worker could be started: the fork server died (OOM-killed, say). The
                # jobs not submitted are lost with the pool, like those a crash breaks.
                broken.extend(ordered[n:])
                _await_fork_server_end()
                break
        stopping = False
        for future in as_completed(futures):
            job = futures[future]
            if self.stop.requested and not stopping:
                # the papers not started yet wait for the next run; those started finish
                stopping = True
                for waiting in futures:
                    waiting.cancel()
            try:
                result = future.result()
            except CancelledError:
                result = self.stop.stopped()
            except BrokenProcessPool:
                broken.append(job)
                continue
            except Exception as exc:  # a result that could not be sent back
                result = exc
            if isinstance(result, CorruptEntryError):  # an input to remake: here, then compute
                result = self._call_inline(stage, job, tools)
            done(job, result)
        return broken

    def _store_in_worker(self, stage: Stage[Any, Any], job: Job) -> Store | None:
        if not stage.lazy:
            return None
        meta = {"params": key_part(job.params), "paper": job.paper_id}
        return Store(self.cache.root, stage.name, job.key, meta)

    # --- references --------------------------------------------------------------------

    def _resolved(self, values: dict[str, Any]) -> dict[str, Any]:
        """Compute's values with each reference, or list of them (rank's records), read from
        the cache (remade if unreadable)."""
        return {k: self._resolved_one(v) for k, v in values.items()}

    def _resolved_one(self, value: Any) -> Any:
        if isinstance(value, Stored):
            return self._load(value)
        if isinstance(value, list) and any(isinstance(v, Stored) for v in value):
            return [self._load(v) if isinstance(v, Stored) else v for v in value]
        return value

    def _load(self, stored: Stored[Any]) -> Any:
        try:
            return stored.load()
        except CorruptEntryError as exc:
            origin = self._origins.get(stored.file)
            if origin is None:
                raise
            # Damaged after its metadata was read: remake it as a miss would have, and store it.
            self.log.warn(f"{exc}; recomputing")
            stage, job = origin
            value = self._call_inline(stage, job)
            value = self._settle(stage, job, value)
            return value.load() if isinstance(value, Stored) else value

    def warm(self) -> None:
        """Start the workers' fork server now: it makes its imports (~0.5 s) in the background,
        beside whatever the run does meanwhile, instead of while the first stage waits for
        its workers. Like the one a pool starts, it lives as long as this process (it is
        multiprocessing's: compare's and report's runners share it)."""
        _start_fork_server()

    def _workers(self, memory_limit: int | None = None) -> ProcessPoolExecutor:
        """The pool, its workers limited to `memory_limit` bytes: a pool made for another
        limit (extract's, for chunk) is closed first, as workers cannot lift their own."""
        if self._pool is not None and self._pool_limit != memory_limit:
            self.close()
        if self._pool is None:
            self._pool_limit = memory_limit
            _start_fork_server()  # started here, not by the pool's first spawn: see there
            self._pool = ProcessPoolExecutor(
                max_workers=WORKERS,
                mp_context=_fork_context(),
                initializer=_worker_started,
                initargs=(os.getpid(), memory_limit),
            )
        return self._pool


class Digests:
    """Content digests of the artifacts this run has stored or loaded, so a downstream key does
    not re-serialise a Document or its Chunks to learn what the cache's metadata says.

    Held by object identity, checked through a weak reference: an artifact that was copied or
    rebuilt (a new object) is digested afresh, and a freed one's id reused by another object
    is never taken for it.
    """

    def __init__(self) -> None:
        self._known: dict[int, tuple[weakref.ref[BaseModel], str]] = {}

    def known(self, value: Any, digest: str | None) -> Any:
        if digest is not None and isinstance(value, BaseModel):
            self._known[id(value)] = (weakref.ref(value), digest)
        return value

    def of(self, value: BaseModel) -> str:
        found = self._known.get(id(value))
        if found is not None and found[0]() is value:
            return found[1]
        return digest(value)


def _fork_context() -> multiprocessing.context.ForkServerContext:
    # forkserver: the run holds threads (an event loop, an HTTP client, a loaded model) that a
    # plain fork would copy in a broken state.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def _start_fork_server() -> None:
    """Start the workers' fork server, unless it runs, with SIGINT and SIGTERM blocked.

    A Ctrl-C reaches the whole process group, the fork server too while its interpreter still
    imports `site`, before its first preload (`pipeline.forkserver_signals`) can ignore it:
    it died there ("Fatal Python error: init_import_site"), and the run's next spawn failed
    with EOFError. A blocked mask survives fork and exec, so such a signal waits, pending,
    until forkserver_signals ignores it (which discards it) and unblocks both; the calling
    thread unblocks them right after the spawn, and a signal that came meanwhile reaches the
    run's handler then (multiprocessing starts its resource tracker the same way).
    A fork server that died anyway is started again here."""
    import multiprocessing.forkserver
    from multiprocessing import resource_tracker

    _fork_context()
    # First, on its own: the resource tracker's start unblocks both signals when it is done.
    resource_tracker.ensure_running()
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _await_fork_server_end(within: float = 2.0) -> None:
    """Wait until a fork server that failed to start a worker has ended, if it is ending.

    Its socket closes as it exits, before the kernel makes it a process that `waitpid` sees
    as ended; `ensure_running` asked in that moment took it for alive, the next pool spawned
    through a dead server, and a paper failed as having crashed its worker (1 run in 3 of
    test_signals_at_start's dying fork server). WNOWAIT leaves it for `ensure_running` to
    reap and replace."""
    import multiprocessing.forkserver

    pid = getattr(multiprocessing.forkserver._forkserver, "_forkserver_pid", None)
    if pid is None:
        return
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return
        except ChildProcessError:  # reaped already, or not ours
            return
        time.sleep(0.005)


def _worker_started(run_pid: int, memory_limit: int | None = None) -> None:
    """Each worker's start (ignoring SIGINT and SIGTERM from the fork server on, see
    `pipeline.forkserver_signals`): it watches the run, and what it holds from the fork
    server's imports (pydantic's schemas, PyMuPDF, the stages' patterns), which lives as long
    as it does, is left out of every collection of its cycle collector. With a memory limit
    (the stage's `worker_memory`), an allocation past it fails in the worker (MemoryError, or
    MuPDF's own), which fails that paper, instead of the machine swapping."""
    _watch_run(run_pid)
    if memory_limit is not None:
        _limit_address_space(memory_limit)
    gc.freeze()


def _limit_address_space(limit: int) -> None:
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)  # never above what this process was allowed
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _watch_run(run_pid: int) -> None:
    """Exit when the run is gone. A killed run cannot shut its pool down, and its workers
    (children of the fork server, not of the run) would otherwise wait for work that never
    comes."""

    fork_server = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            # The fork server exits as soon as the run's end closes its pipe: a run killed but
            # not yet reaped by its parent (a zombie still answers kill(pid, 0)) is seen gone.
            if os.getppid() != fork_server:
                os._exit(1)
            try:
                os.kill(run_pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:
                pass  # alive, owned by someone else (never the case here, but not dead)

    threading.Thread(target=watch, name="watch-run", daemon=True).start()


@dataclass(frozen=True)
class Store:
    """Where a worker stores a lazy stage's output itself, sending back only the reference."""

    root: Path
    stage: str
    key: str
    meta: dict[str, Any]


def _compute_in_worker(
    stage: Stage[Any, Any], values: dict[str, Any], tools: dict[str, Any], store: Store | None
) -> Any:
    """Runs in a worker process: the stage's compute (its inputs read from the cache when they
    came as references), its exception returned as a value. An unreadable input comes back as
    CorruptEntryError, for the run to remake.

    The cycle collector is paused while a paper is computed (`pipeline.collector`)."""
    try:
        with collector.paused():
            return _computed(stage, values, tools, store)
    finally:
        # The paper's inputs and output are garbage by now; the worker would otherwise stay
        # the size of its largest paper so far.
        memory.release()


def _computed(
    stage: Stage[Any, Any], values: dict[str, Any], tools: dict[str, Any], store: Store | None
) -> Any:
    try:
        started = time.perf_counter()
        values = {k: v.load() if isinstance(v, Stored) else v for k, v in values.items()}
        result = stage.compute(**values, **tools)
        if inspect.isawaitable(result):
            result = _completed(result)
        if store is None or not stage.keeps(result):
            return result
        cache = Cache(store.root)  # a failed write is silent here: the run then stores it
        seconds = round(time.perf_counter() - started, 4)
        cache.put(store.stage, store.key, result, {**store.meta, "seconds": seconds})
        return cache.stored(store.stage, store.key, stage.output) or result
    except Exception as exc:
        return exc


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _completed(awaitable: Any) -> Any:
    """The result of a worker's async compute, stepped here without an event loop.

    The extractive summarizer shares the LLM summarizers' async interface but never waits for
    anything: a new event loop for each paper (`asyncio.run`) cost more CPU than stepping the
    coroutine. A bare yield (`asyncio.sleep(0)`) is resumed at once. A compute that waits has
    no place in a worker process and fails its paper: asking for the running loop (a timer,
    I/O) fails with asyncio's own error, and yielding a future to wait on fails here."""
    coroutine = _awaited(awaitable)
    try:
        while coroutine.send(None) is None:
            pass
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("a compute in a worker process waited for I/O; place its stage 'async'")


def _crashed(stage: Stage[Any, Any], job: Job) -> PaperError:
    return PaperError(
        f"{stage.name} crashed its worker process on this paper; "
        "try `paperbrief extract` on the PDF and report it",
        paper_id=job.paper_id,
        stage=stage.name,
    )
