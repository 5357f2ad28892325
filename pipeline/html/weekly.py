"""The weekly report as one HTML page: the Markdown report's sections, plus a chart of the
themes and how many papers each covers (counted by paperbrief, never by the model)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.html.charts import bar_chart
from pipeline.html.page import arxiv_links, collapsed, flag, labelled, page, para, table
from pipeline.markup import html_code, html_text
from pipeline.weekly import MEDALS, count_text

if TYPE_CHECKING:
    from pipeline.stages.digest import Finding
    from pipeline.weekly import TopPaper, WeeklyReport


def weekly_html(report: WeeklyReport) -> str:
    title = f"Weekly AI/ML Research Report — {report.start.isoformat()} to {report.end.isoformat()}"
    body = [
        f"<header><h1>🧠 {html_text(title)}</h1>{_intro(report)}</header>",
        "<main>",
        _section("1. Executive Summary", _summary(report)),
        _section("2. Top Papers", "".join(_paper(p) for p in report.top)),
        _section("3. Emerging Trends", _findings(report, "trends")),
        _section(
            "4. Investment & Innovation Implications",
            para(
                "The model's interpretation of the week's papers, not findings of the papers.",
                "note",
            )
            + _findings(report, "implications"),
        ),
        _section("5. Recommended Actions", _findings(report, "actions")),
        _section("References & Sources", _references(report)),
        "</main>",
    ]
    return page(title, "\n".join(body))


def _intro(report: WeeklyReport) -> str:
    parts = [
        labelled("Audience", report.audience),
        labelled("Compiled", report.compiled.isoformat()),
    ]
    if report.days_missing:
        missing = ", ".join(d.isoformat() for d in report.days_missing)
        parts.append(flag(html_text(f"Days not briefed (nothing cached): {missing}")))
    return "".join(parts)


def _section(heading: str, body_html: str) -> str:
    return f"<section><h2>{html_text(heading)}</h2>{body_html}</section>"


def _summary(report: WeeklyReport) -> str:
    cats = f"arXiv {', '.join(report.categories)}" if report.categories else "local papers"
    scope = (
        f"{cats}: {report.listed} listed, {report.triaged} triaged, {report.read_in_full} read "
        f"in full, {report.papers} distinct papers summarized."
    )
    parts = [labelled("Scope", scope), labelled("Focus", report.focus)]
    if report.themes:
        labels = [t.title for t in report.themes]
        parts.append(bar_chart(labels, [t.papers for t in report.themes], title="Papers per theme"))
    parts.append("<h3>Key Themes This Week</h3>" + _findings(report, "themes"))
    return "".join(parts)


def _findings(report: WeeklyReport, kind: str) -> str:
    items: list[Finding] = getattr(report, kind)
    if not items:
        why = report.notes.get(kind, "nothing in this week's papers supports one")
        return para(f"This section {why}.", "note")
    rows = "".join(
        f"<li>{_finding(item, counted=kind in ('themes', 'trends'))}</li>" for item in items
    )
    return f"<ol>{rows}</ol>"


def _finding(item: Finding, *, counted: bool) -> str:
    count = f" ({count_text(item)})" if counted else ""
    cites = " ".join(f"[{r}]" for r in item.refs)
    text = (
        f"<strong>{html_text(item.title)}</strong>{html_text(count)} — "
        f'{html_text(item.text)} <span class="cites">{html_text(cites)}</span>'
    )
    if item.flags:
        text += flag(html_text("unverified: " + "; ".join(item.flags)))
    return text


def _paper(paper: TopPaper) -> str:
    medal = MEDALS.get(paper.rank, "")
    venue = f" ({paper.venue})" if paper.venue else ""
    link = arxiv_links(paper.id) if paper.url else html_code(paper.file or paper.id)
    when = f" · published {paper.published.isoformat()}" if paper.published else ""
    return (
        f'<article class="paper"><h3>{medal} {paper.rank}. {html_text(paper.title)} '
        f"[{paper.ref}]</h3>"
        f"<p>{link}{html_text(when + venue)} · "
        f"impact score {paper.impact_score:.0f}/100</p>"
        + labelled("Summary", " ".join(paper.summary))
        + labelled("Key insight", paper.key_insight)
        + labelled("Industry impact", paper.industry_impact)
        + collapsed("Abstract", para(paper.abstract))
        + "</article>"
    )


def _references(report: WeeklyReport) -> str:
    rows = [
        [
            str(ref.ref),
            html_text(ref.title),
            html_code(ref.file) + " (local file)" if ref.file else html_code(ref.id),
            html_text(ref.date.isoformat() if ref.date else ""),
        ]
        for ref in report.references
    ]
    sources = (
        f"Sources: paperbrief daily briefings of {len(report.days_briefed)} days "
        f"({report.edition}: {report.backend} {report.model})."
    )
    return table(["#", "Paper", "arXiv ID", "Date"], rows, numeric=[0]) + para(sources)
