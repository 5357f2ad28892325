"""Ranked papers → the daily briefing, as Markdown for people and JSON for machines."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from pipeline.models import RankedPaper, Usage

STAGE_VERSION = 1

BACKEND_NOTES = {
    "extractive": (
        "Summaries by the **extractive** backend (no LLM): every sentence is quoted from the "
        "paper, and rubric scores come from stated text heuristics, not judgement."
    ),
    "openai": "Summaries by an LLM (model `{model}`); numbers should be checked against the paper.",
}


class FailedPaper(BaseModel):
    id: str
    stage: str
    error: str


class ReportInput(BaseModel):
    day: date
    source: str
    backend: str
    model: str
    prompt: str
    listed: int
    papers: list[RankedPaper]
    failed: list[FailedPaper] = Field(default_factory=list)


class Report(BaseModel):
    markdown: str
    data: dict[str, Any]


def report(inputs: ReportInput) -> Report:
    return Report(markdown=daily_markdown(inputs), data=daily_json(inputs))


def daily_markdown(inputs: ReportInput) -> str:
    lines = _header(inputs)
    for paper in inputs.papers:
        lines += _paper_block(paper)
    if inputs.failed:
        lines += ["## Not summarized", ""]
        lines += [f"- `{f.id}` ({f.stage}): {f.error}" for f in inputs.failed]
        lines.append("")
    lines += ["---", "", _footer(inputs)]
    return "\n".join(lines).rstrip() + "\n"


def _header(inputs: ReportInput) -> list[str]:
    note = BACKEND_NOTES.get(inputs.backend, "Summaries by backend `{model}`.").format(
        model=inputs.model
    )
    done = len(inputs.papers)
    return [
        f"# Research Paper Summaries — {inputs.day.isoformat()}",
        "",
        f"Papers from {inputs.source}: {inputs.listed} listed, {done} summarized, "
        f"ranked by impact score (0–100).",
        "",
        note,
        "",
    ]


def _paper_block(paper: RankedPaper) -> list[str]:
    meta, summary = paper.meta, paper.record.summary
    link = (
        f"[{meta.url}]({meta.url})"
        if meta.url
        else f"`{meta.pdf_path.name if meta.pdf_path else meta.id}`"
    )
    authors = ", ".join(meta.authors) or "not stated"
    lines = [
        f"## {paper.rank}. {meta.title}",
        "",
        f"**Authors:** {authors}  ",
        f"**Link:** {link}  ",
        f"**Tags:** {', '.join(summary.tags) or '—'}  ",
        f"**Impact score:** {paper.impact_score:.0f}/100",
        "",
        "### Summary",
        "",
    ]
    for paragraph in summary.summary:
        lines += [paragraph, ""]
    lines += [f"**Key insight:** {summary.key_insight}", "", "### Key Takeaways", ""]
    lines += [f"- {takeaway}" for takeaway in summary.key_takeaways]
    lines += ["", f"**Industry impact:** {summary.industry_impact}", ""]
    lines += [_scores_line(paper), ""]
    return lines


def _scores_line(paper: RankedPaper) -> str:
    rubric = paper.record.summary.rubric
    parts = [
        f"{name.replace('_', ' ')} {score.score}/10 ({score.rationale})"
        for name, score in (
            ("novelty", rubric.novelty),
            ("industry_impact", rubric.industry_impact),
            ("evidence", rubric.evidence),
            ("urgency", rubric.urgency),
        )
    ]
    return "*Scores:* " + "; ".join(parts)


def _total_usage(inputs: ReportInput) -> Usage:
    total = Usage()
    for paper in inputs.papers:
        total = total + paper.record.usage
    return total


def _footer(inputs: ReportInput) -> str:
    usage = _total_usage(inputs)
    return (
        f"*{len(inputs.papers)} papers summarized by {inputs.backend} (`{inputs.model}`, "
        f"prompt `{inputs.prompt}`); {usage.calls} LLM calls, {usage.prompt_tokens} prompt and "
        f"{usage.completion_tokens} completion tokens, ${usage.cost_usd:.4f}.*"
    )


def daily_json(inputs: ReportInput) -> dict[str, Any]:
    usage = _total_usage(inputs)
    return {
        "date": inputs.day.isoformat(),
        "source": inputs.source,
        "backend": inputs.backend,
        "model": inputs.model,
        "prompt": inputs.prompt,
        "listed": inputs.listed,
        "papers": [_paper_json(p) for p in inputs.papers],
        "failed": [f.model_dump() for f in inputs.failed],
        "usage": usage.model_dump(),
    }


def _paper_json(paper: RankedPaper) -> dict[str, Any]:
    meta = paper.meta
    return {
        "rank": paper.rank,
        "id": meta.id,
        "title": meta.title,
        "authors": meta.authors,
        "categories": meta.categories,
        "url": meta.url,
        "file": meta.pdf_path.name if meta.pdf_path else None,
        "impact_score": paper.impact_score,
        **paper.record.summary.model_dump(),
        "backend": paper.record.backend,
        "model": paper.record.model,
        "usage": paper.record.usage.model_dump(),
    }
