"""The daily briefing as one HTML page: the Markdown report's content, plus a chart of scores.

Same facts in the same order as `pipeline.stages.report.daily_markdown`; the page adds the score
distribution, each paper's abstract one click away, and the grounding flags at the top of the
paper they concern rather than at its end.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pipeline.accounting import cost_text
from pipeline.html.charts import histogram_chart
from pipeline.html.page import (
    arxiv_links,
    bullets,
    collapsed,
    facts,
    flag,
    labelled,
    page,
    para,
    table,
)
from pipeline.markup import html_code, html_plain_url, html_text
from pipeline.models import FailedPaper, RankedPaper
from pipeline.stages.report import (
    BACKEND_NOTES,
    appendix_order,
    faithfulness_totals,
    read_from,
    sentence,
    spend_text,
    total_usage,
    usage_by_stage,
)
from pipeline.wording import plural

if TYPE_CHECKING:
    from pipeline.stages.report import ReportInput

RUBRIC = ("novelty", "industry_impact", "evidence", "urgency")


def daily_html(inputs: ReportInput) -> str:
    title = f"Research Paper Summaries — {inputs.day.isoformat()}"
    body = [
        f"<header><h1>{html_text(title)}</h1>{_intro(inputs)}</header>",
        _score_chart(inputs),
        "<main>",
        *(_paper(p) for p in inputs.papers),
        "</main>",
        _appendix(inputs),
        _failures(inputs.failed),
        f"<footer>{_footer(inputs)}</footer>",
    ]
    return page(title, "\n".join(part for part in body if part))


def _intro(inputs: ReportInput) -> str:
    lines = [
        para(
            f"Papers from {inputs.source}: {inputs.listed} listed, {len(inputs.papers)} "
            "summarized, ranked by impact score (0–100)."
        ),
        f"<p>{_backend_note(inputs.backend, inputs.model)}</p>",
    ]
    if inputs.notes:
        items = "".join(f"<li>{html_text(note)}</li>" for note in inputs.notes)
        lines.append(f'<ul class="notes">{items}</ul>')
    return "".join(lines)


def _backend_note(backend: str, model: str) -> str:
    """The Markdown report's note, its `**bold**` (ours, never paper text) made `<strong>`."""
    template = BACKEND_NOTES.get(backend, "Summaries by backend {model}.")
    escaped = html_text(template).replace("{model}", "\0")
    bold = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)
    return bold.replace("\0", html_code(model))


def _score_chart(inputs: ReportInput) -> str:
    series = [("read in full", [p.impact_score for p in inputs.papers])]
    if inputs.appendix:
        series.append(("triaged only", [s.impact_score for s in inputs.appendix]))
    chart = histogram_chart(series, title="Impact scores of today's papers (0–100)")
    if not chart:
        return ""
    return (
        '<section class="scores"><h2>Score distribution</h2>'
        f"<figure>{chart}<figcaption>How many papers scored in each band of ten; the "
        "triaged-only scores come from title and abstract alone.</figcaption></figure></section>"
    )


def _paper(paper: RankedPaper) -> str:
    meta, summary = paper.meta, paper.record.summary
    parts = [
        f'<article class="paper" id="paper-{paper.rank}">',
        f'<h2><span class="rank">{paper.rank}.</span> {html_text(meta.title)}</h2>',
        f'<p><span class="score">Impact score {paper.impact_score:.0f}/100</span></p>',
        facts(
            [
                ("Authors", html_text(", ".join(meta.authors)) or "not stated"),
                ("Link", _link(paper)),
                ("Tags", html_text(", ".join(summary.tags))),
                ("Affiliations", html_text(", ".join(summary.affiliations))),
                ("Venue", html_text(summary.venue or "")),
                ("Code", html_plain_url(summary.code_url) if summary.code_url else ""),
                ("Summarized by", _written_by(paper)),
                ("Read from", html_text(read_from(paper))),
            ]
        ),
        _unverified(paper),
        collapsed("Abstract", para(meta.abstract)),
        "<h3>Summary</h3>",
        *(para(paragraph) for paragraph in summary.summary),
        labelled("Key insight", summary.key_insight),
        "<h3>Key takeaways</h3>",
        bullets(summary.key_takeaways),
        labelled("Industry impact", summary.industry_impact),
        labelled("Limitations", " ".join(sentence(item) for item in summary.limitations)),
        _rubric(paper),
        "</article>",
    ]
    return "\n".join(part for part in parts if part)


def _link(paper: RankedPaper) -> str:
    """arXiv's pages for a checked id (never the feed's URL as given), else the file's name."""
    meta = paper.meta
    links = arxiv_links(meta.arxiv_id) if meta.arxiv_id else ""
    return links or html_code(meta.file_label)


def _written_by(paper: RankedPaper) -> str:
    record = paper.record
    return f"{html_text(record.backend)} ({html_code(record.model)}, {html_code(record.prompt)})"


def _unverified(paper: RankedPaper) -> str:
    check = paper.record.faithfulness
    if check is None or not check.unsupported:
        return ""
    numbers = ", ".join(html_code(n) for n in check.unsupported)
    return flag(f"unverified: {numbers} — not found in the paper's text; check before quoting.")


def _rubric(paper: RankedPaper) -> str:
    rubric = paper.record.summary.rubric
    rows = []
    for name in RUBRIC:
        score = getattr(rubric, name)
        rows.append(
            [html_text(name.replace("_", " ")), f"{score.score}/10", html_text(score.rationale)]
        )
    return "<h3>Scores</h3>" + table(["Criterion", "Score", "Why"], rows, numeric=[1])


def _appendix(inputs: ReportInput) -> str:
    if not inputs.appendix:
        return ""
    rows = []
    for score in appendix_order(inputs):
        title = html_text(inputs.appendix_titles.get(score.paper_id, score.paper_id))
        rows.append(
            [
                f"{score.impact_score:.0f}",
                f"{title} {html_code(score.paper_id)}",
                html_text(score.gist),
            ]
        )
    return (
        '<section id="appendix"><h2>Also in the feed (triaged, not read in full)</h2>'
        '<p class="muted">Scored from title and abstract only.</p>'
        f"{table(['Score', 'Paper', 'Gist'], rows, numeric=[0])}</section>"
    )


def _failures(failed: list[FailedPaper]) -> str:
    if not failed:
        return ""
    items = "".join(
        f"<li>{html_code(f.id)} ({html_text(f.stage)}): {html_text(f.error)}</li>" for f in failed
    )
    return f'<section id="failed"><h2>Not summarized</h2><ul>{items}</ul></section>'


def _footer(inputs: ReportInput) -> str:
    lines = [
        f"{plural(len(inputs.papers), 'paper')} summarized by {html_text(inputs.backend)} "
        f"({html_code(inputs.model)}, prompt {html_code(inputs.prompt)}); "
        f"{spend_text(total_usage(inputs), html_code)}."
    ]
    stages = usage_by_stage(inputs)
    if len(stages) > 1:
        parts = [
            f"{html_text(n)} {cost_text(u, html_code)} ({plural(u.calls, 'call')})"
            for n, u in stages.items()
        ]
        lines.append(f"By stage: {'; '.join(parts)}.")
    checked, supported, share = faithfulness_totals(inputs)
    if checked:
        lines.append(
            f"Numbers checked against the papers' text: {supported} of {checked} found "
            f"({share:.0%})."
        )
    return "".join(f"<p>{line}</p>" for line in lines)
