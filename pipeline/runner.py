"""Wires the stages: asks the cache before each step, records what ran, isolates failures.

Stages run breadth-first (every paper through extract, then every paper through chunk, ...), so
each stage's wall time is measured once and the progress display shows one bar per stage. A
paper that fails in any stage is marked failed with its reason and drops out; the day goes on.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from pipeline import seen as seen_index
from pipeline.cache import Cache, digest, file_digest, stage_key, write_atomic
from pipeline.errors import (
    LLMError,
    MissingInputError,
    PaperbriefError,
    PaperError,
    UsageError,
)
from pipeline.faithfulness import share_of_supported
from pipeline.llm.budget import BudgetedLLM
from pipeline.llm.factory import backend_fingerprint, backend_identity, make_backend
from pipeline.models import Chunks, Document, PaperMeta, SummaryRecord, TriageScore, Usage
from pipeline.prompts import Prompt, default_prompts_dir, load_prompt
from pipeline.record import STAGES, Event, LLMStats, RunRecord, StageStats
from pipeline.settings import Settings
from pipeline.sources import LISTING_VERSION, CachedListing, Source, keyword_notes
from pipeline.stages import chunk, download, extract, feed, rank, report, summarize, triage
from pipeline.tokens import Tokenizer, tokenizer_for

# Deterministic stages remember failures so a known-bad PDF is not re-read on every run;
# network and LLM failures are often transient and are retried by the next run.
REMEMBER_FAILURES = frozenset({"feed", "extract", "chunk"})
FEED_VERSION = 1
# Below this many extractions, starting worker processes costs more than it saves.
POOL_THRESHOLD = 4
T = TypeVar("T", bound=BaseModel)


class Observer(Protocol):
    def stage_started(self, stage: str, total: int) -> None: ...
    def advanced(self, stage: str) -> None: ...
    def warn(self, message: str) -> None: ...


class QuietObserver:
    def stage_started(self, stage: str, total: int) -> None:
        pass

    def advanced(self, stage: str) -> None:
        pass

    def warn(self, message: str) -> None:
        pass


@dataclass(frozen=True)
class RunPlan:
    source: Source
    force: frozenset[str] = frozenset()
    only: str | None = None


@dataclass
class Paper:
    meta: PaperMeta
    pdf: Path | None = None
    sha256: str | None = None
    document: Document | None = None
    chunks: Chunks | None = None
    record: SummaryRecord | None = None
    triage: TriageScore | None = None
    selected: bool = True
    failure: report.FailedPaper | None = None

    @property
    def live(self) -> bool:
        return self.failure is None and self.selected


@dataclass
class Runner:
    settings: Settings
    plan: RunPlan
    observer: Observer = field(default_factory=QuietObserver)

    def __post_init__(self) -> None:
        self.cache = Cache(self.settings.cache_dir, warn=self._warn)
        self.stats = {stage: StageStats() for stage in STAGES}
        self.events: list[Event] = []
        self.failures: list[report.FailedPaper] = []
        self.warnings: list[str] = []
        self.notes: list[str] = []
        self.usage_by_stage: dict[str, Usage] = {}
        self._lock = threading.Lock()
        self._backend: Any = None
        self._client: Any = None
        self._records: list[SummaryRecord] = []
        self._loop: asyncio.Runner
        self.triage_result: triage.TriageResult | None = None
        self.ranking: rank.Ranking | None = None
        self.rows: dict[str, tuple[str, float | None]] = {}
        backend_name, model = backend_identity(self.settings.llm)
        self.llm_stats = LLMStats(backend=backend_name, model=model)
        self.prompts = self._load_prompts()
        self.prompt = self.prompts["summarize"]
        self.tokenizer: Tokenizer = tokenizer_for(model, self.settings.chunk.encoding)

    @property
    def source(self) -> Source:
        return self.plan.source

    @property
    def usage(self) -> Usage:
        total = Usage()
        for usage in self.usage_by_stage.values():
            total = total + usage
        return total

    # --- the whole run --------------------------------------------------------------

    def run(self) -> RunRecord:
        # One event loop for the whole run: an async LLM client made during triage must still
        # be usable when summarize runs (a loop per stage would close it underneath).
        with asyncio.Runner() as loop:
            self._loop = loop
            try:
                return self._run()
            finally:
                self._close_backend()

    def _close_backend(self) -> None:
        """Close the LLM client inside the loop that made it, before the loop goes away."""
        backend = self._backend
        try:
            if hasattr(backend, "aclose"):
                self._loop.run(backend.aclose())
            elif hasattr(backend, "close"):
                backend.close()
        except Exception as exc:  # closing must never turn a finished run into a failure
            self._warn(f"could not close the LLM backend cleanly ({exc})")

    def _run(self) -> RunRecord:
        papers = self._timed("feed", self._feed)
        self._timed("triage", lambda: self._triage(papers))
        self._timed("download", lambda: self._each("download", papers, self._download))
        self._timed("extract", lambda: self._extract_all(papers))
        self._timed("chunk", lambda: self._each("chunk", papers, self._chunk))
        self._timed("summarize", lambda: self._loop.run(self._summarize_all(papers)))
        done = [p for p in papers if p.live and p.record is not None]
        self.ranking = self._timed("rank", lambda: self._rank(done))
        result = self._timed("report", lambda: self._report(papers, self.ranking))
        if self.source.is_arxiv and self._mode("summarize") == "run":
            seen_index.remember(self.cache.seen_path(), [p.meta for p in done], self.source.day)
        return self._finish(papers, result)

    def _timed(self, stage: str, work: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        try:
            return work()
        finally:
            self.stats[stage].seconds = round(time.perf_counter() - started, 4)

    def _mode(self, stage: str) -> str:
        """'run', 'load' (upstream of --only: cached output or nothing) or 'skip'."""
        if self.plan.only is None:
            return "run"
        position, target = STAGES.index(stage), STAGES.index(self.plan.only)
        return "run" if position == target else ("load" if position < target else "skip")

    def _load_prompts(self) -> dict[str, Prompt]:
        prompts_dir = self.settings.prompts.dir or default_prompts_dir()
        variants = self.settings.prompts
        return {
            task: load_prompt(prompts_dir, task, getattr(variants, task))
            for task in ("summarize", "triage", "notes", "digest")
        }

    def _warn(self, message: str) -> None:
        with self._lock:
            self.warnings.append(message)
        self.observer.warn(message)

    # --- one cached step ------------------------------------------------------------

    def _lookup(self, stage: str, paper_id: str, key: str, model: type[T]) -> T | None:
        """The cached result, None when it must be computed; raises for a remembered failure
        or, upstream of --only, for a missing input."""
        if stage not in self.plan.force:
            known = self.cache.failure(stage, key) if stage in REMEMBER_FAILURES else None
            if known is not None:
                self._count(stage, paper_id, "hit")
                raise PaperError(known, paper_id=paper_id, stage=stage)
            cached = self.cache.get(stage, key, model)
            if cached is not None:
                self._count(stage, paper_id, "hit")
                return cached
        if self._mode(stage) == "load":
            raise MissingInputError(
                f"no cached {stage} output; run without --only first",
                paper_id=paper_id,
                stage=stage,
            )
        return None

    def _step(
        self,
        stage: str,
        paper_id: str,
        key: str,
        model: type[T],
        compute: Callable[[], T],
        params: dict[str, Any],
    ) -> T:
        cached = self._lookup(stage, paper_id, key, model)
        if cached is not None:
            return cached
        started = time.perf_counter()
        try:
            value = compute()
        except PaperError as exc:
            self._remember_failure(stage, key, exc)
            raise
        self._store(stage, paper_id, key, value, params, started)
        return value

    async def _step_async(
        self,
        stage: str,
        paper_id: str,
        key: str,
        model: type[T],
        compute: Callable[[], Awaitable[T]],
        params: dict[str, Any],
    ) -> T:
        cached = self._lookup(stage, paper_id, key, model)
        if cached is not None:
            return cached
        started = time.perf_counter()
        value = await compute()
        self._store(stage, paper_id, key, value, params, started)
        return value

    def _store(
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
        self._count(stage, paper_id, "computed")

    def _remember_failure(self, stage: str, key: str, exc: PaperError) -> None:
        if stage in REMEMBER_FAILURES:
            self.cache.put_failure(stage, key, str(exc))

    def _count(self, stage: str, paper_id: str, status: str) -> None:
        with self._lock:
            stats = self.stats[stage]
            if status == "hit":
                stats.hits += 1
            elif status == "computed":
                stats.misses += 1
            elif status == "failed":
                stats.failed += 1
            self.events.append(Event(paper=paper_id, stage=stage, status=status))

    def _fail(self, paper: Paper, stage: str, exc: BaseException) -> None:
        if isinstance(exc, UsageError):
            raise exc  # a setup problem (a missing extra, a bad setting) would fail every paper
        if isinstance(exc, PaperError):
            message = str(exc)
        else:
            message = f"internal error: {type(exc).__name__}: {exc}"
        if isinstance(exc, LLMError) and exc.usage is not None:
            self._add_usage(stage, exc.usage)  # a failed call was still paid for
        with self._lock:
            paper.failure = report.FailedPaper(id=paper.meta.id, stage=stage, error=message)
            self.failures.append(paper.failure)
        self._count(stage, paper.meta.id, "failed")

    def _each(self, stage: str, papers: list[Paper], step: Callable[[Paper], None]) -> None:
        live = [p for p in papers if p.live]
        if self._mode(stage) == "skip":
            return
        self.observer.stage_started(stage, len(live))
        for paper in live:
            self._guarded(stage, paper, step)
            self.observer.advanced(stage)

    def _guarded(self, stage: str, paper: Paper, step: Callable[[Paper], None]) -> None:
        try:
            step(paper)
        except Exception as exc:  # one broken paper never stops the day
            self._fail(paper, stage, exc)

    # --- feed -----------------------------------------------------------------------

    def _feed(self) -> list[Paper]:
        papers = self._feed_folder() if self.source.kind == "folder" else self._feed_arxiv()
        return self._keyword_filter(papers)

    def _keyword_filter(self, papers: list[Paper]) -> list[Paper]:
        from pipeline.arxiv.listing import keyword_filter

        arxiv = self.settings.arxiv
        if not (arxiv.include or arxiv.exclude):
            return papers
        listed = [p for p in papers if p.failure is None]
        _, dropped = keyword_filter([p.meta for p in listed], arxiv.include, arxiv.exclude)
        self.notes += keyword_notes(arxiv.include, arxiv.exclude, len(dropped))
        gone = {meta.id for meta in dropped}
        return [p for p in papers if p.meta.id not in gone]

    def _feed_folder(self) -> list[Paper]:
        assert self.source.folder is not None
        pdfs = feed.pdfs_in_folder(self.source.folder)
        self.observer.stage_started("feed", len(pdfs))
        papers: list[Paper] = []
        seen: set[str] = set()
        for pdf in pdfs:
            paper = self._feed_one(pdf)
            while paper.meta.id in seen:  # two files may map to one local id
                paper.meta = paper.meta.model_copy(update={"id": paper.meta.id + "-dup"})
            seen.add(paper.meta.id)
            papers.append(paper)
            self.observer.advanced("feed")
        return papers

    def _feed_one(self, pdf: Path) -> Paper:
        sha = file_digest(pdf)
        params = {"name": pdf.name}
        key = stage_key("feed", FEED_VERSION, [sha], params)
        placeholder = PaperMeta(id=feed.local_id(pdf), title=pdf.name, pdf_path=pdf, pdf_sha256=sha)
        paper = Paper(meta=placeholder, pdf=pdf, sha256=sha)
        try:
            meta = self._step(
                "feed", placeholder.id, key, PaperMeta, lambda: feed.paper_meta(pdf), params
            )
            paper.meta = meta.model_copy(update={"pdf_path": pdf})
        except Exception as exc:
            self._fail(paper, "feed", exc)
        return paper

    def _feed_arxiv(self) -> list[Paper]:
        self.observer.stage_started("feed", 1)
        listing = self._listing()
        self.observer.advanced("feed")
        for warning in listing.warnings:
            self._warn(warning)
        return self._drop_seen([Paper(meta=meta) for meta in listing.papers])

    def _listing(self) -> CachedListing:
        """The arXiv listing. Today's feed changes when arXiv announces, so it is always read
        (one request); a listing that may be incomplete is never kept, so trying again later
        really asks arXiv again."""
        params = self.source.cache_params(self.settings.arxiv)
        key = stage_key("feed", LISTING_VERSION, [], params)
        keep = self.source.kind != "rss"
        if keep:
            cached = self._lookup("feed", "*", key, CachedListing)
            if cached is not None:
                return cached
        started = time.perf_counter()
        listing = self._fetch_listing()
        if keep and not listing.warnings:
            self._store("feed", "*", key, listing, params, started)
        else:
            self._count("feed", "*", "computed")
        return listing

    def _fetch_listing(self) -> CachedListing:
        from pipeline.arxiv import listing as arxiv_listing

        arxiv, client = self.settings.arxiv, self._arxiv_client()
        if self.source.kind == "rss":
            found = arxiv_listing.announced(client, arxiv)
            found.warnings += self._rss_cross_check(client, found)
        elif self.source.kind == "date":
            found = arxiv_listing.on_date(client, arxiv, self.source.day)
        else:
            found = arxiv_listing.by_ids(client, arxiv, list(self.source.ids))
        return CachedListing(papers=found.papers, warnings=found.warnings, counts=found.counts)

    def _rss_cross_check(self, client: Any, found: Any) -> list[str]:
        """A stale or truncated feed looks like a quiet day; compare with the API's count."""
        from pipeline.arxiv import listing as arxiv_listing

        if not self.settings.arxiv.check_rss or found.day is None or not found.papers:
            return []
        try:
            api = arxiv_listing.api_counts(client, self.settings.arxiv, found.day)
        except PaperbriefError as exc:
            return [f"could not cross-check the RSS feed against the API ({exc})"]
        return arxiv_listing.rss_vs_api_warnings(found.counts, api)

    def _arxiv_client(self) -> Any:
        """One client for the whole run: its spacing must hold from the listing to the last PDF."""
        if self._client is None:
            from pipeline.arxiv.http import ArxivClient

            self._client = ArxivClient(self.settings.arxiv)
        return self._client

    def _close_client(self) -> None:
        if self._client is None:
            return
        for stage, kinds in (("feed", ("api", "rss")), ("download", ("pdf",))):
            for kind in kinds:
                numbers = self._client.stats.get(kind)
                if numbers is not None:
                    self.stats[stage].requests += numbers.requests
                    self.stats[stage].retries += numbers.retries
                    self.stats[stage].bytes += numbers.bytes
                    self.stats[stage].request_failures += numbers.failures
        self._client.close()
        self._client = None

    def _drop_seen(self, papers: list[Paper]) -> list[Paper]:
        if self.settings.reading.reread or self.source.kind == "ids":
            return papers
        seen = seen_index.load_seen(self.cache.seen_path())
        earlier = seen_index.seen_before([p.meta for p in papers], seen, self.source.day)
        if earlier:
            self.notes.append(
                f"{len(earlier)} papers summarized on an earlier day were not read again "
                "(new versions or cross-lists; --reread includes them)."
            )
        return [p for p in papers if p.meta.id not in earlier]

    # --- triage ---------------------------------------------------------------------

    def _triage(self, papers: list[Paper]) -> None:
        live = [p for p in papers if p.live]
        top = self.settings.reading.top
        if self._mode("triage") == "skip" or len(live) <= top:
            return  # nothing to choose between: every paper is read in full
        self.observer.stage_started("triage", 1)
        result = self._triage_result(live)
        self.observer.advanced("triage")
        if result is None:
            return
        self.triage_result = result
        by_id = {score.paper_id: score for score in result.scores}
        selected = set(result.selected)
        for paper in live:
            paper.triage = by_id.get(paper.meta.id)
            paper.selected = paper.meta.id in selected

    def _triage_result(self, live: list[Paper]) -> triage.TriageResult | None:
        reading = self.settings.reading
        metas = [p.meta.model_copy(update={"pdf_path": None}) for p in live]
        params = {
            "backend": self.llm_stats.backend,
            "model": self.llm_stats.model,
            "llm": backend_fingerprint(self.settings.llm),
            "prompt": self.prompts["triage"].digest,
            "interests": reading.interests,
            "top": reading.top,
            "batch": reading.triage_batch,
            "weights": self.settings.rank.weights,
        }
        key = stage_key("triage", triage.STAGE_VERSION, sorted(digest(m) for m in metas), params)

        async def compute() -> triage.TriageResult:
            result = await self._run_triage(metas)
            self._add_usage("triage", result.usage)
            return result

        try:
            return self._loop.run(
                self._step_async("triage", "*", key, triage.TriageResult, compute, params)
            )
        except (PaperError, LLMError) as exc:
            self._warn(f"triage failed ({exc}); reading every paper in full")
            return None

    async def _run_triage(self, metas: list[PaperMeta]) -> triage.TriageResult:
        reading, weights = self.settings.reading, self.settings.rank.weights
        if self.llm_stats.backend == "extractive":
            return triage.heuristic_triage(metas, reading.interests, reading.top, weights)
        return await triage.triage(
            metas,
            self._get_backend(),
            self.prompts["triage"],
            interests=reading.interests,
            batch_size=reading.triage_batch,
            top=reading.top,
            weights=weights,
        )

    # --- download and extract -------------------------------------------------------

    def _download(self, paper: Paper) -> None:
        if paper.pdf is not None:
            return  # a local file: nothing to fetch
        target = self.cache.pdf_path(paper.meta.id)
        if target.is_file() and "download" not in self.plan.force:
            self._count("download", paper.meta.id, "hit")
        elif self._mode("download") == "load":
            raise MissingInputError(
                "no downloaded PDF; run without --only first",
                paper_id=paper.meta.id,
                stage="download",
            )
        else:
            self._fetch_pdf(paper, target)
        paper.pdf, paper.sha256 = target, file_digest(target)

    def _fetch_pdf(self, paper: Paper, target: Path) -> None:
        client, arxiv = self._arxiv_client(), self.settings.arxiv
        if "download" in self.plan.force and target.is_file():
            # fetch beside the cached copy and swap only on success: a failed forced
            # download must not lose the PDF we had
            fresh = target.with_name(f".{target.stem}.fresh.pdf")
            fresh.unlink(missing_ok=True)
            download.download_pdf(client, paper.meta, fresh, arxiv)
            os.replace(fresh, target)
        else:
            download.download_pdf(client, paper.meta, target, arxiv)
        self._count("download", paper.meta.id, "computed")

    def _extract_key(self, paper: Paper) -> str:
        assert paper.sha256 is not None
        params = {"max_pages": self.settings.extract.max_pages}
        return stage_key("extract", extract.STAGE_VERSION, [paper.sha256], params)

    def _extract_all(self, papers: list[Paper]) -> None:
        self._close_client()
        live = [p for p in papers if p.live]
        if self._mode("extract") == "skip":
            return
        self.observer.stage_started("extract", len(live))
        todo: list[Paper] = []
        for paper in live:
            try:
                paper.document = self._lookup(
                    "extract", paper.meta.id, self._extract_key(paper), Document
                )
            except Exception as exc:
                self._fail(paper, "extract", exc)
            if paper.document is None and paper.failure is None:
                todo.append(paper)
            else:
                self.observer.advanced("extract")
        self._extract_missing(todo)

    def _extract_missing(self, todo: list[Paper]) -> None:
        max_pages = self.settings.extract.max_pages
        started = time.perf_counter()
        if len(todo) >= POOL_THRESHOLD:
            paths = [p.pdf for p in todo if p.pdf is not None]
            ids = [p.meta.id for p in todo]
            results: list[Any] = extract.documents_in_processes(
                paths, max_pages, workers=2, ids=ids
            )
        else:
            results = [self._extract_inline(p, max_pages) for p in todo]
        for paper, result in zip(todo, results, strict=True):
            self._extracted(paper, result, started)
            self.observer.advanced("extract")

    def _extract_inline(self, paper: Paper, max_pages: int) -> Document | Exception:
        assert paper.pdf is not None
        try:
            return extract.document(paper.pdf, paper.meta.id, max_pages=max_pages)
        except Exception as exc:
            return exc

    def _extracted(self, paper: Paper, result: Document | Exception, started: float) -> None:
        key = self._extract_key(paper)
        if isinstance(result, Exception):
            if isinstance(result, PaperError):
                self._remember_failure("extract", key, result)
            self._fail(paper, "extract", result)
            return
        paper.document = result
        params = {"max_pages": self.settings.extract.max_pages}
        self._store("extract", paper.meta.id, key, result, params, started)
        if result.pages_read < result.pages:
            self.notes.append(
                f"{paper.meta.id}: read the first {result.pages_read} of {result.pages} pages "
                "(extract.max_pages)."
            )

    # --- chunk and summarize --------------------------------------------------------

    def _chunk(self, paper: Paper) -> None:
        assert paper.document is not None
        cfg = self.settings.chunk
        params = {**cfg.model_dump(exclude={"encoding"}), "encoding": self.tokenizer.name}
        key = stage_key("chunk", chunk.STAGE_VERSION, [digest(paper.document)], params)
        document = paper.document
        paper.chunks = self._step(
            "chunk",
            paper.meta.id,
            key,
            Chunks,
            lambda: chunk.chunks(
                document,
                tokenizer=self.tokenizer,
                max_tokens=cfg.max_tokens,
                overlap=cfg.overlap,
                paper_budget=cfg.paper_budget,
            ),
            params,
        )

    async def _summarize_all(self, papers: list[Paper]) -> None:
        live = [p for p in papers if p.live]
        if self._mode("summarize") == "skip":
            return
        self.observer.stage_started("summarize", len(live))
        gate = asyncio.Semaphore(self.settings.llm.concurrency)

        async def one(paper: Paper) -> None:
            async with gate:
                try:
                    await self._summarize(paper)
                except Exception as exc:  # one broken paper never stops the day
                    self._fail(paper, "summarize", exc)
            self.observer.advanced("summarize")

        await asyncio.gather(*(one(paper) for paper in live))

    def _summarize_params(self) -> dict[str, Any]:
        reading = self.settings.reading
        return {
            "backend": self.llm_stats.backend,
            "model": self.llm_stats.model,
            "llm": backend_fingerprint(self.settings.llm),
            "prompts": summarize.prompts_digest(self.prompts),
            "schema": summarize.schema_digest(),
            "single_call_budget": reading.single_call_budget,
            "interests": reading.interests,
        }

    async def _summarize(self, paper: Paper) -> None:
        assert paper.chunks is not None
        params = self._summarize_params()
        meta_digest = digest(paper.meta.model_copy(update={"pdf_path": None}))
        inputs = [digest(paper.chunks), meta_digest]
        key = stage_key("summarize", summarize.STAGE_VERSION, inputs, params)
        chunks = paper.chunks

        async def compute() -> SummaryRecord:
            self._check_budget(paper)
            record = await summarize.summary_record(
                paper.meta,
                chunks,
                self.prompts,
                self._get_backend(),
                single_call_budget=self.settings.reading.single_call_budget,
                interests=self.settings.reading.interests,
            )
            for step, usage in (record.stage_usage or {"summarize": record.usage}).items():
                self._add_usage(step, usage)
            return record

        paper.record = await self._step_async(
            "summarize", paper.meta.id, key, SummaryRecord, compute, params
        )

    def _check_budget(self, paper: Paper) -> None:
        cap = self.settings.llm.max_cost
        if cap is not None and self.usage.cost_usd >= cap:
            raise LLMError(
                f"not summarized: the run reached its cost cap (${cap:.2f}); raise --max-cost "
                "or run again tomorrow",
                paper_id=paper.meta.id,
                stage="summarize",
            )

    def _get_backend(self) -> Any:
        with self._lock:
            if self._backend is None:
                backend = make_backend(self.settings.llm)
                cap = self.settings.llm.max_cost
                if cap is not None and hasattr(backend, "structured"):
                    backend = BudgetedLLM(backend, cap)
                self._backend = backend
            return self._backend

    def _add_usage(self, stage: str, usage: Usage) -> None:
        with self._lock:
            self.usage_by_stage[stage] = self.usage_by_stage.get(stage, Usage()) + usage

    # --- rank and report ------------------------------------------------------------

    def _rank(self, done: list[Paper]) -> rank.Ranking | None:
        if self._mode("rank") == "skip":
            return None
        self.observer.stage_started("rank", 1)
        weights = self.settings.rank.weights
        pairs = [(p.meta.model_copy(update={"pdf_path": None}), p.record) for p in done if p.record]
        inputs = [digest(meta) + digest(record) for meta, record in pairs]
        key = stage_key("rank", rank.STAGE_VERSION, inputs, {"weights": weights})
        result = self._whole_step(
            "rank",
            key,
            rank.Ranking,
            lambda: rank.Ranking(papers=rank.ranked(pairs, weights)),
            {"weights": weights},
        )
        self.observer.advanced("rank")
        return result

    def _whole_step(
        self,
        stage: str,
        key: str,
        model: type[T],
        compute: Callable[[], T],
        params: dict[str, Any],
    ) -> T | None:
        try:
            return self._step(stage, "*", key, model, compute, params)
        except PaperError as exc:
            self._warn(f"{stage}: {exc}")
            return None

    def _report(self, papers: list[Paper], ranking: rank.Ranking | None) -> report.Report | None:
        if self._mode("report") == "skip" or ranking is None:
            return None
        self.observer.stage_started("report", 1)
        inputs = report.ReportInput(
            day=self.source.day,
            source=self.source.describe(self.settings.arxiv.categories),
            backend=self.llm_stats.backend,
            model=self.llm_stats.model,
            prompt=self.prompt.name,
            listed=len(papers),
            papers=ranking.papers,
            failed=sorted(self.failures, key=lambda f: f.id),
            notes=[*self.notes, *self.warnings],
            appendix=[p.triage for p in papers if not p.selected and p.triage is not None],
            appendix_titles={p.meta.id: p.meta.title for p in papers if not p.selected},
            triage_usage=self.triage_result.usage if self.triage_result else None,
        )
        key = stage_key("report", report.STAGE_VERSION, [digest(inputs)], {})
        result = self._whole_step("report", key, report.Report, lambda: report.report(inputs), {})
        self.observer.advanced("report")
        return result

    # --- the record -----------------------------------------------------------------

    def _llm_record(self) -> LLMStats:
        """This run's calls, tokens and dollars, in total, per stage and per paper."""
        usage = self.usage
        by_stage = {
            stage: {
                "calls": u.calls,
                "prompt_tokens": u.prompt_tokens,
                "completion_tokens": u.completion_tokens,
                "cost_usd": round(u.cost_usd, 6),
            }
            for stage, u in self.usage_by_stage.items()
        }
        # What each paper's summary cost when it was made (a cached summary keeps its price).
        by_paper = {
            record.paper_id: {
                "calls": record.usage.calls,
                "prompt_tokens": record.usage.prompt_tokens,
                "completion_tokens": record.usage.completion_tokens,
                "cost_usd": round(record.usage.cost_usd, 6),
            }
            for record in self._records
        }
        return self.llm_stats.model_copy(
            update={
                "by_paper": by_paper,
                "calls": usage.calls,
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "cached_tokens": usage.cached_tokens,
                "cost_usd": round(usage.cost_usd, 6),
                "by_stage": by_stage,
            }
        )

    def _faithfulness(self, papers: list[Paper]) -> dict[str, Any]:
        reports = [p.record.faithfulness for p in papers if p.record is not None]
        present = [r for r in reports if r is not None]
        return {
            "numbers_checked": sum(r.checked for r in present),
            "numbers_supported": sum(r.supported for r in present),
            "share_supported": share_of_supported(present),
            "papers_flagged": sorted(
                p.meta.id
                for p in papers
                if p.record and p.record.faithfulness and p.record.faithfulness.unsupported
            ),
        }

    def _finish(self, papers: list[Paper], result: report.Report | None) -> RunRecord:
        self._close_client()
        self._records = [p.record for p in papers if p.record is not None]
        out = self.settings.out_dir / self.source.day.isoformat()
        record = RunRecord(
            date=self.source.day.isoformat(),
            source=self.source.describe(self.settings.arxiv.categories),
            papers=len(papers),
            succeeded=sum(1 for p in papers if p.failure is None),
            failed=sorted(self.failures, key=lambda f: f.id),
            stages=self.stats,
            llm=self._llm_record(),
            tokenizer={"encoding": self.tokenizer.name, "fallback": self.tokenizer.fallback},
            prompt=self.prompt.name,
            warnings=self.warnings,
            faithfulness=self._faithfulness(papers),
            read_in_full=sum(1 for p in papers if p.selected and p.failure is None),
            out_dir=str(out),
            events=self.events,
        )
        ranked = self.ranking.papers if self.ranking else []
        scores = {p.meta.id: p.impact_score for p in ranked}
        self.rows = {p.meta.id: (p.meta.title, scores.get(p.meta.id)) for p in papers}
        write_outputs(out, record, result)
        return record


def write_outputs(out: Path, record: RunRecord, result: report.Report | None) -> None:
    if result is not None:
        write_atomic(out / "summaries.md", result.markdown.encode("utf-8"))
        json_blob = json.dumps(result.data, indent=2, ensure_ascii=False)
        write_atomic(out / "summaries.json", json_blob.encode("utf-8"))
    run_blob = record.model_dump_json(indent=2, exclude={"out_dir"})
    write_atomic(out / "run.json", run_blob.encode("utf-8"))
