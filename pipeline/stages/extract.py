"""PDF -> `Document`: title, abstract, sections in reading order, captions.

Works on PyMuPDF's text dictionary (`get_text("dict")`: blocks, lines, spans with boxes, fonts
and sizes) rather than its sorted plain text, because reading order, headers and headings all need
the geometry. The steps, each a small function over plain `Line` records so most can be tested
without a PDF:

1. read every page's blocks and put them in reading order (columns detected per page from the
   blocks' boxes; no `sort=True`, which is slow and wrong on columns);
2. drop running headers and footers, page numbers, margin line numbers, rotated text (the arXiv
   side stamp), tables (blocks of numbers anywhere; words laid out as a grid next to a
   "Table N" caption, see `pipeline.tables`; `Document.tables` counts them) and footnotes
   (short small-print blocks low on a page that start with a mark, before the references);
3. find the title (the largest type on page 1 with the lines continuing it in another font
   or size; the metadata title only confirms), the abstract (labelled, or the first
   substantial paragraph on page 1 or 2) and the section headings: the PDF's outline where it
   has one (`pipeline.outline`), else, and where the outline is silent, the layout (bold or
   larger type; body-font capitals only when numbered in sequence); a heading wrapped over
   two or three lines is read whole; a reference list printed without a heading (RevTeX)
   gets one;
4. split the rest into sections, mending ligatures and line-end hyphens: "represen-|tation" is
   joined and "state-of-the-|art" kept by which form the document itself uses elsewhere.

Figure and table captions are collected into `Document.captions` and kept out of the section
text, so section text is running prose (table cells made mostly of words can remain).
Section headings are stored without their numbers ("3.1 Setup" -> heading "Setup", level 2).
The title and author lines are not part of any section; the abstract is the first section
(heading "Abstract", kind "front"), followed by a "Front matter" section when text sits between
the abstract and the first heading. After the references, every section is an appendix.
"""

from __future__ import annotations

import functools
import itertools
import multiprocessing
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from pipeline import collector, memory, numbering, page_content, tables
from pipeline import outline as outlines
from pipeline.errors import ExtractError
from pipeline.models import Document, PdfFile, Section
from pipeline.outline import Located
from pipeline.paper import Paper
from pipeline.pdflib import pdf_errors
from pipeline.pdflib import pymupdf as quiet_pymupdf
from pipeline.stage import Placement, Stage

if TYPE_CHECKING:
    import pymupdf

    from pipeline.settings import Settings

# The settings' default for `extract.max_page_mb` (a test checks they agree).
MAX_PAGE_MB = 16.0

STAGE_VERSION = 5  # 2: tables, footnotes, unheaded references, vocabulary hyphens; 3: pairs;
# 4: outline headings, body-font headings in sequence, page-2 abstracts, split titles, word tables;
# 5: authors

Kind = Literal["front", "body", "references", "appendix"]

# Errors MuPDF raises for unreadable files or content streams; caught only around PyMuPDF calls.


LIGATURES = str.maketrans(
    {
        "\ufb00": "ff",
        "\ufb01": "fi",
        "\ufb02": "fl",
        "\ufb03": "ffi",
        "\ufb04": "ffl",
        "\ufb06": "st",
    }
)
# First parts that keep their hyphen at a line end ("self-|attention" is "self-attention").
HYPHEN_PREFIXES = frozenset(
    re.findall(
        r"\w+",
        "self non cross multi semi pre post co anti well state open long short high low large "
        "small fine end task data human model zero few one two three parameter instruction "
        "compute domain closed real",
    )
)

_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})\.?\s+(\S.*)$")
_LETTERED = re.compile(r"^(?:appendix\s+)?([A-H])((?:\.\d{1,2}){0,3})[.:]?\s+([A-Z].*)$", re.I)
_ROMAN = re.compile(r"^([IVX]{1,4})\.\s+(\S.*)$")
_NAMED = re.compile(
    r"^(references|bibliography|acknowledge?ments?|appendix|appendices|supplementary material|"
    r"introduction|conclusions?|related work|limitations|broader impacts?|ethics statement|"
    r"ethical considerations|discussion|funding|author contributions?|competing interests)"
    r"\b",
    re.I,
)
_REFERENCES = re.compile(r"^(references|bibliography|literature cited)\s*$", re.I)
_APPENDIX = re.compile(r"^(appendix|appendices|supplementary)\b", re.I)
_CAPTION = re.compile(r"^(fig(?:ure)?\.?|table)\s*(\d+|[IVX]+)\s*[:.|\u2014\u2013-]", re.I)
_ABSTRACT = re.compile(
    r"^\s*(abstract|a\s?b\s?s\s?t\s?r\s?a\s?c\s?t)\s*(?:[.:\u2014\u2013-]\s*(.*))?$", re.I
)
_ABSTRACT_STOP = re.compile(
    r"^(keywords|key\s*words|index terms|ccs concepts|acm reference|additional key words|"
    r"[\u2217*\u2020\u2021\u00a7])",
    re.I,
)
_TOC_ENTRY = re.compile(r"(\.\s?){3,}\s*\d+$|[^\d.]\s\d{1,3}$")
# arXiv's pages for figures it could not embed: 'This figure "a.png" is available in "png" format'
_ARXIV_FIGURE = re.compile(r'^this figure ".*" is available in', re.I)
# Labels of front matter, and of a table of contents (its entries are not the paper's text).
_FRONT_LABEL = re.compile(
    r"^(ccs concepts|keywords|index terms|acm reference format)\b|^(table of )?contents$", re.I
)
_PAGE_NUMBER = re.compile(r"^(page\s*)?(\d{1,4}|[ivxlc]{1,6})(\s*(of|/)\s*\d{1,4})?$", re.I)
# A table cell or a number in a row of them: "81.2", "(3)", "-0.5%", "12,000", "±0.3", "2.8x".
_NUMBER = re.compile(r"^\(?[-+−±~<>]?\d[\d.,:/]*(?:%|x|×|k|M|B)?[)*†]?,?$")
# Two words with a digit each: what any row of numbers has (see `_number_row`).
_TWO_NUMBERS = re.compile(r"\d\S*\s.*\d", re.S)
_FIRST_REFERENCE = re.compile(r"^(\[1\]|1\.?)\s+[A-Z]")
_FOOTNOTE_MARK = re.compile(r"^(\d{1,2}|[*∗†‡§¶])\s?[^\W\d]")
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_LINE_END_HYPHEN = re.compile(r"\b(\w++(?:-\w++)*+)-\n([a-z]\w*)")
# A hyphen at a line end between word characters; written to start with the "-" (the lookbehind
# `(?<=\w)-` said first would make `re` try every position of the text instead of each "-").
_HYPHEN_BREAK = re.compile(r"-(?<=\w-)\n(?=\w)")
_BOLD_FLAG = 16  # pymupdf.TEXT_FONT_BOLD, without importing PyMuPDF (a test checks it)
_BOLD_FONT = re.compile(r"bold|black|heavy|semibold|medi|demi|\.b$", re.I)


class Line(NamedTuple):
    """One line of text, with what the heuristics need to know about it.

    A tuple, not a frozen dataclass: one is made for every line of every page, and a frozen
    dataclass sets each field through `object.__setattr__` (five times the cost)."""

    page: int  # 1-based
    block: int  # block number on its page, in reading order
    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    size: float
    bold: bool = False
    zone: str = ""  # "top" or "bottom" margin of the page, else ""
    page_height: float = 792.0
    outline: Located | None = None  # set on the first line of a heading the outline names


