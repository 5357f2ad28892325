"""The run: the stages in order, each applied to the day by the executor.

feed → triage → download → extract → chunk → summarize → rank → report. Stages run
breadth-first (every paper through extract, then every paper through chunk, ...), so each
stage's wall time is measured once and the progress display shows one bar per stage. A paper
that fails in any stage is marked failed with its reason and drops out; the day goes on.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline import seen as seen_index
from pipeline.cache import Cache
from pipeline.editions import Edition, edition_name
from pipeline.errors import PaperbriefError, UsageError
from pipeline.executor import POOL_THRESHOLD, LocalExecutor, Plan
from pipeline.feeding import admit, folder_paper, seed
from pipeline.llm.backends import MakeBackend
from pipeline.observer import Observer, QuietObserver
from pipeline.paper import Day, Paper, release
from pipeline.record import RunRecord, new_run_id, run_record, write_outputs
from pipeline.runlog import RunLog
from pipeline.settings import Settings
from pipeline.sources import Source
from pipeline.stage import Stage
from pipeline.stages.chunk import Chunking
from pipeline.stages.download import Download
from pipeline.stages.extract import Extract
from pipeline.stages.feed import ArxivListing, FolderFeed
from pipeline.stages.rank import Rank
from pipeline.stages.report import DailyReport, report_input
from pipeline.stages.summarize import Summarize
from pipeline.stages.triage import Triage
from pipeline.stopping import Stop
from pipeline.tools import Tools

logger = logging.getLogger(__name__)

# Re-exported: callers and tests import these from the runner.
__all__ = ["Observer", "Paper", "QuietObserver", "RunPlan", "Runner", "stages_for"]


def stages_for(source: Source) -> list[Stage[Any, Any]]:
    """The stages in the order they run; adding a stage means adding it here."""
    rest: list[Stage[Any, Any]] = [Chunking(), Summarize(), Rank(), DailyReport()]
    if source.kind == "folder":
        # A local PDF is read once: extract, and the feed takes title, abstract and authors
        # from its Document. Every PDF of the folder is read in full, then triage picks the top.
        return [Extract(), FolderFeed(), Triage(), Download(), *rest]
    return [ArxivListing(source), Triage(), Download(), Extract(), *rest]


def _inputs(stage: Stage[Any, Any], pdf: Path, sha256: str) -> tuple[str, dict[str, Any]]:
    # A PDF whose name another's also maps to gets a "-dup" id in the day, not this one: it
    # looks uncached here, and may start the fork server early for nothing (a guess only).
    paper = folder_paper(pdf, sha256)
    return paper.meta.id, stage.inputs(paper)


def _check_only(plan: RunPlan, log: RunLog, loaded: list[str]) -> None:
    """`--only STAGE` reads the stages before it from the cache, the feed (and, for a folder,
    extract, which runs before it) first; when none of one was there, nothing later can be
    either, and the user mistook the order, not the papers: one usage error instead of every
    paper failed and an empty run.json over the day's real one. In the runner because only
    those stages' lookups (per PDF, by content) know what is cached."""
    if plan.only is not None and any(log.stats[name].hits == 0 for name in loaded):
        raise UsageError(
            f"--only {plan.only}: nothing is cached for this source yet (today's RSS listing "
            "never is); run without --only first"
        )


@dataclass(frozen=True)
class RunPlan:
    source: Source
    force: frozenset[str] = frozenset()
    only: str | None = None


