"""What a run reports about itself: the models behind out/<date>/run.json (a stable contract)."""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pydantic_core
from pydantic import BaseModel, Field

from pipeline.cache import loaded
from pipeline.folders import write_set
from pipeline.models import FailedPaper

if TYPE_CHECKING:
    from pipeline.paper import Day
    from pipeline.settings import Settings
    from pipeline.stages.report import Report

STAGES = ("feed", "triage", "download", "extract", "chunk", "summarize", "rank", "report")


class StageStats(BaseModel):
    hits: int = 0
    misses: int = 0
    failed: int = 0
    seconds: float = 0.0
    # Network stages (feed from arXiv, download) also count their requests.
    requests: int = 0
    retries: int = 0
    bytes: int = 0
    request_failures: int = 0


class LLMStats(BaseModel):
    backend: str
    model: str
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    batch: bool = False  # calls went through the Batch API (at its price)
    cost_counted: bool = Field(default=True, description="false: a model had no price")
    unpriced_models: list[str] = Field(
        default_factory=list, description="models called without a price (not in cost_usd)"
    )
    estimated_models: list[str] = Field(
        default_factory=list,
        description="models whose server sent no usage: tokens and cost are our estimate",
    )
    by_stage: dict[str, dict[str, Any]] = Field(default_factory=dict)
    by_paper: dict[str, dict[str, Any]] = Field(default_factory=dict)


class Event(BaseModel):
    paper: str
    stage: str
    status: str  # hit | computed | failed


class RunRecord(BaseModel):
    """Written to out/<date>/run.json; other tools read it, so keys are only ever added."""

    date: str
    source: str
    papers: int
    succeeded: int
    failed: list[FailedPaper]
    stages: dict[str, StageStats]
    llm: LLMStats
    tokenizer: dict[str, Any]
    prompt: str
    warnings: list[str] = Field(default_factory=list)
    read_in_full: int = 0
    faithfulness: dict[str, Any] = Field(default_factory=dict)
    out_dir: str | None = None
    events: list[Event] = Field(default_factory=list)
    run_id: str = Field(default="", description="this run; summaries.json names the same one")
    edition: str = Field(default="", description="backend, model and prompt variant: the folder")


def new_run_id() -> str:
    """When the run started (UTC) and a few random hex digits: unique, and sorts by time."""
    now = datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def run_record(
    day: Day, settings: Settings, out: Path, run_id: str = "", edition: str = ""
) -> RunRecord:
    """run.json: a pure function of the day's papers and the run log."""
    from pipeline.accounting import faithfulness_summary, llm_record
    from pipeline.tokens import tokenizer_for

    log, papers = day.log, day.papers
    # a record still by reference (no rank ran: --only summarize) is read once, here; one
    # damaged since it was looked up is left out of the totals rather than end the run
    held = [(p.meta.id, loaded(p.record)) for p in papers if p.record is not None]
    summaries = [(paper, record) for paper, record in held if record is not None]
    tokenizer = tokenizer_for(day.model, settings.chunk.encoding)
    stats = LLMStats(backend=day.backend, model=day.model, batch=settings.llm.batch)
    return RunRecord(
        date=day.source.day.isoformat(),
        source=day.source_line,
        papers=len(papers),
        succeeded=sum(1 for p in papers if p.failure is None),
        failed=log.sorted_failures(),
        stages=log.stats,
        llm=llm_record(stats, log.usage.by_stage, [r for _, r in summaries], log.spent_failures()),
        tokenizer={"encoding": tokenizer.name, "fallback": tokenizer.fallback},
        prompt=day.prompt,
        warnings=log.warnings,
        faithfulness=faithfulness_summary(summaries),
        read_in_full=sum(1 for p in papers if p.selected and p.failure is None),
        out_dir=str(out),
        events=log.events,
        run_id=run_id,
        edition=edition,
    )


REPORT_FILES = ("summaries.md", "summaries.json", "summaries.html")
# Numbers pydantic's serializer writes where Python's `json` would write them otherwise: in
# exponent form (1e-5, 1e16), or below 1e-4 (0.00001, where Python writes 1e-05). Such a number
# ends its line, and a line of indented JSON that ends that way holds a number: a string ends
# with its quote, and a raw newline never occurs inside one. Two patterns with a literal start
# (7 ms on a 500-paper report; one with an alternation at its start took 63 ms).
_EXPONENT = re.compile(rb"e[-+]?[0-9]+,?(?:\n|$)")
_TINY = re.compile(rb"0\.0000[0-9]*,?(?:\n|$)")


def indented_json(data: Any) -> bytes:
    """`json.dumps(data, indent=2, ensure_ascii=False)` as UTF-8, byte for byte, from pydantic's
    serializer (a 500-paper summaries.json: 85 ms with Python's indenting encoder, 28 ms here);
    Python's encoder writes what the two would write differently (floats, see above)."""
    try:
        blob = pydantic_core.to_json(data, indent=2, inf_nan_mode="constants")
    except (ValueError, TypeError):  # a lone surrogate, a type Python's encoder handles or not
        blob = b""
    if not blob or _EXPONENT.search(blob) or _TINY.search(blob):
        blob = json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8")
    return blob


def write_outputs(out: Path, record: RunRecord, result: Report | None) -> None:
    """The run's files, as one set (`folders.write_set`): every file in `out` comes from this
    run. A run that made no report (`--only summarize`) removes an older run's report rather
    than leave it beside this run.json (`paperbrief report daily` rebuilds it from the cache).
    Not private, unlike cache entries: a briefing is meant to be shared."""
    files: dict[str, bytes] = {}
    if result is not None:
        files["summaries.md"] = result.markdown.encode("utf-8")
        files["summaries.json"] = indented_json({"run_id": record.run_id, **result.data})
        if result.html:
            files["summaries.html"] = result.html.encode("utf-8")
    files["run.json"] = record.model_dump_json(indent=2, exclude={"out_dir"}).encode("utf-8")
    write_set(out, files, drop=[] if result is not None else REPORT_FILES)
