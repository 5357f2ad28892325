"""Cache hits by reference (issue 11): a cached Document or Chunks that only keys the next stage
is never read, a worker stores what it made and sends back only the reference, and a damaged
entry is still caught and remade when a compute needs it.

`make bench` measures what this buys on 500 papers; these tests check the behaviour on the five
sample papers.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.models import Chunks, Document
from pipeline.record import RunRecord
from tests.project import Project


@pytest.fixture
def read(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """How many Documents and Chunks this process parsed from JSON (the cache's only way in)."""
    parsed: Counter[str] = Counter()
    for model in (Document, Chunks):
        real = model.model_validate_json

        def counting(data: Any, *args: Any, _real: Any = real, **kwargs: Any) -> Any:
            value = _real(data, *args, **kwargs)
            parsed[type(value).__name__] += 1
            return value

        monkeypatch.setattr(model, "model_validate_json", counting)
    yield parsed


def computed(record: RunRecord) -> dict[str, int]:
    return {stage: stats.misses for stage, stats in record.stages.items() if stats.misses}


def test_a_fully_cached_day_reads_no_document_and_no_chunks(
    tmp_path: Path, papers: Path, read: Counter[str]
):
    day = Project(tmp_path, papers)
    day.run(**{"extract.max_pages": 1})
    read.clear()
    record = day.run(**{"extract.max_pages": 1})
    assert record.succeeded == 5 and computed(record) == {}
    assert read == Counter()
    # the report's page counts come from the entries' metadata, not from the Documents
    assert "read the first 1 of" in day.report()


def test_only_report_reads_no_document_and_no_chunks(
    tmp_path: Path, papers: Path, read: Counter[str]
):
    day = Project(tmp_path, papers)
    day.run()
    before = day.report()
    read.clear()
    record = day.run(only="report")
    assert record.succeeded == 5 and read == Counter()
    assert day.report() == before


def test_a_changed_setting_reads_only_what_the_recomputed_stage_reads(
    tmp_path: Path, papers: Path, read: Counter[str]
):
    day = Project(tmp_path, papers)
    day.run()
    prompt = day.prompts / "summarize" / "default.md"
    prompt.write_text(prompt.read_text().replace("research editor", "careful research editor"))
    read.clear()
    record = day.run()
    assert computed(record) == {"summarize": 5, "rank": 1, "report": 1}
    assert read == Counter({"Chunks": 5})  # the summarizer's input; no Document
    read.clear()
    record = day.run(**{"reading.depth": "full"})
    assert computed(record) == {"chunk": 5, "summarize": 5, "rank": 1, "report": 1}
    assert read == Counter({"Document": 5})  # chunk's input; the new Chunks go straight on


def test_a_cold_day_in_worker_processes_sends_no_document_or_chunks_back(
    tmp_path: Path, papers: Path, monkeypatch: pytest.MonkeyPatch
):
    # Workers are fresh interpreters (forkserver): only this process counts what it unpickles.
    received: Counter[str] = Counter()
    for model in (Document, Chunks):
        real = model.__setstate__

        def counting(self: Any, state: Any, _real: Any = real) -> None:
            received[type(self).__name__] += 1
            _real(self, state)

        monkeypatch.setattr(model, "__setstate__", counting)
    day = Project(tmp_path, papers)
    record = day.run(pool_threshold=1)
    assert record.succeeded == 5
    assert computed(record)["extract"] == computed(record)["chunk"] == 5
    assert received == Counter()
    assert "Draft Trees with Adaptive Depth" in day.report()  # the feed read the Documents


def artifacts(folder: Path) -> Iterator[Path]:
    return (p for p in folder.rglob("*.json") if p.name.count(".") == 1)


def paper(artifact: Path) -> str:
    return str(json.loads(artifact.with_suffix(".meta.json").read_text())["paper"])


@pytest.mark.parametrize("workers", [False, True], ids=["in-process", "worker"])
def test_a_damaged_document_is_caught_and_remade_when_chunk_needs_it(
    tmp_path: Path, papers: Path, workers: bool
):
    day = Project(tmp_path, papers)
    day.run()
    cache = tmp_path / "cache"
    document = next(artifacts(cache / "extract"))
    chunks = next(p for p in artifacts(cache / "chunk") if paper(p) == paper(document))
    size = document.stat().st_size
    document.write_bytes(b"{" * size)  # the size the metadata recorded, so a reference is served
    chunks.unlink()  # chunk must compute, and read that Document
    record = day.run(pool_threshold=1 if workers else 16)
    assert record.succeeded == 5
    # the same chunks again, so nothing after chunk is recomputed (the report, with the warning)
    assert computed(record) == {"extract": 1, "chunk": 1, "report": 1}
    assert any("unreadable" in w for w in record.warnings)
    assert Document.model_validate_json(document.read_bytes()).sections  # stored again


def test_a_reference_answers_recorded_fields_unread_and_reads_for_the_rest(
    tmp_path: Path, read: Counter[str]
):
    from pipeline.cache import Cache
    from pipeline.models import Section

    text = Section(heading="Intro", page_start=1, page_end=1, text="We study drafts.")
    document = Document(
        paper_id="p", title="T", abstract="A", sections=[text], pages=9, pages_read=2
    )
    cache = Cache(tmp_path)
    cache.put("extract", "ab" * 32, document, {})
    stored = cache.stored("extract", "ab" * 32, Document)
    assert stored is not None
    assert (stored.pages, stored.pages_read, stored.title) == (9, 2, "T")
    assert read == Counter()
    assert stored.body_sections() == [text] and stored.load() == document
    assert read == Counter({"Document": 2})


def test_a_cached_day_never_imports_pymupdf(papers: Path, tmp_path: Path):
    # PyMuPDF costs a cached run ~0.1 s and ~37 MiB for nothing: no PDF is opened. The extract
    # key still names its version, read from package metadata.
    from tests.workspace import Workspace

    workspace = Workspace(tmp_path, "--source", str(papers))
    first = subprocess.run(workspace.command(), env=workspace.env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    command = workspace.command()
    command[1:1] = ["-X", "importtime"]
    again = subprocess.run(command, env=workspace.env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    imported = re.findall(r"^import time:.*\|\s+([\w.]+)$", again.stderr, re.M)
    assert "pipeline.stages.extract" in imported  # the import log is there
    assert not [name for name in imported if name.split(".")[0] == "pymupdf"]


def test_the_extract_key_names_the_pymupdf_build_without_importing_it():
    import pymupdf

    from pipeline.stages import extract

    installed = extract.library()["pymupdf"]
    assert installed and all(version == pymupdf.VersionBind for version in installed.values())
    assert extract._BOLD_FLAG == pymupdf.TEXT_FONT_BOLD
