"""The cache: content-addressed keys, atomic writes, corrupt entries recomputed, failures kept."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.cache import Cache, digest, model_json, write_atomic
from pipeline.models import PaperMeta, PdfFile, RankedPaper, Usage
from pipeline.stage import stage_key
from pipeline.stages.chunk import Chunking
from pipeline.stages.rank import Ranking
from pipeline.stages.summarize import Summarize
from tests.builders import record


def meta(title: str = "A paper") -> PaperMeta:
    return PaperMeta(id="2401.00001v1", title=title, abstract="We propose a thing.")


def test_key_changes_with_every_ingredient(monkeypatch: pytest.MonkeyPatch):
    stage, inputs, params, tools = Summarize(), {"meta": meta()}, {"p": "1", "q": 2}, {"m": "x"}
    base = stage_key(stage, inputs, params, tools)
    assert base == stage_key(stage, inputs, {"q": 2, "p": "1"}, tools)  # order does not matter
    assert base != stage_key(Chunking(), inputs, params, tools)
    assert base != stage_key(stage, {"meta": meta("Another")}, params, tools)
    assert base != stage_key(stage, inputs, {**params, "p": "2"}, tools)
    assert base != stage_key(stage, inputs, params, {"m": "y"})
    monkeypatch.setattr(Summarize, "version", Summarize.version + 1)
    assert base != stage_key(stage, inputs, params, tools)


def test_keys_are_those_existing_caches_were_stored_under():
    # The executor writes a stage's params and tools once per run and each paper's inputs
    # around them; the bytes hashed must stay one sorted, compact JSON of the whole payload, or
    # every user's cache would be recomputed (and its summaries paid for again).
    stage, inputs = Summarize(), {"meta": meta(), "chunks": None}
    params = {"prompts": {"summarize": "ab", "notes": "cd"}, "temperature": 0.2, "cap": [1, 2]}
    tools = {"summarizer": {"backend": "openai", "model": "m", "é": "ü"}}
    payload = {
        "stage": stage.name,
        "version": stage.version,
        "inputs": {"meta": digest(meta()), "chunks": None},
        "params": params,
        "tools": tools,
    }
    blob = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    assert stage_key(stage, inputs, params, tools) == hashlib.sha256(blob.encode()).hexdigest()


def test_a_pdf_enters_a_key_by_its_bytes_not_its_place(tmp_path: Path):
    here = PdfFile(path=tmp_path / "a.pdf", sha256="abc")
    moved = PdfFile(path=tmp_path / "elsewhere" / "b.pdf", sha256="abc")
    changed = PdfFile(path=tmp_path / "a.pdf", sha256="abd")
    assert stage_key(Chunking(), {"pdf": here}, {}, {}) == stage_key(
        Chunking(), {"pdf": moved}, {}, {}
    )
    assert stage_key(Chunking(), {"pdf": here}, {}, {}) != stage_key(
        Chunking(), {"pdf": changed}, {}, {}
    )


def any_key(*parts: str) -> str:
    """Any key: these tests are about storing entries, not about what goes into a key."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def test_digest_follows_content():
    assert digest(meta()) == digest(meta())
    assert digest(meta()) != digest(meta("Another paper"))


@settings(max_examples=60, deadline=None)
@given(
    title=st.text(),
    authors=st.lists(st.text(max_size=20), max_size=3),
    score=st.floats(min_value=0, max_value=100),
    cost=st.floats(allow_nan=False, allow_infinity=False),
)
def test_artifacts_are_written_and_digested_as_model_dump_json_encodes_them(
    title: str, authors: list[str], score: float, cost: float
):
    # Every cache key and stored artifact was made from `model_dump_json().encode()`; the
    # bytes pydantic writes directly must stay those bytes, or every cached day recomputes.
    paper = meta(title).model_copy(update={"authors": authors, "pdf_path": Path("/tmp/é.pdf")})
    spent = record(paper.id).model_copy(update={"usage": Usage(calls=1, cost_usd=cost)})
    ranking = Ranking(papers=[RankedPaper(meta=paper, record=spent, impact_score=score)])
    for model in (paper, ranking):
        assert model_json(model) == model.model_dump_json().encode("utf-8")


def test_put_then_get_round_trips_with_metadata(tmp_path: Path):
    cache = Cache(tmp_path)
    key = any_key("sha")
    assert cache.get("feed", key, PaperMeta) is None
    cache.put("feed", key, meta(), {"seconds": 0.5})
    assert cache.get("feed", key, PaperMeta) == meta()
    record = cache.meta("feed", key)
    assert record is not None
    assert record["seconds"] == 0.5 and record["digest"] == digest(meta())
    assert (tmp_path / "feed" / key[:2] / f"{key}.json").is_file()


