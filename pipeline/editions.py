"""A day's briefing as a run left it, one per edition: enough to rebuild the daily report and to
build the weekly one with no LLM call and no network.

An edition is what a reader would call "this version of the briefing": the backend, the model
and the summarize prompt variant. Runs with another edition write to their own folder
(`out/<date>/<edition>/`) and their own index entry, so comparing two models never destroys a
report; a run with the same edition replaces it.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from pydantic import BaseModel, Field

from pipeline.record import RunRecord
from pipeline.stages.report import ReportInput


def edition_name(backend: str, model: str, prompt_variant: str) -> str:
    """`extractive`, `openai-gpt-4o-mini`, `openai-gpt-4o-mini-terse`: a safe folder name."""
    parts = [backend] if backend == "extractive" else [backend, model]
    if prompt_variant != "default":
        parts.append(prompt_variant)
    text = unicodedata.normalize("NFKD", "-".join(parts)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.").lower()
    return slug[:80] or "edition"


class Edition(BaseModel):
    """Written by each run that made a daily report; read by `paperbrief report`."""

    run_id: str = Field(description="the run that made it; run.json and summaries.json name it")
    edition: str
    day: date
    categories: list[str] = Field(default_factory=list)
    listed: int = Field(description="papers the feed listed")
    triaged: int = Field(description="papers scored by triage (0 when all were read)")
    read_in_full: int
    report: ReportInput
    record: RunRecord = Field(description="the run's run.json, so a rebuilt folder stays one run's")
