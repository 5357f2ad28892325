"""The page every HTML report is built on, and the small escaped pieces its body is made of.

A report page is one file that makes no request of any kind: its CSS is inline, it has no
script, font or remote image, and its Content-Security-Policy forbids all three, so even markup
that slipped past escaping could load and run nothing. Functions here take untrusted text and
return HTML; every one escapes what it is given (through `pipeline.markup`), and a caller's
`*_html` arguments are HTML the report built itself.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Final, Literal

from pipeline.markup import html_link, html_text
from pipeline.sources import is_arxiv_id

# default-src 'none' also covers scripts, fonts, frames, media and fetches; inline styles are
# the page's own CSS, and data: images the only kind a report could ever embed.
CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'"

# System fonts only: a web font would be a request. Colours pass WCAG AA on white.
CSS: Final = """
:root { --ink: #1d232b; --muted: #56606b; --line: #d8dde3; --accent: #1f5fa8;
  --warn-bg: #fff4d6; --warn-ink: #6b4500; --bar: #1f5fa8; --bar2: #9db7d6; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body { margin: 0 auto; max-width: 46rem; padding: 1rem; color: var(--ink); background: #fff;
  font: 1rem/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; overflow-wrap: anywhere; }
h1 { font-size: 1.6rem; line-height: 1.25; margin: .5rem 0 1rem; }
h2 { font-size: 1.25rem; line-height: 1.3; margin: 0 0 .5rem; }
h3 { font-size: 1.05rem; margin: 1rem 0 .25rem; }
a { color: var(--accent); }
code { font: .9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  background: #f1f3f5; padding: 0 .2em; border-radius: 3px; }
.muted, footer { color: var(--muted); }
.paper { border-top: 1px solid var(--line); padding: 1rem 0; }
.rank { color: var(--muted); }
.score { display: inline-block; font-weight: 600; background: #e8f0fa; color: #123d6e;
  border-radius: 1rem; padding: 0 .6rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .1rem .75rem;
  margin: .5rem 0; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
.flag { background: var(--warn-bg); color: var(--warn-ink); border-left: 4px solid #d89b00;
  padding: .4rem .6rem; margin: .5rem 0; }
.notes { border-left: 4px solid var(--line); padding: .1rem .75rem; margin: .5rem 0;
  list-style: none; }
details { margin: .5rem 0; }
summary { cursor: pointer; color: var(--accent); }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
th, td { border-bottom: 1px solid var(--line); padding: .3rem .4rem; text-align: left;
  vertical-align: top; }
td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
figure { margin: .5rem 0 1rem; }
figcaption { color: var(--muted); font-size: .9rem; }
svg.chart { width: 100%; height: auto; max-width: 40rem; display: block; }
svg.chart text { font: 12px system-ui, sans-serif; fill: var(--ink); }
svg.chart .bar { fill: var(--bar); }
svg.chart .bar2 { fill: var(--bar2); }
svg.chart .axis { stroke: var(--line); }
@media (max-width: 30rem) {
  body { padding: .75rem; font-size: .95rem; }
  h1 { font-size: 1.35rem; }
  dl.facts { grid-template-columns: 1fr; }
  dl.facts dd { margin-bottom: .3rem; }
}
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  a { color: inherit; }
  a[href]::after { content: " (" attr(href) ")"; font-size: .85em; color: var(--muted); }
  .paper { break-inside: auto; }
  h2, h3 { break-after: avoid; }
  figure, tr, .flag { break-inside: avoid; }
  summary { color: inherit; }
  /* a printed abstract cannot be clicked open (browsers without ::details-content ignore it) */
  details::details-content { content-visibility: visible; display: block; }
}
"""


def page(title: str, body_html: str, *, lang: str = "en", extra_css: str = "") -> str:
    """A whole self-contained page. `title` is untrusted text; `body_html` is built HTML.

    `extra_css` is the caller's own stylesheet (never paper text: it lands in `<style>`)."""
    style = CSS + extra_css
    if "</style" in style.lower():
        raise ValueError("extra_css may not close the style element")
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{html.escape(lang, quote=True)}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{html_text(title)}</title>\n<style>{style}</style>\n</head>\n"
        f"<body>\n{body_html}\n</body>\n</html>\n"
    )


def para(text: str, cls: str = "") -> str:
    """One paragraph of untrusted text."""
    return f"<p{_class(cls)}>{html_text(text)}</p>" if text.strip() else ""


def labelled(label: str, text: str) -> str:
    """`<p><strong>Label:</strong> text</p>`, as the Markdown report's labelled lines read."""
    if not text.strip():
        return ""
    return f"<p><strong>{html_text(label)}:</strong> {html_text(text)}</p>"


def bullets(items: Iterable[str], *, ordered: bool = False) -> str:
    tag = "ol" if ordered else "ul"
    rows = "".join(f"<li>{html_text(item)}</li>" for item in items if item.strip())
    return f"<{tag}>{rows}</{tag}>" if rows else ""


def facts(rows: Sequence[tuple[str, str]]) -> str:
    """A definition list of (label, built HTML) rows; rows with no value are left out."""
    cells = "".join(
        f"<dt>{html_text(label)}</dt><dd>{value_html}</dd>"
        for label, value_html in rows
        if value_html
    )
    return f'<dl class="facts">{cells}</dl>' if cells else ""


def flag(body_html: str) -> str:
    """A grounding warning the reader should see before quoting (body is built HTML)."""
    return f'<p class="flag" role="note">⚠ {body_html}</p>' if body_html else ""


def collapsed(label: str, body_html: str) -> str:
    """Content one click away: a closed `<details>` with `label` as its summary."""
    if not body_html:
        return ""
    return f"<details><summary>{html_text(label)}</summary>{body_html}</details>"


def table(header: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    """A table of built-HTML cells under a header of plain labels; `numeric` columns align right."""

    def cells(tag: str, values: Sequence[str]) -> str:
        return "".join(
            f"<{tag}{_class('num' if i in numeric else '')}>{v}</{tag}>"
            for i, v in enumerate(values)
        )

    head = cells("th", [html_text(h) for h in header])
    body = "".join(f"<tr>{cells('td', row)}</tr>" for row in rows)
    return (
        f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def arxiv_url(paper_id: str, kind: Literal["abs", "pdf"] = "abs") -> str | None:
    """arXiv's page for a checked id, built here and never taken from a feed; else None."""
    return f"https://arxiv.org/{kind}/{paper_id}" if is_arxiv_id(paper_id) else None


def arxiv_links(paper_id: str) -> str:
    """ "abs · PDF" links for an arXiv id; empty when `paper_id` is not one."""
    abs_url, pdf_url = arxiv_url(paper_id), arxiv_url(paper_id, "pdf")
    if abs_url is None or pdf_url is None:
        return ""
    return f"{html_link(abs_url, abs_url)} · {html_link('PDF', pdf_url)}"


def _class(name: str) -> str:
    return f' class="{html.escape(name, quote=True)}"' if name else ""
