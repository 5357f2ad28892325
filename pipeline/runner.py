"""Wires the stages: asks the cache before each step, records what ran, isolates failures.

Stages run breadth-first (every paper through extract, then every paper through chunk, ...), so
each stage's wall time is measured once and the progress display shows one bar per stage. A
paper that fails in any stage is marked failed with its reason and drops out; the day goes on.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, Field

from pipeline.cache import Cache, digest, file_digest, stage_key, write_atomic
from pipeline.errors import LLMError, MissingInputError, PaperError
from pipeline.llm.base import Backend
from pipeline.llm.factory import backend_identity, make_backend
from pipeline.models import Chunks, Document, PaperMeta, SummaryRecord, Usage
from pipeline.prompts import Prompt, default_prompts_dir, load_prompt
from pipeline.settings import Settings
from pipeline.stages import chunk, extract, feed, rank, report, summarize
from pipeline.tokens import Tokenizer, tokenizer_for

STAGES = ("feed", "extract", "chunk", "summarize", "rank", "report")
PER_PAPER = ("feed", "extract", "chunk", "summarize")
# Deterministic stages remember failures so a known-bad PDF is not re-read on every run;
# LLM failures are often transient and are retried by the next run.
REMEMBER_FAILURES = frozenset({"feed", "extract", "chunk"})
FEED_VERSION = 1
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
    source: Path
    day: date
    force: frozenset[str] = frozenset()
    only: str | None = None


class StageStats(BaseModel):
    hits: int = 0
    misses: int = 0
    failed: int = 0
    seconds: float = 0.0


class LLMStats(BaseModel):
    backend: str
    model: str
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0


class Event(BaseModel):
    paper: str
    stage: str
    status: str  # hit | computed | failed | skipped


class RunRecord(BaseModel):
    """The stable contract written to out/<date>/run.json."""

    date: str
    source: str
    papers: int
    succeeded: int
    failed: list[report.FailedPaper]
    stages: dict[str, StageStats]
    llm: LLMStats
    tokenizer: dict[str, Any]
    prompt: str
    out_dir: str | None = None
    events: list[Event] = Field(default_factory=list)


@dataclass
class Paper:
    meta: PaperMeta
    pdf: Path
    sha256: str
    document: Document | None = None
    chunks: Chunks | None = None
    record: SummaryRecord | None = None
    failure: report.FailedPaper | None = None


@dataclass
class Runner:
    settings: Settings
    plan: RunPlan
    observer: Observer = field(default_factory=QuietObserver)

    def __post_init__(self) -> None:
        self.cache = Cache(self.settings.cache_dir, warn=self.observer.warn)
        self.stats = {stage: StageStats() for stage in STAGES}
        self.events: list[Event] = []
        self.failures: list[report.FailedPaper] = []
        self.usage = Usage()
        self._lock = threading.Lock()
        self._backend: Backend | None = None
        self.ranking: rank.Ranking | None = None
        self.rows: dict[str, tuple[str, float | None]] = {}
        backend_name, model = backend_identity(self.settings.llm)
        self.llm_stats = LLMStats(backend=backend_name, model=model)
        self.prompt = self._load_prompt()
        self.tokenizer: Tokenizer = tokenizer_for(model, self.settings.chunk.encoding)

    # --- the whole run --------------------------------------------------------------

    def run(self) -> RunRecord:
        papers = self._timed("feed", self._feed)
        self._timed("extract", lambda: self._each("extract", papers, self._extract))
        self._timed("chunk", lambda: self._each("chunk", papers, self._chunk))
        self._timed("summarize", lambda: self._summarize_all(papers))
        done = [p for p in papers if p.failure is None and p.record is not None]
        self.ranking = self._timed("rank", lambda: self._rank(done))
        result = self._timed("report", lambda: self._report(papers, self.ranking))
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

    def _load_prompt(self) -> Prompt:
        prompts_dir = self.settings.prompts.dir or default_prompts_dir()
        return load_prompt(prompts_dir, "summarize", self.settings.prompts.summarize)

    # --- one cached step ------------------------------------------------------------

    def _step(
        self,
        stage: str,
        paper_id: str,
        key: str,
        model: type[T],
        compute: Callable[[], T],
        params: dict[str, Any],
    ) -> T:
        mode = self._mode(stage)
        if stage not in self.plan.force:
            known = self.cache.failure(stage, key) if stage in REMEMBER_FAILURES else None
            if known is not None:
                self._count(stage, paper_id, "hit")
                raise PaperError(known, paper_id=paper_id, stage=stage)
            cached = self.cache.get(stage, key, model)
            if cached is not None:
                self._count(stage, paper_id, "hit")
                return cached
        if mode == "load":
            raise MissingInputError(
                f"no cached {stage} output; run without --only first",
                paper_id=paper_id,
                stage=stage,
            )
        return self._compute(stage, paper_id, key, compute, params)

    def _compute(
        self, stage: str, paper_id: str, key: str, compute: Callable[[], T], params: dict[str, Any]
    ) -> T:
        started = time.perf_counter()
        try:
            value = compute()
        except PaperError as exc:
            if stage in REMEMBER_FAILURES:
                self.cache.put_failure(stage, key, str(exc))
            raise
        meta = {
            "params": params,
            "seconds": round(time.perf_counter() - started, 4),
            "paper": paper_id,
        }
        self.cache.put(stage, key, value, meta)
        self._count(stage, paper_id, "computed")
        return value

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

    def _fail(self, paper: Paper, stage: str, exc: Exception) -> None:
        message = (
            str(exc)
            if isinstance(exc, PaperError)
            else f"internal error: {type(exc).__name__}: {exc}"
        )
        with self._lock:
            paper.failure = report.FailedPaper(id=paper.meta.id, stage=stage, error=message)
            self.failures.append(paper.failure)
        self._count(stage, paper.meta.id, "failed")

    def _each(self, stage: str, papers: list[Paper], step: Callable[[Paper], None]) -> None:
        live = [p for p in papers if p.failure is None]
        if self._mode(stage) == "skip":
            return
        self.observer.stage_started(stage, len(live))
        for paper in live:
            self._guarded(stage, paper, step)
            self.observer.advanced(stage)

    def _guarded(self, stage: str, paper: Paper, step: Callable[[Paper], None]) -> None:
        try:
            step(paper)
        except LLMError as exc:
            if exc.usage is not None:
                self._add_usage(exc.usage)
            self._fail(paper, stage, exc)
        except Exception as exc:  # one broken paper never stops the day
            self._fail(paper, stage, exc)

    # --- stages ---------------------------------------------------------------------

    def _feed(self) -> list[Paper]:
        pdfs = feed.pdfs_in_folder(self.plan.source)
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

    def _extract(self, paper: Paper) -> None:
        params = {"max_pages": self.settings.extract.max_pages}
        key = stage_key("extract", extract.STAGE_VERSION, [paper.sha256], params)
        paper.document = self._step(
            "extract",
            paper.meta.id,
            key,
            Document,
            lambda: extract.document(paper.pdf, paper.meta.id, max_pages=params["max_pages"]),
            params,
        )

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

    def _summarize_all(self, papers: list[Paper]) -> None:
        live = [p for p in papers if p.failure is None]
        if self._mode("summarize") == "skip":
            return
        self.observer.stage_started("summarize", len(live))

        def one(paper: Paper) -> None:
            self._guarded("summarize", paper, self._summarize)
            self.observer.advanced("summarize")

        with ThreadPoolExecutor(max_workers=self.settings.concurrency) as pool:
            list(pool.map(one, live))

    def _summarize(self, paper: Paper) -> None:
        assert paper.chunks is not None
        params = {
            "backend": self.llm_stats.backend,
            "model": self.llm_stats.model,
            "prompt": self.prompt.name,
            "prompt_digest": self.prompt.digest,
            "schema": summarize.schema_digest(),
        }
        meta_digest = digest(paper.meta.model_copy(update={"pdf_path": None}))
        key = stage_key(
            "summarize", summarize.STAGE_VERSION, [digest(paper.chunks), meta_digest], params
        )
        chunks = paper.chunks

        def compute() -> SummaryRecord:
            record = summarize.summary_record(paper.meta, chunks, self.prompt, self._get_backend())
            self._add_usage(record.usage)
            return record

        paper.record = self._step("summarize", paper.meta.id, key, SummaryRecord, compute, params)

    def _get_backend(self) -> Backend:
        with self._lock:
            if self._backend is None:
                self._backend = make_backend(self.settings.llm)
            return self._backend

    def _add_usage(self, usage: Usage) -> None:
        with self._lock:
            self.usage = self.usage + usage

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
        self, stage: str, key: str, model: type[T], compute: Callable[[], T], params: dict[str, Any]
    ) -> T | None:
        try:
            return self._step(stage, "*", key, model, compute, params)
        except PaperError as exc:
            self.observer.warn(f"{stage}: {exc}")
            return None

    def _report(self, papers: list[Paper], ranking: rank.Ranking | None) -> report.Report | None:
        if self._mode("report") == "skip" or ranking is None:
            return None
        self.observer.stage_started("report", 1)
        inputs = report.ReportInput(
            day=self.plan.day,
            source=f"folder {self.plan.source.name}",
            backend=self.llm_stats.backend,
            model=self.llm_stats.model,
            prompt=self.prompt.name,
            listed=len(papers),
            papers=ranking.papers,
            failed=sorted(self.failures, key=lambda f: f.id),
        )
        key = stage_key("report", report.STAGE_VERSION, [digest(inputs)], {})
        result = self._whole_step("report", key, report.Report, lambda: report.report(inputs), {})
        self.observer.advanced("report")
        return result

    # --- the record -----------------------------------------------------------------

    def _finish(self, papers: list[Paper], result: report.Report | None) -> RunRecord:
        llm = self.llm_stats.model_copy(
            update={
                "calls": self.usage.calls,
                "prompt_tokens": self.usage.prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
                "cached_tokens": self.usage.cached_tokens,
                "cost_usd": round(self.usage.cost_usd, 6),
            }
        )
        out = self.settings.out_dir / self.plan.day.isoformat()
        record = RunRecord(
            date=self.plan.day.isoformat(),
            source=str(self.plan.source),
            papers=len(papers),
            succeeded=sum(1 for p in papers if p.failure is None),
            failed=sorted(self.failures, key=lambda f: f.id),
            stages=self.stats,
            llm=llm,
            tokenizer={"encoding": self.tokenizer.name, "fallback": self.tokenizer.fallback},
            prompt=self.prompt.name,
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