# `Line(...)` runs the NamedTuple's generated `__new__`, a Python function; this builds the
# same tuple in C, at half the cost (a `Line` per line of every page). Every field, in order.
_new_line = functools.partial(tuple.__new__, Line)


class Heading(NamedTuple):
    text: str  # without its number
    level: int
    number: str = ""  # "3.1", "A.2", "IV"; "" when unnumbered
    # Found by its words alone (body font, capitals) or outside a trusted outline: kept only
    # when numbered and next in its numbering's sequence.
    weak: bool = False


class PageText(NamedTuple):
    lines: list[Line]
    tables: int  # tables found next to a "Table N" caption (see `pipeline.tables`)
    skipped: int = 0  # pages over the content budget, left unread (see `pipeline.page_content`)


class FrontMatter(NamedTuple):
    title: str
    abstract: str
    authors: list[str]


# --- Public entry points ------------------------------------------------------------------


# Inline (a small day, `paperbrief extract`, compare) and in `documents_in_processes`'
# workers; the executor's workers have it paused already.
@collector.paused()
def document(
    pdf_path: Path,
    paper_id: str,
    *,
    max_pages: int = 60,
    max_page_mb: float = MAX_PAGE_MB,
    local: bool = False,
) -> Document:
    """Read a paper's text, at most `max_pages` pages of it, skipping each page that holds more
    than `max_page_mb` MiB of drawing instructions. `local`: the PDF is the user's file (what
    to do about a damaged one differs from a download's)."""
    budget = Budget(int(max_page_mb * page_content.MIB), local)
    with open_pdf(pdf_path, paper_id, "extract", local=local) as doc:
        pages = doc.page_count
        read = read_lines(doc, min(pages, max_pages), pdf_path, paper_id, "extract", budget)
        lines, found_tables = read.lines, read.tables
        entries, metadata_title = _outline(doc), _metadata_title(doc)
    body = body_size(lines)
    lines = drop_footnotes(mark_references(lines, body), body)
    words = vocabulary(lines)
    title_at = title_lines(lines, body, metadata_title)
    lines = with_outline(lines, entries, body, after=title_at[-1] + 1 if title_at else 0)
    start, end, abstract = abstract_span(lines, body, title_at, words)
    captions, rest = split_captions(lines[end:] if abstract else _after(lines, title_at), words)
    found = _front_sections(lines[start:end], abstract) + sections(rest, body, words)
    return Document(
        paper_id=paper_id,
        title=_title_text(lines, title_at),
        abstract=abstract,
        authors=authors(lines[title_at[-1] + 1 : start]) if title_at else [],
        sections=found,
        captions=captions,
        pages=pages,
        pages_read=min(pages, max_pages),
        has_references=any(s.kind == "references" for s in found),
        tables=found_tables,
        pages_skipped=read.skipped,
    )


def documents_in_processes(
    paths: list[Path], max_pages: int = 60, workers: int = 2, *, ids: list[str] | None = None
) -> list[Document | ExtractError]:
    """`document` for many PDFs in worker processes (PyMuPDF is not thread-safe), in order.

    `ids` are the papers' ids (default: the file names without ".pdf"). A PDF that cannot be read
    gives its `ExtractError` in its place; the others still run.
    """
    ids = ids if ids is not None else [path.stem for path in paths]
    # forkserver: the caller may hold threads (an event loop, an HTTP client, a loaded model)
    # that a plain fork would copy in a broken state.
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        jobs = [
            pool.submit(_document_in_worker, p, i, max_pages)
            for p, i in zip(paths, ids, strict=True)
        ]
        return [
            _result(job, path, paper_id)
            for job, path, paper_id in zip(jobs, paths, ids, strict=True)
        ]


def _result(
    job: Future[Document | ExtractError], path: Path, paper_id: str
) -> Document | ExtractError:
    """One paper's outcome; a worker that died takes only its own paper down."""
    try:
        return job.result()
    except Exception as exc:  # BrokenProcessPool, or an error the worker could not send back
        message = (
            f"{path}: extraction crashed ({type(exc).__name__}: {exc}); try `paperbrief extract`"
        )
        return ExtractError(message, paper_id=paper_id, stage="extract")


def _document_in_worker(path: Path, paper_id: str, max_pages: int) -> Document | ExtractError:
    try:
        return _document_or_error(path, paper_id, max_pages, MAX_PAGE_MB, local=True)
    finally:
        memory.release()  # or the worker stays the size of its largest PDF so far


def _document_or_error(
    path: Path, paper_id: str, max_pages: int, max_page_mb: float, *, local: bool
) -> Document | ExtractError:
    try:
        return document(path, paper_id, max_pages=max_pages, max_page_mb=max_page_mb, local=local)
    except ExtractError as error:
        return error
    except MemoryError:  # past the worker's limit (`Extract.worker_memory`)
        return ExtractError(f"{path}: {OUT_OF_MEMORY}", paper_id=paper_id, stage="extract")
    except Exception as exc:  # a bug on one odd PDF must fail that paper, not the day
        message = f"{path}: extraction failed ({type(exc).__name__}: {exc}); please report this PDF"
        return ExtractError(message, paper_id=paper_id, stage="extract")


def front_matter(
    pdf_path: Path, paper_id: str, *, stage: str = "feed", local: bool = False
) -> FrontMatter:
    """Title, abstract and (best effort) authors, from the first pages only."""
    budget = Budget(int(MAX_PAGE_MB * page_content.MIB), local)
    with open_pdf(pdf_path, paper_id, stage, local=local) as doc:
        lines = read_lines(doc, min(doc.page_count, 3), pdf_path, paper_id, stage, budget).lines
        entries, metadata_title = _outline(doc), _metadata_title(doc)
    body = body_size(lines)
    title_at = title_lines(lines, body, metadata_title)
    lines = with_outline(lines, entries, body, after=title_at[-1] + 1 if title_at else 0)
    start, _, abstract = abstract_span(lines, body, title_at, vocabulary(lines))
    title = _title_text(lines, title_at)
    author_lines = lines[title_at[-1] + 1 : start] if title_at else []
    return FrontMatter(title, abstract, authors(author_lines))


class Budget(NamedTuple):
    """What one page may cost to read, and whose the PDF is (for what to do when it fails)."""

    page_bytes: int  # decompressed drawing instructions (see `pipeline.page_content`)
    local: bool = False


def get_again(local: bool) -> str:
    """What to do about a damaged PDF: a download is fetched again, a local file replaced."""
    if local:
        return "open it in a PDF viewer to check it, or replace it with a good copy"
    return "download the paper again"


@contextmanager
def open_pdf(
    pdf_path: Path, paper_id: str, stage: str, *, local: bool = False
) -> Iterator[pymupdf.Document]:
    """Open a PDF, turning every way it can be unreadable into one clear `ExtractError`."""

    def fail(problem: str, advice: str) -> ExtractError:
        return ExtractError(f"{pdf_path}: {problem}; {advice}", paper_id=paper_id, stage=stage)

    again = get_again(local)
    if not pdf_path.is_file():
        raise fail("file not found", "check the path" if local else f"check the path or {again}")
    if pdf_path.stat().st_size == 0:
        raise fail("empty file (0 bytes)", again)
    with pdf_path.open("rb") as fh:
        head = fh.read(1024)
    # PyMuPDF opens HTML or text named .pdf as a document of its own (filetype is only a hint),
    # so an HTML error page would otherwise be "extracted"; the PDF header must be there.
    if b"%PDF-" not in head:
        raise fail(f"not a PDF (starts with {head[:16]!r})", again)
    pymupdf = quiet_pymupdf()

    try:
        doc = pymupdf.open(pdf_path, filetype="pdf")
    except pdf_errors() as exc:
        raise fail("not a PDF or corrupt", again) from exc
    with doc:
        try:
            problem = _unusable(doc)
        except pdf_errors() as exc:  # a damaged page tree: "code=7: Invalid number of pages"
            problem = f"damaged page tree ({_one_line(str(exc))})"
        if problem:
            advice = "save a copy without a password" if "encrypted" in problem else None
            raise fail(problem, advice or again)
        yield doc


