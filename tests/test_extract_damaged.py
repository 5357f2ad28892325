"""Any PDF gives a document or one clear per-paper error, never a traceback (issue 11).

The PDFs are the sample papers the project renders itself, damaged the ways `tests/builders.py`
knows; `scripts/fuzz_extract.py` does the same to the shared corpus at scale.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.errors import ExtractError
from pipeline.models import Document
from pipeline.samples import SAMPLE_PAPERS, render
from pipeline.stages.extract import FrontMatter, document, front_matter
from tests.builders import DAMAGE, damaged

GOOD = render(SAMPLE_PAPERS[0])


def outcome(path: Path) -> tuple[str, str]:
    """("document" | "error", detail) for both entry points; any other exception propagates."""
    results = []
    for read in (front_matter, document):
        try:
            got = read(path, "2401.00001v1")
        except ExtractError as error:
            assert "\n" not in str(error) and str(error).startswith(f"{path}: ")
            assert error.paper_id == "2401.00001v1"
            results.append(("error", str(error)))
        else:
            assert isinstance(got, Document | FrontMatter)
            results.append(("document", ""))
    return results[-1]


@pytest.mark.parametrize("how", sorted(DAMAGE))
@pytest.mark.parametrize("seed", range(6))
def test_damaged_pdf_gives_a_document_or_one_clear_error(
    tmp_path: Path, how: str, seed: int
) -> None:
    path = tmp_path / "paper.pdf"
    path.write_bytes(damaged(GOOD, how, seed))
    outcome(path)  # raises (and fails the test) on anything but a Document or an ExtractError


def test_the_damage_is_real() -> None:
    # Each kind of damage changes the bytes, so the test above does exercise broken files.
    assert all(damaged(GOOD, how, 0) != GOOD for how in DAMAGE)
    assert b"xref" in GOOD and re.search(rb"/Count\s*2\b", GOOD)


@pytest.mark.parametrize("count", [3, 13, 2**31])
def test_a_page_tree_promising_missing_pages_is_one_clear_error(tmp_path: Path, count: int) -> None:
    # Was "IndexError: page 13 not in document" and "RuntimeError: code=7: Invalid number of
    # pages" from PyMuPDF, as a traceback.
    path = tmp_path / "paper.pdf"
    path.write_bytes(re.sub(rb"/Count\s*2\b", b"/Count %d" % count, GOOD))
    kind, message = outcome(path)
    assert kind == "error"
    assert re.search(r"(damaged page tree|cannot be loaded).*download the paper again$", message)


def test_a_pdf_without_its_xref_table_is_still_read(tmp_path: Path) -> None:
    path = tmp_path / "paper.pdf"
    path.write_bytes(damaged(GOOD, "no-xref", 0))
    assert document(path, "p").title == SAMPLE_PAPERS[0].title
