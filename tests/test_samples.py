"""The sample papers the project writes itself: real PDFs with the layouts the extractor needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pymupdf
import pytest

from pipeline.samples import PAGE_W, SAMPLE_PAPERS, render, write_sample_papers

EXPECTED_PAGES = {
    "sample-draft-trees": 2,
    "sample-reward-aware-distillation": 2,
    "sample-toolguard": 2,
    "sample-rag-evaluation": 3,
    "sample-sim-to-real": 2,
}


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("samples")
    write_sample_papers(out)
    return out


def test_writes_one_pdf_per_paper_with_expected_pages(sample_dir: Path) -> None:
    assert sorted(p.name for p in sample_dir.iterdir()) == sorted(
        paper.filename for paper in SAMPLE_PAPERS
    )
    for paper in SAMPLE_PAPERS:
        with pymupdf.open(sample_dir / paper.filename) as doc:
            assert doc.page_count == EXPECTED_PAGES[paper.stem]
            assert 2 <= doc.page_count <= 4


def test_both_layouts_are_present(sample_dir: Path) -> None:
    layouts = [paper.columns for paper in SAMPLE_PAPERS]
    assert layouts.count(1) >= 2 and layouts.count(2) >= 2
    for paper in SAMPLE_PAPERS:
        with pymupdf.open(sample_dir / paper.filename) as doc:
            blocks = doc[0].get_text("blocks")
        right_column = [b for b in blocks if b[0] > PAGE_W / 2 and len(b[4]) > 200]
        assert bool(right_column) == (paper.columns == 2), paper.stem


def test_every_page_has_a_running_header_and_a_page_number(sample_dir: Path) -> None:
    for paper in SAMPLE_PAPERS:
        with pymupdf.open(sample_dir / paper.filename) as doc:
            for page in doc:
                lines = page.get_text().splitlines()
                assert paper.running_header in lines
                assert str(page.number + 1) in lines


def test_one_paper_breaks_a_word_at_a_line_end(sample_dir: Path) -> None:
    with pymupdf.open(sample_dir / "sample-draft-trees.pdf") as doc:
        text = "".join(page.get_text() for page in doc)
    assert "proba-\nbility" in text


def test_rendering_is_deterministic() -> None:
    assert render(SAMPLE_PAPERS[0]) == render(SAMPLE_PAPERS[0])


def test_existing_files_are_left_alone(tmp_path: Path) -> None:
    first = write_sample_papers(tmp_path)
    kept = first[0].read_bytes()
    first[1].write_bytes(b"not touched")
    second = write_sample_papers(tmp_path)
    assert second == first
    assert first[0].read_bytes() == kept
    assert first[1].read_bytes() == b"not touched"
    assert not list(tmp_path.glob("*.tmp"))


def test_command_line_prints_the_paths(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.samples", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=True,
    )
    printed = result.stdout.split()
    assert [Path(p).name for p in printed] == [paper.filename for paper in SAMPLE_PAPERS]
    assert all(Path(p).is_file() for p in printed)
