"""A comparison as compare.md, compare.json and compare.html.

Everything a paper or a model wrote is untrusted: Markdown goes through `pipeline.markup`
(inert text, escaped table cells), HTML through `html.escape`; the page is one file with
inline CSS and no external request.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from pipeline.accounting import dollars_text, estimated_text
from pipeline.compare.metrics import DiffOp, summary_text, word_diff
from pipeline.compare.results import (
    Comparison,
    Judging,
    PaperResult,
    VariantResult,
    VariantStats,
)
from pipeline.folders import write_set
from pipeline.markup import md_cell, md_code, md_text
from pipeline.models import Usage

Cell = Callable[[VariantStats], str]
NUMBER = re.compile(r"[\d,.%+–-]*")
# Verdicts are counted over both orders (two per paper); "same both ways" is the share of
# papers whose verdict did not change when the positions were swapped.
JUDGE_HEADER = ["a vs b", "a preferred", "b preferred", "ties", "same both ways"]


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def usd(
    amount: float,
    unpriced: Sequence[str],
    digits: str = "{:.4f} USD",
    quote: Callable[[str], str] = repr,
    estimated: Sequence[str] = (),
) -> str:
    """Dollars as compare says them, or, where a model had no price, that its cost is not
    counted (the run's own wording, `accounting.cost_text`): never 0.0000 for calls nobody
    priced; and that they are our estimate where a server sent no usage. `quote` shows a
    model's name (plain text by default, to be escaped)."""
    usage = Usage(cost_usd=amount, unpriced_models=list(unpriced), estimated_models=list(estimated))
    dollars = dollars_text(usage, quote) if unpriced else digits.format(amount)
    return dollars + estimated_text(usage, quote)


# The per-variant rows, as the table shows them: (label, how to read it from the stats).
ROWS: list[tuple[str, Cell]] = [
    ("papers compared", lambda s: str(s.papers)),
    ("LLM calls", lambda s: str(s.calls)),
    ("input tokens", lambda s: f"{s.prompt_tokens:,}"),
    ("output tokens", lambda s: f"{s.completion_tokens:,}"),
    (
        "cost USD (when made)",
        lambda s: usd(s.cost_usd, s.unpriced_models, "{:,.4f}", estimated=s.estimated_models),
    ),
    (
        "spent by this comparison USD",
        lambda s: usd(s.spent_now_usd, s.spent_now_unpriced, "{:,.4f}"),
    ),
    ("wall time s (this comparison)", lambda s: _num(s.wall_seconds)),
    ("latency per call s", lambda s: _num(s.latency_per_call)),
    ("first reply schema-valid", lambda s: _pct(s.first_reply_valid)),
    ("re-asks", lambda s: str(s.reasks)),
    ("numbers supported by the paper", lambda s: _pct(s.numbers_supported)),
    ("unsupported numbers", lambda s: str(s.unsupported_numbers)),
    ("summary words (mean)", lambda s: _num(s.summary_words, 1)),
    ("words per takeaway (mean)", lambda s: _num(s.takeaway_words, 1)),
    ("ROUGE-L vs abstract", lambda s: _num(s.rouge_abstract, 3)),
    ("takeaways repeating each other (ROUGE-L F1)", lambda s: _num(s.redundancy, 3)),
    ("takeaways repeating the summary (ROUGE-L P)", lambda s: _num(s.echo, 3)),
]


def write_comparison(comparison: Comparison, folder: Path) -> None:
    """compare.json, .md and .html as one set, shared like the runs' briefings (the user's
    umask): they hold what the variants' run.json and summaries hold, no secret."""
    files = {
        "compare.json": comparison.model_dump_json(indent=2).encode(),
        "compare.md": markdown(comparison).encode(),
        "compare.html": page(comparison).encode(),
    }
    write_set(folder, files)


# --- Markdown ------------------------------------------------------------------------------


def md_diff(old: str, new: str) -> str:
    """Removed words ~~struck~~, added ones **bold**, each run escaped as inert text."""
    marks: dict[DiffOp, tuple[str, str]] = {
        "same": ("", ""),
        "del": ("~~", "~~"),
        "ins": ("**", "**"),
    }
    return " ".join(
        f"{marks[op][0]}{md_text(text)}{marks[op][1]}" for op, text in word_diff(old, new)
    )


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def markdown(c: Comparison) -> str:
    labels = [v.spec.label for v in c.variants]
    out = [
        f"# Comparison of {', '.join(md_text(x) for x in labels)} — {c.day}",
        "",
        f"Source: {md_text(c.source)}. {len(c.common)} papers ranked by every variant are "
        f"compared. {_costs_before(c)}",
        "",
        "## Per variant",
        "",
    ]
    stats = [v.stats for v in c.variants]
    rows = [
        [md_cell(name)] + [_md_value(cell(s)) if s else "–" for s in stats] for name, cell in ROWS
    ]
    out += _md_table(["", *(md_cell(x) for x in labels)], rows)
    out += ["", "## Rankings", ""]
    rank_rows = []
    for paper_id in c.common:
        ranks = [_rank(v, paper_id) for v in c.variants]
        rank_rows.append([md_cell(c.titles.get(paper_id, paper_id)), *ranks])
    out += _md_table(["paper", *(md_cell(x) for x in labels)], rank_rows)
    out += ["", "## Rank agreement (Kendall's tau-b)", ""]
    agree_rows = [
        [
            md_cell(f"{a.a} vs {a.b}"),
            str(a.papers),
            _num(a.tau, 3),
            "; ".join(f"{md_cell(m.title)} {m.rank_a}→{m.rank_b}" for m in a.moved) or "none",
        ]
        for a in c.agreements
    ]
    out += _md_table(["pair", "papers", "tau-b", "moved most"], agree_rows)
    out += _md_judging(c)
    out += ["", "## Per paper", ""]
    for n, paper_id in enumerate(c.common, start=1):
        out += _md_paper(c, n, paper_id)
    return "\n".join(out).rstrip() + "\n"


def _md_value(text: str) -> str:
    """A number as it is; text (a cost not counted names its models) escaped for a cell."""
    return text if NUMBER.fullmatch(text) else md_cell(text)


def _costs_before(c: Comparison) -> str:
    """The estimate, the cap and what triage cost before the variants ran (Markdown)."""
    text = f"Estimated cost before the run: {_md_usd(c.estimate_usd, c.estimate_unpriced)}"
    text += f" (cap {c.max_cost:.4g} USD)." if c.max_cost is not None else "."
    if c.prepared_usd or c.prepared_unpriced:
        text += f" Triage before the variants: {_md_usd(c.prepared_usd, c.prepared_unpriced)}."
    return text


def _md_usd(amount: float, unpriced: Sequence[str]) -> str:
    return usd(amount, unpriced, quote=md_code)


def _spent(usage: Usage, quote: Callable[[str], str] = repr) -> str:
    return usd(usage.cost_usd, usage.unpriced_models, quote=quote, estimated=usage.estimated_models)


def _judge_cost(j: Judging, cost: str) -> str:
    return (
        "Each pair asked twice per paper, positions swapped. The judge's own cost, apart "
        f"from the variants': {cost} ({j.usage.calls} calls)."
    )


def _rank(variant: VariantResult, paper_id: str) -> str:
    paper = variant.paper(paper_id)
    return f"{paper.rank} ({paper.impact_score:.0f})" if paper else "–"


def _md_judging(c: Comparison) -> list[str]:
    if c.judge_error is not None:
        return ["", "## Judge", "", f"No verdicts: {md_text(c.judge_error)}"]
    if c.judging is None:
        return []
    j = c.judging
    out = [
        "",
        f"## Judge: {md_code(j.model)} with {md_code(j.prompt)}",
        "",
        _judge_cost(j, _spent(j.usage, md_code)),
        "",
    ]
    rows = [
        [
            md_cell(f"{p.a} vs {p.b}"),
            str(p.a_wins),
            str(p.b_wins),
            str(p.ties),
            _pct(p.order_agreement),
        ]
        for p in j.pairs
    ]
    return out + _md_table(JUDGE_HEADER, rows)


def _texts(paper: PaperResult) -> tuple[str, str]:
    return summary_text(paper.summary), " / ".join(paper.summary.key_takeaways)


def _md_paper(c: Comparison, n: int, paper_id: str) -> list[str]:
    out = [f"### {n}. {md_text(c.titles.get(paper_id, paper_id))} ({md_code(paper_id)})", ""]
    reference = c.variants[0]
    ref = reference.paper(paper_id)
    assert ref is not None  # common papers are in every variant
    ref_summary, ref_takeaways = _texts(ref)
    for variant in c.variants:
        paper = variant.paper(paper_id)
        assert paper is not None
        summary, takeaways = _texts(paper)
        head = f"**{md_text(variant.spec.label)}** (rank {paper.rank}, {paper.summary_words} words"
        if variant is reference:
            out += [f"{head}):", "", md_text(summary), "", f"Takeaways: {md_text(takeaways)}", ""]
            continue
        vs = f"; changes against {md_text(reference.spec.label)}"
        out += [
            f"{head}{vs}):",
            "",
            md_diff(ref_summary, summary),
            "",
            f"Takeaways: {md_diff(ref_takeaways, takeaways)}",
            "",
        ]
    return out


# --- HTML ----------------------------------------------------------------------------------

CSS = """
body{font:15px/1.5 system-ui,sans-serif;max-width:75rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;
text-align:left;vertical-align:top}th{background:#f4f4f4}.num{text-align:right}
.papers{display:grid;grid-template-columns:repeat(auto-fit,minmax(18rem,1fr));gap:1rem}
.variant{border:1px solid #ddd;border-radius:6px;padding:.6rem .8rem}
del{background:#fdd;color:#900}ins{background:#dfd;color:#060;text-decoration:none}
code{background:#f4f4f4;padding:0 .2rem}.muted{color:#666}
"""


def html_diff(old: str, new: str) -> str:
    tags: dict[DiffOp, tuple[str, str]] = {
        "same": ("", ""),
        "del": ("<del>", "</del>"),
        "ins": ("<ins>", "</ins>"),
    }
    return " ".join(
        f"{tags[op][0]}{html.escape(text)}{tags[op][1]}" for op, text in word_diff(old, new)
    )


def _e(text: object) -> str:
    return html.escape(str(text))


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(c: Comparison) -> str:
    labels = [_e(v.spec.label) for v in c.variants]
    stats = [v.stats for v in c.variants]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        # No request leaves the page: a paper's text cannot make it fetch anything.
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "style-src 'unsafe-inline'\">",
        f"<title>Comparison — {_e(c.day)}</title><style>{CSS}</style></head><body>",
        f"<h1>Comparison of {', '.join(labels)} — {_e(c.day)}</h1>",
        f"<p class='muted'>Source: {_e(c.source)}. {len(c.common)} papers ranked by every "
        f"variant are compared. Estimated cost before the run: "
        f"{_e(usd(c.estimate_usd, c.estimate_unpriced))}.</p>",
        "<h2>Per variant</h2>",
        _html_table(
            ["", *labels],
            [[_e(name)] + [_e(cell(s)) if s else "–" for s in stats] for name, cell in ROWS],
        ),
        "<h2>Rankings</h2>",
        _html_table(
            ["paper", *labels],
            [[_e(c.titles.get(i, i))] + [_e(_rank(v, i)) for v in c.variants] for i in c.common],
        ),
        "<h2>Rank agreement (Kendall's tau-b)</h2>",
        _html_table(
            ["pair", "papers", "tau-b", "moved most"],
            [
                [
                    _e(f"{a.a} vs {a.b}"),
                    str(a.papers),
                    _e(_num(a.tau, 3)),
                    _e("; ".join(f"{m.title} {m.rank_a}→{m.rank_b}" for m in a.moved) or "none"),
                ]
                for a in c.agreements
            ],
        ),
        _html_judging(c),
        "<h2>Per paper</h2>",
    ]
    parts += [_html_paper(c, n, i) for n, i in enumerate(c.common, start=1)]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_judging(c: Comparison) -> str:
    if c.judge_error is not None:
        return f"<h2>Judge</h2><p>No verdicts: {_e(c.judge_error)}</p>"
    if c.judging is None:
        return ""
    j = c.judging
    rows = [
        [_e(f"{p.a} vs {p.b}"), str(p.a_wins), str(p.b_wins), str(p.ties), _pct(p.order_agreement)]
        for p in j.pairs
    ]
    return (
        f"<h2>Judge: <code>{_e(j.model)}</code> with <code>{_e(j.prompt)}</code></h2>"
        f"<p>{_judge_cost(j, _e(_spent(j.usage)))}</p>" + _html_table(JUDGE_HEADER, rows)
    )


def _html_paper(c: Comparison, n: int, paper_id: str) -> str:
    reference = c.variants[0]
    ref = reference.paper(paper_id)
    assert ref is not None
    ref_summary, ref_takeaways = _texts(ref)
    cards = []
    for variant in c.variants:
        paper = variant.paper(paper_id)
        assert paper is not None
        summary, takeaways = _texts(paper)
        if variant is reference:
            body, points = _e(summary), _e(takeaways)
        else:
            body, points = html_diff(ref_summary, summary), html_diff(ref_takeaways, takeaways)
        cards.append(
            f"<div class='variant'><h4>{_e(variant.spec.label)}</h4>"
            f"<p class='muted'>rank {paper.rank} · {paper.summary_words} words</p>"
            f"<p>{body}</p><p><b>Takeaways:</b> {points}</p></div>"
        )
    title = _e(c.titles.get(paper_id, paper_id))
    return (
        f"<h3>{n}. {title} <code>{_e(paper_id)}</code></h3>"
        f"<div class='papers'>{''.join(cards)}</div>"
    )
