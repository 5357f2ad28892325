"""Untrusted text → inert Markdown: the one set of rules every report format escapes with.

Titles, authors, summaries, gists, venues, code links and error messages come from papers or
from an LLM that read them, so they may carry Markdown or HTML meant to fire when a report is
opened (`![t](http://host/beacon.png)`, `<img src=…>`, autolinks, reference links). Everything
here turns such text into Markdown that any CommonMark viewer shows as the same characters and
nothing else: no image, no link, no raw HTML, no emphasis, no heading or list it did not ask for.

- `md_text(s)`: inline text for a paragraph, heading, list item or after a label.
- `md_cell(s)`: the same, safe inside a pipe-table cell.
- `md_code(s)`: a code span (ids, file and model names); `cell=True` inside a table.
- `plain_url(url)`: a declared code or project page, shown (not linked) with its host visible.
- `md_link(label, url)`: the only link builder; for URLs the report itself builds (arXiv).

The HTML counterparts (`html_text`, `html_code`, `html_plain_url`, `html_link`) follow the same
rules for pages: HTML needs only `html.escape`, since escaped text is never markup there.

URLs and e-mail addresses inside text become code spans: CommonMark never links them, and
neither do the GFM and linkify extensions (GitHub, markdown-it's linkify), which link bare
`http://`, `www.` and `name@host.org` text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Final
from urllib.parse import urlsplit, urlunsplit

from pipeline.visible import shown

# What can drive a terminal or hide what is shown: Cc but newline and tab (ESC starts CSI, OSC
# and DCS sequences; U+009B is CSI itself), bidi overrides and isolates, zero-width characters,
# lone surrogates. `pipeline.terminal` drops them from what it prints.
TERMINAL_UNSAFE: Final = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff\ud800-\udfff]"
)
# Characters with inline meaning anywhere in a line (CommonMark and GFM strikethrough).
_INLINE_SPECIAL: Final = re.compile(r"([\\`*_\[\]<#~])")
# `&amp;` or `&#91;` would show as `&` or `[`: escape an ampersand only where it starts an entity.
_ENTITY: Final = re.compile(r"&(?=#?[0-9A-Za-z]+;)")
# Block syntax that only counts at the start of a line: lists, quotes, thematic breaks, setext.
_LINE_START: Final = re.compile(r"^(\d*)([-+=>.)])")
# A URL runs to the next space, less the punctuation that usually closes the sentence around it;
# an e-mail address is one too, since GFM makes it a mailto: link. No word boundary is asked
# for: cmark-gfm and linkify link "éhttp://…" too.
_URL: Final = re.compile(
    r"(?i)(?:[a-z][a-z0-9+.-]*://|www\.)\S*[^\s.,;:!?'\")\]}>]"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # GFM's extended e-mail autolink, a little wider
)


def clean(text: str) -> str:
    """One line of visible text: whitespace runs become one space; controls, format characters
    and other invisibles are dropped (`visible.shown`: control characters would break a line or
    drive a terminal when the report is `cat`-ed, and invisibles can make the shown text differ
    from what is there). The extractive backend checks what it quotes after the same drop."""
    return " ".join(shown(text).split())


def md_text(text: str) -> str:
    """`text` as Markdown that renders as exactly `clean(text)`, and as nothing else."""
    text = clean(text)
    parts: list[str] = []
    at = 0
    for found in _urls(text) if _may_hold_url(text) else ():
        parts.append(_escape(text[at : found.start()], line_start=at == 0))
        parts.append(md_code(found.group(0)))
        at = found.end()
    parts.append(_escape(text[at:], line_start=at == 0))
    return "".join(parts)


# `_URL.finditer`, linear in the text (`_urls`). `re` tries a pattern at every position, and
# at each position inside a run of word characters both the scheme and the e-mail branch read
# to the run's end before failing: a 120,000-letter title took 150 s to render.
_RUN: Final = re.compile(r"[\w.+-]++")  # what an e-mail's local part, a scheme or "www." is made of
_RUN_CHAR: Final = re.compile(r"[\w.+-]")
_NOT_SCHEME: Final = re.compile(r"(?i)[^a-z0-9+.-]")
_SCHEME_LETTER: Final = re.compile(r"(?i)[a-z]")
_WWW: Final = re.compile(r"(?i)www\.")


def _urls(text: str) -> Iterator[re.Match[str]]:
    r"""The matches `_URL.finditer(text)` gives, found in time linear in the text's length.

    Every match starts inside a run of `[\w.+-]` characters. Where `_URL` fails at a position
    of a run, it fails at every later position of that run too, except where a scheme or
    "www." could begin: an e-mail's local part and a scheme both read to the run's end, so the
    rest of the run is decided by what follows it. So after a failure the scan jumps to the
    run's end, or to the one letter inside it that could begin a scheme (the run ends in
    "://"), or to a "www." inside it, whichever comes first.
    """
    pos = 0
    while (start := _RUN_CHAR.search(text, pos)) is not None:
        pos = start.start()
        found = _URL.match(text, pos)
        if found is not None:
            yield found
            pos = found.end()
            continue
        run_end = _RUN.match(text, pos).end()  # type: ignore[union-attr]
        next_at = run_end
        if text.startswith("://", run_end):
            # a scheme is the run's tail of [a-z0-9+.-], from its first letter
            tail = pos
            for other in _NOT_SCHEME.finditer(text, pos, run_end):
                tail = other.end()
            letter = _SCHEME_LETTER.search(text, tail, run_end)
            if letter is not None and letter.start() > pos:
                next_at = letter.start()
        www = _WWW.search(text, pos + 1, run_end)
        if www is not None:
            next_at = min(next_at, www.start())
        pos = next_at


def _may_hold_url(text: str) -> bool:
    """Whether `_URL` can match at all: it needs "://", "www." or "@". The e-mail branch tries
    every word of a text without one, the bulk of a long report's rendering."""
    return "@" in text or "://" in text or "www." in text.lower()


