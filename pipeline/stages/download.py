"""A paper's PDF from arXiv → a checked file on disk.

The URL is always `settings.pdf_url` + the paper's id, never a link read from a feed or a paper.
A reply is kept only when it is HTTP 200, has `%PDF-` in its first KiB (its content says what it
is, whatever its Content-Type), an `%%EOF` marker in its last KiB and opens in PyMuPDF with at
least one page; it is never larger than `arxiv.max_pdf_mb` (the client stops reading there). It
is written atomically, so an interrupted run never leaves half a PDF at the target. Anything else
is a `DownloadError` with one clear line.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.cache import write_atomic
from pipeline.errors import DownloadError
from pipeline.models import PdfFile
from pipeline.paper import Paper
from pipeline.redaction import redacted
from pipeline.settings import ArxivSettings
from pipeline.stage import Stage

if TYPE_CHECKING:  # httpx (with click and pygments) only for a run that downloads
    import httpx

    from pipeline.arxiv.http import ArxivClient

STAGE = "download"
EOF_WINDOW = 1024  # where the %%EOF marker must be: the last KiB
HEADER_WINDOW = 1024  # where the %PDF- header must be: the first KiB, as readers allow


def pdf_url(settings: ArxivSettings, paper_id: str) -> str:
    """`settings.pdf_url` + id (`https://arxiv.org/pdf/2603.03371v1`)."""
    base = settings.pdf_url if settings.pdf_url.endswith("/") else settings.pdf_url + "/"
    return base + paper_id


def download_pdf(
    client: ArxivClient,
    paper_id: str,
    target: Path,
    settings: ArxivSettings,
    *,
    force: bool = False,
) -> int:
    """Fetch the paper's PDF to `target`; returns the bytes written (0 when a valid PDF is
    already there, unless `force`). Raises `DownloadError` and leaves `target` as it was when
    the reply is bad, so a failed forced download keeps the PDF we had."""
    if not force and target.is_file() and pdf_problem(target.read_bytes()) is None:
        return 0
    from pipeline.arxiv.http import RequestFailed

    url = pdf_url(settings, paper_id)
    try:
        response = client.get(url, kind="pdf")
    except RequestFailed as exc:
        raise _error(paper_id, str(exc)) from exc
    problem = reply_problem(response, url)
    if problem:  # it may quote the reply, which may echo the credentials sent
        raise _error(paper_id, client.masked(problem))
    try:
        write_atomic(target, response.content)
    except OSError as exc:
        raise _error(paper_id, f"could not write {target} ({exc.strerror or exc})") from exc
    return len(response.content)


def reply_problem(response: httpx.Response, url: str) -> str | None:
    """Why this reply is not a usable PDF, or None."""
    if response.status_code != 200:
        return f"HTTP {response.status_code} for {redacted(url)}"
    body = response.content
    if not _pdf_header(body):  # a mislabelled PDF is still the PDF: its bytes decide
        content_type = response.headers.get("Content-Type", "").lower()
        if body and ("html" in content_type or body.lstrip()[:1] == b"<"):
            return "arXiv sent an HTML page instead of the PDF (not available yet?); retry later"
    return pdf_problem(body)


def pdf_problem(data: bytes) -> str | None:
    """Why these bytes are not a complete, readable PDF, or None."""
    if not data:
        return "empty reply (0 bytes)"
    if not _pdf_header(data):
        return f"not a PDF (starts with {data[:16]!r}; {len(data):,} bytes)"
    if b"%%EOF" not in data[-EOF_WINDOW:]:
        return f"truncated PDF (no %%EOF marker; {len(data):,} bytes)"
    from pipeline.pdflib import pymupdf as quiet_pymupdf

    pymupdf = quiet_pymupdf()  # here: a run that downloads nothing need not load PyMuPDF

    try:
        with pymupdf.open(stream=data, filetype="pdf") as doc:
            pages = doc.page_count
    except (RuntimeError, ValueError) as exc:
        return f"PyMuPDF cannot open the PDF ({exc}; {len(data):,} bytes)"
    if pages < 1:
        return f"the PDF has no pages ({len(data):,} bytes)"
    return None


def _pdf_header(data: bytes) -> bool:
    return b"%PDF-" in data[:HEADER_WINDOW]


def _error(paper_id: str, problem: str) -> DownloadError:
    return DownloadError(f"{paper_id}: {problem}", paper_id=paper_id, stage=STAGE)


class Download(Stage[Paper, PdfFile]):
    """An arXiv paper's PDF into the cache's pdf folder; a local PDF has nothing to fetch.

    The cached entry says which file holds the paper's bytes; it stands only while that file is
    there (a `cache clear --stage pdf` fetches it again).
    """

    name = STAGE
    version = 2
    scope = "paper"
    output = PdfFile
    uses = ("pdfs",)

    def wanted(self, paper: Paper, params: Mapping[str, Any]) -> bool:
        return paper.pdf is None

    def inputs(self, paper: Paper) -> dict[str, Any]:
        return {"paper_id": paper.meta.id}

    def compute(self, *, paper_id: str, pdfs: Any) -> PdfFile:
        return pdfs.fetch(paper_id)  # type: ignore[no-any-return]

    def apply(self, paper: Paper, output: PdfFile) -> None:
        paper.pdf = output

    def still_valid(self, output: PdfFile) -> bool:
        return output.path.is_file()
