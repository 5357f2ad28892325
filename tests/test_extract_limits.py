"""One hostile PDF costs what its budget allows, fails alone and is named for what it is.

A page of 1M text operators (5 MB on disk) took 55 s and 7 GB in MuPDF; such a page is now
weighed before it is read (`extract.max_page_mb`) and skipped, the paper's other pages kept.
The PDFs here are made small, with a small budget (0.05 MiB) in place of the default 16 MiB.
"""

from __future__ import annotations

import shutil
import zlib
from pathlib import Path

import pytest

from pipeline.errors import ExtractError
from pipeline.models import PdfFile
from pipeline.pdflib import pymupdf as quiet_pymupdf
from pipeline.settings import ExtractSettings
from pipeline.stages import extract
from pipeline.stages.extract import Extract, document
from tests.project import Project as Day

SMALL = 0.05  # MiB a page may hold in these tests
TEXT = "We propose a method that improves retrieval accuracy by a wide margin."


def text_page(doc: object, text: str = TEXT) -> None:
    page = doc.new_page()  # type: ignore[attr-defined]
    page.insert_text((72, 300), f"{text} Page {page.number + 1}.", fontsize=11)


def heavy_page(doc: object, operators: int = 4000, word: bytes = b"word") -> None:
    """A page drawing `operators` words, each at its own place: ~0.2 MB of instructions."""
    page = doc.new_page()  # type: ignore[attr-defined]
    page.insert_text((72, 72), "Heavy", fontsize=11)  # names the font /helv in its resources
    shows = b"".join(
        b"1 0 0 1 %d %d Tm (%s%d) Tj\n" % (i % 500, i % 700, word, i) for i in range(operators)
    )
    doc.update_stream(page.get_contents()[0], b"BT /helv 1 Tf\n" + shows + b"ET\n")  # type: ignore[attr-defined]


def pdf(path: Path, *pages: str) -> Path:
    """A PDF with a page per name: "text" (a line of prose) or "heavy" (over the budget)."""
    doc = quiet_pymupdf().open()
    for kind in pages:
        (text_page if kind == "text" else heavy_page)(doc)
    doc.save(path, deflate=True)
    return path


def test_a_page_over_the_budget_is_skipped_and_the_others_kept(tmp_path: Path) -> None:
    path = pdf(tmp_path / "mixed.pdf", "text", "heavy", "text")
    doc = document(path, "mixed", max_page_mb=SMALL)
    assert doc.pages == doc.pages_read == 3 and doc.pages_skipped == 1
    text = " ".join(section.text for section in doc.sections)
    assert "retrieval accuracy" in f"{doc.title} {doc.abstract} {text}"
    assert "word1" not in f"{doc.title} {doc.abstract} {text}" and "Heavy" not in text
    # under the default budget the same page is read
    assert document(path, "mixed").pages_skipped == 0


def test_a_paper_of_such_pages_only_fails_saying_why(tmp_path: Path) -> None:
    path = pdf(tmp_path / "heavy.pdf", "heavy")
    with pytest.raises(ExtractError) as failed:
        document(path, "heavy", max_page_mb=SMALL)
    message = str(failed.value)
    assert message.startswith(f"{path}: no text read: 1 page(s) hold over 0.05 MiB")
    assert "extract.max_page_mb" in message and "OCR" not in message and "\n" not in message


def test_text_drawn_through_a_form_counts_toward_its_page(tmp_path: Path) -> None:
    # The page's own content is one "Do"; the operators are in the form XObject it draws.
    source = quiet_pymupdf().open(pdf(tmp_path / "inner.pdf", "heavy"))
    doc = quiet_pymupdf().open()
    text_page(doc)
    doc.new_page().show_pdf_page(doc[1].rect, source, 0)
    doc.save(tmp_path / "form.pdf")
    assert document(tmp_path / "form.pdf", "form", max_page_mb=SMALL).pages_skipped == 1


def test_a_form_counts_as_often_as_it_is_drawn(tmp_path: Path) -> None:
    # A 58 KB PDF drawing a 0.3 MB form a thousand times took MuPDF past 1.5 GB; here a
    # 12 KB form (under the budget alone) drawn ten times from a page of 150 bytes.
    source = quiet_pymupdf().open()
    heavy_page(source, 400)
    doc = quiet_pymupdf().open()
    text_page(doc)
    page = doc.new_page()
    page.show_pdf_page(page.rect, source, 0)
    xref = page.get_contents()[-1]
    draw = doc.xref_stream(xref)
    assert b" Do " in draw and len(draw) < 100
    doc.save(tmp_path / "once.pdf")
    assert document(tmp_path / "once.pdf", "once", max_page_mb=SMALL).pages_skipped == 0
    doc.update_stream(xref, draw * 10)
    doc.save(tmp_path / "tenfold.pdf")
    assert document(tmp_path / "tenfold.pdf", "tenfold", max_page_mb=SMALL).pages_skipped == 1


