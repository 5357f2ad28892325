"""The local-folder feed: which PDFs, which ids, and front matter read from the Document."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from pipeline.errors import UsageError
from pipeline.models import PdfFile
from pipeline.samples import SAMPLE_PAPERS
from pipeline.stages.extract import document
from pipeline.stages.feed import local_id, paper_meta, pdfs_in_folder


@pytest.fixture
def sample_dir(papers: Path) -> Path:
    return papers


def test_lists_pdfs_sorted_any_suffix_case_not_recursive(tmp_path: Path) -> None:
    for name in ("b.pdf", "A.PDF", "c.Pdf", "notes.txt"):
        (tmp_path / name).write_bytes(b"%PDF-1.7")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.pdf").write_bytes(b"%PDF-1.7")
    assert [p.name for p in pdfs_in_folder(tmp_path)] == ["A.PDF", "b.pdf", "c.Pdf"]


def test_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"point --source at a folder of \.pdf files"):
        pdfs_in_folder(tmp_path / "nowhere")


def test_folder_without_pdfs_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("no papers here")
    with pytest.raises(UsageError, match=r"^no PDFs in .*; point --source at a folder of \.pdf"):
        pdfs_in_folder(tmp_path)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("2401.01234v2.pdf", "2401.01234v2"),
        ("2401.01234.pdf", "2401.01234"),
        ("0807.3577_jcap.pdf", "0807.3577_jcap"),
        ("my-paper.pdf", "my-paper"),
        # a slug that is not the file name ends in a digest of the name (see test_inputs.py)
        ("My Paper (final).PDF", r"my-paper-final-[0-9a-f]{8}"),
        ("---.pdf", r"paper-[0-9a-f]{8}"),
    ],
)
def test_local_ids_are_stable_and_safe(name: str, expected: str) -> None:
    assert re.fullmatch(expected, local_id(Path(name)))
    assert local_id(Path(name)) == local_id(Path("elsewhere") / name)


@pytest.mark.parametrize("paper", SAMPLE_PAPERS, ids=lambda p: p.stem)
def test_meta_comes_from_the_pdf(sample_dir: Path, paper) -> None:
    path = sample_dir / paper.filename
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    meta = paper_meta(document(path, paper.stem), PdfFile(path=path, sha256=sha), path.name)
    assert meta.id == paper.stem
    assert meta.pdf_path == path
    assert meta.pdf_sha256 == sha
    assert meta.file_name == path.name
    assert meta.title == paper.title
    assert meta.abstract == " ".join(paper.abstract.split())
    assert meta.authors == list(paper.authors)
    assert meta.url is None