@dataclass
class Runner:
    settings: Settings
    plan: RunPlan
    observer: Observer = field(default_factory=QuietObserver)
    # A backend made by the caller (a test's scripted model); by default, the settings' own.
    # It is given the run log's meter, so its usage lands in run.json like any backend's.
    make_backend: MakeBackend | None = None
    pool_threshold: int = POOL_THRESHOLD  # papers a CPU stage needs to use worker processes
    # Asked by the first Ctrl-C or SIGTERM (`run_command`): the run then ends after the calls
    # on the wire, raising RunStopped.
    stop: Stop = field(default_factory=Stop)

    def __post_init__(self) -> None:
        self.log = RunLog(self.observer)
        self.cache = Cache(self.settings.cache_dir, self.log.warn, self.plan.source.day)
        made = self.make_backend(self.settings.llm, self.log.meter) if self.make_backend else None
        self.tools = Tools(self.settings, self.cache, self.log, self.plan.force, made, self.stop)
        self.stages = stages_for(self.plan.source)
        identity = self.tools.backend.identity()
        self.edition = edition_name(identity.name, identity.model, self.settings.prompts.summarize)
        self.run_id = new_run_id()
        order = tuple(stage.name for stage in self.stages)
        self.stage_plan = Plan(self.plan.force, self.plan.only, order)
        self.day = Day(
            source=self.plan.source,
            log=self.log,
            source_line=self.plan.source.describe(self.settings.arxiv.categories),
            backend=identity.name,
            model=identity.model,
            prompt=f"summarize/{self.settings.prompts.summarize}",
        )

    def run(self) -> RunRecord:
        # The lock covers the outputs too: run.json, the reports and the edition read entries
        # that a `cache clear` waiting for this run would otherwise remove underneath them.
        with self.cache.run_lock(self.observer.warn):
            self._stages(until=None)
            return self._finish()

    def run_stages(self, until: str | None = None) -> Day:
        """The stages in order, stopping before the one named `until` (compare prepares the
        papers once, up to summarize); holds the cache for the whole of it."""
        with self.cache.run_lock(self.observer.warn):
            return self._stages(until)

    def _stages(self, until: str | None) -> Day:
        # One event loop for the whole run: an async LLM client made during triage must still
        # be usable when summarize runs (a loop per stage would close it underneath).
        with asyncio.Runner() as loop:
            executor = LocalExecutor(
                self.settings,
                self.cache,
                self.log,
                self.tools,
                self.stage_plan,
                self.observer,
                loop,
                self.pool_threshold,
                self.stop,
            )
            finished = False
            try:
                self.day.papers = seed(
                    self.plan.source,
                    self.log.warn,
                    self._hasher(executor),
                    self.cache.digests.held,
                )
                for stage in self.stages:
                    if stage.name == until:
                        break
                    if self.stop.requested:
                        raise self.stop.stopped()
                    try:
                        executor.run(stage, self.day)
                    except PaperbriefError:
                        if self.stop.requested:  # the listing's next page was not fetched
                            raise self.stop.stopped() from None
                        raise
                    if until is None:  # compare reads the documents and chunks afterwards
                        release(self.day.papers, stage.name)
                    if stage.name == "feed":
                        admit(self.day, self.settings, self.cache.seen_path())
                        loaded = [s.name for s in self.stages[: self.stages.index(stage) + 1]]
                        loaded = [n for n in loaded if self.stage_plan.mode(n) == "load"]
                        _check_only(self.plan, self.log, loaded)
                finished = True
            finally:
                executor.close(graceful=finished)
                loop.run(self.tools.aclose())
                self.cache.save_indexes()
        return self.day

    def _hasher(self, executor: LocalExecutor) -> Callable[[Path], str]:
        """The cache's digest of a PDF. Once as many PDFs hashed afresh have no cached Document
        as make extract use worker processes, the workers' fork server is started: its imports
        then overlap the hashing of the rest, on a cold day's first second (otherwise one core).
        A folder just written or moved is hashed afresh too, but its PDFs already extracted do
        not count: a cached day starts no fork server."""
        extract = next((stage for stage in self.stages if stage.name == "extract"), None)
        new = itertools.count(1)
        started = threading.Event()  # then the rest of the day's PDFs need no look-up

        def digest(pdf: Path) -> str:
            # Called for the PDFs the index does not hold (`seed` asks it first): hashed afresh.
            sha256 = self.cache.digests.digest(pdf)
            if started.is_set() or extract is None:
                return sha256
            if executor.cached(extract, *_inputs(extract, pdf, sha256)):
                return sha256
            if next(new) == max(self.pool_threshold, 1):
                started.set()
                try:
                    executor.warm()
                except Exception as exc:  # a head start only: the pool starts it when needed
                    logger.debug("fork server not started early: %s", exc)
            return sha256

        return digest

    def _finish(self) -> RunRecord:
        day, source = self.day, self.plan.source
        if source.is_arxiv and self.stage_plan.mode("summarize") == "run":
            done = [p.meta for p in day.done()]
            try:
                seen_index.remember(self.cache.seen_path(), done, source.day)
            except OSError as exc:  # a full cache disk, like any cache write: warn, go on
                self.log.warn(f"could not update the seen index ({exc}); continuing")
        out = self.settings.out_dir / source.day.isoformat() / self.edition
        record = run_record(day, self.settings, out, self.run_id, self.edition)
        if day.report is not None and day.ranking is not None:
            self.cache.put_edition(source.day, self.edition, self._edition_entry(record))
        write_outputs(out, record, day.report)
        return record

    def _edition_entry(self, record: RunRecord) -> Edition:
        return Edition(
            run_id=self.run_id,
            edition=self.edition,
            day=self.plan.source.day,
            categories=self.settings.arxiv.categories if self.plan.source.is_arxiv else [],
            listed=record.papers,
            triaged=len(self.day.triage.scores) if self.day.triage else 0,
            read_in_full=record.read_in_full,
            report=report_input(self.day),
            record=record,
        )

    @property
    def rows(self) -> dict[str, tuple[str, float | None, bool]]:
        """Each paper's title, impact score (None when not ranked) and whether it was read."""
        ranked = self.day.ranking.papers if self.day.ranking else []
        scores = {p.meta.id: p.impact_score for p in ranked}
        return {
            p.meta.id: (p.meta.title, scores.get(p.meta.id), p.selected) for p in self.day.papers
        }