def test_a_decompression_bomb_weighs_what_it_inflates_to(tmp_path: Path) -> None:
    # 64 MiB of spaces in ~64 KB (inflated only up to the budget, to weigh it).
    doc = quiet_pymupdf().open()
    text_page(doc)
    page = doc.new_page()
    page.insert_text((72, 72), "Bomb", fontsize=11)
    xref = page.get_contents()[0]
    spaces = zlib.compress(b"BT /helv 11 Tf 72 72 Td (Bomb) Tj ET" + b" " * (64 << 20), 9)
    doc.update_stream(xref, spaces, compress=False)
    doc.xref_set_key(xref, "Filter", "/FlateDecode")
    doc.save(tmp_path / "bomb.pdf")
    assert document(tmp_path / "bomb.pdf", "bomb", max_page_mb=SMALL).pages_skipped == 1


def test_a_pdf_mupdf_cannot_parse_is_not_called_image_only(tmp_path: Path) -> None:
    # A text page whose resources nest an array 200k deep: MuPDF cannot load the page object
    # ("exception stack overflow"), so it reads no text; it was "image-only PDF?; run OCR".
    head = b"BT /F1 12 Tf 72 720 Td (A paper with deep resources) Tj ET"
    deep = b"[" * 200_000 + b"]" * 200_000
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> /X " + deep + b" >> >>",
        b"<< /Length %d >>\nstream\n" % len(head) + head + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    path = tmp_path / "deep.pdf"
    path.write_bytes(raw_pdf(objects))
    with pytest.raises(ExtractError) as failed:
        document(path, "deep", local=True)
    message = str(failed.value)
    assert "MuPDF could not parse page 1 (code=5: exception stack overflow!)" in message
    assert "OCR" not in message and "download" not in message and "\n" not in message


def raw_pdf(objects: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def test_a_damaged_local_file_is_not_to_be_downloaded_again(tmp_path: Path) -> None:
    path = tmp_path / "paper.pdf"
    path.write_bytes(b"%PDF-1.7\n this is not a PDF body")
    digest = "0" * 64
    advice_for = {True: "replace it with a good copy", False: "download the paper again"}
    for local, advice in advice_for.items():
        with pytest.raises(ExtractError) as failed:
            Extract().compute(
                pdf=PdfFile(path=path, sha256=digest, local=local),
                paper_id="paper",
                max_pages=60,
                max_page_mb=16.0,
                library={},
            )
        assert str(failed.value).endswith(advice)


def test_the_default_budget_is_the_settings_default() -> None:
    assert ExtractSettings().max_page_mb == extract.MAX_PAGE_MB


def test_in_a_folder_day_the_hostile_papers_fail_alone_in_the_workers(
    tmp_path: Path, papers: Path
) -> None:
    folder = tmp_path / "mixed"
    shutil.copytree(papers, folder)
    pdf(folder / "heavy.pdf", "heavy")
    pdf(folder / "partly.pdf", "text", "heavy")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n this is not a PDF body")
    day = Day(tmp_path / "ws", folder)
    record = day.run(pool_threshold=1, **{"extract.max_page_mb": SMALL})
    failed = {f.id: f.error for f in record.failed}
    assert set(failed) == {"heavy", "broken"}
    assert "too large to read safely (extract.max_page_mb)" in failed["heavy"]
    assert "replace it with a good copy" in failed["broken"] and "download" not in failed["broken"]
    assert "partly: skipped 1 page(s) too large to read (extract.max" in day.report()


def test_a_page_needing_more_memory_than_a_worker_may_map_fails_its_paper_alone(
    tmp_path: Path, papers: Path
) -> None:
    # The content budget is lifted, so only the workers' address-space limit stands between
    # this page (2.4M characters: ~0.3 GB in MuPDF) and the machine; a worker maps ~0.2 GB.
    folder = tmp_path / "mixed"
    shutil.copytree(papers, folder)
    doc = quiet_pymupdf().open()
    heavy_page(doc, 40_000, word=b"w" * 56)
    doc.save(folder / "greedy.pdf", deflate=True)
    day = Day(tmp_path / "ws", folder)
    limits = {"extract.max_page_mb": 1024, "extract.max_memory_mb": 320}
    record = day.run(pool_threshold=1, **limits)
    assert [(f.id, f.stage) for f in record.failed] == [("greedy", "extract")]
    message = record.failed[0].error
    assert message.endswith(extract.OUT_OF_MEMORY) and "\n" not in message
    assert record.succeeded == 5
