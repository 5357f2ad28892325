"""Which papers a run is about: a local folder, today's arXiv announcements, a date, or ids.

The runner asks `describe()` for the report header; `pipeline.feeding` lists the papers. The
folder path is handled per PDF there, because each PDF is cached on its own content.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from pipeline.models import PaperMeta

LISTING_VERSION = 2


@dataclass(frozen=True)
class Source:
    """What the user asked for on the command line."""

    kind: Literal["folder", "rss", "date", "ids"]
    day: date
    folder: Path | None = None
    ids: tuple[str, ...] = ()

    @property
    def is_arxiv(self) -> bool:
        return self.kind != "folder"

    def describe(self, categories: list[str]) -> str:
        cats = ", ".join(categories)
        if self.kind == "folder":
            return f"folder {self.folder.name if self.folder else '?'}"
        if self.kind == "rss":
            return f"today's arXiv announcements in {cats}"
        if self.kind == "date":
            return f"arXiv listing of {self.day.isoformat()} in {cats} (arXiv API)"
        return f"arXiv ids {', '.join(self.ids)}"


class CachedListing(BaseModel):
    """A listing as the cache keeps it (the arXiv module's Listing, flattened)."""

    papers: list[PaperMeta]
    warnings: list[str] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict)


def keyword_notes(include: list[str], exclude: list[str], dropped: int) -> list[str]:
    """Header lines that say which keyword filters shaped the listing."""
    notes = []
    if include:
        notes.append(f"Keyword filter: kept papers mentioning any of {', '.join(include)}.")
    if exclude:
        notes.append(f"Keyword filter: dropped papers mentioning any of {', '.join(exclude)}.")
    if include or exclude:
        notes.append(f"{dropped} papers were left out by the keyword filters.")
    return notes
