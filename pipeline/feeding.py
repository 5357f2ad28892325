"""The papers a run starts from, and which of the listed ones it reads.

A folder's PDFs are the papers (each hashed by content, so moving the folder recomputes
nothing); an arXiv run starts empty and the listing stage fills it. After the feed, papers
already summarized on an earlier day are dropped (unless --reread), then the keyword filters.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pipeline import seen as seen_index
from pipeline.models import PaperMeta, PdfFile
from pipeline.paper import Day, Paper
from pipeline.settings import Settings
from pipeline.sources import Source, keyword_notes
from pipeline.stages import feed
from pipeline.wording import plural


def seed(
    source: Source,
    warn: Callable[[str], None],
    hash_file: Callable[[Path], str],
    known: Callable[[Path], str | None],
) -> list[Paper]:
    """A folder's PDFs (or the one PDF named by --source) as papers with placeholder metadata
    (the feed stage reads the rest); files refused (a link out of the folder) are said through
    `warn`. `known` gives a PDF's content digest when the cache's index of files already
    hashed holds it (else None), `hash_file` reads the file for it."""
    if source.kind != "folder":
        return []
    assert source.folder is not None
    papers: list[Paper] = []
    taken: set[str] = set()
    # One file was chosen by name, so no folder rules (links out of it, other files) apply.
    pdfs = [source.folder] if source.folder.is_file() else feed.pdfs_in_folder(source.folder, warn)
    for pdf, sha256 in zip(pdfs, _digests(pdfs, hash_file, known), strict=True):
        paper_id = feed.local_id(pdf)
        while paper_id in taken:  # two files may map to one local id
            paper_id += "-dup"
        taken.add(paper_id)
        papers.append(folder_paper(pdf, sha256, paper_id))
    return papers


def folder_paper(pdf: Path, sha256: str, paper_id: str | None = None) -> Paper:
    """A folder's PDF as a paper with placeholder metadata (the feed stage reads the rest)."""
    paper_id = paper_id or feed.local_id(pdf)
    file = PdfFile(path=pdf, sha256=sha256, local=True)
    meta = PaperMeta(id=paper_id, title=pdf.name, pdf_path=pdf, pdf_sha256=file.sha256)
    return Paper(meta=meta, pdf=file)


def _digests(
    pdfs: list[Path],
    hash_file: Callable[[Path], str],
    known: Callable[[Path], str | None],
) -> list[str]:
    """Every PDF's digest: those `known` already, then the rest two files at a time (hashlib
    lets go of the GIL while it hashes, and a cold day's 800 MB would otherwise keep one core
    busy and the other idle before extract). A cached day's 500 known digests start no thread."""
    found = [known(pdf) for pdf in pdfs]
    todo = [pdf for pdf, sha in zip(pdfs, found, strict=True) if sha is None]
    if len(todo) < 2:
        hashed = iter([hash_file(pdf) for pdf in todo])
    else:
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="paperbrief-hash") as pool:
            hashed = iter(list(pool.map(hash_file, todo)))
    return [sha if sha is not None else next(hashed) for sha in found]


def admit(day: Day, settings: Settings, seen_path: Path) -> None:
    """Drop papers read on an earlier day, then apply the keyword filters; say so in the notes."""
    if day.source.kind in ("rss", "date") and not settings.reading.reread:
        seen = seen_index.load_seen(seen_path)
        metas = [p.meta for p in day.papers if p.failure is None]
        earlier = seen_index.seen_before(metas, seen, day.source.day)
        if earlier:
            day.log.note(
                f"{plural(len(earlier), 'paper')} summarized on an earlier day, not read again "
                "(new versions or cross-lists; --reread includes them)."
            )
        day.papers = [p for p in day.papers if p.meta.id not in earlier]
    arxiv = settings.arxiv
    if arxiv.include or arxiv.exclude:
        from pipeline.arxiv.listing import keyword_filter

        listed = [p.meta for p in day.papers if p.failure is None]
        _, dropped = keyword_filter(listed, arxiv.include, arxiv.exclude)
        for line in keyword_notes(arxiv.include, arxiv.exclude, len(dropped)):
            day.log.note(line)
        gone = {meta.id for meta in dropped}
        day.papers = [p for p in day.papers if p.meta.id not in gone]