def _unusable(doc: pymupdf.Document) -> str:
    """Why the opened document cannot be read, or ""."""
    if not doc.is_pdf:
        return "not a PDF"
    if doc.needs_pass:
        return "encrypted, a password is needed"
    if doc.page_count == 0:
        return "no pages (corrupt PDF?)"
    return ""


def _outline(doc: pymupdf.Document) -> list[outlines.Entry]:
    """The PDF's outline entries; none when it has none or it cannot be read."""
    try:
        return outlines.entries(doc.get_toc(simple=True))
    except pdf_errors():  # a damaged outline is no reason to fail the paper
        return []


def _metadata_title(doc: pymupdf.Document) -> str:
    """The title the PDF's metadata claims (often a file name or empty: only ever a hint)."""
    try:
        title = (doc.metadata or {}).get("title") or ""
    except pdf_errors():
        return ""
    return title if isinstance(title, str) else ""


# --- Reading lines ------------------------------------------------------------------------


def read_lines(
    doc: pymupdf.Document, pages: int, pdf_path: Path, paper_id: str, stage: str, budget: Budget
) -> PageText:
    """The text lines of the first `pages` pages in reading order, running text and tables
    dropped, how many tables there were and how many pages were over the budget, unread."""
    lines: list[Line] = []
    found = skipped = 0
    again = get_again(budget.local)
    scales = page_content.Scales(doc, budget.page_bytes)
    for number in range(pages):
        try:
            # IndexError: the page tree promises more pages than it holds ("page 13 not in
            # document"); it is caught only here, around PyMuPDF's own page lookup.
            page = doc.load_page(number)
        except pdf_errors(IndexError) as exc:
            problem = f"page {number + 1} of {doc.page_count} cannot be loaded, damaged page tree"
            message = f"{pdf_path}: {problem} ({_one_line(str(exc))}); {again}"
            raise ExtractError(message, paper_id=paper_id, stage=stage) from exc
        if scales.over(page):
            skipped += 1  # MuPDF would need ~70 times its instructions in memory to read it
            continue
        try:
            text = page_lines(page, number + 1)
        except pdf_errors(MemoryError) as exc:
            problem = f"page {number + 1}" + (
                f" {OUT_OF_MEMORY}"
                if out_of_memory(exc)
                else f" unreadable ({_one_line(str(exc))}); {again}"
            )
            raise ExtractError(f"{pdf_path}: {problem}", paper_id=paper_id, stage=stage) from exc
        lines += text.lines
        found += text.tables
    if not any(any(ch.isalnum() for ch in line.text) for line in lines):
        problem = _why_no_text(skipped, budget, _unparsable_page(doc, pages))
        raise ExtractError(f"{pdf_path}: {problem}", paper_id=paper_id, stage=stage)
    return PageText(drop_running_text(lines), found, skipped)


OUT_OF_MEMORY = (
    "needs more memory than a worker may use (extract.max_memory_mb); the PDF is hostile or "
    "damaged: raise extract.max_memory_mb only for a PDF you trust"
)


def out_of_memory(exc: BaseException) -> bool:
    """Whether an allocation failed: Python's MemoryError, or MuPDF's "code=2: calloc (4104 x
    1 bytes) failed" (a system error, as MuPDF tells a failed malloc)."""
    said = str(exc)
    return isinstance(exc, MemoryError) or ("alloc" in said and said.endswith("failed"))


def _why_no_text(skipped: int, budget: Budget, unparsable: str) -> str:
    """Why no page gave text, and what to do: pages too large to read, a page MuPDF could not
    parse (its object damaged or nested too deep), or pages of images only."""
    if skipped:
        mib = budget.page_bytes / page_content.MIB
        return (
            f"no text read: {skipped} page(s) hold over {mib:.3g} MiB of drawing instructions "
            "each, too large to read safely (extract.max_page_mb); raise extract.max_page_mb "
            "only for a PDF you trust"
        )
    if unparsable:
        return (
            f"no readable text: MuPDF could not parse {unparsable}; the PDF is damaged or "
            f"nests its objects too deeply to read; {get_again(budget.local)}"
        )
    return "no extractable text (image-only PDF?); run OCR first"


def _unparsable_page(doc: pymupdf.Document, pages: int) -> str:
    """The first page (of the first `pages`) whose own object MuPDF cannot load, with MuPDF's
    reason ("page 1 (code=5: exception stack overflow!)"); "" when every one loads. MuPDF
    then reads such a page as empty: a text PDF with a 200k-deep array in its resources was
    "image-only"."""
    for number in range(pages):
        try:
            doc.xref_get_key(doc.load_page(number).xref, "Type")
        except pdf_errors(IndexError) as exc:
            return f"page {number + 1} ({_one_line(str(exc))})"
    return ""


def page_lines(page: pymupdf.Page, number: int) -> PageText:
    """One page's lines, blocks in reading order; tables (blocks of numbers anywhere, word
    grids next to a table caption) and margin numbers dropped."""
    pymupdf = quiet_pymupdf()

    # `get_text("dict")` without its wrapper, which also reads the crop box (for the page size
    # in the dict, which is not used here): the same blocks, ~1 ms a paper less.
    data = page.get_textpage(flags=pymupdf.TEXTFLAGS_TEXT).extractDICT()
    rect = page.rect  # a property that builds a new Rect (through the page's rotation) each time
    width, height = rect.width, rect.height
    raw = [b for b in data["blocks"] if b.get("lines")]
    boxes = [(b["bbox"][0], b["bbox"][1], b["bbox"][2]) for b in raw]
    order = reading_order(boxes, width)
    blocks = [_block_lines(raw[i], number, k, height) for k, i in enumerate(order)]
    numbers = [bool(block) and table_like(block) for block in blocks]
    drop, count = {k for k, n in enumerate(numbers) if n}, 0
    if any(block and tables.is_caption(block[0].text) for block in blocks):
        shapes = [
            tables.Block(*_box(raw[i]), tables.kind_of(b[0].text if b else "", n))
            for i, b, n in zip(order, blocks, numbers, strict=True)
        ]
        grids, count = tables.found(shapes, lambda k: tables.layout_of(raw[order[k]]))
        drop |= grids
    lines = [
        line
        for k, block in enumerate(blocks)
        if k not in drop
        for line in block
        # review copies number their lines in the margins
        if not (line.text.isdigit() and _in_margin(line, width))
    ]
    return PageText(lines, count)


def _box(block: dict) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = block["bbox"]
    return x0, y0, x1, y1


def _block_lines(block: dict, page: int, number: int, height: float) -> list[Line]:
    lines = []
    for raw in block["lines"]:
        # Rotated text is the arXiv side stamp or a rotated table, never running prose.
        across, down = raw["dir"]
        if across > 0.99 and -0.01 < down < 0.01 and (line := _line(raw, page, number, height)):
            lines.append(line)
    return merge_same_baseline(lines) if len(lines) > 1 else lines


