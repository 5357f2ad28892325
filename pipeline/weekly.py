"""The weekly report: the days already briefed in a date range, read back from the cache.

The week's papers come from each day's indexed briefing (`pipeline.editions`): their cached
summaries and scores, with no new reading. A paper listed on two days (a cross-list, a new
version) counts once. The synthesized sections come from the digest stage (one model call over
the week, grounded by paperbrief; see `pipeline.stages.digest`); everything counted (papers per
theme, the previous week's counts, scope) is counted here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from datetime import date, timedelta

from pydantic import BaseModel, Field

from pipeline.accounting import cost_text
from pipeline.editions import Edition
from pipeline.markup import md_cell, md_code, md_link, md_text
from pipeline.models import Usage
from pipeline.stages.digest import Finding, Synthesis, WeekPaper, cited_in, tags_of
from pipeline.wording import plural

MEDALS = {1: "🥇", 2: "🥈", 3: "🥉"}
_VENUE_NAMES = (
    r"NeurIPS|ICLR|ICML|ACL|EMNLP|NAACL|EACL|COLING|COLM|CVPR|ICCV|ECCV|AAAI|IJCAI|KDD|"
    r"SIGIR|WWW|TACL|JMLR|TMLR|CoRL|RSS|ICRA|IROS|AISTATS|UAI|ICASSP|Interspeech|"
    r"INTERSPEECH|WACV|MICCAI|CHI|USENIX Security|CCS|NDSS"
)
# A venue and the first year after it before any , ; . ( or ): what `venue_in` finds.
VENUE = re.compile(rf"\b({_VENUE_NAMES})\b[^,;.()]*?\b(20\d\d)\b")
_VENUE_NAME = re.compile(rf"\b({_VENUE_NAMES})\b")
_CLAUSE = re.compile(r"[^,;.()]+")
_YEAR = re.compile(r"\b(20\d\d)\b")


class TopPaper(BaseModel):
    ref: int
    rank: int
    id: str
    title: str
    url: str | None = Field(description="the arXiv page, for a paper arXiv's feed listed")
    file: str | None = Field(default=None, description="the PDF's file name, for a local paper")
    published: date | None = Field(
        description="arXiv's date (else the day it was listed); a local PDF's only when known"
    )
    venue: str | None
    summary: list[str]
    key_insight: str
    industry_impact: str
    impact_score: float
    model: str
    abstract: str = Field(default="", description="the paper's own abstract")


class Reference(BaseModel):
    ref: int
    title: str
    id: str
    file: str | None = Field(default=None, description="the PDF's file name, for a local paper")
    date: dt.date | None = Field(description="as `published` of a top paper")


class WeeklyReport(BaseModel):
    """What `out/weekly-<end>/<edition>/report.json` holds (`paperbrief schema weekly`)."""

    start: date
    end: date
    compiled: date
    audience: str
    focus: str
    categories: list[str]
    edition: str
    backend: str
    model: str
    days_briefed: list[date]
    days_missing: list[date] = Field(description="weekdays in the range with no briefing cached")
    listed: int = Field(description="papers the feeds listed on the days briefed")
    triaged: int
    read_in_full: int
    papers: int = Field(description="distinct papers summarized in the week")
    top: list[TopPaper]
    themes: list[Finding]
    trends: list[Finding]
    implications: list[Finding]
    actions: list[Finding]
    notes: dict[str, str] = Field(default_factory=dict, description="why a section is empty")
    by_model: bool
    references: list[Reference]
    usage: Usage = Field(default_factory=Usage, description="the synthesis call's cost")


def weekdays(start: date, end: date) -> list[date]:
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    return [d for d in days if d.weekday() < 5]


def week_papers(editions: Sequence[Edition]) -> list[WeekPaper]:
    """The week's distinct papers, best first, numbered from 1 (the report's references)."""
    best: dict[str, tuple[Edition, int]] = {}
    for edition in editions:
        for i, ranked in enumerate(edition.report.papers):
            # a local PDF named like an arXiv id is not that arXiv paper
            meta = ranked.meta
            key = meta.base_id if meta.arxiv_id else f"file:{meta.base_id}"
            held = best.get(key)
            if held is None or ranked.impact_score > held[0].report.papers[held[1]].impact_score:
                best[key] = (edition, i)
    chosen = [(e, e.report.papers[i]) for e, i in best.values()]
    chosen.sort(key=lambda pair: (-pair[1].impact_score, pair[1].meta.id))
    return [
        WeekPaper(
            ref=n,
            day=edition.day,
            meta=ranked.meta,
            summary=ranked.record.summary,
            impact_score=ranked.impact_score,
            backend=ranked.record.backend,
            model=ranked.record.model,
        )
        for n, (edition, ranked) in enumerate(chosen, start=1)
    ]


def with_previous(synthesis: Synthesis, previous: Sequence[WeekPaper] | None) -> Synthesis:
    """Each theme's and trend's count in the previous week: its papers' tags, counted there."""
    if previous is None:
        return synthesis
    carried = [set(tags_of(p)) for p in previous]

    def counted(item: Finding) -> Finding:
        wanted = set(item.tags)
        count = sum(1 for tags in carried if wanted & tags) if wanted else 0
        return item.model_copy(update={"previous": count})

    return synthesis.model_copy(
        update={
            "themes": [counted(f) for f in synthesis.themes],
            "trends": [counted(f) for f in synthesis.trends],
        }
    )


