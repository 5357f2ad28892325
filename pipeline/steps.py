"""One cached step: ask the cache, else compute and store; count hits, computations and failures.

Every stage goes through here, so run.json's per-stage counts and events, `--force`, `--only`
and remembered failures mean the same thing in every stage.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel

from pipeline.accounting import Ledger
from pipeline.cache import Cache
from pipeline.errors import LLMError, MissingInputError, PaperError, UsageError
from pipeline.paper import Paper
from pipeline.record import STAGES, Event, StageStats
from pipeline.stages import report

# Deterministic stages remember failures so a known-bad PDF is not re-read on every run;
# network and LLM failures are often transient and are retried by the next run.
REMEMBER_FAILURES = frozenset({"feed", "extract", "chunk"})
T = TypeVar("T", bound=BaseModel)


class Steps:
    """The cache, the plan's --force and --only, and the record of what ran and what failed."""

    def __init__(
        self,
        cache: Cache,
        ledger: Ledger,
        force: frozenset[str] = frozenset(),
        only: str | None = None,
    ) -> None:
        self.cache = cache
        self.ledger = ledger
        self.force = force
        self.only = only
        self.stats = {stage: StageStats() for stage in STAGES}
        self.events: list[Event] = []
        self.failures: list[report.FailedPaper] = []
        self._lock = threading.Lock()

    def mode(self, stage: str) -> str:
        """'run', 'load' (upstream of --only: cached output or nothing) or 'skip'."""
        if self.only is None:
            return "run"
        position, target = STAGES.index(stage), STAGES.index(self.only)
        return "run" if position == target else ("load" if position < target else "skip")

    def timed(self, stage: str, work: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        try:
            return work()
        finally:
            self.stats[stage].seconds = round(time.perf_counter() - started, 4)

    def lookup(self, stage: str, paper_id: str, key: str, model: type[T]) -> T | None:
        """The cached result, None when it must be computed; raises for a remembered failure
        or, upstream of --only, for a missing input."""
        if stage not in self.force:
            known = self.cache.failure(stage, key) if stage in REMEMBER_FAILURES else None
            if known is not None:
                self.count(stage, paper_id, "hit")
                raise PaperError(known, paper_id=paper_id, stage=stage)
            cached = self.cache.get(stage, key, model)
            if cached is not None:
                self.count(stage, paper_id, "hit")
                return cached
        if self.mode(stage) == "load":
            raise MissingInputError(
                f"no cached {stage} output; run without --only first",
                paper_id=paper_id,
                stage=stage,
            )
        return None

    def step(
        self,
        stage: str,
        paper_id: str,
        key: str,
        model: type[T],
        compute: Callable[[], T],
        params: dict[str, Any],
    ) -> T:
        cached = self.lookup(stage, paper_id, key, model)
        if cached is not None:
            return cached
        started = time.perf_counter()
        try:
            value = compute()
        except PaperError as exc:
            self.remember_failure(stage, key, exc)
            raise
        self.store(stage, paper_id, key, value, params, started)
        return value

    async def step_async(
        self,
        stage: str,
        paper_id: str,
        key: str,
        model: type[T],
        compute: Callable[[], Awaitable[T]],
        params: dict[str, Any],
    ) -> T:
        cached = self.lookup(stage, paper_id, key, model)
        if cached is not None:
            return cached
        started = time.perf_counter()
        try:
            value = await compute()
        except PaperError as exc:
            self.remember_failure(stage, key, exc)
            raise
        self.store(stage, paper_id, key, value, params, started)
        return value

    def store(
        self,
        stage: str,
        paper_id: str,
        key: str,
        value: BaseModel,
        params: dict[str, Any],
        started: float,
    ) -> None:
        seconds = round(time.perf_counter() - started, 4)
        self.cache.put(stage, key, value, {"params": params, "seconds": seconds, "paper": paper_id})
        self.count(stage, paper_id, "computed")

    def remember_failure(self, stage: str, key: str, exc: PaperError) -> None:
        if stage in REMEMBER_FAILURES:
            self.cache.put_failure(stage, key, str(exc))

    def count(self, stage: str, paper_id: str, status: str) -> None:
        with self._lock:
            stats = self.stats[stage]
            if status == "hit":
                stats.hits += 1
            elif status == "computed":
                stats.misses += 1
            elif status == "failed":
                stats.failed += 1
            self.events.append(Event(paper=paper_id, stage=stage, status=status))

    def fail(self, paper: Paper, stage: str, exc: BaseException) -> None:
        """Mark the paper failed in this stage; it drops out and the day goes on."""
        if isinstance(exc, UsageError):
            raise exc  # a setup problem (a missing extra, a bad setting) would fail every paper
        if isinstance(exc, PaperError):
            message = str(exc)
        else:
            message = f"internal error: {type(exc).__name__}: {exc}"
        if isinstance(exc, LLMError) and exc.usage is not None:
            self.ledger.add(stage, exc.usage)  # a failed call was still paid for
        with self._lock:
            paper.failure = report.FailedPaper(id=paper.meta.id, stage=stage, error=message)
            self.failures.append(paper.failure)
        self.count(stage, paper.meta.id, "failed")
