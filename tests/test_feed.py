"""The local-folder feed: which PDFs, which ids, and front matter read from the Document."""

from __future__ import annotations

import hashlib
import re
from datetime import date
from pathlib import Path

import pytest

from pipeline.errors import UsageError
from pipeline.models import PdfFile
from pipeline.samples import SAMPLE_PAPERS
from pipeline.settings import ArxivSettings, Settings
from pipeline.sources import Source
from pipeline.stage import key_part
from pipeline.stages.extract import document
from pipeline.stages.feed import ArxivListing, local_id, paper_meta, pdfs_in_folder


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


def test_a_cached_listings_key_is_what_it_was_before_the_reply_bounds() -> None:
    # The deadline and the size caps (arxiv.deadline, max_feed_mb, max_pdf_mb) change how a
    # reply is read, never which papers it lists: adding them must not make every cached
    # --date or --ids day fetch its listing again. The digest is the key's before they were.
    day = date(2026, 3, 4)
    source = Source(kind="date", day=day)
    bounds = {"deadline": 30.0, "max_feed_mb": 500.0, "max_pdf_mb": 1.0}
    for settings in (Settings(), Settings(arxiv=ArxivSettings(**bounds))):
        params = key_part(ArxivListing(source).params(settings))
        assert params["asked"] == (
            "076d3525c40358ed92f313e2dc1171db7e2188f6c61de3aad5548733641e380c"
        )
    paged = Settings(arxiv=ArxivSettings(page_size=50))
    assert key_part(ArxivListing(source).params(paged))["asked"] != params["asked"]
