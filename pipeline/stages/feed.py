"""A folder of PDFs -> `PaperMeta` records, for offline runs.

Title, abstract and authors come from the PDF's first pages, read by the same front-matter code
the extract stage uses (`extract.front_matter`).
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path

from pipeline.cache import file_digest
from pipeline.errors import UsageError
from pipeline.models import PaperMeta
from pipeline.sources import is_arxiv_id
from pipeline.stages import extract

STAGE_VERSION = 1
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
    print(f"warning: {message}", file=sys.stderr)


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
    chars = []
    for char in unicodedata.normalize("NFC", stem):
        folded = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
        chars.append(folded if folded else char if char.isalnum() else "-")
    slug = re.sub(r"[^\w.]+", "-", "".join(chars).lower())
    return slug[:MAX_SLUG].strip("-._")


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
