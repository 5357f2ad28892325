"""A folder of PDFs -> `PaperMeta` records, for offline runs.

Title, abstract and authors come from the paper's `Document`: for a folder, the extract stage
runs first (`runner.stages_for`), so each PDF is parsed once, not once for its front matter and
again for its text.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import unicodedata
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from pipeline.errors import PaperbriefError, UsageError
from pipeline.markup import clean
from pipeline.models import Document, PaperMeta, PdfFile
from pipeline.paper import Day, Paper
from pipeline.settings import ArxivSettings, Settings
from pipeline.sources import (
    LISTING_VERSION,
    CachedListing,
    Source,
    announced_day,
    is_arxiv_id,
)
from pipeline.stage import Stage

STAGE_VERSION = 3  # 2: the file name is kept in the metadata; 3: read from the Document
MAX_SLUG = 60  # characters of a local id taken from the file name, before its digest


def pdfs_in_folder(folder: Path, warn: Callable[[str], None] | None = None) -> list[Path]:
    """The `.pdf` files directly inside `folder` (any case of suffix), sorted by name.

    A symlink that leads outside the folder, or nowhere (broken, looping), is refused with one
    warning line and skipped: the folder is what the user chose to brief, and a link to
    `/etc/passwd` would otherwise be read and quoted into run.json. Entries that are not regular
    files (a FIFO would hang the run) are left out. Two files that would get one paper id are
    named in a warning. Warnings go to `warn`, else to stderr.
    """
    say = warn or _warn_on_stderr
    if not folder.is_dir():
        raise UsageError(f"no folder {folder}; point --source at a folder of .pdf files")
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise UsageError(f"cannot read folder {folder}: {exc.strerror}") from exc
    root = folder.resolve()
    pdfs = []
    for path in entries:
        if path.suffix.lower() != ".pdf":
            continue
        if path.is_symlink() and (problem := _link_problem(path, root)):
            say(f"{_shown(path.name)}: {problem} {_shown(str(folder))}; skipped")
        elif path.is_file():  # not a folder, FIFO or device, which would hang or mislead
            pdfs.append(path)
    if not pdfs:
        raise UsageError(f"no PDFs in {folder}; point --source at a folder of .pdf files")
    _warn_shared_ids(pdfs, say)
    return pdfs


def _link_problem(link: Path, root: Path) -> str | None:
    try:
        target = link.resolve(strict=True)
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop, before Python 3.13
        return "a broken or looping link in"
    return None if target.is_relative_to(root) else "a link to a file outside"


def _warn_shared_ids(pdfs: list[Path], say: Callable[[str], None]) -> None:
    first: dict[str, Path] = {}
    for pdf in pdfs:
        paper_id = local_id(pdf)
        if paper_id in first:
            say(
                f"{_shown(first[paper_id].name)} and {_shown(pdf.name)} both give paper id "
                f"{paper_id}; rename one to keep their cache entries and report lines apart"
            )
        first.setdefault(paper_id, pdf)


def _shown(name: str) -> str:
    """A file name on one line: repr() escapes newlines, controls and undecodable bytes."""
    return name if name.isprintable() else repr(name)


def _warn_on_stderr(message: str) -> None:
    print(f"warning: {clean(message)}", file=sys.stderr)  # one inert line


def local_id(pdf_path: Path) -> str:
    """A stable, safe id from the file name: arXiv ids ("2401.01234v2") as they are, else a slug.

    A slug keeps letters and digits of any script, lower-cased, with accents folded to ASCII
    where a letter has an ASCII base ("Résumé" -> "resume", "論文" stays), so an id stays
    readable; everything else (path separators, controls, spaces, leading dots) becomes "-" or
    goes. A slug that is not the file name exactly ends in a digest of the name, so two files
    never collapse into one id ("My Paper.pdf" and "my-paper.pdf").
    """
    name, stem = pdf_path.name, pdf_path.stem
    if is_arxiv_id(stem):
        return stem
    slug = _slug(stem)
    if slug and name == f"{slug}.pdf":
        return slug
    digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:8]
    return f"{slug or 'paper'}-{digest}"


def _slug(stem: str) -> str:
    if stem.isascii():  # every character folds to itself: a 500-PDF folder's names, at once
        text = stem
    else:
        chars = []
        for char in unicodedata.normalize("NFC", stem):
            folded = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            chars.append(folded if folded else char if char.isalnum() else "-")
        text = "".join(chars)
    slug = re.sub(r"[^\w.]+", "-", text.lower())
    return slug[:MAX_SLUG].strip("-._")


def paper_meta(document: Document, pdf: PdfFile, name: str) -> PaperMeta:
    """One local PDF as a feed entry, from its extracted text."""
    return PaperMeta(
        id=document.paper_id,
        title=document.title or pdf.path.stem,
        abstract=document.abstract,
        authors=document.authors,
        url=None,
        pdf_path=pdf.path,
        pdf_sha256=pdf.sha256,
        file_name=name,
    )


# --- the stage objects -----------------------------------------------------------------------


# How a reply is read (its deadline, its size caps), never which papers it lists: out of the
# listing's key, which stays what it was before these were settings.
_READING_ONLY = frozenset({"deadline", "max_feed_mb", "max_pdf_mb"})


class _Asked(ArxivSettings):
    """What a listing asks arXiv for, as it enters the feed's key."""

    def key_digest(self) -> str:
        dumped = self.__pydantic_serializer__.to_json(self, exclude=set(_READING_ONLY))
        return hashlib.sha256(dumped).hexdigest()


