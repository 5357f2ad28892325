"""What keeps a big day cheap (issue 11): PDFs hashed once and known by path, size and times
afterwards; each PDF parsed once; a rebuilt report that does not load what it does not need.

`make bench` (scripts/bench.py) measures the figures; these tests check the behaviour on the
five sample papers.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import pipeline.cache
import pipeline.executor
from pipeline.cache import Cache, DigestIndex
from pipeline.stages import extract
from tests.project import Project

AN_HOUR_AGO = time.time() - 3600


def settled(path: Path) -> Path:
    """A file last written an hour ago (a just-written file is not remembered; see below)."""
    os.utime(path, (AN_HOUR_AGO, AN_HOUR_AGO))
    return path


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often each file's bytes were read to hash them."""
    seen: Counter[str] = Counter()
    real = pipeline.cache.file_digest

    def counting(path: Path) -> str:
        seen[Path(path).name] += 1
        return real(path)

    monkeypatch.setattr(pipeline.cache, "file_digest", counting)
    return seen


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_hashed_pdf_is_known_by_path_size_and_times_in_the_next_run(
    tmp_path: Path, hashed: Counter[str]
):
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF-1.7 first")
    settled(pdf)
    index = Cache(tmp_path / "cache").digests
    assert index.digest(pdf) == sha(pdf)
    index.save()
    again = Cache(tmp_path / "cache").digests  # another run
    assert again.digest(pdf) == sha(pdf)
    assert hashed["a.pdf"] == 1


def test_a_changed_pdf_is_hashed_again_even_with_its_size_and_mtime_put_back(
    tmp_path: Path, hashed: Counter[str]
):
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF-1.7 first")
    settled(pdf)
    first = Cache(tmp_path / "cache").digests
    before = first.digest(pdf)
    first.save()
    pdf.write_bytes(b"%PDF-1.7 other")  # same size
    settled(pdf)  # same mtime as before; the ctime still moved
    assert Cache(tmp_path / "cache").digests.digest(pdf) == sha(pdf) != before
    assert hashed["a.pdf"] == 2


def test_a_touched_but_identical_pdf_keeps_its_digest(tmp_path: Path, hashed: Counter[str]):
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF-1.7 first")
    settled(pdf)
    first = Cache(tmp_path / "cache").digests
    before = first.digest(pdf)
    first.save()
    pdf.touch()
    index = Cache(tmp_path / "cache").digests
    assert index.digest(pdf) == before  # read again (its times changed), same content
    assert hashed["a.pdf"] == 2


def test_a_pdf_written_moments_ago_is_not_remembered(tmp_path: Path, hashed: Counter[str]):
    # A second write within the clock's granularity could leave size and times unchanged.
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF-1.7 first")
    index = Cache(tmp_path / "cache").digests
    index.digest(pdf)
    index.save()
    Cache(tmp_path / "cache").digests.digest(pdf)
    assert hashed["a.pdf"] == 2


def test_an_unreadable_index_only_costs_a_hash(tmp_path: Path):
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF-1.7 first")
    settled(pdf)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "digests.json").write_text('{"broken')
    assert DigestIndex(tmp_path / "cache" / "digests.json", print).digest(pdf) == sha(pdf)


def test_a_cached_folder_day_hashes_no_pdf_again(
    tmp_path: Path, papers: Path, hashed: Counter[str]
):
    folder = tmp_path / "papers"
    shutil.copytree(papers, folder)
    for pdf in folder.iterdir():
        settled(pdf)
    day = Project(tmp_path, folder)
    day.run()
    assert set(hashed.values()) == {1}
    hashed.clear()
    record = day.run()
    assert record.succeeded == 5 and not hashed


@contextmanager
def counting_opens(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    opened: Counter[str] = Counter()
    real = extract.open_pdf

    def counted(pdf_path: Path, *args: Any, **kwargs: Any) -> Any:
        opened[Path(pdf_path).name] += 1
        return real(pdf_path, *args, **kwargs)

    monkeypatch.setattr(extract, "open_pdf", counted)
    yield opened


def test_a_folder_pdf_is_parsed_once_in_a_cold_day(
    tmp_path: Path, papers: Path, monkeypatch: pytest.MonkeyPatch
):
    day = Project(tmp_path, papers)
    with counting_opens(monkeypatch) as opened:
        record = day.run()  # five papers: computed in this process, where the count is
    assert record.succeeded == 5
    assert opened == Counter({pdf.name: 1 for pdf in papers.iterdir()})
    assert "Draft Trees with Adaptive Depth" in day.report()  # the feed's title, from extract


def test_a_cached_day_keys_its_stages_by_the_digests_the_cache_stored(
    tmp_path: Path, papers: Path, monkeypatch: pytest.MonkeyPatch
):
    day = Project(tmp_path, papers)
    day.run()
    digested: Counter[str] = Counter()
    real = pipeline.executor.digest

    def counting(value: BaseModel) -> str:
        digested[type(value).__name__] += 1
        return real(value)

    monkeypatch.setattr(pipeline.executor, "digest", counting)
    record = day.run()
    assert record.succeeded == 5 and sum(record.stages[s].hits for s in record.stages) > 0
    # the big artifacts are never re-serialised to key the stages after them
    assert digested["Document"] == digested["Chunks"] == digested["SummaryRecord"] == 0


def test_a_full_run_lets_go_of_each_papers_text_once_no_later_stage_reads_it(
    tmp_path: Path, papers: Path
):
    day = Project(tmp_path, papers)
    assert day.run(**{"extract.max_pages": 1}).succeeded == 5
    held = day.runner.day.papers
    assert all(p.document is not None and p.document.sections == [] for p in held)
    assert all(p.chunks is None and p.record is not None for p in held)
    assert "read the first 1 of" in day.report()  # the page counts stayed for the report
    # compare prepares the papers up to summarize and reads their text afterwards: kept
    prepared = day.runner.run_stages(until="summarize")
    assert all(p.document and p.document.sections and p.chunks for p in prepared.papers)


def test_the_paper_table_after_a_big_run_shows_the_best_and_says_how_many_more(
    tmp_path: Path, papers: Path, monkeypatch: pytest.MonkeyPatch
):
    from rich.console import Console

    import pipeline.progress

    day = Project(tmp_path, papers)
    record = day.run()
    monkeypatch.setattr(pipeline.progress, "TABLE_ROWS", 2)
    console = Console(width=100, record=True)
    for table in pipeline.progress.summary_tables(record, day.runner.rows):
        console.print(table)
    shown = console.export_text()
    assert shown.count(" done ") == 2 and "3 more in the briefing" in shown