def table_like(block: list[Line]) -> bool:
    """A block of table cells: only numbers, or mostly rows of numbers ("BERT 81.2 77.5")."""
    # A first word that is no number rules out "all numbers" (prose: most blocks) at once.
    first = block[0].text.split(maxsplit=1)
    maybe_all = not first or _NUMBER.match(first[0])
    if maybe_all and all(_NUMBER.match(word) for line in block for word in line.text.split()):
        return True
    if len(block) < 2:
        return False
    misses = 0
    for line in block:
        if not _number_row(line.text):
            misses += 1
            if 2 * misses > len(block):
                return False  # fewer than half the lines can be rows of numbers now
    return True


def _number_row(text: str) -> bool:
    if not _TWO_NUMBERS.search(text):
        return False  # prose lines, nearly all of them: no need to look at every word
    words = text.split()
    numbers = sum(1 for word in words if _NUMBER.match(word))
    return numbers >= 2 and 2 * numbers >= len(words)


def _line(raw: dict, page: int, block: int, height: float) -> Line | None:
    """The line, or None when it shows no text (every page has a few)."""
    spans = raw["spans"]
    if len(spans) == 1:  # most lines: one font, so its size and weight are the line's
        span = spans[0]
        text = " ".join(span["text"].split())
        size = round(span["size"] * 2) / 2
        bold = bool(span["flags"] & _BOLD_FLAG) or _bold_font(span["font"])
    else:
        text, size, bold = _styled_text(spans)
    if not text:
        return None
    x0, y0, x1, y1 = raw["bbox"]
    zone = "top" if y1 < 0.1 * height else "bottom" if y0 > 0.9 * height else ""
    return _new_line((page, block, x0, y0, x1, y1, text, size, bold, zone, height, None))


def _styled_text(spans: list[dict]) -> tuple[str, float, bool]:
    """The spans' text, blank spans aside; the size (to the half point) most of its characters
    are set in; bold when 80% of them are. A third of all lines have several spans."""
    parts: list[str] = []
    kept: list[dict] = []  # the spans with text
    right = 0.0  # the previous span's right edge
    for span in spans:
        text = span["text"]
        if not text or text.isspace():
            continue
        x0, _, x1, _ = span["bbox"]
        # Some PDFs position words instead of printing spaces; a visible gap becomes a space.
        if parts and x0 - right > 0.15 * span["size"] and parts[-1][-1] != " ":
            parts.append(" ")
        parts.append(text)
        kept.append(span)
        right = x1
    if not parts:
        return "", 0.0, False
    text = " ".join("".join(parts).split())
    first = kept[0]
    size, flags, font = first["size"], first["flags"], first["font"]
    for span in kept:
        if span["size"] != size or span["flags"] != flags or span["font"] != font:
            return (text, *_prevailing_style(kept))
    # Two thirds of such lines are set in one style throughout (a PDF that sets each word as a
    # span, a line with a citation in another colour): nothing to tally.
    return text, round(size * 2) / 2, bool(flags & _BOLD_FLAG) or _bold_font(font)


def _prevailing_style(spans: list[dict]) -> tuple[float, bool]:
    """The size (to the half point) most of the spans' characters are set in, and whether 80%
    of them are bold."""
    chars: dict[float, int] = {}  # characters per font size as PyMuPDF gives it
    weight = total = 0
    for span in spans:
        count = len(span["text"].strip())
        chars[span["size"]] = chars.get(span["size"], 0) + count
        total += count
        if span["flags"] & _BOLD_FLAG or _bold_font(span["font"]):
            weight += count
    halves: dict[float, int] = {}  # to the half point, in the order the sizes first appear
    for size, count in chars.items():
        half = round(size * 2) / 2
        halves[half] = halves.get(half, 0) + count
    return max(halves, key=halves.__getitem__), weight >= 0.8 * total


@functools.lru_cache(maxsize=512)
def _bold_font(name: str) -> bool:
    return _BOLD_FONT.search(name) is not None


def merge_same_baseline(lines: list[Line]) -> list[Line]:
    """Join pieces PyMuPDF reports as separate lines although they sit on one baseline."""
    merged: list[Line] = []
    for line in lines:
        prev = merged[-1] if merged else None
        if prev and abs(prev.y1 - line.y1) < 0.3 * max(line.size, 1) and line.x0 >= prev.x1 - 1:
            # Not `_replace`: this runs for every other line, and `_replace` goes through a
            # dict of the fields each time.
            merged[-1] = _new_line(
                (
                    prev.page,
                    prev.block,
                    prev.x0,
                    min(prev.y0, line.y0),
                    line.x1,
                    prev.y1,
                    f"{prev.text} {line.text}",
                    max(prev.size, line.size) if len(line.text) > len(prev.text) else prev.size,
                    prev.bold and line.bold,
                    prev.zone,
                    prev.page_height,
                    prev.outline,
                )
            )
        else:
            merged.append(line)
    return merged


def _in_margin(line: Line, width: float) -> bool:
    return line.x1 < 0.1 * width or line.x0 > 0.9 * width


def reading_order(boxes: list[tuple[float, float, float]], width: float) -> list[int]:
    """Block indices in reading order, from each block's (x0, y0, x1).

    A block crossing the page's middle is full-width: it ends the column flow above it (left
    column first, then right) and is read in its place. One-column pages are the case where
    (almost) every block is full-width.
    """
    middle, margin = width / 2, 0.03 * width
    order: list[int] = []
    left: list[int] = []
    right: list[int] = []
    for i in sorted(range(len(boxes)), key=lambda i: (boxes[i][1], boxes[i][0])):
        x0, _, x1 = boxes[i]
        if x0 < middle - margin and x1 > middle + margin:
            order += left + right + [i]
            left, right = [], []
        else:
            (left if (x0 + x1) / 2 < middle else right).append(i)
    return order + left + right


def drop_running_text(lines: list[Line]) -> list[Line]:
    """Drop page numbers and text repeated in the top or bottom margin of several pages."""
    seen: dict[tuple[str, str], set[int]] = {}
    for line in lines:
        if line.zone:
            seen.setdefault((line.zone, _shape(line.text)), set()).add(line.page)
    repeated = {key for key, pages in seen.items() if len(pages) >= 2}
    return [
        line
        for line in lines
        if not line.zone
        or not ((line.zone, _shape(line.text)) in repeated or _PAGE_NUMBER.match(line.text))
    ]


def mark_references(lines: list[Line], body: float) -> list[Line]:
    """Put a "References" heading before a reference list printed without one (RevTeX)."""
    if any(_REFERENCES.match(line.text) for line in lines):
        return lines
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].size < body - 0.4 and _FIRST_REFERENCE.match(lines[i].text):
            following = " ".join(line.text[:4] for line in lines[i + 1 : i + 12])
            entries = " ".join(line.text for line in lines[i : i + 12])
            # Numbered affiliations ("1 Allen Institute for AI", "2 Brown University") look
            # the same; references carry years, affiliations do not.
            cited = _YEAR.search(entries) and not _AFFILIATION.search(lines[i].text)
            if re.search(r"(^|\s)\[?2[\].]?\s", following) and cited:
                return _references_at(lines, i, body)
    return lines


_YEAR = re.compile(r"\b(1[89]|20)\d\d\b")


def _references_at(lines: list[Line], i: int, body: float) -> list[Line]:
    # RevTeX sets such a list across the bottom of both columns, so the column order puts the
    # right column's body text after the list's start; body-size text on that page goes first.
    def prose(line: Line) -> bool:
        return line.page == lines[i].page and (line.size >= body - 0.4 or line.bold)

    moved = [line for line in lines[i:] if prose(line)]
    rest = [line for line in lines[i:] if not prose(line)]
    heading = lines[i]._replace(text="References", bold=True, size=body, block=-1)
    return [*lines[:i], *moved, heading, *rest]


