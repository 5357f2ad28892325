"""The cache: content-addressed keys, atomic writes, corrupt entries recomputed, failures kept."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from pipeline.cache import Cache, digest, stage_key, write_atomic
from pipeline.models import PaperMeta


def meta(title: str = "A paper") -> PaperMeta:
    return PaperMeta(id="2401.00001v1", title=title, abstract="We propose a thing.")


def test_key_changes_with_every_ingredient():
    base = stage_key("summarize", 1, ["abc"], {"model": "m", "prompt": "p1"})
    assert base == stage_key("summarize", 1, ["abc"], {"prompt": "p1", "model": "m"})
    assert base != stage_key("summarize", 2, ["abc"], {"model": "m", "prompt": "p1"})
    assert base != stage_key("summarize", 1, ["abd"], {"model": "m", "prompt": "p1"})
    assert base != stage_key("summarize", 1, ["abc"], {"model": "m", "prompt": "p2"})
    assert base != stage_key("chunk", 1, ["abc"], {"model": "m", "prompt": "p1"})


def test_digest_follows_content():
    assert digest(meta()) == digest(meta())
    assert digest(meta()) != digest(meta("Another paper"))


def test_put_then_get_round_trips_with_metadata(tmp_path: Path):
    cache = Cache(tmp_path)
    key = stage_key("feed", 1, ["sha"], {})
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
    key = stage_key("feed", 1, ["sha"], {})
    cache.put("feed", key, meta(), {})
    (tmp_path / "feed" / key[:2] / f"{key}.json").write_text('{"id": "x", "tit')
    assert cache.get("feed", key, PaperMeta) is None
    assert len(warnings) == 1 and "unreadable" in warnings[0]


def test_failures_are_remembered_until_a_success_replaces_them(tmp_path: Path):
    cache = Cache(tmp_path)
    key = stage_key("extract", 1, ["sha"], {})
    cache.put_failure("extract", key, "paper.pdf is encrypted")
    assert cache.failure("extract", key) == "paper.pdf is encrypted"
    cache.put("extract", key, meta(), {})
    assert cache.failure("extract", key) is None


def test_failed_write_warns_and_the_run_goes_on(tmp_path: Path):
    warnings: list[str] = []
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    cache = Cache(blocker, warn=warnings.append)
    cache.put("feed", stage_key("feed", 1, [], {}), meta(), {})
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


def _writer(args: tuple[str, int]) -> None:
    root, n = args
    cache = Cache(Path(root))
    for i in range(50):
        cache.put("feed", stage_key("feed", 1, ["same"], {}), meta(f"title {n}-{i}"), {})


def test_two_processes_sharing_a_cache_never_leave_a_corrupt_entry(tmp_path: Path):
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_writer, [(str(tmp_path), 0), (str(tmp_path), 1)])
    key = stage_key("feed", 1, ["same"], {})
    value = Cache(tmp_path).get("feed", key, PaperMeta)
    assert value is not None and value.title.startswith("title ")
    leftovers = [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    json.loads((tmp_path / "feed" / key[:2] / f"{key}.meta.json").read_text())


def test_stats_and_clear(tmp_path: Path):
    cache = Cache(tmp_path)
    cache.put("feed", stage_key("feed", 1, ["a"], {}), meta(), {})
    cache.put_failure("extract", stage_key("extract", 1, ["a"], {}), "bad pdf")
    stats = cache.stats()
    assert stats["feed"]["entries"] == 1 and stats["extract"]["failures"] == 1
    assert cache.clear("feed") == 2
    assert cache.stats()["feed"]["entries"] == 0
