"""A PDF's own outline (its bookmarks, `doc.get_toc()`) located in the page text.

An outline names a paper's sections and their hierarchy, but only as well as the tool that wrote
it: pages can be one off or all "1", titles can carry LaTeX source ("Lema{^i }tre--Tolman"),
and many outlines cover only the top level or only the body. So each entry is looked up among
the extracted lines: on the page it names first, then the next and the previous page, then
anywhere after the entry before it, always in outline order. A line matches when it says the
entry's title and nothing else (numbering aside), possibly wrapped over up to three lines. A
line that looks like a heading (bold, larger or capitals, or set apart by space or a sentence
end above it) is preferred; off the named page nothing else is taken.
Entries that cannot be found are left to the layout heuristics.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

_NUMBER_PREFIX = re.compile(
    r"^\s*(?:appendix\s*)?(?:\d{1,2}(?:\s?\.\s?\d{1,2}){0,3}|[ivx]{1,5}|[a-h](?:\.\d{1,2}){0,3})"
    r"\s?[.:]?\s+",
    re.I,
)
_NOT_KEY = re.compile(r"[^a-z0-9]+")
MAX_LINES = 3  # a heading wraps over at most this many lines
FUZZY = 0.86  # similarity that still counts as the same title (LaTeX leftovers, accents)


class Entry(NamedTuple):
    level: int
    title: str
    page: int  # 1-based, as the outline says


class Located(NamedTuple):
    entry: Entry
    level: int  # the outline level, rebased so the top level found is 1
    lines: int  # how many lines the heading takes


class TextLine(Protocol):
    @property
    def page(self) -> int: ...
    @property
    def text(self) -> str: ...


def entries(toc: Sequence[Sequence[object]]) -> list[Entry]:
    """`doc.get_toc()` rows as entries, empty titles and non-positive pages left out."""
    found = []
    for row in toc:
        level, title, page = row[0], row[1], row[2]
        typed = isinstance(level, int) and isinstance(title, str) and isinstance(page, int)
        if typed and str(title).strip() and int(str(page)) > 0:
            found.append(Entry(int(str(level)), " ".join(str(title).split()), int(str(page))))
    return found


def key(text: str) -> str:
    """A title reduced to its letters and digits, numbering dropped: "3.1 . Setup" -> "setup"."""
    text = _NUMBER_PREFIX.sub("", text, count=1)
    text = unicodedata.normalize("NFKD", text).lower()
    return _NOT_KEY.sub("", text)


def locate(
    outline: list[Entry], lines: Sequence[TextLine], set_apart: Callable[[int], bool]
) -> dict[int, Located]:
    """The outline entries found in `lines`, by the index of each heading's first line.

    `set_apart(i)` says whether line `i` looks like a heading by its layout; it is asked only
    for matches away from the page the entry names.
    """
    by_page: dict[int, list[int]] = {}
    for i, line in enumerate(lines):
        by_page.setdefault(line.page, []).append(i)
    keys: dict[int, str] = {}

    def key_of(i: int) -> str:
        if i not in keys:
            keys[i] = key(lines[i].text)
        return keys[i]

    found: dict[int, tuple[Entry, int]] = {}
    after = -1
    for entry in outline:
        wanted = key(entry.title)
        if len(wanted) < 3:
            continue
        hit = _find(entry, wanted, lines, by_page, after, key_of, set_apart)
        if hit is not None:
            found[hit[0]] = (entry, hit[1])
            after = hit[0] + hit[1] - 1
    top = min((entry.level for entry, _ in found.values()), default=1)
    return {i: Located(e, e.level - top + 1, n) for i, (e, n) in found.items()}


def _find(
    entry: Entry,
    wanted: str,
    lines: Sequence[TextLine],
    by_page: dict[int, list[int]],
    after: int,
    key_of: Callable[[int], str],
    set_apart: Callable[[int], bool],
) -> tuple[int, int] | None:
    """(first line, line count) of the entry's heading, or None."""

    def first(pages: list[int], fuzzy: bool, apart: bool) -> tuple[int, int] | None:
        for page in pages:
            for i in by_page.get(page, ()):
                span = _match(wanted, i, lines, key_of, fuzzy) if i > after else 0
                if span and (not apart or set_apart(i)):
                    return i, span
        return None

    last = lines[after].page if after >= 0 else 0
    later = sorted(p for p in by_page if p >= last)  # the outline's page may be wrong
    # Best first: a line set apart as a heading on the page the entry names; then on the page
    # after or before it; then any line saying the title on the named page, exactly or nearly;
    # last, a line set apart anywhere after the previous entry.
    return (
        first([entry.page], fuzzy=False, apart=True)
        or first([entry.page + 1, entry.page - 1], fuzzy=False, apart=True)
        or first([entry.page], fuzzy=False, apart=False)
        or first([entry.page], fuzzy=True, apart=False)
        or first(later, fuzzy=False, apart=True)
    )


def _match(
    wanted: str, i: int, lines: Sequence[TextLine], key_of: Callable[[int], str], fuzzy: bool
) -> int:
    """How many lines from `i` spell `wanted` (0: they do not); `fuzzy` allows small
    differences on a one-line heading."""
    text = lines[i].text
    if len(text) > 2 * len(wanted) + 16 or not text[:1].isalnum():
        return 0
    got = key_of(i)
    if fuzzy:
        return int(_similar(got, wanted))
    for span in range(1, MAX_LINES + 1):
        if got == wanted:
            return span
        following = i + span
        if (
            not got
            or not wanted.startswith(got)
            or following >= len(lines)
            or lines[following].page != lines[i].page
        ):
            return 0
        got += _NOT_KEY.sub("", unicodedata.normalize("NFKD", lines[following].text).lower())
    return 0


def _similar(got: str, wanted: str) -> bool:
    if not got or abs(len(got) - len(wanted)) > 0.2 * len(wanted) + 2:
        return False
    return difflib.SequenceMatcher(None, got, wanted, autojunk=False).ratio() >= FUZZY