def drop_footnotes(lines: list[Line], body: float) -> list[Line]:
    """Drop footnotes before the references: short blocks in a smaller font low on a page that
    start with a footnote mark ("1Code is at ...", "∗Equal contribution")."""
    end = next((i for i, line in enumerate(lines) if _REFERENCES.match(line.text)), len(lines))
    blocks: dict[tuple[int, int], list[Line]] = {}
    for line in lines[:end]:
        blocks.setdefault((line.page, line.block), []).append(line)
    notes = {key for key, block in blocks.items() if _footnote(block, body)}
    return [line for line in lines[:end] if (line.page, line.block) not in notes] + lines[end:]


def _footnote(block: list[Line], body: float) -> bool:
    first = block[0]
    return (
        len(block) <= 6
        and first.y0 > 0.55 * first.page_height
        and all(line.size <= body - 0.8 for line in block)
        and _FOOTNOTE_MARK.match(first.text) is not None
    )


_DIGITS = re.compile(r"\d+")


def _shape(text: str) -> str:
    # Running headers often carry the page number: "CiteSee ... CHI '23, 4 of 15".
    return _DIGITS.sub("#", text.lower())


# --- Title, abstract, authors ---------------------------------------------------------


def body_size(lines: list[Line]) -> float:
    """The font size most characters are set in."""
    sizes: dict[float, int] = {}
    for line in lines:
        sizes[line.size] = sizes.get(line.size, 0) + len(line.text)
    # the first size to reach the most, as Counter.most_common(1) would pick
    return max(sizes, key=sizes.__getitem__) if sizes else 10.0


def title_lines(lines: list[Line], body: float = 10.0, metadata_title: str = "") -> list[int]:
    """Indices of the title: the largest type in the upper part of page 1, with the lines
    around it that continue it in another font or size ("PaSa:" above or beside "An LLM Agent
    for ...", a last line set smaller). The PDF's metadata title only confirms: when page 1
    prints it as consecutive lines at the title, those lines are the title."""
    first = [i for i, line in enumerate(lines) if line.page == 1 and _title_candidate(line)]
    if not first:
        return []
    top = max(lines[i].size for i in first)
    start = next(i for i in first if lines[i].size >= top - 0.5)
    run = [start]
    for i in range(start + 1, len(lines)):
        if not _continues_title(lines[run[-1]], lines[i], top, body):
            break
        run.append(i)
    for i in range(start - 1, -1, -1):
        if not _continues_title(lines[i], lines[run[0]], top, body, above=True):
            break
        run.insert(0, i)
    return _confirmed(lines, run, metadata_title) or run


def _continues_title(
    upper: Line, lower: Line, top: float, body: float, above: bool = False
) -> bool:
    """Whether two lines next to each other on page 1 are both title (`top`: its largest size).
    A line in the title's size goes on; one in a clearly smaller size only when it is no author
    or affiliation line (and, above the title, short: a name or a series, not a banner)."""
    line = upper if above else lower
    gap = lower.y0 - upper.y1
    if line.page != 1 or upper.page != lower.page or not -0.5 * top < gap < 1.5 * top:
        return False
    if line.size >= top - 0.5:
        return True
    # after a short name ("PaSa:") in the largest type, the rest of the title may be much smaller
    prefix = not above and (upper.text.endswith(":") or len(upper.text.split()) <= 2)
    return (
        line.size >= max(0.0 if prefix else 0.75 * top, body + 1.5)
        and _title_candidate(line)
        and not _byline(line.text)
        and (not above or len(line.text.split()) <= 4)
    )


def _confirmed(lines: list[Line], run: list[int], metadata_title: str) -> list[int]:
    """The consecutive page-1 lines overlapping `run` that print `metadata_title`, or []."""
    wanted = outlines.key(metadata_title) if metadata_title else ""
    if len(wanted) < 8:  # empty, or too short to be a paper's title
        return []
    for first in range(max(0, run[0] - 2), run[-1] + 1):
        got = ""
        for last in range(first, min(first + 5, len(lines))):
            if lines[last].page != 1:
                break
            got += outlines.key(lines[last].text)
            if got == wanted and last >= run[0]:
                return list(range(first, last + 1))
            if not wanted.startswith(got):
                break
    return []


def _title_text(lines: list[Line], title_at: list[int]) -> str:
    return mend("\n".join(lines[i].text for i in title_at))


def _title_candidate(line: Line) -> bool:
    return (
        line.y0 < 0.6 * line.page_height
        and sum(map(str.isalpha, line.text)) >= 3  # map: no Python frame per character
        and not _CAPTION.match(line.text)
    )


def abstract_span(
    lines: list[Line], body: float, title_at: list[int], words: Counter[str] | None = None
) -> tuple[int, int, str]:
    """Where the abstract's lines start and end in `lines`, and its text ("" when not found)."""
    after_title = title_at[-1] + 1 if title_at else 0
    label = _abstract_label(lines, after_title)
    if label is None:
        return _unlabelled_abstract(lines, body, after_title, words)
    match = _ABSTRACT.match(lines[label].text)
    inline = match.group(2) if match and match.group(2) else ""
    end = _abstract_end(lines, label + 1, body)
    text = join_text([lines[label]._replace(text=inline), *lines[label + 1 : end]], words)
    return label, end, _one_line(text)


def _abstract_label(lines: list[Line], start: int) -> int | None:
    """The line saying "Abstract" (alone, or "Abstract." / "Abstract—" before the text)."""
    for i in range(start, len(lines)):
        if lines[i].page > 2:
            return None
        if lines[i].text[:1].isupper() and _ABSTRACT.match(lines[i].text):
            return i  # a label is capitalised; "abstract: it is ..." is a wrapped sentence
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _abstract_end(lines: list[Line], first: int, body: float) -> int:
    size = lines[first].size if first < len(lines) else body
    left = right = None
    end = first
    while end < len(lines):
        line = lines[end]
        if (
            line.outline
            or _heading(line, body)
            or _ABSTRACT_STOP.match(line.text)
            or abs(line.size - size) > 0.7
        ):
            break
        if left is not None and right is not None and line.x0 < left - 8 and line.x1 > right + 8:
            break  # body text wider than an indented abstract: the abstract has ended
        left = line.x0 if left is None else min(left, line.x0)
        right = line.x1 if right is None else max(right, line.x1)
        end += 1
    return end


def _unlabelled_abstract(
    lines: list[Line], body: float, start: int, words: Counter[str] | None = None
) -> tuple[int, int, str]:
    # Some layouts (RevTeX, ACM journals) print the abstract as the first long paragraph, and
    # journal manuscripts put it alone on page 2 after a page of title and affiliations.
    for first, end in _paragraphs(lines, start):
        if lines[first].page > 2 or any(
            line.outline or _heading(line, body) for line in lines[first:end]
        ):
            break
        if _CAPTION.match(lines[first].text):
            continue  # a figure or table caption is never the abstract
        end = next((i for i in range(first, end) if _ABSTRACT_STOP.match(lines[i].text)), end)
        text = _one_line(join_text(lines[first:end], words))
        if len(text.split()) >= 50:
            return first, end, text
    return start, start, ""


