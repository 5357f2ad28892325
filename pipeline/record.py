"""What a run reports about itself: the models behind out/<date>/run.json (a stable contract)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from pipeline.stages.report import FailedPaper

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