class FolderFeed(Stage[Paper, PaperMeta]):
    """One local PDF → its title, authors and abstract, from its `Document` (extract runs first)."""

    name = "feed"
    # title, abstract and authors come from the extract heuristics: a better extractor (a new
    # extract.STAGE_VERSION) changes the Document, and with it this key
    version = STAGE_VERSION
    scope = "paper"
    output = PaperMeta

    def inputs(self, paper: Paper) -> dict[str, Any]:
        assert paper.pdf is not None  # a folder's papers are seeded with their file
        assert paper.document is not None  # extracted before the feed (stages_for)
        return {"document": paper.document, "pdf": paper.pdf, "name": paper.pdf.path.name}

    def compute(self, *, document: Document, pdf: PdfFile, name: str) -> PaperMeta:
        return paper_meta(document, pdf, name)

    def apply(self, paper: Paper, output: PaperMeta) -> None:
        # the seeded id stays: two files may share a name's slug, and the seed made them unique
        assert paper.pdf is not None
        paper.meta = output.model_copy(update={"id": paper.meta.id, "pdf_path": paper.pdf.path})


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
        # model_construct: --ids asks for no category, which a user's settings may not say
        asked = _Asked.model_construct(
            categories=arxiv.categories if self.source.kind != "ids" else [],
            api_url=arxiv.api_url,
            rss_url=arxiv.rss_url,
            page_size=arxiv.page_size,
            include_replacements=arxiv.include_replacements,
            check_rss=arxiv.check_rss,
        )
        return {
            "kind": self.source.kind,
            # arXiv does not announce on weekends: a weekend date reads the last listing before
            "day": announced_day(self.source.day).isoformat()
            if self.source.kind == "date"
            else self.source.day.isoformat(),
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

        asked_day, note = date.fromisoformat(day), None
        if kind == "rss":
            found = listing.announced(arxiv, asked)
            if not found.papers and asked_day.weekday() >= 5:
                # a weekend's feed is empty: brief the last announced listing instead
                friday = announced_day(asked_day)
                found = listing.on_date(arxiv, asked, friday)
                note = weekend_note(asked_day, friday)
            else:
                found.warnings += rss_cross_check(arxiv, asked, found)
        elif kind == "date":
            found = listing.on_date(arxiv, asked, asked_day)
        else:
            found = listing.by_ids(arxiv, asked, ids)
        return CachedListing(
            papers=found.papers, warnings=found.warnings, counts=found.counts, note=note
        )

    def apply(self, day: Day, output: CachedListing) -> None:
        listed = announced_day(day.source.day)
        if self.source.kind == "date" and listed != day.source.day:
            day.log.note(weekend_note(day.source.day, listed))
        if output.note:
            day.log.note(output.note)
        for warning in output.warnings:
            day.log.warn(warning)
        day.papers = [Paper(meta=meta) for meta in output.papers]


def weekend_note(day: date, listed: date) -> str:
    return (
        f"{day.isoformat()} is a {day:%A} and arXiv does not announce on weekends: these are the "
        f"papers of the most recent listing, {listed:%A} {listed.isoformat()}."
    )


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