def _paragraphs(lines: list[Line], start: int) -> Iterator[tuple[int, int]]:
    """Runs of lines set in one size with line spacing between them (PyMuPDF may give every
    line of a paragraph its own block). Double-spaced lines are one paragraph while the
    spacing stays the same."""
    i = start
    while i < len(lines):
        j = i + 1
        while j < len(lines) and _same_paragraph(lines, j):
            j += 1
        yield i, j
        i = j


def _same_paragraph(lines: list[Line], j: int) -> bool:
    """Whether line `j` goes on the paragraph of line `j - 1`."""
    prev, line = lines[j - 1], lines[j]
    if prev.page != line.page or abs(prev.size - line.size) >= 0.3:
        return False
    gap = line.y0 - prev.y1
    if -0.5 * line.size < gap < 0.9 * line.size:
        return True
    if gap >= 1.6 * line.size:
        return False
    # double spacing: the same wide gap as between the lines before or after
    pairs = [(lines[k - 1], lines[k]) for k in (j - 1, j + 1) if 0 < k < len(lines)]
    return any(a.page == b.page and abs((b.y0 - a.y1) - gap) < 0.15 * line.size for a, b in pairs)


def authors(lines: list[Line]) -> list[str]:
    """Names from the lines between title and abstract that read as a list of names."""
    names: list[str] = []
    for line in lines[:8]:
        parts = [p for p in re.split(r",|;|\band\b|&", _strip_marks(line.text)) if p.strip()]
        if parts and all(_is_name(p) for p in parts):
            names += [" ".join(p.split()) for p in parts]
        elif names:
            break  # affiliations follow the names; a lab name can look like a person's
    return list(dict.fromkeys(names))


def _strip_marks(text: str) -> str:
    return re.sub(r"[\u2217*\u2020\u2021\u00a7\u00b6\d\u00b9\u00b2\u00b3#]+", " ", text)


def _is_name(part: str) -> bool:
    words = part.split()
    return (
        2 <= len(words) <= 4
        and not _INSTITUTION.search(part)
        and all(re.fullmatch(r"[A-Z][\w.'\u2019-]*", w) for w in words)
    )


_INSTITUTION = re.compile(
    r"univ|institut|lab|depart|school|college|research|inc\b|@|google|brain|deepmind|"
    r"microsoft|meta\b|openai|amazon|preprint|arxiv|corresponding|equal contribution",
    re.I,
)
# Words of an affiliation that a section heading does not use.
_AFFILIATION = re.compile(
    r"\b(universit(y|ies|[yé]t?)|universidad|institute|department|school of|college|"
    r"laborator(y|ies)|academy|hospital|inc|ltd|gmbh|corporation)\b|@|\bcorresponding\b",
    re.I,
)


def _byline(text: str) -> bool:
    """An author line ("Maria Garcia and John Smith1,2") or an affiliation, never a heading."""
    if _AFFILIATION.search(text):
        return True
    parts = [p for p in re.split(r",|;|\band\b|&", _strip_marks(text)) if p.strip()]
    return len(parts) >= 2 and all(_is_name(p) for p in parts)


# --- Headings, captions, sections -----------------------------------------------------


def _heading(line: Line, body: float) -> Heading | None:
    """The line as a section heading, or None.

    A heading is set apart by a bold or larger font, or, in the body font, by capitals: then a
    number makes it a weak heading ("II. OVERVIEW OF RAG", small capitals whose smaller letters
    make the line look smaller than the body), kept only when it is next in its sequence.
    """
    styled = line.bold or line.size >= body + 0.8
    if not styled and not (line.size >= body - SMALL_CAPS and line.text.isupper()):
        return None  # most lines: body text
    text = line.text.strip()
    if not _heading_shaped(text):
        return None
    if styled:
        return _numbered(text) or _named(text, line, body)
    head = _numbered(text)
    return head._replace(weak=True) if head else _named(text, line, body)


# How much smaller than the body the capitals of a small-caps heading may be.
SMALL_CAPS = 2.5


def _heading_shaped(text: str) -> bool:
    """Short, made of words, not a caption, a formula or a table-of-contents entry."""
    letters = sum(map(str.isalpha, text))
    return (
        1 <= len(text.split()) <= 16
        and len(text) <= 140
        and letters >= 0.6 * len(text.replace(" ", ""))
        and re.search(r"[^\W\d_]{3,}", text) is not None
        and "=" not in text
        and not _CAPTION.match(text)
        and not _TOC_ENTRY.search(text)
        and not _FRONT_LABEL.match(text)
        and not _ARXIV_FIGURE.match(text)
    )


def _numbered(text: str) -> Heading | None:
    if match := _NUMBERED.match(text):
        number, rest = match.groups()
        if rest[0].isalpha() and not rest.endswith((",", ";")) and not _is_number_row(rest):
            return Heading(rest, number.count(".") + 1, number)
    if match := _LETTERED.match(text):
        letter, parts, rest = match.groups()
        return Heading(rest, parts.count(".") + 1, letter.upper() + parts)
    if match := _ROMAN.match(text):
        return Heading(match.group(2), 1, match.group(1))
    return None


def _is_number_row(text: str) -> bool:
    # Table rows such as "2 BERT 81.2 77.5" are bold in some tables; headings are words.
    return sum(ch.isdigit() for ch in text) > len(text) / 4


def _named(text: str, line: Line, body: float) -> Heading | None:
    if _NAMED.match(text) and len(text.split()) <= 6:
        return Heading(text.rstrip(".:"), 1)
    clearly_larger = line.size >= body + 1.5
    if clearly_larger and text[0].isupper() and not text.endswith((".", ",")) and len(text) > 3:
        return None if _byline(text) else Heading(text, 1)
    return None


def split_captions(
    lines: list[Line], words: Counter[str] | None = None
) -> tuple[list[str], list[Line]]:
    """Caption texts, and the other lines. A caption runs to the end of its block."""
    captions: list[str] = []
    rest: list[Line] = []
    in_caption: tuple[int, int] | None = None
    for line in lines:
        where = (line.page, line.block)
        if _CAPTION.match(line.text):
            captions.append(line.text)
            in_caption = where
        elif in_caption == where:
            captions[-1] += "\n" + line.text
        else:
            in_caption = None
            rest.append(line)
    return [_one_line(mend(c, words)) for c in captions], rest


def with_outline(
    lines: list[Line], entries: list[outlines.Entry], body: float, after: int = 0
) -> list[Line]:
    """`lines` with the outline's entries located among those from `after` on (past the
    title): each heading's first line carries its entry (see `pipeline.outline`)."""
    rest = lines[after:]
    wanted = [e for e in entries if outlines.key(e.title) not in ("abstract", "contents")]
    if not wanted:
        return lines
    located = outlines.locate(wanted, rest, lambda i: _set_apart(rest, i, body))
    return lines[:after] + [
        line._replace(outline=located[i]) if i in located else line for i, line in enumerate(rest)
    ]


def sections(lines: list[Line], body: float, words: Counter[str] | None = None) -> list[Section]:
    """Split lines at headings; text before the first heading becomes a front section.

    Lines that carry an outline entry (`with_outline`) are headings at the outline's level,
    whatever their font.
    """
    located = {i: line.outline for i, line in enumerate(lines) if line.outline}
    heads = _headings(lines, body, words, located)
    found: list[Section] = []
    heading: Heading | None = None
    start_page = lines[0].page if lines else 1
    current: list[Line] = []
    kind: Kind = "body"
    taken = False  # whether the last heading line was taken as a heading
    for i, (line, head) in enumerate(zip(lines, heads, strict=True)):
        if head is _CONTINUED and taken:
            continue
        if head is not None and kind == "body" and _lettered_in_body(head, line):
            # "A Study of ..." before the references: a phrase unless the outline lists it;
            # deeper in the outline a letter numbers a subsection ("A. Naive RAG" under "II.")
            if i not in located:
                head = None
            elif head.level == 1:
                head = head._replace(text=line.text, number="")
        if head is None or head is _CONTINUED:
            taken = taken and head is _CONTINUED
            current.append(line)
            continue
        taken = True
        found += _section(heading, current, kind, start_page, words)
        kind = _next_kind(kind, head)
        heading, current, start_page = head, [], line.page
    found += _section(heading, current, kind, start_page, words)
    return found


