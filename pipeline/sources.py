"""Which papers a run is about: a local folder, today's arXiv announcements, a date, or ids.

The runner asks `describe()` for the report header; `pipeline.feeding` lists the papers. The
folder path is handled per PDF there, because each PDF is cached on its own content.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from pipeline.errors import UsageError
from pipeline.models import PaperMeta

LISTING_VERSION = 2

# ASCII only: `\d` alone would take "２５０１.１０１２０" (full-width digits) for an id.
_ARXIV_ID = re.compile(
    r"(?:\d{4}\.\d{4,5}|[a-z]+(?:-[a-z]+)*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?", re.ASCII
)
_ID_EXAMPLES = "e.g. 2401.01234, 2401.01234v2 or hep-th/9901001"


def is_arxiv_id(text: str) -> bool:
    """Whether `text` is exactly an arXiv id, new style or old, with an optional version."""
    return _ARXIV_ID.fullmatch(text) is not None


def parse_ids(text: str) -> tuple[str, ...]:
    """`--ids` as arXiv ids, in order, once each; `UsageError` naming the first bad one.

    An "arXiv:" prefix is dropped, as arXiv prints it. An empty value is an error, not "no
    filter": `--ids ""` from an unset shell variable must not brief the whole of today's feed.
    """
    parts = [part.strip() for part in text.split(",")]
    ids = [re.sub(r"^arxiv:", "", part, flags=re.IGNORECASE) for part in parts if part]
    if not ids:
        raise UsageError(f"--ids is empty; give comma-separated arXiv ids, {_ID_EXAMPLES}")
    for raw, paper_id in zip((p for p in parts if p), ids, strict=True):
        if not is_arxiv_id(paper_id):
            # repr() keeps the message on one line whatever the id holds (newlines, escapes)
            shown = repr(raw if len(raw) <= 60 else raw[:60] + "…")
            raise UsageError(f"--ids: {shown} is not an arXiv id ({_ID_EXAMPLES})")
    return tuple(dict.fromkeys(ids))


_DATE_FORM = "write it as YYYY-MM-DD, e.g. 2026-03-04"


def parse_date(text: str) -> date:
    """`--date` as a day; `UsageError` naming the part that is wrong (the month, the day) in
    words, where `date.fromisoformat` would only say "invalid value"."""
    shown = repr(text if len(text) <= 40 else text[:40] + "…")
    match = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text.strip(), re.ASCII)
    if match is None:
        raise UsageError(f"--date {shown} is not a date; {_DATE_FORM}")
    year, month, day = (int(part) for part in match.groups())
    if year < 1:
        raise UsageError(f"--date {shown}: year {year} is out of range; {_DATE_FORM}")
    if not 1 <= month <= 12:
        raise UsageError(f"--date {shown}: the month is {month}, not 1 to 12; {_DATE_FORM}")
    days = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days:
        raise UsageError(
            f"--date {shown}: {calendar.month_name[month]} {year} has {days} days, not {day}; "
            f"{_DATE_FORM}"
        )
    return date(year, month, day)


def source_path(path: Path) -> Path:
    """`--source` as given: a folder of PDFs or one PDF file; `UsageError` for anything else."""
    if path.is_dir():
        return path
    if not path.exists():
        raise UsageError(f"--source {path}: no such folder or file; give a folder of PDFs or a PDF")
    if not path.is_file() or path.suffix.lower() != ".pdf":
        raise UsageError(f"--source {path} is not a .pdf file; give a folder of PDFs or a PDF")
    return path


@dataclass(frozen=True)
class Source:
    """What the user asked for on the command line."""

    kind: Literal["folder", "rss", "date", "ids"]
    day: date
    folder: Path | None = None  # a folder of PDFs, or one PDF file (kind "folder" either way)
    ids: tuple[str, ...] = ()

    @property
    def is_arxiv(self) -> bool:
        return self.kind != "folder"

    def describe(self, categories: list[str]) -> str:
        cats = ", ".join(categories)
        if self.kind == "folder":
            if self.folder is not None and self.folder.is_file():
                return f"file {self.folder.name}"
            return f"folder {self.folder.name if self.folder else '?'}"
        if self.kind == "rss":
            return f"today's arXiv announcements in {cats}"
        if self.kind == "date":
            listed = announced_day(self.day)
            return f"arXiv listing of {listed.isoformat()} in {cats} (arXiv API)"
        return f"arXiv ids {', '.join(self.ids)}"


def announced_day(day: date) -> date:
    """The day itself on a weekday; on a weekend, the Friday before (arXiv's last listing)."""
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


class CachedListing(BaseModel):
    """A listing as the cache keeps it (the arXiv module's Listing, flattened)."""

    papers: list[PaperMeta]
    warnings: list[str] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict)
    note: str | None = Field(default=None, description="which listing stood in for the day's")


def keyword_notes(include: list[str], exclude: list[str], dropped: int) -> list[str]:
    """Header lines that say which keyword filters shaped the listing."""
    notes = []
    if include:
        notes.append(f"Keyword filter: kept papers mentioning any of {', '.join(include)}.")
    if exclude:
        notes.append(f"Keyword filter: dropped papers mentioning any of {', '.join(exclude)}.")
    if include or exclude:
        papers = "1 paper was" if dropped == 1 else f"{dropped} papers were"
        notes.append(f"{papers} left out by the keyword filters.")
    return notes
