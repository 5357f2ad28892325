"""Small charts as inline SVG, drawn by code: no script, no library, no request.

Every label is untrusted text (themes come from a model), so it is escaped like any other text;
a long one is shortened on the chart and kept whole in the bar's tooltip and the chart's
description, which screen readers read in place of the picture.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

from pipeline.markup import clean, html_text

ROW: Final = 24  # px per bar of a bar chart
CHAR: Final = 6.6  # px per character at the chart's 12px font, near enough to size columns
SERIES_CLASSES: Final = ("bar", "bar2")


def bar_chart(
    labels: Sequence[str], values: Sequence[float], *, title: str = "", width: int = 640
) -> str:
    """Horizontal bars, one per label in the order given (themes with their counts)."""
    if len(labels) != len(values):
        raise ValueError(f"{len(labels)} labels for {len(values)} values")
    _check(values)
    if not labels:
        return ""
    shown = [_shorten(clean(label), 40) for label in labels]
    label_w = min(width * 0.45, 8 + CHAR * max(len(s) for s in shown))
    value_w = 8 + CHAR * max(len(_number(v)) for v in values)
    span = max(width - label_w - value_w - 8, 10)
    top = max(values) or 1
    rows = []
    for i, (label, short, value) in enumerate(zip(labels, shown, values, strict=True)):
        y = i * ROW
        w = span * value / top
        tip = f"{html_text(label)}: {_number(value)}"
        rows.append(
            _label(label_w - 6, y + 16, short, "end")
            + _rect("bar", label_w, y + 4, w, ROW - 8, tip)
            + _label(label_w + w + 4, y + 16, _number(value))
        )
    desc = "; ".join(
        f"{clean(label)}: {_number(v)}" for label, v in zip(labels, values, strict=True)
    )
    return _svg(title, desc, width, ROW * len(labels), "".join(rows))


def histogram_chart(
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str = "",
    low: float = 0,
    high: float = 100,
    bins: int = 10,
    width: int = 480,
    height: int = 160,
) -> str:
    """Stacked columns counting each series' values in `bins` equal ranges of [low, high].

    Used for the score distribution: papers read in full, and papers only triaged."""
    if bins < 1 or high <= low:
        raise ValueError("need at least one bin over a non-empty range")
    names = [name for name, _ in series]
    counts = [histogram(values, low=low, high=high, bins=bins) for _, values in series]
    totals = [sum(column) for column in zip(*counts, strict=True)] if counts else []
    if not any(totals):
        return ""
    edges = [_edges(low, high, bins, b) for b in range(bins)]
    floor = height - 18  # the x axis, with the bands' lower edges under it
    scale = (floor - 34) / max(totals)  # 34px above the tallest column: legend and its count
    step = (width - 20) / bins
    parts = [_legend(names)]
    for b, (lo, hi) in enumerate(edges):
        x, top = 10 + b * step, float(floor)
        for i, column in enumerate(counts):
            if column[b]:
                top -= column[b] * scale
                tip = f"{lo}–{hi}: {column[b]} {html_text(names[i])}"
                parts.append(_rect(_series_class(i), x + 2, top, step - 4, column[b] * scale, tip))
        if totals[b]:
            parts.append(_label(x + step / 2, top - 3, str(totals[b]), "middle"))
        parts.append(_label(x + step / 2, height - 4, lo, "middle"))
    parts.append(f'<line class="axis" x1="10" y1="{floor}" x2="{width - 10}" y2="{floor}"/>')
    desc = "; ".join(
        f"{clean(name)}: "
        + ", ".join(f"{lo}–{hi}: {n}" for (lo, hi), n in zip(edges, column, strict=True) if n)
        for name, column in zip(names, counts, strict=True)
        if any(column)
    )
    return _svg(title, desc, width, height, "".join(parts))


def _rect(cls: str, x: float, y: float, w: float, h: float, tip_html: str) -> str:
    return (
        f'<rect class="{cls}" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}">'
        f"<title>{tip_html}</title></rect>"
    )


def _label(x: float, y: float, text: str, anchor: str = "start") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{html_text(text)}</text>'


def histogram(values: Sequence[float], *, low: float, high: float, bins: int) -> list[int]:
    """How many values fall in each of `bins` equal ranges; `high` itself counts in the last."""
    _check(values)
    counts = [0] * bins
    for value in values:
        if not low <= value <= high:
            raise ValueError(f"{value} is outside [{low}, {high}]")
        counts[min(int((value - low) / (high - low) * bins), bins - 1)] += 1
    return counts


def _legend(names: Sequence[str]) -> str:
    parts, x = [], 10.0
    for i, name in enumerate(names):
        parts.append(
            f'<rect class="{_series_class(i)}" x="{x:.1f}" y="4" width="12" height="12"/>'
            f'<text x="{x + 16:.1f}" y="14">{html_text(name)}</text>'
        )
        x += 16 + CHAR * len(clean(name)) + 18
    return "".join(parts)


def _series_class(i: int) -> str:
    return SERIES_CLASSES[i % len(SERIES_CLASSES)]


def _svg(title: str, desc: str, width: int, height: int, body: str) -> str:
    # the title is what a screen reader announces; the description carries the numbers
    heading = f"<title>{html_text(title)}</title>" if title.strip() else ""
    return (
        f'<svg class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
        f"{heading}<desc>{html_text(desc)}</desc>{body}</svg>"
    )


def _edges(low: float, high: float, bins: int, b: int) -> tuple[str, str]:
    size = (high - low) / bins
    start, end = low + b * size, low + (b + 1) * size
    return _number(start), _number(end)


def _check(values: Sequence[float]) -> None:
    for value in values:
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"chart values must be finite and not negative, got {value}")


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
