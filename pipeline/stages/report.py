"""Ranked papers → the daily briefing, as Markdown for people and JSON for machines."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from pipeline.accounting import cost_text
from pipeline.faithfulness import share_of_supported
from pipeline.markup import md_cell, md_code, md_link, md_text, plain_url
from pipeline.models import (
    FailedPaper,
    FaithfulnessReport,
    RankedPaper,
    Rubric,
    TriageScore,
    Usage,
)
from pipeline.paper import Day, Paper
from pipeline.stage import Stage
from pipeline.wording import plural

if TYPE_CHECKING:
    from pipeline.runlog import RunLog

# 2: the report carries its HTML page; a cached version-1 report has none to write
# Bump it with any change to what the briefing shows (its Markdown, HTML, notes or footers): a
# cached briefing is served by `run --only report` and `report daily` until its key changes.
# 4: `markup.clean` drops every invisible character (soft hyphens, tags, variation selectors)
# 5: summaries.json's `url` is arXiv's page built from a checked id, as the Markdown's and the
#    page's links are (it was the feed's URL as given: any address a mirror chose)
STAGE_VERSION = 5

BACKEND_NOTES = {
    "extractive": (
        "Summaries by the **extractive** backend (no LLM): every sentence is quoted from the "
        "paper, and rubric scores come from stated text heuristics, not judgement."
    ),
    "local": (
        "Summaries by a local model ({model}) run by llama.cpp; check numbers against the paper."
    ),
    "openai": "Summaries by an LLM (model {model}); numbers should be checked against the paper.",
}


class ReportInput(BaseModel):
    day: date
    source: str
    backend: str
    model: str
    prompt: str
    listed: int
    papers: list[RankedPaper]
    failed: list[FailedPaper] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list, description="run notes shown under the header")
    appendix: list[TriageScore] = Field(
        default_factory=list, description="papers triaged but not read in full"
    )
    appendix_titles: dict[str, str] = Field(default_factory=dict, description="id -> title")
    triage_usage: Usage | None = None


class Report(BaseModel):
    markdown: str
    data: dict[str, Any]
    html: str = ""


def daily(inputs: ReportInput) -> Report:
    # imported here: the page reuses this module's accounting (usage_by_stage, BACKEND_NOTES)
    from pipeline.html.daily import daily_html

    return Report(markdown=daily_markdown(inputs), data=daily_json(inputs), html=daily_html(inputs))


def daily_markdown(inputs: ReportInput) -> str:
    lines = _header(inputs)
    for paper in inputs.papers:
        lines += _paper_block(paper)
    lines += _appendix(inputs)
    if inputs.failed:
        lines += ["## Not summarized", ""]
        # error messages quote papers and endpoints, so they are text like any summary
        lines += [_failure(f) for f in inputs.failed]
        lines.append("")
    lines += ["---", "", _footer(inputs)]
    return "\n".join(lines).rstrip() + "\n"


def _failure(failed: FailedPaper) -> str:
    return f"- {md_code(failed.id)} ({md_text(failed.stage)}): {md_text(failed.error)}"


def _header(inputs: ReportInput) -> list[str]:
    note = BACKEND_NOTES.get(inputs.backend, "Summaries by backend {model}.").format(
        model=md_code(inputs.model)
    )
    done = len(inputs.papers)
    lines = [
        f"# Research Paper Summaries — {inputs.day.isoformat()}",
        "",
        f"Papers from {md_text(inputs.source)}: {inputs.listed} listed, {done} summarized, "
        f"ranked by impact score (0–100).",
        "",
        note,
        "",
    ]
    if inputs.notes:
        lines += [f"> {md_text(line)}" for line in inputs.notes] + [""]
    return lines


def _paper_block(paper: RankedPaper) -> list[str]:
    meta, summary = paper.meta, paper.record.summary
    authors = ", ".join(md_text(name) for name in meta.authors) or "not stated"
    tags = ", ".join(md_text(tag) for tag in summary.tags) or "—"
    lines = [
        f"## {paper.rank}. {md_text(meta.title)}",
        "",
        f"**Authors:** {authors}  ",
        f"**Link:** {_link(paper)}  ",
        f"**Tags:** {tags}  ",
        *_stated_facts(paper),
        f"**Impact score:** {paper.impact_score:.0f}/100",
        "",
        "### Summary",
        "",
    ]
    for paragraph in summary.summary:
        lines += [md_text(paragraph), ""]
    lines += [f"**Key insight:** {md_text(summary.key_insight)}", "", "### Key Takeaways", ""]
    lines += [f"- {md_text(takeaway)}" for takeaway in summary.key_takeaways]
    lines += ["", f"**Industry impact:** {md_text(summary.industry_impact)}", ""]
    if summary.limitations:
        limitations = " ".join(sentence(item) for item in summary.limitations)
        lines += [f"**Limitations:** {md_text(limitations)}", ""]
    lines += [_scores_line(paper), "", _written_by(paper), ""]
    if paper.record.read_from:
        lines += [f"*Read from: {md_text(read_from(paper))}.*", ""]
    if flag := _unverified(paper):
        lines += [flag, ""]
    return lines


def _written_by(paper: RankedPaper) -> str:
    """Who wrote this summary and when: a cached summary may be older than the report."""
    record = paper.record
    when = f" on {record.written.isoformat()}" if record.written else ""
    return f"*Summarized by {md_code(record.model)} ({md_text(record.backend)}){when}.*"


def read_from(paper: RankedPaper) -> str:
    """The sections the summary was read from, as the paper heads them (plain text: headings
    come from the paper, so each format escapes this itself)."""
    return ", ".join(" ".join(heading.split()) for heading in paper.record.read_from)


def _link(paper: RankedPaper) -> str:
    """The arXiv page, built from a checked id (never the feed's URL as given), else the file."""
    meta = paper.meta
    if meta.arxiv_page is not None:
        return md_link(meta.arxiv_page, meta.arxiv_page)
    return md_code(meta.file_label)


def appendix_order(inputs: ReportInput) -> list[TriageScore]:
    """The papers triaged but not read, best first (ties by id)."""
    return sorted(inputs.appendix, key=lambda s: (-s.impact_score, s.paper_id))


def sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _stated_facts(paper: RankedPaper) -> list[str]:
    """Affiliations, venue and code link: lines only for what the paper states.

    The code URL is the paper's word, not ours: shown with its host, never made a link."""
    summary = paper.record.summary
    lines = []
    if summary.affiliations:
        lines.append(f"**Affiliations:** {', '.join(md_text(a) for a in summary.affiliations)}  ")
    if summary.venue:
        lines.append(f"**Venue:** {md_text(summary.venue)}  ")
    if summary.code_url:
        lines.append(f"**Code:** {plain_url(summary.code_url)}  ")
    return lines


def _unverified(paper: RankedPaper) -> str:
    check = paper.record.faithfulness
    if check is None or not check.unsupported:
        return ""
    return (
        f"⚠ unverified: {md_text(', '.join(check.unsupported))} — not found in the paper's text; "
        "check before quoting."
    )


def _appendix(inputs: ReportInput) -> list[str]:
    """Papers triaged from title and abstract only, best first, with their one-line gist."""
    if not inputs.appendix:
        return []
    lines = [
        "## Also in the feed (triaged, not read in full)",
        "",
        "Scored from title and abstract only.",
        "",
        "| Score | Paper | Gist |",
        "| ---: | --- | --- |",
    ]
    for score in appendix_order(inputs):
        title = md_cell(inputs.appendix_titles.get(score.paper_id, score.paper_id))
        paper = f"{title} ({md_code(score.paper_id, cell=True)})"
        lines.append(f"| {score.impact_score:.0f} | {paper} | {md_cell(score.gist)} |")
    return [*lines, ""]


def _scores_line(paper: RankedPaper) -> str:
    rubric = paper.record.summary.rubric
    parts = [
        f"{name.replace('_', ' ')} {score.score}/10 ({md_text(score.rationale)})"
        for name, score in (
            ("novelty", rubric.novelty),
            ("industry_impact", rubric.industry_impact),
            ("evidence", rubric.evidence),
            ("urgency", rubric.urgency),
        )
    ]
    return "*Scores:* " + "; ".join(parts)


def usage_by_stage(inputs: ReportInput) -> dict[str, Usage]:
    """Tokens and dollars per step: triage, then each summarize step the records list."""
    stages: dict[str, Usage] = {}
    if inputs.triage_usage is not None and inputs.triage_usage.calls:
        stages["triage"] = inputs.triage_usage
    for paper in inputs.papers:
        record = paper.record
        steps = record.stage_usage or ({"summarize": record.usage} if record.usage.calls else {})
        for stage, usage in steps.items():
            stages[stage] = stages.get(stage, Usage()) + usage
    return stages


def total_usage(inputs: ReportInput) -> Usage:
    total = inputs.triage_usage or Usage()
    for paper in inputs.papers:
        total = total + paper.record.usage
    return total


def _footer(inputs: ReportInput) -> str:
    # What this briefing cost to make, whichever run made each part; run.json counts only the
    # calls of the run that wrote it (a fully cached run makes none).
    line = (
        f"*{plural(len(inputs.papers), 'paper')} summarized by {md_text(inputs.backend)} "
        f"({md_code(inputs.model)}, prompt {md_code(inputs.prompt)}); "
        f"{spend_text(total_usage(inputs), md_code)}.*"
    )
    stages = usage_by_stage(inputs)
    if len(stages) > 1:
        parts = [
            f"{name} {cost_text(u, md_code)} ({plural(u.calls, 'call')})"
            for name, u in stages.items()
        ]
        line += f"  \n*By stage: {'; '.join(parts)}.*"
    checked, supported, share = faithfulness_totals(inputs)
    if checked:
        line += (
            f"  \n*Numbers checked against the papers' text: {supported} of {checked} found "
            f"({share:.0%}).*"
        )
    return line


def spend_text(usage: Usage, quote: Callable[[str], str]) -> str:
    """What the briefing's LLM calls took; a briefing made without any (the extractive backend)
    says so rather than listing zeros and $0."""
    if not usage.calls:
        return "this briefing made no LLM call"
    return (
        f"this briefing took {plural(usage.calls, 'LLM call')}, {usage.prompt_tokens} prompt "
        f"and {usage.completion_tokens} completion tokens, {cost_text(usage, quote)}"
    )


def faithfulness_totals(inputs: ReportInput) -> tuple[int, int, float]:
    reports = [p.record.faithfulness for p in inputs.papers]
    present = [r for r in reports if r is not None]
    checked = sum(r.checked for r in present)
    supported = sum(r.supported for r in present)
    return checked, supported, share_of_supported(present)


class DailyPaper(BaseModel):
    """One summarized paper in summaries.json."""

    rank: int
    id: str
    title: str
    authors: list[str]
    categories: list[str]
    url: str | None = Field(description="arXiv's page, for a paper arXiv's feed listed")
    file: str | None = Field(description="the local PDF's file name, for a folder source")
    impact_score: float
    summary: list[str]
    key_insight: str
    key_takeaways: list[str]
    industry_impact: str
    limitations: list[str]
    affiliations: list[str]
    code_url: str | None
    venue: str | None
    tags: list[str]
    rubric: Rubric
    backend: str
    model: str
    written: str | None = Field(description="the day the summary was made, YYYY-MM-DD")
    usage: Usage
    stage_usage: dict[str, Usage]
    faithfulness: FaithfulnessReport | None
    read_from: list[str] = Field(
        description="the sections the summary was read from, with how much of each "
        "('Introduction (contributions)'); [] for summaries made before this was recorded"
    )


class NotRead(TriageScore):
    title: str | None


class DailyData(BaseModel):
    """What `out/<date>/<edition>/summaries.json` holds (`paperbrief schema daily`)."""

    run_id: str = Field(default="", description="the run that wrote it; run.json names it too")
    date: str
    source: str
    backend: str
    model: str
    prompt: str
    listed: int
    papers: list[DailyPaper]
    failed: list[FailedPaper]
    not_read: list[NotRead] = Field(description="papers triaged but not read in full")
    notes: list[str]
    usage: Usage
    usage_by_stage: dict[str, Usage]
    faithfulness: dict[str, float]


def daily_json(inputs: ReportInput) -> dict[str, Any]:
    data = _daily_dict(inputs)
    DailyData.model_validate(data)  # the documented schema must say what is written
    return data


def _daily_dict(inputs: ReportInput) -> dict[str, Any]:
    usage = total_usage(inputs)
    return {
        "date": inputs.day.isoformat(),
        "source": inputs.source,
        "backend": inputs.backend,
        "model": inputs.model,
        "prompt": inputs.prompt,
        "listed": inputs.listed,
        "papers": [_paper_json(p) for p in inputs.papers],
        "failed": [f.model_dump() for f in inputs.failed],
        "not_read": [
            {**s.model_dump(), "title": inputs.appendix_titles.get(s.paper_id)}
            for s in appendix_order(inputs)
        ],
        "notes": inputs.notes,
        "usage": usage.model_dump(),
        "usage_by_stage": {k: u.model_dump() for k, u in usage_by_stage(inputs).items()},
        "faithfulness": dict(
            zip(("checked", "supported", "share"), faithfulness_totals(inputs), strict=True)
        ),
    }


def _paper_json(paper: RankedPaper) -> dict[str, Any]:
    meta = paper.meta
    return {
        "rank": paper.rank,
        "id": meta.id,
        "title": meta.title,
        "authors": meta.authors,
        "categories": meta.categories,
        "url": meta.arxiv_page,
        "file": meta.file_name or (meta.pdf_path.name if meta.pdf_path else None),
        "impact_score": paper.impact_score,
        **paper.record.summary.model_dump(),
        "backend": paper.record.backend,
        "model": paper.record.model,
        "written": paper.record.written.isoformat() if paper.record.written else None,
        "usage": paper.record.usage.model_dump(),
        "stage_usage": {k: u.model_dump() for k, u in paper.record.stage_usage.items()},
        "faithfulness": (
            paper.record.faithfulness.model_dump() if paper.record.faithfulness else None
        ),
        "read_from": paper.record.read_from,
    }


class DailyReport(Stage[Day, Report]):
    """The ranked day, its failures and notes → the daily briefing (Markdown and JSON)."""

    name = "report"
    version = STAGE_VERSION
    scope = "day"
    output = Report

    def wanted(self, day: Day, params: Mapping[str, Any]) -> bool:
        return day.ranking is not None

    def inputs(self, day: Day) -> dict[str, Any]:
        return {"report": report_input(day)}

    def compute(self, *, report: ReportInput) -> Report:
        return daily(report)

    def apply(self, day: Day, output: Report) -> None:
        day.report = output


def report_input(day: Day) -> ReportInput:
    """Everything the daily report says, from the day's papers and the run log."""
    assert day.ranking is not None
    papers = day.papers
    unread = [p for p in papers if not p.selected]
    ranked = [_with_checked_code_url(paper, day.log) for paper in day.ranking.papers]
    return ReportInput(
        day=day.source.day,
        source=day.source_line,
        backend=day.backend,
        model=day.model,
        prompt=day.prompt,
        listed=len(papers),
        papers=ranked,
        failed=day.log.sorted_failures(),
        notes=[*day.log.notes, *page_cap_notes(papers), *day.log.warnings],
        appendix=[p.triage for p in unread if p.triage is not None],
        appendix_titles={p.meta.id: p.meta.title for p in unread},
        triage_usage=day.triage.usage if day.triage else None,
    )


def is_web_url(text: str) -> bool:
    """An http(s) link with a host: what a reader can follow."""
    parts = urlsplit(text.strip())
    return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in text.strip()


def _with_checked_code_url(paper: RankedPaper, log: RunLog) -> RankedPaper:
    """The paper, without a `code_url` that is not a link (a model may answer "N/A" or a
    sentence), which is dropped with one warning rather than rendered as a broken link."""
    url = paper.record.summary.code_url
    if url is None or is_web_url(url):
        return paper
    message = f"{paper.meta.id}: dropped the code link {url[:80]!r}: not an http(s) URL"
    if message not in log.warnings:
        log.warn(message)
    summary = paper.record.summary.model_copy(update={"code_url": None})
    record = paper.record.model_copy(update={"summary": summary})
    return paper.model_copy(update={"record": record})


def page_cap_notes(papers: Iterable[Paper]) -> list[str]:
    """Header lines for papers longer than the page cap, or with pages too large to read; from
    the documents, cached or not."""
    notes = []
    for p in papers:
        if p.document is None:
            continue
        if p.document.pages_read < p.document.pages:
            notes.append(
                f"{p.meta.id}: read the first {p.document.pages_read} of {p.document.pages} "
                "pages (extract.max_pages)."
            )
        if skipped := p.document.pages_skipped:
            notes.append(
                f"{p.meta.id}: skipped {skipped} page(s) too large to read (extract.max_page_mb)."
            )
    return notes
