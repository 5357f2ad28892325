"""The download stage against the fake arXiv: only whole, readable PDFs ever reach the target."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pymupdf
import pytest

from pipeline.arxiv.http import ArxivClient
from pipeline.errors import DownloadError
from pipeline.models import PaperMeta
from pipeline.settings import ArxivSettings
from pipeline.stages.download import download_pdf, pdf_problem, pdf_url
from tests.fakes.arxiv_server import FakeArxiv, FakeTime, make_papers

PAPERS = make_papers(4, categories=["cs.LG"])
META = [PaperMeta(id=p.id, title=p.title) for p in PAPERS]
FIRST = META[0]


@pytest.fixture
def server() -> Iterator[FakeArxiv]:
    with FakeArxiv(PAPERS) as fake:
        yield fake


@pytest.fixture
def client(server: FakeArxiv) -> Iterator[ArxivClient]:
    clock = FakeTime()
    settings = server.settings(max_retries=3)
    with ArxivClient(settings, sleep=clock.sleep, clock=clock.clock) as arxiv:
        yield arxiv


def fetch(client: ArxivClient, meta: PaperMeta, folder: Path) -> int:
    return download_pdf(client, meta.id, folder / f"{meta.id}.pdf", client.settings)


def test_pdf_url_is_the_configured_base_plus_the_id() -> None:
    settings = ArxivSettings()
    assert pdf_url(settings, FIRST.id) == f"https://arxiv.org/pdf/{FIRST.id}"
    old = PaperMeta(id="hep-th/9901001v1", title="Old")
    assert pdf_url(ArxivSettings(pdf_url="http://m/pdf"), old.id) == "http://m/pdf/hep-th/9901001v1"


def test_a_valid_pdf_is_written_and_not_fetched_again(
    server: FakeArxiv, client: ArxivClient, tmp_path: Path
) -> None:
    written = fetch(client, FIRST, tmp_path)

    target = tmp_path / f"{FIRST.id}.pdf"
    assert written == target.stat().st_size > 0
    with pymupdf.open(target) as doc:
        assert doc.page_count == 1 and FIRST.title in doc[0].get_text()
    assert fetch(client, FIRST, tmp_path) == 0
    assert len(server.requests) == 1
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary files left


def test_a_broken_file_at_the_target_is_replaced(client: ArxivClient, tmp_path: Path) -> None:
    target = tmp_path / f"{FIRST.id}.pdf"
    target.write_bytes(b"%PDF-1.7 half a file")

    assert fetch(client, FIRST, tmp_path) > 0
    assert pdf_problem(target.read_bytes()) is None


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (
            "html",
            re.escape(
                "2603.00001v1: arXiv sent an HTML page instead of the PDF (not available yet?); "
                "retry later"
            ),
        ),
        ("truncated", r"2603.00001v1: truncated PDF \(no %%EOF marker; \d{3},?\d* bytes\)"),
        ("empty", r"2603.00001v1: empty reply \(0 bytes\)"),
        ("404", r"2603.00001v1: HTTP 404 for http://127.0.0.1:\d+/pdf/2603.00001v1"),
        ("drop", r"2603.00001v1: connection dropped after 3 retries"),
        ("503", r"2603.00001v1: HTTP 503 for http://127.0.0.1:\d+/pdf/2603.00001v1"),
    ],
)
def test_each_fault_has_its_clear_error_and_leaves_no_file(
    server: FakeArxiv, client: ArxivClient, tmp_path: Path, fault: str, message: str
) -> None:
    server.fail(FIRST.base_id, fault)  # type: ignore[arg-type]

    with pytest.raises(DownloadError, match=f"^{message}$") as raised:
        fetch(client, FIRST, tmp_path)

    assert (raised.value.paper_id, raised.value.stage) == (FIRST.id, "download")
    assert list(tmp_path.iterdir()) == []
    assert "\n" not in str(raised.value)


def test_bytes_that_are_not_a_readable_pdf() -> None:
    assert pdf_problem(b"GIF89a....") == "not a PDF (starts with b'GIF89a....'; 10 bytes)"
    broken = b"%PDF-1.4\nnot really a pdf\n%%EOF\n"
    problem = pdf_problem(broken)
    assert problem is not None and problem.startswith("PyMuPDF cannot open the PDF")


def test_a_fault_that_clears_is_retried_to_success(
    server: FakeArxiv, client: ArxivClient, tmp_path: Path
) -> None:
    server.fail(FIRST.base_id, "503", times=2, retry_after=1)

    assert fetch(client, FIRST, tmp_path) > 0
    assert client.stats["pdf"].retries == 2 and client.stats["pdf"].failures == 0


def test_a_faulty_run_then_a_second_run_fetches_only_the_failures(
    server: FakeArxiv, client: ArxivClient, tmp_path: Path
) -> None:
    server.fail(META[0].base_id, "drop", times=1)  # recovers on retry
    server.fail(META[1].base_id, "html", times=1)  # fails this run
    server.fail(META[2].base_id, "truncated", times=1)  # fails this run

    def run() -> dict[str, str]:
        outcome = {}
        for meta in META:
            try:
                fetch(client, meta, tmp_path)
                outcome[meta.id] = "done"
            except DownloadError as exc:
                outcome[meta.id] = str(exc)
        return outcome

    first = run()
    assert first[META[0].id] == first[META[3].id] == "done"
    assert "HTML page" in first[META[1].id] and "truncated PDF" in first[META[2].id]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{META[0].id}.pdf", f"{META[3].id}.pdf"]

    seen = len(server.requests)
    second = run()
    assert set(second.values()) == {"done"}
    again = [r.path for r in server.requests[seen:]]
    assert again == [f"/pdf/{META[1].id}", f"/pdf/{META[2].id}"]


def test_unknown_paper_is_a_404(client: ArxivClient, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch(client, PaperMeta(id="2603.99999v1", title="Ghost"), tmp_path)


def test_only_the_configured_pdf_url_is_used(
    server: FakeArxiv, client: ArxivClient, tmp_path: Path
) -> None:
    # A feed's own pdf_url (or any link in a paper) is never what gets fetched.
    meta = FIRST.model_copy(update={"pdf_url": "http://example.org/evil.pdf"})
    fetch(client, meta, tmp_path)
    assert [r.path for r in server.requests] == [f"/pdf/{FIRST.id}"]


def test_a_forced_download_that_fails_keeps_the_pdf_we_had(
    server: FakeArxiv, client: ArxivClient, tmp_path: Path
) -> None:
    assert fetch(client, FIRST, tmp_path) > 0
    target = tmp_path / f"{FIRST.id}.pdf"
    before = target.read_bytes()
    server.fail("/pdf/", "html")
    with pytest.raises(DownloadError):
        download_pdf(client, FIRST.id, target, client.settings, force=True)
    assert target.read_bytes() == before
    assert len(server.requests) == 2  # forced: asked again despite the valid file


def test_a_pdf_is_known_by_its_bytes_not_its_content_type(
    server: FakeArxiv, client: ArxivClient, tmp_path: Path
) -> None:
    server.fail(FIRST.base_id, "mislabelled")  # the real PDF, served as text/html

    assert fetch(client, FIRST, tmp_path) > 0
    assert pdf_problem((tmp_path / f"{FIRST.id}.pdf").read_bytes()) is None