def test_corrupt_entry_is_reported_and_recomputed(tmp_path: Path):
    warnings: list[str] = []
    cache = Cache(tmp_path, warn=warnings.append)
    key = any_key("sha")
    cache.put("feed", key, meta(), {})
    (tmp_path / "feed" / key[:2] / f"{key}.json").write_text('{"id": "x", "tit')
    assert cache.get("feed", key, PaperMeta) is None
    assert len(warnings) == 1 and "unreadable" in warnings[0]


def test_failures_are_remembered_until_a_success_replaces_them(tmp_path: Path):
    cache = Cache(tmp_path)
    key = any_key("sha")
    cache.put_failure("extract", key, "paper.pdf is encrypted")
    assert cache.failure("extract", key) == "paper.pdf is encrypted"
    cache.put("extract", key, meta(), {})
    assert cache.failure("extract", key) is None


def test_failed_write_warns_and_the_run_goes_on(tmp_path: Path):
    warnings: list[str] = []
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    cache = Cache(blocker, warn=warnings.append)
    cache.put("feed", any_key(""), meta(), {})
    assert warnings and "could not write" in warnings[0]


def test_atomic_write_leaves_no_partial_file(tmp_path: Path, monkeypatch):
    target = tmp_path / "out.json"
    write_atomic(target, b"first")

    def killed(src: str, dst: str) -> None:  # the process dies between write and rename
        raise KeyboardInterrupt

    monkeypatch.setattr("pipeline.cache.os.replace", killed)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, b"second, never seen")
    assert target.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


@pytest.mark.parametrize("earlier", [None, "An earlier title"])
def test_a_put_killed_between_its_writes_leaves_no_entry_without_its_metadata(
    tmp_path: Path, monkeypatch, earlier: str | None
):
    cache = Cache(tmp_path)
    key = any_key("sha")
    if earlier is not None:  # a forced recompute replaces an entry
        cache.put("feed", key, meta(earlier), {})
    real_write, writes = write_atomic, []

    def killed_after_one_write(path: Path, data: bytes, **options: bool) -> None:
        if writes:
            raise KeyboardInterrupt  # SIGKILL between the artifact's and the metadata's write
        writes.append(path)
        real_write(path, data, **options)

    monkeypatch.setattr("pipeline.cache.write_atomic", killed_after_one_write)
    with pytest.raises(KeyboardInterrupt):
        cache.put("feed", key, meta("The new title"), {})
    monkeypatch.undo()
    value, record = cache.get("feed", key, PaperMeta), cache.meta("feed", key)
    assert value is None or (record is not None and record["digest"] == digest(value))


def _writer(args: tuple[str, int]) -> None:
    root, n = args
    cache = Cache(Path(root))
    for i in range(50):
        cache.put("feed", any_key("same"), meta(f"title {n}-{i}"), {})


def test_two_processes_sharing_a_cache_never_leave_a_corrupt_entry(tmp_path: Path):
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_writer, [(str(tmp_path), 0), (str(tmp_path), 1)])
    key = any_key("same")
    value = Cache(tmp_path).get("feed", key, PaperMeta)
    assert value is not None and value.title.startswith("title ")
    leftovers = [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    json.loads((tmp_path / "feed" / key[:2] / f"{key}.meta.json").read_text())


def test_stats_and_clear(tmp_path: Path):
    cache = Cache(tmp_path)
    cache.put("feed", any_key("a"), meta(), {})
    cache.put_failure("extract", any_key("a"), "bad pdf")
    stats = cache.stats()
    assert stats["feed"]["entries"] == 1 and stats["extract"]["failures"] == 1
    assert cache.clear("feed") == 2
    assert "feed" not in cache.stats()  # its emptied folders went too
    assert cache.stats()["extract"]["failures"] == 1


def test_a_stored_digest_keys_later_stages_only_for_the_artifact_it_was_written_with(
    tmp_path: Path,
):
    cache = Cache(tmp_path)
    written = cache.put("feed", "k" * 64, meta("A paper"), {})
    assert cache.get_with_digest("feed", "k" * 64, PaperMeta) == (meta("A paper"), written)
    # an artifact replaced behind its metadata's back (an older version's write order, a kill)
    artifact = next(tmp_path.glob("feed/*/*[!a].json"))
    artifact.write_text(meta("Another, longer title").model_dump_json())
    value, digest_of = cache.get_with_digest("feed", "k" * 64, PaperMeta)  # type: ignore[misc]
    assert value == meta("Another, longer title") and digest_of is None