def venue_of(paper: WeekPaper) -> str | None:
    """The venue when arXiv's comment names one (e.g. "Accepted at ICLR 2026"), else the
    summary's own reading of the paper."""
    return venue_in(paper.meta.comments or "") or paper.summary.venue


def venue_in(comment: str) -> str | None:
    """ "NAME YEAR" for `VENUE`'s first match in `comment`, in time linear in its length.

    `VENUE.search` would read from every venue name to the end of its clause, so a comment of
    50,000 "ICML " took minutes. A match lies inside one clause (no , ; . ( or ) in it), and if
    the clause's first venue name has no year after it, no later name in the clause has one.
    """
    for clause in _CLAUSE.finditer(comment):
        name = _VENUE_NAME.search(comment, clause.start(), clause.end())
        if name is not None:
            year = _YEAR.search(comment, name.end(), clause.end())
            if year is not None:
                return f"{name.group(1)} {year.group(1)}"
    return None


def top_papers(papers: Sequence[WeekPaper], top: int) -> list[TopPaper]:
    return [
        TopPaper(
            ref=p.ref,
            rank=rank,
            id=p.meta.id,
            title=p.meta.title,
            url=f"https://arxiv.org/abs/{p.meta.base_id}" if p.meta.arxiv_id else None,
            file=None if p.meta.arxiv_id else p.meta.file_label,
            published=published(p),
            venue=venue_of(p),
            summary=p.summary.summary,
            key_insight=p.summary.key_insight,
            industry_impact=p.summary.industry_impact,
            impact_score=p.impact_score,
            model=p.model,
            abstract=p.meta.abstract,
        )
        for rank, p in enumerate(papers[:top], start=1)
    ]


def references(papers: Iterable[WeekPaper]) -> list[Reference]:
    return [
        Reference(
            ref=p.ref,
            title=p.meta.title,
            id=p.meta.id,
            file=None if p.meta.arxiv_id else p.meta.file_label,
            date=published(p),
        )
        for p in papers
    ]


def published(paper: WeekPaper) -> date | None:
    """arXiv's date for a paper its feed listed, else the day it was listed; a local PDF's
    date only when its metadata says (the day it was briefed is not when it was published)."""
    if paper.meta.arxiv_id:
        return paper.meta.published or paper.day
    return paper.meta.published


# --- Markdown ------------------------------------------------------------------------------


def _day(d: date) -> str:
    return f"{d:%B} {d.day}, {d.year}"


def _range(start: date, end: date) -> str:
    if (start.year, start.month) == (end.year, end.month):
        return f"{start:%B} {start.day}–{end.day}, {end.year}"
    return f"{_day(start)} – {_day(end)}"


def count_text(item: Finding) -> str:
    """`3 papers; 1 last week`: what paperbrief counted for a theme or trend."""
    papers = plural(item.papers, "paper")
    if item.previous is None:
        return papers
    return f"{papers}; {item.previous} last week"


def _finding_lines(item: Finding, n: int, *, counted: bool) -> list[str]:
    # the references it rests on, unless the text already cites each of them as [N]
    shown = set(cited_in(item.text))
    cites = " ".join(f"[{r}]" for r in item.refs if r not in shown)
    head = f"{n}. **{md_text(item.title)}**"
    if counted:
        head += f" ({count_text(item)})"
    lines = [f"{head} — {md_text(item.text)} {cites}".rstrip(), ""]
    if item.flags:
        lines += [f"   ⚠ unverified: {md_text('; '.join(item.flags))}", ""]
    return lines