def md_cell(text: str) -> str:
    """`md_text` for a table cell: a `|` in the text cannot end the cell."""
    return _pipes(md_text(text))


def md_code(text: str, cell: bool = False) -> str:
    """A code span showing `clean(text)` verbatim: nothing inside a code span is markup."""
    text = clean(text)
    if not text:
        return ""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    # A space pads content that starts or ends with a backtick (or a space); CommonMark strips
    # exactly one space from each side, so the shown text is unchanged.
    pad = " " if text[0] in "` " or text[-1] in "` " else ""
    span = f"{fence}{pad}{text}{pad}{fence}"
    return _pipes(span) if cell else span


def plain_url(url: str) -> str:
    """A paper's declared URL as plain code text, host first and visible; never a link.

    Credentials (`user:pass@`) are dropped, since they could make `https://github.com@evil.org`
    look like GitHub, and the host is shown in its ASCII (punycode) form, so a look-alike
    Unicode host shows as the `xn--` name it really is. Anything but http(s) is shown as text.
    """
    shown = shown_url(url)
    return md_text(url) if shown is None else md_code(shown)


def shown_url(url: str) -> str | None:
    """`plain_url`'s form of an http(s) URL, for any format; None when it is not one."""
    url = clean(url)
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").encode("idna").decode("ascii")
        port = parts.port
    except (ValueError, UnicodeError):
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    host = f"[{host}]" if ":" in host else host  # an IPv6 address keeps its brackets
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment))


def md_link(label: str, url: str) -> str:
    """A link the report builds itself (arXiv). `url` must not come from a paper."""
    if any(ch in url for ch in " <>()") or not url.startswith("https://"):
        raise ValueError(f"not a URL the report builds: {url!r}")
    # the label is ours too: escaped, but a URL in it stays text, not a code span
    return f"[{_escape(clean(label), line_start=False)}](<{url}>)"


def _escape(text: str, line_start: bool) -> str:
    text = _ENTITY.sub(r"\\&", _INLINE_SPECIAL.sub(r"\\\1", text))
    return _LINE_START.sub(r"\1\\\2", text) if line_start else text


def _pipes(markdown: str) -> str:
    # GFM and markdown-it read `\|` as a literal pipe in a cell, inside code spans too.
    return markdown.replace("|", "\\|")


# --- HTML -------------------------------------------------------------------------------

# The only hosts a report links to; anything else a paper or model names is shown as text.
ARXIV_PAGES: Final = ("https://arxiv.org/abs/", "https://arxiv.org/pdf/")


def html_text(text: str) -> str:
    """`clean(text)` as HTML text or attribute value: every `<`, `>`, `&` and quote escaped."""
    return html.escape(clean(text), quote=True)


def html_code(text: str) -> str:
    """Ids, file and model names in a `<code>` element; empty text makes no element."""
    shown = html_text(text)
    return f"<code>{shown}</code>" if shown else ""


def html_plain_url(url: str) -> str:
    """A paper's declared URL shown as `plain_url` shows it, host visible; never a link."""
    shown = shown_url(url)
    return html_text(url) if shown is None else html_code(shown)


def html_link(label: str, url: str) -> str:
    """An `<a>` to an arXiv page the report built from a checked id; any other URL raises."""
    if not url.startswith(ARXIV_PAGES) or any(ch in url for ch in " <>\"'\\`"):
        raise ValueError(f"not a URL the report builds: {url!r}")
    return f'<a href="{html.escape(url, quote=True)}">{html_text(label)}</a>'
