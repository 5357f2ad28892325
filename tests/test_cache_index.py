"""The day's index (issue 11): a cached day learns every entry's digest from one file,
`cache/index/<day>.json`, instead of one `.meta.json` per paper and stage, and trusts an
entry only while its artifact is the file it was learnt from (one stat)."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import pipeline.cache
from pipeline.cache import Cache, Stored
from pipeline.models import ChunkNotes, PaperMeta
from pipeline.tools import NoteCache
from tests.conftest import DAY
from tests.project import Project

AN_HOUR_AGO = time.time() - 3600


@pytest.fixture
def metadata_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """How many `.meta.json` files each stage read in this process."""
    read: Counter[str] = Counter()
    real = Cache.meta

    def counting(self: Cache, stage: str, key: str) -> dict[str, Any] | None:
        read[stage] += 1
        return real(self, stage, key)

    monkeypatch.setattr(Cache, "meta", counting)
    yield read


def artifact_of(cache: Path, stage: str, paper: str) -> Path:
    """The artifact a stage stored for one paper (its metadata names the paper)."""
    for meta in (cache / stage).rglob("*.meta.json"):
        if json.loads(meta.read_text()).get("paper") == paper:
            return meta.with_name(meta.name.replace(".meta.json", ".json"))
    raise AssertionError(f"no {stage} entry for {paper}")


@pytest.fixture
def entries_opened(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """The cache files this process opened, by stage folder and kind (artifact or metadata)."""
    opened: Counter[str] = Counter()

    def counting(file: Any, *args: Any, **kwargs: Any) -> Any:
        handle = open(file, *args, **kwargs)  # noqa: SIM115 (the caller closes it)
        name = Path(file)
        if name.suffix == ".json" and len(name.parts) > 3 and name.parts[-3] != "index":
            kind = "meta" if name.name.endswith(".meta.json") else "artifact"
            opened[f"{name.parts[-3]} {kind}"] += 1
        return handle

    monkeypatch.setattr(pipeline.cache, "open", counting, raising=False)
    yield opened


@pytest.mark.parametrize("pool_threshold", [16, 1], ids=["in-process", "worker-processes"])
def test_a_cached_day_reads_one_index_not_each_entrys_metadata(
    tmp_path: Path,
    papers: Path,
    metadata_reads: Counter[str],
    entries_opened: Counter[str],
    pool_threshold: int,
):
    day = Project(tmp_path, papers)
    day.run(pool_threshold=pool_threshold)  # worker processes store extract and chunk
    metadata_reads.clear()
    entries_opened.clear()
    record = day.run(pool_threshold=pool_threshold)
    assert record.succeeded == 5
    assert all(record.stages[s].misses == 0 for s in ("extract", "chunk", "summarize"))
    assert not metadata_reads  # 4 per paper before: extract, feed, chunk, summarize
    # the big whole-day entries, nothing per paper (small entries are held by the index)
    assert entries_opened == Counter({"rank artifact": 1, "report artifact": 1})
    assert (tmp_path / "cache" / "index" / f"{DAY}.json").is_file()


def test_an_indexed_entry_whose_artifact_was_deleted_is_computed_again(
    tmp_path: Path, papers: Path
):
    day = Project(tmp_path, papers)
    day.run()
    paper = day.runner.day.papers[0].meta.id
    artifact_of(tmp_path / "cache", "chunk", paper).unlink()
    artifact_of(tmp_path / "cache", "extract", paper).unlink()
    record = day.run()
    assert record.succeeded == 5
    assert record.stages["extract"].misses == record.stages["chunk"].misses == 1


def test_an_entry_rewritten_behind_the_index_keys_the_next_stages_by_what_it_holds(
    tmp_path: Path, papers: Path
):
    day = Project(tmp_path, papers)
    day.run()
    paper = day.runner.day.papers[0].meta.id
    stored = artifact_of(tmp_path / "cache", "summarize", paper)
    entry = json.loads(stored.read_text())
    entry["summary"]["summary"][0] = "A summary edited after the index learnt the entry."
    stored.write_text(json.dumps(entry))  # its .meta.json still names the old digest
    record = day.run()
    assert record.stages["rank"].misses == 1
    assert "A summary edited after the index learnt the entry." in day.report()


@pytest.mark.parametrize(
    "damage",
    [
        '{"broken',
        # valid JSON of another shape (edited by hand, another version): each entry unknown
        lambda text: json.dumps({name: 5 for name in json.loads(text)}),
    ],
    ids=["unreadable", "wrong-shape"],
)
def test_an_unreadable_index_costs_only_the_reads_it_would_have_saved(
    tmp_path: Path, papers: Path, metadata_reads: Counter[str], damage: Any
):
    day = Project(tmp_path, papers)
    day.run()
    index = tmp_path / "cache" / "index" / f"{DAY}.json"
    index.write_text(damage(index.read_text()) if callable(damage) else damage)
    for entry in (tmp_path / "cache").rglob("*.json"):  # written long ago: learnt again
        os.utime(entry, (AN_HOUR_AGO, AN_HOUR_AGO))
    metadata_reads.clear()
    record = day.run()
    assert record.succeeded == 5 and record.stages["summarize"].hits == 5
    assert metadata_reads["summarize"] == 5
    metadata_reads.clear()
    assert day.run().succeeded == 5 and not metadata_reads


def test_clearing_the_cache_removes_the_days_index(tmp_path: Path, papers: Path):
    day = Project(tmp_path, papers)
    day.run()
    Cache(tmp_path / "cache").clear()
    assert not (tmp_path / "cache" / "index").exists()


def test_a_cached_day_takes_its_summaries_from_the_ranking_not_each_record(
    tmp_path: Path, papers: Path, monkeypatch: pytest.MonkeyPatch
):
    day = Project(tmp_path, papers)
    first = day.run()
    briefing = day.report()
    read: Counter[str] = Counter()
    real_get, real_load = Cache.get_with_digest, Stored.load

    def get(self: Cache, stage: str, key: str, model: Any) -> Any:
        read[stage] += 1
        return real_get(self, stage, key, model)

    def load(self: Stored[Any]) -> Any:
        read[self.model.__name__] += 1
        return real_load(self)

    monkeypatch.setattr(Cache, "get_with_digest", get)
    monkeypatch.setattr(Stored, "load", load)
    again = day.run()
    assert not read["summarize"] and not read["SummaryRecord"]  # 5 records read before
    assert day.report() == briefing.replace(first.run_id, again.run_id)
    # what each summary cost when it was made, and the numbers it checked, as before
    assert again.llm.by_paper == first.llm.by_paper and len(first.llm.by_paper) == 5
    assert again.faithfulness == first.faithfulness
    summarized = day.run(only="summarize")  # no ranking: the records are read for run.json
    assert summarized.llm.by_paper == first.llm.by_paper and read["SummaryRecord"] == 5


def test_a_small_entry_held_by_the_index_is_read_again_once_rewritten(tmp_path: Path, papers: Path):
    day = Project(tmp_path, papers)
    day.run()
    paper = day.runner.day.papers[0].meta.id
    stored = artifact_of(tmp_path / "cache", "feed", paper)
    entry = json.loads(stored.read_text())
    entry["title"] = "A Title Edited After The Index Held The Entry"
    stored.write_text(json.dumps(entry))
    day.run()
    assert "A Title Edited After The Index Held The Entry" in day.report()


def test_only_report_after_a_setting_changed_upstream_says_what_is_missing(
    tmp_path: Path, papers: Path
):
    day = Project(tmp_path, papers)
    day.run()
    record = day.run(only="report", **{"reading.depth": "full"})  # chunk's key is another now
    assert {(f.stage, f.error) for f in record.failed} == {
        ("chunk", "no cached chunk output; run without --only first")
    }
    assert len(record.failed) == 5 and record.stages["summarize"].hits == 0


def test_map_step_notes_and_batch_records_stay_out_of_the_days_index(tmp_path: Path):
    # They are read whole by `get`, never through the index: a cached LLM day would otherwise
    # load and rewrite thousands of them with every run of that day.
    day = date.fromisoformat(DAY)
    cache = Cache(tmp_path / "cache", day=day)
    NoteCache(cache, PaperMeta(id="2401.00001v1", title="t")).put(
        "chunk 1", ChunkNotes(notes=["a fact"], numbers=[])
    )
    cache.put("feed", "k" * 64, PaperMeta(id="2401.00001v1", title="t"), {})
    cache.save_indexes()

    index = json.loads((tmp_path / "cache" / "index" / f"{DAY}.json").read_text())
    assert [name.split("/")[0] for name in index] == ["feed"]
