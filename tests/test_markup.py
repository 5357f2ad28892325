"""Untrusted text is inert Markdown: a real CommonMark parser (markdown-it-py) finds no image, no
link, no raw HTML and no markup in it, and shows exactly the characters that went in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

from pipeline.markup import clean, md_cell, md_code, md_link, md_text, plain_url

# CommonMark with raw HTML on (its default), plus the GFM tables and strikethrough the reports
# and GitHub's viewer use: whatever the text tries, the parser sees everything it could do.
PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])

HOSTILE = [
    "![t](http://host/beacon.png)",
    '<img src="http://host/x.png">',
    "<http://host/autolink>",
    "[click](http://host/a) and [ref][r]",
    "[r]: http://host/ref.png",
    "![ref][r]\n\n[r]: http://host/ref.png",
    "<script>fetch('http://host/')</script>",
    "<!-- hidden --> text",
    "<div>\nblock html\n</div>",
    "&lt;img src=x&gt; &#91;x&#93;(y) &amp;",
    "[x](javascript:alert(1))",
    "bare http://host/x.png and www.host.example/y",
    "```\ncode fence\n```",
    "~~~\nfence\n~~~",
    "    indented code",
    "# Heading ##",
    "1. ordered",
    "- bullet",
    "> quote",
    "---",
    "===",
    "Title\n===",
    "*em* **strong** _u_ ~~gone~~",
    "trailing backslash \\",
    "a | b | c",
    "`code` ``more`` `",
    "\u202eevil\u202c \x1b[31mred\x1b[0m nul\x00 zero\u200bwidth",
    "line\nbreak\r\nand\u2028separator",
]

# Pieces that mean something to Markdown, mixed with arbitrary text, so that hypothesis spends
# its time on the interesting combinations rather than on plain letters.
PIECES = [
    "!", "[", "]", "(", ")", "<", ">", "`", "``", "```", "*", "_", "~", "\\", "&", ";", "#",
    "&amp;", "&#x5b;", "|", ":", "-", "+", "=", "1.", "2)", "http://h.io/p.png", "www.h.io",
    "mailto:a@b.c", "<img src=x>", "</p>", "<h:o>", " ", "  ", "\n", "\n\n", "\t", "a", "é", "ß",
    "\u202e", "\x00", "\x1b", "\ud800",
]  # fmt: skip
hostile_text = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=4)), max_size=25).map(
    "".join
)


def walk(tokens: list[Token]) -> Iterator[Token]:
    for token in tokens:
        yield token
        yield from walk(token.children or [])


def inline_of(markdown: str, block: str) -> list[Token]:
    """The inline tokens of the one `block` (e.g. "paragraph") the document must consist of."""
    tokens = PARSER.parse(markdown)
    blocks = [t.type for t in tokens if t.nesting == 1 and t.level == 0]
    assert blocks == [f"{block}_open"], (markdown, blocks)
    inlines = [t for t in tokens if t.type == "inline"]
    assert len(inlines) == 1
    return inlines[0].children or []


def shown(children: list[Token]) -> str:
    """What a reader sees, failing on anything that is not plain text or a code span."""
    kinds = {t.type for t in children}
    assert kinds <= {"text", "code_inline"}, kinds
    return "".join(t.content for t in children)


def live(markdown: str) -> list[str]:
    """Everything in a rendered document that can fetch or link: images, links, raw HTML."""
    found = []
    for token in walk(PARSER.parse(markdown)):
        if token.type in ("image", "html_inline", "html_block"):
            found.append(f"{token.type} {token.attrs.get('src', token.content)!r}")
        elif token.type == "link_open":
            found.append(f"link {token.attrs.get('href')!r}")
    return found


def check_inert(text: str) -> None:
    expected = clean(text)
    escaped = md_text(text)
    assert "\n" not in escaped
    if not expected:  # nothing visible: nothing written
        assert escaped == ""
        return
    assert shown(inline_of(escaped, "paragraph")) == expected  # first on its line
    assert shown(inline_of(f"- {escaped}", "bullet_list")) == expected
    heading = inline_of(f"## 1. {escaped}", "heading")
    assert shown(heading) == f"1. {expected}".rstrip()
    label = inline_of(f"**Key insight:** {escaped}", "paragraph")
    label = [t for t in label if t.content or t.nesting]  # markdown-it adds an empty text
    assert [t.type for t in label[:3]] == ["strong_open", "text", "strong_close"]
    assert shown(label[3:]).lstrip() == expected
    assert live(f"{escaped}\n\n- {escaped}\n\n## {escaped}") == []


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_renders_as_itself(text: str) -> None:
    check_inert(text)


@given(hostile_text)
def test_any_text_renders_as_itself_and_nothing_else(text: str) -> None:
    check_inert(text)


def table(*cells: str) -> str:
    header = "| " + " | ".join(f"h{i}" for i in range(len(cells))) + " |"
    rule = "|" + " --- |" * len(cells)
    return "\n".join([header, rule, "| " + " | ".join(cells) + " |"])


def body_cells(markdown: str) -> list[str]:
    tokens = PARSER.parse(markdown)
    opened = [i for i, t in enumerate(tokens) if t.type == "td_open"]
    return [shown(tokens[i + 1].children or []) for i in opened]


@given(hostile_text, hostile_text)
def test_a_cell_stays_one_cell(first: str, second: str) -> None:
    markdown = table(md_cell(first), f"x {md_cell(second)} y {md_code(second, cell=True)} z")
    assert body_cells(markdown) == [clean(first), f"x {clean(second)} y {clean(second)} z"]
    assert live(markdown) == []


@given(hostile_text)
def test_a_code_span_shows_its_text_verbatim(text: str) -> None:
    span = md_code(text)
    if not clean(text):
        assert span == ""
        return
    children = inline_of(f"{span} after", "paragraph")
    assert children[0].type == "code_inline" and children[0].content == clean(text)


def test_urls_in_text_are_code_spans_so_no_linkifier_reaches_them() -> None:
    text = "Call http://host/x.png, or www.host.example now; mail eve@host.example (pass@1)."
    children = inline_of(md_text(text), "paragraph")
    codes = [t.content for t in children if t.type == "code_inline"]
    assert codes == ["http://host/x.png", "www.host.example", "eve@host.example"]
    assert shown(children) == text


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("réhttp://host/x.png", "http://host/x.png"),  # GitHub links it after any letter
        ("mailto:a@b.c", "a@b.c"),  # a one-letter top-level domain is enough for GFM
        ("pass@1.5 on HumanEval", "pass@1.5"),
    ],
)
def test_what_github_would_autolink_is_a_code_span(text: str, code: str) -> None:
    children = inline_of(md_text(text), "paragraph")
    assert [t.content for t in children if t.type == "code_inline"] == [code]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/example/rlad", "https://github.com/example/rlad"),
        ("HTTPS://GitHub.com/Example/Repo?tab=readme#top", "https://github.com/Example/Repo?tab=readme#top"),
        # credentials would put a trusted name before the real host
        ("https://github.com:x@evil.example/r", "https://evil.example/r"),
        ("https://github.com@evil.example/r", "https://evil.example/r"),
        # a Cyrillic "і" is shown as the punycode host it really is
        ("https://gіthub.com/a", "https://xn--gthub-n2e.com/a"),
        ("http://host:8080/p", "http://host:8080/p"),
        ("http://[::1]:8080/p", "http://[::1]:8080/p"),
    ],
)  # fmt: skip
def test_declared_urls_show_their_host_and_are_never_links(url: str, expected: str) -> None:
    children = inline_of(f"**Code:** {plain_url(url)}", "paragraph")
    assert [t.content for t in children if t.type == "code_inline"] == [expected]
    assert live(plain_url(url)) == []


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "data:image/png;base64,AAAA", "//host/x.png", "http://[::1", "x"],
)
def test_anything_but_a_web_url_is_plain_text(url: str) -> None:
    assert shown(inline_of(plain_url(url), "paragraph")) == url
    assert live(plain_url(url)) == []


@given(hostile_text)
def test_plain_url_is_inert_for_any_input(text: str) -> None:
    assert live(f"**Code:** {plain_url(text)}") == []


def test_the_only_links_are_the_ones_the_report_builds() -> None:
    link = md_link("https://arxiv.org/abs/2401.01234v2", "https://arxiv.org/abs/2401.01234v2")
    assert live(link) == ["link 'https://arxiv.org/abs/2401.01234v2'"]
    for url in ("http://arxiv.org/abs/x", "https://host/a b", "https://host/a)(b"):
        with pytest.raises(ValueError, match="not a URL the report builds"):
            md_link("label", url)