# Marks a heading's second or third line, already taken into the heading.
_CONTINUED = Heading("", 0)


def _headings(
    lines: list[Line],
    body: float,
    words: Counter[str] | None = None,
    located: dict[int, Located] | None = None,
) -> list[Heading | None]:
    """Each line's heading, with wrapped headings joined: a heading's next lines in the same
    style, close below it, are the rest of its text ("3.1 Dilated Convolutions for Net-|works").

    With an outline (`located`), its entries are the headings; a heading found by layout alone
    is kept where the outline says nothing: a named section (References), a level deeper than
    the outline goes, before its first entry or past its last; elsewhere it must be numbered in
    sequence.
    """
    heads: list[Heading | None] = [_heading(line, body) for line in lines]
    located = located or {}
    trusted = _trusted(located)
    if trusted:
        deepest, first, last = max(x.level for x in located.values()), min(located), max(located)
        for i, head in enumerate(heads):
            outside = i < first or i > last  # where the outline says nothing
            if head and not (outside or _NAMED.match(head.text) or head.level > deepest):
                heads[i] = head._replace(weak=True)
    numbers: set[str] = set()
    for i, found in located.items():
        heads[i] = placed = _outline_heading(lines, i, found, words)
        numbers.add(placed.number)
        for j in range(i + 1, i + found.lines):
            heads[j] = _CONTINUED
    for i, head in enumerate(heads):
        # the same number as a heading the outline placed: a contents line or a running title
        if trusted and head and head.weak and head.number in numbers:
            heads[i] = None
    _drop_out_of_sequence(heads)
    for i, head in enumerate(heads):
        if head is None or head is _CONTINUED or i in located:
            continue
        parts, j = [lines[i].text], i + 1
        while j < len(lines) and j - i <= 2 and _continues(lines[j - 1], lines[j], body):
            parts.append(lines[j].text)
            heads[j] = _CONTINUED
            j += 1
        text = mend("\n".join([head.text, *parts[1:]]), words)
        heads[i] = head._replace(text=text.rstrip(".:"))
        if not head.number and _byline(text):  # an author's name above their affiliation
            heads[i : i + len(parts)] = [None] * len(parts)
    return heads


def _trusted(located: dict[int, Located]) -> bool:
    """Whether enough of the outline was found to let it overrule the layout."""
    return len(located) >= 3


def _outline_heading(
    lines: list[Line], i: int, found: Located, words: Counter[str] | None
) -> Heading:
    """The heading as printed (the outline's title may carry LaTeX), at the outline's level."""
    text = mend("\n".join(line.text for line in lines[i : i + found.lines]), words)
    numbered = _numbered(text)
    number, text = (numbered.number, numbered.text) if numbered else ("", text)
    return Heading(text.rstrip(".:"), found.level, number)


def _set_apart(lines: list[Line], i: int, body: float) -> bool:
    """Whether line `i` looks like a heading by its layout, whatever its words."""
    line = lines[i]
    if line.bold or line.size >= body + 0.8 or line.text.isupper():
        return True
    prev = lines[i - 1] if i else None
    return (
        prev is None
        or prev.page != line.page
        or line.y0 - prev.y1 > 0.6 * line.size
        or prev.text.rstrip().endswith((".", ":"))
    )


def _drop_out_of_sequence(heads: list[Heading | None]) -> None:
    """Unset each weak heading that is unnumbered or not next in its numbering's sequence."""
    last: dict[str, tuple[int, ...]] = {}
    for i, head in enumerate(heads):
        if head is None or head is _CONTINUED:
            continue
        parsed = numbering.parts(head.number)
        if head.weak and (parsed is None or not numbering.follows(last.get(parsed[0]), parsed[1])):
            heads[i] = None
        elif parsed is not None:
            last[parsed[0]] = parsed[1]


def _continues(prev: Line, line: Line, body: float) -> bool:
    gap = line.y0 - prev.y1
    return (
        prev.page == line.page
        and (prev.bold, prev.size) == (line.bold, line.size)
        and -0.3 * line.size < gap < 0.8 * line.size
        and not prev.text.endswith((".", ":"))
        and _numbered(line.text) is None
        and _heading_shaped(line.text)
        and (prev.bold or line.size >= body + 0.8 or line.text.isupper())
    )


def _lettered_in_body(head: Heading, line: Line) -> bool:
    # Before the references, "A Study of ..." in bold is likelier a phrase than appendix A,
    # unless the line says "Appendix".
    return _is_lettered(head) and not _APPENDIX.match(line.text)


def _is_lettered(head: Heading) -> bool:
    return head.number[:1] in tuple("ABCDEFGH")


def _next_kind(kind: Kind, head: Heading) -> Kind:
    """Sections after the references are appendices; so are lettered or "Appendix" ones."""
    if _REFERENCES.match(head.text):
        return "references"
    lettered = _is_lettered(head) and head.level == 1
    if lettered or _APPENDIX.match(head.text) or kind in ("references", "appendix"):
        return "appendix"
    return kind


def _section(
    head: Heading | None,
    lines: list[Line],
    kind: Kind,
    page: int,
    words: Counter[str] | None = None,
) -> list[Section]:
    text = join_text(lines, words)
    if head is None and not text:
        return []
    heading, level = (head.text, head.level) if head else ("Front matter", 1)
    if head is None:
        kind = "front"
    end = lines[-1].page if lines else page
    return [
        Section(heading=heading, level=level, page_start=page, page_end=end, text=text, kind=kind)
    ]


def _front_sections(abstract_lines: list[Line], abstract: str) -> list[Section]:
    if not abstract:
        return []
    first = abstract_lines[0].page if abstract_lines else 1
    last = abstract_lines[-1].page if abstract_lines else first
    return [
        Section(heading="Abstract", page_start=first, page_end=last, text=abstract, kind="front")
    ]


def _after(lines: list[Line], title_at: list[int]) -> list[Line]:
    return lines[title_at[-1] + 1 :] if title_at else lines


# --- Text mending ---------------------------------------------------------------------


def vocabulary(lines: Iterable[Line]) -> Counter[str]:
    """How often each word (hyphenated compounds whole) occurs in the document, line-end
    fragments aside: the evidence for mending a line-end hyphen."""
    return word_counts(_spell_ligatures("\n".join(line.text for line in lines)))


def word_counts(text: str) -> Counter[str]:
    """Lower-cased words with hyphenated compounds whole, plus each adjacent pair inside a
    longer compound: "english-to-german" elsewhere is evidence for keeping "English-|to".

    The words are `_WORD.findall(text)`'s, found faster: no word spans a space, so each
    distinct token is read once (a paper repeats most of its tokens), and a token that is a
    word, or a word between marks (most of them: "model," "(see"), needs no regex."""
    tokens = Counter(text.lower().split())
    found = {token: count for token, count in tokens.items() if token.isalpha()}
    for token, count in tokens.items():
        if not token.isalpha():
            core = token.strip(_AROUND_WORDS)
            for word in (core,) if core.isalpha() else _WORD.findall(token):
                found[word] = found.get(word, 0) + count
    words = Counter(found)
    for compound in [word for word in found if word.count("-") >= 2]:
        for first, second in itertools.pairwise(compound.split("-")):
            if first and second:
                words[f"{first}-{second}"] += found[compound]
    return words


