"""A folder of PDFs -> `PaperMeta` records, for offline runs.

Title, abstract and authors come from the PDF's first pages, read by the same front-matter code
the extract stage uses (`extract.front_matter`).
"""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.arxiv.listing import NEW_STYLE_ID
from pipeline.cache import file_digest
from pipeline.errors import UsageError
from pipeline.models import PaperMeta
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
