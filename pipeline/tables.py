"""Tables set as words, found on a page so their cells stay out of the running text.

A table whose cells are words ("PubLayNet [38] | F / M | Layouts of modern scientific
documents") passes every test for prose a line at a time; what gives it away is the layout:
cells side by side on one baseline with wide gaps between them, rows of them, next to a
"Table N" caption. Working on PyMuPDF's blocks (`get_text("dict")`):

- a block is a **grid** when most of its rows (lines on one baseline), and at least two,
  hold two or more cells (text separated by a gap wider than `CELL_GAP` of the font size),
  or when its one row holds three or more (a header row), and its cells are short;
- from each table caption, the grid blocks and number blocks (see `extract.table_like`)
  above and below it, each within `NEAR` of the last one taken and overlapping the caption's
  columns, are the table; small word blocks lying inside that region (row labels such as
  "Bio", "NER") are part of it too;
- a caption with at least one such block is one table found.

Only pages with a table caption are examined, so the cost stays off the common page, and on
those a block of words is told apart (grid, label or text) only when a table's search reaches it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

CELL_GAP = 0.8  # a gap this many font sizes wide separates two cells
MAX_CELL = 30  # characters a table cell holds on average, at most
NEAR = 28.0  # points between a caption and the table, or between two blocks of one table
_TABLE_CAPTION = re.compile(r"^table\s*(\d+|[IVX]+)\s*[:.|\u2014\u2013-]", re.I)


class Block(NamedTuple):
    """What the table finder needs to know about one block of a page."""

    x0: float
    y0: float
    x1: float
    y1: float
    # "caption" (of a table), "numbers", "grid", "label" (a few words), "text", or WORDS: one of
    # the last three, to be told by `found`'s `layout` when it matters
    kind: str


WORDS = "words"
Layout = Callable[[int], str]  # a WORDS block's kind, by its index


def is_caption(text: str) -> bool:
    return _TABLE_CAPTION.match(text) is not None


def kind_of(first_text: str, numbers: bool) -> str:
    """A block's kind as far as its first line's text and whether its lines are (mostly)
    numbers tell: "caption", "numbers" or WORDS (see `layout_of`)."""
    if is_caption(first_text):
        return "caption"
    return "numbers" if numbers else WORDS


def layout_of(raw: dict) -> str:
    """A block of words as "grid", "label" or "text", from PyMuPDF's block dict."""
    rows = cells_per_row(raw)
    if _grid(rows) and _short_cells(raw, sum(rows)):
        return "grid"
    if len(rows) <= 3 and all(len(line_text(line).split()) <= 3 for line in raw["lines"]):
        return "label"
    return "text"


def _grid(rows: list[int]) -> bool:
    """Most rows hold two cells or more (at least two such rows), or the one row holds three."""
    if len(rows) == 1:
        return rows[0] >= 3
    multi = sum(cells >= 2 for cells in rows)
    return multi >= 2 and 2 * multi >= len(rows)


def _short_cells(raw: dict, cells: int) -> bool:
    """Table cells are a few words; a justified paragraph's wide gaps make long "cells"."""
    chars = sum(len(line_text(line).strip()) for line in raw["lines"])
    return chars <= MAX_CELL * max(cells, 1)


def line_text(line: dict) -> str:
    return "".join(span["text"] for span in line["spans"])


def cells_per_row(raw: dict) -> list[int]:
    """For each row of the block (its lines grouped by baseline), how many cells it holds."""
    pieces: list[tuple[float, float, float, float]] = []  # (baseline, x0, x1, size)
    for line in raw["lines"]:
        for span in line["spans"]:
            if span["text"].strip():
                x0, _, x1, _ = span["bbox"]
                pieces.append((span["origin"][1], x0, x1, span["size"]))
    pieces.sort()
    rows: list[list[tuple[float, float, float, float]]] = []
    for piece in pieces:
        # one baseline; a superscript ("Model¹") sits a little higher on it
        if rows and abs(rows[-1][-1][0] - piece[0]) < 0.5 * piece[3]:
            rows[-1].append(piece)
        else:
            rows.append([piece])
    return [_cells(row) for row in rows]


def _cells(row: list[tuple[float, float, float, float]]) -> int:
    row = sorted(row, key=lambda piece: piece[1])
    cells, right = 1, row[0][2]
    for _, x0, x1, size in row[1:]:
        if x0 - right > CELL_GAP * size:
            cells += 1
        right = max(right, x1)
    return cells


def found(blocks: list[Block], layout: Layout | None = None) -> tuple[set[int], int]:
    """The indices of the blocks that make up tables next to a table caption, and how many
    tables (captions with at least one such block) there are. `layout(i)` tells a WORDS block
    apart, asked only of the blocks a table's search reaches (a quarter of them)."""
    kind = _kinds(blocks, layout)
    taken: set[int] = set()
    tables = 0
    for caption in blocks:
        if caption.kind != "caption":
            continue
        parts = _chain(blocks, caption, kind, below=True)
        parts |= _chain(blocks, caption, kind, below=False)
        if parts:
            tables += 1
            taken |= parts | _labels_inside(blocks, parts, kind)
    return taken, tables


def _kinds(blocks: list[Block], layout: Layout | None) -> Layout:
    """Each block's kind, a WORDS block's from `layout`, once."""
    told: dict[int, str] = {}

    def kind(i: int) -> str:
        if blocks[i].kind != WORDS:
            return blocks[i].kind
        if i not in told:
            if layout is None:
                raise ValueError(f"block {i} is {WORDS!r}: found() needs its layout")
            told[i] = layout(i)
        return told[i]

    return kind


def _chain(blocks: list[Block], caption: Block, kind: Layout, below: bool) -> set[int]:
    """Grid and number blocks stacked next to the caption, on one side of it."""
    order = sorted(
        (
            i
            for i, b in enumerate(blocks)
            if (b.y0 >= caption.y1 - 2 if below else b.y1 <= caption.y0 + 2)
        ),
        key=lambda i: blocks[i].y0 if below else -blocks[i].y1,
    )
    parts: set[int] = set()
    edge = caption.y1 if below else caption.y0
    for i in order:
        block = blocks[i]
        if block.x1 <= caption.x0 or block.x0 >= caption.x1:
            continue  # another column
        distance = block.y0 - edge if below else edge - block.y1
        if distance > NEAR:
            break
        told = kind(i)
        if told in ("grid", "numbers"):
            parts.add(i)
            edge = max(edge, block.y1) if below else min(edge, block.y0)
        elif told != "label":
            break
    return parts


def _labels_inside(blocks: list[Block], parts: set[int], kind: Layout) -> set[int]:
    """Small word blocks (row and column labels) within the region the table's blocks span."""
    x0 = min(blocks[i].x0 for i in parts) - 2
    x1 = max(blocks[i].x1 for i in parts) + 2
    y0 = min(blocks[i].y0 for i in parts) - 2
    y1 = max(blocks[i].y1 for i in parts) + 2
    return {
        i
        for i, b in enumerate(blocks)
        if x0 <= b.x0 and b.x1 <= x1 and y0 <= b.y0 and b.y1 <= y1 and kind(i) == "label"
    }