# Marks around a word that are no part of any (neither word characters nor "-").
_AROUND_WORDS = ".,;:!?()[]{}\"'“”‘’*"


def join_text(lines: Iterable[Line], words: Counter[str] | None = None) -> str:
    """Lines as text: a blank line between paragraphs (blocks), unless a block ends mid-sentence."""
    parts: list[str] = []
    prev: Line | None = None
    for line in lines:
        if prev is not None:
            same = prev.block == line.block and prev.page == line.page
            parts.append("\n" if same or _mid_sentence(prev.text, line.text) else "\n\n")
        parts.append(line.text)
        prev = line
    return mend("".join(parts), words)


def _mid_sentence(before: str, after: str) -> bool:
    return not before.rstrip().endswith((".", "!", "?", ":")) and after[:1].islower()


_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def mend(text: str, words: Counter[str] | None = None) -> str:
    """Ligatures spelled out, line-end hyphens joined, lines inside a paragraph joined.

    A line-end hyphen before a lower-case letter is joined ("represen-|tation") or kept
    ("state-of-the-|art") by which form the document itself uses elsewhere (`words`, from
    `vocabulary`); when it uses neither, a compound prefix or an adverb keeps the hyphen.
    """
    text = _spell_ligatures(text).replace("\u00ad", "").replace("\u00a0", " ")
    if "-\n" in text:  # what both hyphen rules look for, and most texts lack
        counts = words or Counter()
        text = _join_line_end_hyphens(text, counts)
        text = _HYPHEN_BREAK.sub("-", text)  # "GPT-|4", "Visually-|Rich"
    paragraphs = [_single_spaced(p) for p in _PARAGRAPH_BREAK.split(text)]
    return "\n\n".join(p for p in paragraphs if p)


def _single_spaced(text: str) -> str:
    """`" ".join(text.split())`, without splitting text that is already single-spaced but for
    its newlines (most of it: lines are single-spaced when read) at each word.
    `isprintable` is false for every whitespace character but " ", so a printable text with no
    double, leading or trailing space is words with one space between them."""
    flat = text.replace("\n", " ")
    if flat.isprintable() and "  " not in flat and flat[:1] != " " and flat[-1:] != " ":
        return flat
    return " ".join(text.split())


def _join_line_end_hyphens(text: str, words: Counter[str]) -> str:
    """`_LINE_END_HYPHEN.sub(...)` with `_join_hyphen`, the pattern tried only on the words
    around each "-\n": given the whole text, `re` tries it at every position (a third of a
    paper's mending time). A match holds no space or newline but its "-\n", so it lies between
    the last space or newline before its "-\n" and the first one after."""
    parts: list[str] = []
    done = at = 0  # text[:done] is in `parts`; "-\n" before `at` are dealt with
    while (hyphen := text.find("-\n", at)) >= 0:
        start = max(done, text.rfind(" ", 0, hyphen) + 1, text.rfind("\n", 0, hyphen) + 1)
        ends = [i for i in (text.find(" ", hyphen + 2), text.find("\n", hyphen + 2)) if i >= 0]
        match = _LINE_END_HYPHEN.search(text, start, min(ends, default=len(text)))
        if match is None:
            at = hyphen + 1
            continue
        parts += (text[done : match.start()], _join_hyphen(match, words))
        done = at = match.end()
    parts.append(text[done:])
    return "".join(parts)


_SPELLED = [(chr(ligature), spelled) for ligature, spelled in LIGATURES.items()]


def _spell_ligatures(text: str) -> str:
    if text.isascii():
        return text  # no ligature (the check is a fraction of the search below)
    # str.translate looks up every character in Python, and a regex tries its character class
    # at each position; `in` and `replace` look for one character as fast as memchr does.
    for ligature, spelled in _SPELLED:
        if ligature in text:
            text = text.replace(ligature, spelled)
    return text


def _join_hyphen(match: re.Match[str], words: Counter[str]) -> str:
    first, rest = match.groups()
    joined, hyphenated = first + rest, f"{first}-{rest}"
    as_one, as_two = words[joined.lower()], words[hyphenated.lower()]
    if as_one or as_two:
        return hyphenated if as_two > as_one else joined
    word = first.rpartition("-")[2]
    keep = (
        not word.isalpha()
        or word.isupper()
        or not word[-1].islower()
        or word.lower() in HYPHEN_PREFIXES
        or (word.endswith("ly") and len(word) > 4)
    )
    return hyphenated if keep else joined


class Extract(Stage[Paper, Document]):
    """A paper's PDF → its `Document`, in worker processes (PyMuPDF is not thread-safe)."""

    name = "extract"
    version = STAGE_VERSION
    scope = "paper"
    output = Document
    remember_failures = True
    lazy = True  # chunk (and a folder's feed) read the Document, the report its page counts

    def params(self, settings: Settings) -> dict[str, Any]:
        extract = settings.extract
        return {
            "max_pages": extract.max_pages,
            "max_page_mb": extract.max_page_mb,
            "library": library(),
        }

    def inputs(self, paper: Paper) -> dict[str, Any]:
        assert paper.pdf is not None  # seeded for a folder, downloaded for arXiv
        return {"pdf": paper.pdf, "paper_id": paper.meta.id}

    def compute(
        self,
        *,
        pdf: PdfFile,
        paper_id: str,
        max_pages: int,
        max_page_mb: float,
        library: dict[str, Any],
    ) -> Document:
        # `library` is in the key only: another PyMuPDF, or its layout package, may read a page
        # differently, and a cached Document must not outlive the library that made it.
        result = _document_or_error(pdf.path, paper_id, max_pages, max_page_mb, local=pdf.local)
        if isinstance(result, ExtractError):
            raise result
        return result

    def size(self, inputs: Mapping[str, Any]) -> int:
        """The PDF's bytes: a longer paper is a larger file, most of the time."""
        try:
            return int(inputs["pdf"].path.stat().st_size)
        except OSError:
            return 0  # reported by compute, in its turn

    def apply(self, paper: Paper, output: Document) -> None:
        paper.document = output

    def placement(self, tools: Any) -> Placement:
        return "process"

    def worker_memory(self, settings: Settings) -> int | None:
        # A hostile page the content budget misses (a form drawn a thousand times) fails its
        # paper here. Only worker processes are limited: a small day extracts in the run's
        # own process, where a limit would fail the run itself.
        return settings.extract.max_memory_mb * page_content.MIB


# The distributions that ship the `pymupdf` module (PyMuPDF 2.0's full stack, or alone).
PYMUPDF_DISTRIBUTIONS = ("pymupdf-lite", "pymupdf")


def library() -> dict[str, Any]:
    """What extraction output depends on besides our code: the installed distributions that
    provide the `pymupdf` module, with their versions (each release bundles one MuPDF build), and
    whether pymupdf-layout is installed (it changes how PyMuPDF 2.0 orders text).

    Read from package metadata, not by importing PyMuPDF: every run keys extract with this,
    and a cached run should not pay PyMuPDF's import."""
    import importlib.metadata
    import importlib.util

    providers = {}
    for name in PYMUPDF_DISTRIBUTIONS:
        try:
            providers[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return {
        "pymupdf": providers,
        "layout": importlib.util.find_spec("pymupdf_layout") is not None,
    }
