"""Wires the stages: feed → triage → download → extract → chunk → summarize → rank → report.

Stages run breadth-first (every paper through extract, then every paper through chunk, ...), so
each stage's wall time is measured once and the progress display shows one bar per stage. A
paper that fails in any stage is marked failed with its reason and drops out; the day goes on.
Each step asks the cache first (`pipeline.steps`); the papers come from `pipeline.feeding`, and
run.json's accounting is built by `pipeline.accounting`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from pipeline import seen as seen_index
from pipeline.accounting import Ledger, faithfulness_summary, llm_record
from pipeline.cache import Cache, digest, file_digest, stage_key, write_atomic
from pipeline.clients import Clients
from pipeline.errors import LLMError, MissingInputError, PaperError
from pipeline.feeding import Feeder
from pipeline.llm.factory import backend_fingerprint, backend_identity
from pipeline.models import Chunks, Document, PaperMeta, SummaryRecord
from pipeline.observer import Observer, QuietObserver
from pipeline.paper import Paper
from pipeline.prompts import Prompt, default_prompts_dir, load_prompt
from pipeline.record import LLMStats, RunRecord
from pipeline.settings import Settings
from pipeline.sources import Source
from pipeline.stages import chunk, download, extract, rank, report, summarize, triage
from pipeline.steps import Steps
from pipeline.tokens import Tokenizer, tokenizer_for

# Re-exported: callers and tests import these from the runner.
__all__ = ["Observer", "Paper", "QuietObserver", "RunPlan", "Runner", "write_outputs"]

# Below this many extractions, starting worker processes costs more than it saves.
POOL_THRESHOLD = 4
T = TypeVar("T", bound=BaseModel)


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

    def __post_init__(self) -> None:
        self.warnings: list[str] = []
        self.notes: list[str] = []
        self._lock = threading.Lock()
        self.cache = Cache(self.settings.cache_dir, warn=self._warn)
        self.ledger = Ledger()
        self.steps = Steps(self.cache, self.ledger, self.plan.force, self.plan.only)
        self.clients = Clients(self.settings, self.steps.stats, warn=self._warn)
        self._loop: asyncio.Runner
        self.triage_result: triage.TriageResult | None = None
        self.ranking: rank.Ranking | None = None
        self.rows: dict[str, tuple[str, float | None, bool]] = {}
        backend_name, model = backend_identity(self.settings.llm)
        self.llm_stats = LLMStats(backend=backend_name, model=model)
        self.prompts = self._load_prompts()
        self.prompt = self.prompts["summarize"]
        self.tokenizer: Tokenizer = tokenizer_for(model, self.settings.chunk.encoding)

    @property
    def source(self) -> Source:
        return self.plan.source

    # --- the whole run --------------------------------------------------------------

    def run(self) -> RunRecord:
        # One event loop for the whole run: an async LLM client made during triage must still
        # be usable when summarize runs (a loop per stage would close it underneath).
        with asyncio.Runner() as loop:
            self._loop = loop
            try:
                return self._run()
            finally:
                self.clients.close_llm(loop)

    def _run(self) -> RunRecord:
        timed = self.steps.timed
        papers = timed("feed", self._feed)
        timed("triage", lambda: self._triage(papers))
        # local PDFs have nothing to fetch, so only papers without a file enter the stage
        timed(
            "download",
            lambda: self._each("download", [p for p in papers if p.pdf is None], self._download),
        )
        timed("extract", lambda: self._extract_all(papers))
        timed("chunk", lambda: self._each("chunk", papers, self._chunk))
        timed("summarize", lambda: self._loop.run(self._summarize_all(papers)))
        done = [p for p in papers if p.live and p.record is not None]
        self.ranking = timed("rank", lambda: self._rank(done))
        result = timed("report", lambda: self._report(papers, self.ranking))
        if self.source.is_arxiv and self.steps.mode("summarize") == "run":
            seen_index.remember(self.cache.seen_path(), [p.meta for p in done], self.source.day)
        return self._finish(papers, result)

    def _load_prompts(self) -> dict[str, Prompt]:
        prompts_dir = self.settings.prompts.dir or default_prompts_dir()
        variants = self.settings.prompts
        return {
            task: load_prompt(prompts_dir, task, getattr(variants, task))
            for task in ("summarize", "triage", "notes")
        }

    def _warn(self, message: str) -> None:
        with self._lock:
            self.warnings.append(message)
        self.observer.warn(message)

    def _each(self, stage: str, papers: list[Paper], step: Callable[[Paper], None]) -> None:
        live = [p for p in papers if p.live]
        if self.steps.mode(stage) == "skip" or not live:
            return  # no bar for a stage with nothing to do
        self.observer.stage_started(stage, len(live))
        for paper in live:
            self._guarded(stage, paper, step)
            self.observer.advanced(stage)

    def _guarded(self, stage: str, paper: Paper, step: Callable[[Paper], None]) -> None:
        try:
            step(paper)
        except Exception as exc:  # one broken paper never stops the day
            self.steps.fail(paper, stage, exc)

    # --- feed -----------------------------------------------------------------------

    def _feed(self) -> list[Paper]:
        feeder = Feeder(
            self.settings, self.source, self.steps, self.observer, self._warn, self.clients.arxiv
        )
        papers = feeder.papers()
        self.notes += feeder.notes  # feed runs first, so its notes lead the header
        return papers

    # --- triage ---------------------------------------------------------------------

    def _triage(self, papers: list[Paper]) -> None:
        live = [p for p in papers if p.live]
        top = self.settings.reading.top
        if self.steps.mode("triage") == "skip" or len(live) <= top:
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
        metas = [p.meta.portable() for p in live]
        params = {
            "backend": self.llm_stats.backend,
            "model": self.llm_stats.model,
            "llm": self._summarize_params["llm"],
            "prompt": self.prompts["triage"].digest,
            "interests": reading.interests,
            "top": reading.top,
            "batch": reading.triage_batch,
            "weights": self.settings.rank.weights,
        }
        key = stage_key("triage", triage.STAGE_VERSION, sorted(digest(m) for m in metas), params)

        async def compute() -> triage.TriageResult:
            result = await self._run_triage(metas)
            self.ledger.add("triage", result.usage)
            return result

        try:
            return self._loop.run(
                self.steps.step_async("triage", "*", key, triage.TriageResult, compute, params)
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
            self.clients.llm(),
            self.prompts["triage"],
            interests=reading.interests,
            batch_size=reading.triage_batch,
            top=reading.top,
            weights=weights,
        )

    # --- download and extract -------------------------------------------------------

    def _download(self, paper: Paper) -> None:
        target = self.cache.pdf_path(paper.meta.id)
        if self.steps.mode("download") == "load" and not target.is_file():
            raise MissingInputError(
                "no downloaded PDF; run without --only first",
                paper_id=paper.meta.id,
                stage="download",
            )
        force = "download" in self.plan.force
        client, arxiv = self.clients.arxiv(), self.settings.arxiv
        written = download.download_pdf(client, paper.meta, target, arxiv, force=force)
        self.steps.count("download", paper.meta.id, "computed" if written else "hit")
        paper.pdf, paper.sha256 = target, file_digest(target)

    def _extract_params(self) -> dict[str, Any]:
        return {"max_pages": self.settings.extract.max_pages}

    def _extract_key(self, paper: Paper) -> str:
        assert paper.sha256 is not None
        return stage_key("extract", extract.STAGE_VERSION, [paper.sha256], self._extract_params())

    def _extract_all(self, papers: list[Paper]) -> None:
        self.clients.close_arxiv()
        live = [p for p in papers if p.live]
        if self.steps.mode("extract") == "skip":
            return
        self.observer.stage_started("extract", len(live))
        todo: list[Paper] = []
        for paper in live:
            try:
                paper.document = self.steps.lookup(
                    "extract", paper.meta.id, self._extract_key(paper), Document
                )
            except Exception as exc:
                self.steps.fail(paper, "extract", exc)
            if paper.document is None and paper.failure is None:
                todo.append(paper)
            else:
                self.observer.advanced("extract")
        self._extract_missing(todo)
        self.notes += page_cap_notes(p for p in live if p.document is not None)

    def _extract_missing(self, todo: list[Paper]) -> None:
        max_pages = self.settings.extract.max_pages
        started = time.perf_counter()
        results: list[Any] = []
        if len(todo) >= POOL_THRESHOLD:
            paths = [p.pdf for p in todo if p.pdf is not None]
            ids = [p.meta.id for p in todo]
            try:
                results = extract.documents_in_processes(paths, max_pages, workers=2, ids=ids)
            except OSError as exc:  # no worker processes to be had: read the papers here instead
                self._warn(f"extraction workers could not start ({exc}); extracting in-process")
        if not results:
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
                self.steps.remember_failure("extract", key, result)
            self.steps.fail(paper, "extract", result)
            return
        paper.document = result
        self.steps.store("extract", paper.meta.id, key, result, self._extract_params(), started)

    # --- chunk and summarize --------------------------------------------------------

    def _chunk(self, paper: Paper) -> None:
        assert paper.document is not None
        cfg = self.settings.chunk
        params = {**cfg.model_dump(exclude={"encoding"}), "encoding": self.tokenizer.name}
        key = stage_key("chunk", chunk.STAGE_VERSION, [digest(paper.document)], params)
        document = paper.document
        paper.chunks = self.steps.step(
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
        if self.steps.mode("summarize") == "skip":
            return
        self.observer.stage_started("summarize", len(live))
        gate = asyncio.Semaphore(self.settings.llm.concurrency)

        async def one(paper: Paper) -> None:
            async with gate:
                try:
                    await self._summarize(paper)
                except Exception as exc:  # one broken paper never stops the day
                    self.steps.fail(paper, "summarize", exc)
            self.observer.advanced("summarize")

        await asyncio.gather(*(one(paper) for paper in live))

    @functools.cached_property
    def _summarize_params(self) -> dict[str, Any]:
        """The same for every paper of the run: built once (it hashes schemas and may stat a
        GGUF file)."""
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
        params = self._summarize_params
        meta_digest = digest(paper.meta.portable())
        inputs = [digest(paper.chunks), meta_digest]
        key = stage_key("summarize", summarize.STAGE_VERSION, inputs, params)
        chunks = paper.chunks

        async def compute() -> SummaryRecord:
            record = await summarize.summary_record(
                paper.meta,
                chunks,
                self.prompts,
                self.clients.llm(),
                single_call_budget=self.settings.reading.single_call_budget,
                interests=self.settings.reading.interests,
            )
            for step, usage in (record.stage_usage or {"summarize": record.usage}).items():
                self.ledger.add(step, usage)
            return record

        paper.record = await self.steps.step_async(
            "summarize", paper.meta.id, key, SummaryRecord, compute, params
        )

    # --- rank and report ------------------------------------------------------------

    def _rank(self, done: list[Paper]) -> rank.Ranking | None:
        if self.steps.mode("rank") == "skip":
            return None
        self.observer.stage_started("rank", 1)
        weights = self.settings.rank.weights
        pairs = [(p.meta.portable(), p.record) for p in done if p.record]
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
            return self.steps.step(stage, "*", key, model, compute, params)
        except PaperError as exc:
            self._warn(f"{stage}: {exc}")
            return None

    def _report(self, papers: list[Paper], ranking: rank.Ranking | None) -> report.Report | None:
        if self.steps.mode("report") == "skip" or ranking is None:
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
            failed=sorted(self.steps.failures, key=lambda f: f.id),
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

    def _finish(self, papers: list[Paper], result: report.Report | None) -> RunRecord:
        self.clients.close_arxiv()
        summaries = [(p.meta.id, p.record) for p in papers if p.record is not None]
        out = self.settings.out_dir / self.source.day.isoformat()
        record = RunRecord(
            date=self.source.day.isoformat(),
            source=self.source.describe(self.settings.arxiv.categories),
            papers=len(papers),
            succeeded=sum(1 for p in papers if p.failure is None),
            failed=sorted(self.steps.failures, key=lambda f: f.id),
            stages=self.steps.stats,
            llm=llm_record(self.llm_stats, self.ledger.by_stage, [r for _, r in summaries]),
            tokenizer={"encoding": self.tokenizer.name, "fallback": self.tokenizer.fallback},
            prompt=self.prompt.name,
            warnings=self.warnings,
            faithfulness=faithfulness_summary(summaries),
            read_in_full=sum(1 for p in papers if p.selected and p.failure is None),
            out_dir=str(out),
            events=self.steps.events,
        )
        ranked = self.ranking.papers if self.ranking else []
        scores = {p.meta.id: p.impact_score for p in ranked}
        self.rows = {p.meta.id: (p.meta.title, scores.get(p.meta.id), p.selected) for p in papers}
        write_outputs(out, record, result)
        return record


def page_cap_notes(papers: Iterable[Paper]) -> list[str]:
    """Header lines for papers longer than the page cap; from the documents, cached or not."""
    return [
        f"{p.meta.id}: read the first {p.document.pages_read} of {p.document.pages} pages "
        "(extract.max_pages)."
        for p in papers
        if p.document is not None and p.document.pages_read < p.document.pages
    ]


def write_outputs(out: Path, record: RunRecord, result: report.Report | None) -> None:
    if result is not None:
        write_atomic(out / "summaries.md", result.markdown.encode("utf-8"))
        json_blob = json.dumps(result.data, indent=2, ensure_ascii=False)
        write_atomic(out / "summaries.json", json_blob.encode("utf-8"))
    run_blob = record.model_dump_json(indent=2, exclude={"out_dir"})
    write_atomic(out / "run.json", run_blob.encode("utf-8"))
