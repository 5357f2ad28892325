"""A folder of PDFs -> `PaperMeta` records, for offline runs.

Title, abstract and authors come from the PDF's first pages, read by the same front-matter code
the extract stage uses (`extract.front_matter`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from pipeline.arxiv.listing import NEW_STYLE_ID
from pipeline.cache import file_digest
from pipeline.errors import PaperbriefError, UsageError
from pipeline.models import PaperMeta, PdfFile
from pipeline.paper import Day, Paper
from pipeline.settings import ArxivSettings, Settings
from pipeline.sources import LISTING_VERSION, CachedListing, Source
from pipeline.stage import Placement, Stage
from pipeline.stages import extract

STAGE_VERSION = 1


def pdfs_in_folder(folder: Path) -> list[Path]:
    """The `.pdf` files directly inside `folder` (any case of suffix), sorted by name."""
    if not folder.is_dir():
        raise UsageError(f"no folder {folder}; point --source at a folder of .pdf files")
    pdfs = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".pdf")
    if not pdfs:
        raise UsageError(f"no PDFs in {folder}; point --source at a folder of .pdf files")
    return pdfs


def local_id(pdf_path: Path) -> str:
    """A stable id from the file name: arXiv ids ("2401.01234v2") as they are, else a slug."""
    stem = pdf_path.stem
    if NEW_STYLE_ID.match(stem):
        return stem
    slug = re.sub(r"[^a-z0-9._-]+", "-", stem.lower()).strip("-.")
    return slug or "paper"


def paper_meta(pdf_path: Path, sha256: str | None = None) -> PaperMeta:
    """One local PDF as a feed entry. Raises `ExtractError` (stage "feed") when unreadable.

    `sha256` is the file's digest when the caller already has it (the feed keys its cache on it).
    """
    paper_id = local_id(pdf_path)
    front = extract.front_matter(pdf_path, paper_id, stage="feed")
    return PaperMeta(
        id=paper_id,
        title=front.title or pdf_path.stem,
        abstract=front.abstract,
        authors=front.authors,
        url=None,
        pdf_path=pdf_path,
        pdf_sha256=sha256 or file_digest(pdf_path),
    )


# --- the stage objects -----------------------------------------------------------------------


class FolderFeed(Stage[Paper, PaperMeta]):
    """One local PDF → its title, authors and abstract, read from its first pages."""

    name = "feed"
    # title, abstract and authors come from the extract heuristics: a better extractor (a new
    # extract.STAGE_VERSION) must re-read them too, hence the sum
    version = 10 * STAGE_VERSION + extract.STAGE_VERSION
    scope = "paper"
    output = PaperMeta
    remember_failures = True

    def inputs(self, paper: Paper) -> dict[str, Any]:
        assert paper.pdf is not None  # a folder's papers are seeded with their file
        return {"pdf": paper.pdf, "name": paper.pdf.path.name}

    def compute(self, *, pdf: PdfFile, name: str) -> PaperMeta:
        return paper_meta(pdf.path, pdf.sha256)

    def apply(self, paper: Paper, output: PaperMeta) -> None:
        # the seeded id stays: two files may share a name's slug, and the seed made them unique
        assert paper.pdf is not None
        paper.meta = output.model_copy(update={"id": paper.meta.id, "pdf_path": paper.pdf.path})

    def placement(self, tools: Any) -> Placement:
        return "process"


class ArxivListing(Stage[Day, CachedListing]):
    """The day's papers from arXiv: today's RSS, a date's listing through the API, or ids.

    Today's feed changes when arXiv announces, so it is always read (one request), and a listing
    that may be incomplete (it came with warnings) is never kept, so trying again later really
    asks arXiv again.
    """

    name = "feed"
    version = LISTING_VERSION
    scope = "day"
    output = CachedListing
    uses = ("arxiv",)

    def __init__(self, source: Source) -> None:
        self.source = source

    def params(self, settings: Settings) -> dict[str, Any]:
        arxiv = settings.arxiv
        asked = ArxivSettings(
            categories=arxiv.categories if self.source.kind != "ids" else [],
            api_url=arxiv.api_url,
            rss_url=arxiv.rss_url,
            page_size=arxiv.page_size,
            include_replacements=arxiv.include_replacements,
            check_rss=arxiv.check_rss,
        )
        return {
            "kind": self.source.kind,
            "day": self.source.day.isoformat(),
            "ids": list(self.source.ids),
            "asked": asked,
        }

    def inputs(self, day: Day) -> dict[str, Any]:
        return {}

    def reusable(self, params: Mapping[str, Any]) -> bool:
        return params["kind"] != "rss"

    def keeps(self, output: CachedListing) -> bool:
        return self.source.kind != "rss" and not output.warnings

    def compute(
        self, *, kind: str, day: str, ids: list[str], asked: ArxivSettings, arxiv: Any
    ) -> CachedListing:
        from pipeline.arxiv import listing

        if kind == "rss":
            found = listing.announced(arxiv, asked)
            found.warnings += rss_cross_check(arxiv, asked, found)
        elif kind == "date":
            found = listing.on_date(arxiv, asked, date.fromisoformat(day))
        else:
            found = listing.by_ids(arxiv, asked, ids)
        return CachedListing(papers=found.papers, warnings=found.warnings, counts=found.counts)

    def apply(self, day: Day, output: CachedListing) -> None:
        for warning in output.warnings:
            day.log.warn(warning)
        day.papers = [Paper(meta=meta) for meta in output.papers]


def rss_cross_check(client: Any, arxiv: ArxivSettings, found: Any) -> list[str]:
    """A stale or truncated feed looks like a quiet day; compare with the API's count."""
    from pipeline.arxiv import listing

    if not arxiv.check_rss or found.day is None or not found.papers:
        return []
    try:
        api = listing.api_counts(client, arxiv, found.day)
    except PaperbriefError as exc:
        return [f"could not cross-check the RSS feed against the API ({exc})"]
    return listing.rss_vs_api_warnings(found.counts, api)
