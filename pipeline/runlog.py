"""The run log: everything a run says about itself, in one place.

Counts and events per stage (what was served from the cache, computed or failed), the papers
that dropped out and why, warnings and notes for the report header, LLM usage by step, and the
arXiv client's request counts. `run.json` and the report are pure functions of the papers and
this log (`pipeline.record.run_record`, the report stage's inputs).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pipeline.accounting import Ledger
from pipeline.errors import PaperError, UsageError
from pipeline.models import FailedPaper, Usage
from pipeline.observer import Observer, QuietObserver
from pipeline.record import STAGES, Event, StageStats
from pipeline.redaction import redacted

STATUS_FIELD = {"hit": "hits", "computed": "misses", "failed": "failed"}


class RunLog:
    def __init__(self, observer: Observer | None = None) -> None:
        self.observer = observer or QuietObserver()
        self.stats = {stage: StageStats() for stage in STAGES}
        self.events: list[Event] = []
        self.failures: list[FailedPaper] = []
        self.warnings: list[str] = []
        self.notes: list[str] = []
        self.usage = Ledger()
        # What each paper that failed after spending had cost (its row in run.json's by_paper).
        self.failed_spend: dict[str, Usage] = {}
        # Papers are summarized concurrently and extracted in worker threads' callbacks.
        self._lock = threading.Lock()

    def count(self, stage: str, paper_id: str, status: str) -> None:
        with self._lock:
            stats = self.stats.setdefault(stage, StageStats())
            setattr(stats, STATUS_FIELD[status], getattr(stats, STATUS_FIELD[status]) + 1)
            # built unvalidated: three strings, 2,000 times on a cached day
            self.events.append(Event.model_construct(paper=paper_id, stage=stage, status=status))

    def failure(self, paper_id: str, stage: str, exc: BaseException) -> FailedPaper:
        """Record a paper's failure in a stage; a setup problem is raised instead, since it
        would fail every paper (a missing extra, a bad setting)."""
        if isinstance(exc, UsageError):
            raise exc
        if isinstance(exc, PaperError):
            message = str(exc)
        else:
            message = f"internal error: {type(exc).__name__}: {exc}"
        failed = FailedPaper(id=paper_id, stage=stage, error=redacted(message))
        spent = exc.spent if isinstance(exc, PaperError) else None
        with self._lock:
            self.failures.append(failed)
            if spent is not None and spent.calls:
                self.failed_spend[paper_id] = spent
        self.count(stage, paper_id, "failed")
        return failed

    def warn(self, message: str) -> None:
        message = redacted(message)  # an HTTP error may quote a URL with its credentials
        with self._lock:
            self.warnings.append(message)
        self.observer.warn(message)

    def note(self, message: str) -> None:
        """A line for the report header (what shaped the day), not a problem."""
        with self._lock:
            self.notes.append(message)

    def meter(self, step: str, usage: Usage) -> None:
        """Every LLM request's cost, as it is paid (the backends' one usage sink)."""
        total = self.usage.add(step, usage)
        tokens = total.prompt_tokens + total.completion_tokens
        self.observer.spent(tokens, total.cost_usd, total.unpriced_models, total.estimated_models)

    def requests(self, stage: str, numbers: Any) -> None:
        """Add an HTTP client's request counts (requests, retries, bytes, failures)."""
        with self._lock:
            stats = self.stats.setdefault(stage, StageStats())
            stats.requests += numbers.requests
            stats.retries += numbers.retries
            stats.bytes += numbers.bytes
            stats.request_failures += numbers.failures

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            stats = self.stats.setdefault(stage, StageStats())
            stats.seconds = round(time.perf_counter() - started, 4)

    def sorted_failures(self) -> list[FailedPaper]:
        return sorted(self.failures, key=lambda f: f.id)

    def spent_failures(self) -> list[tuple[FailedPaper, Usage]]:
        """The papers that failed after their calls were paid, with what those calls cost."""
        return [
            (f, self.failed_spend[f.id])
            for f in self.sorted_failures()
            if f.id in self.failed_spend
        ]