def _section(
    report: WeeklyReport, kind: str, number: int, heading: str, note: str = ""
) -> list[str]:
    items: list[Finding] = getattr(report, kind)
    lines = [f"## {number}. {heading}", ""]
    if note:
        lines += [f"*{note}*", ""]
    if not items:
        why = report.notes.get(kind, "nothing in this week's papers supports one")
        return [*lines, f"*This section {md_text(why)}.*", ""]
    for n, item in enumerate(items, start=1):
        lines += _finding_lines(item, n, counted=kind in ("themes", "trends"))
    return lines


def markdown(report: WeeklyReport) -> str:
    lines = [
        "# 🧠 Weekly AI/ML Research Report",
        "",
        f"**Edition:** {_range(report.start, report.end)} | **Compiled:** {_day(report.compiled)}"
        f" | **Audience:** {md_text(report.audience)}",
        "",
    ]
    if report.days_missing:
        missing = ", ".join(f"{d:%a} {d.isoformat()}" for d in report.days_missing)
        lines += [
            f"> Days not briefed (nothing cached; `paperbrief report weekly --fill` runs them): "
            f"{missing}",
            "",
        ]
    lines += _summary(report)
    lines += _top(report)
    lines += _section(report, "trends", 3, "Emerging Trends")
    lines += _section(
        report,
        "implications",
        4,
        "Investment & Innovation Implications",
        "The model's interpretation of the week's papers, not findings of the papers.",
    )
    lines += _section(report, "actions", 5, "Recommended Actions")
    lines += _references(report)
    return "\n".join(lines).rstrip() + "\n"


def _summary(report: WeeklyReport) -> list[str]:
    cats = f"arXiv {', '.join(report.categories)}" if report.categories else "local papers"
    scope = (
        f"Papers briefed {_range(report.start, report.end)} ({md_text(cats)}): "
        f"{report.listed} listed, {report.triaged} triaged, {report.read_in_full} read in full, "
        f"{report.papers} distinct papers summarized."
    )
    lines = [
        "## 1. Executive Summary",
        "",
        f"**Scope:** {scope}  ",
        f"**Focus:** {md_text(report.focus)}",
        "",
        "**Key Themes This Week:**",
        "",
    ]
    if not report.themes:
        return [*lines, "*No theme: the week has no summarized papers.*", ""]
    for n, theme in enumerate(report.themes, start=1):
        lines += _finding_lines(theme, n, counted=True)
    if not report.by_model:
        lines += ["*Themes are counted from the papers' tags (extractive backend).*", ""]
    return lines


def _top(report: WeeklyReport) -> list[str]:
    lines = [f"## 2. Top Papers (ranked by impact score, top {len(report.top)})", ""]
    for paper in report.top:
        medal = MEDALS.get(paper.rank, "")
        if paper.url:
            link = f"**arXiv link:** {md_link(paper.url, paper.url)}"
        else:
            link = f"**File:** {md_code(paper.file or paper.id)}"
        when = f" | **Published:** {_day(paper.published)}" if paper.published else ""
        venue = f" ({md_text(paper.venue)})" if paper.venue else ""
        lines += [
            f"### {medal} {paper.rank}. {md_text(paper.title)} [{paper.ref}]".replace("  ", " "),
            "",
            f"{link}{when}{venue} | **Impact score:** {paper.impact_score:.0f}/100  ",
            "",
            f"**Summary:** {md_text(' '.join(paper.summary))}",
            "",
            f"**Key Insight:** {md_text(paper.key_insight)}",
            "",
            f"**Industry Impact:** {md_text(paper.industry_impact)}",
            "",
        ]
    return lines


def _references(report: WeeklyReport) -> list[str]:
    lines = ["## References & Sources", "", "| # | Paper | arXiv ID | Date |", "|---|---|---|---|"]
    for ref in report.references:
        when = f"{ref.date:%b} {ref.date.day}, {ref.date.year}" if ref.date else ""
        named = f"{md_code(ref.file, cell=True)} (local file)" if ref.file else None
        ident = named or md_code(ref.id, cell=True)
        lines.append(f"| {ref.ref} | {md_cell(ref.title)} | {ident} | {when} |")
    sources = (
        f"Sources: paperbrief daily briefings of {len(report.days_briefed)} days "
        f"({md_text(report.edition)}: {md_text(report.backend)} {md_code(report.model)}); "
        "summaries from each paper's full text; synthesis "
        + (
            "by the same model, checked against the cited summaries."
            if report.by_model
            else "counted from tags, no model."
        )
    )
    spent = cost_text(report.usage, md_code)
    cost = f" Synthesis cost: {spent} in {plural(report.usage.calls, 'call')}."
    return [*lines, "", sources + (cost if report.usage.calls else ""), ""]
