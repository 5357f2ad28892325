"""`paperbrief cache stats` and `paperbrief cache clear` as a user meets them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.cache import MARKER, Cache
from pipeline.errors import UsageError
from tests.test_cache import any_key, meta
from tests.workspace import Workspace, clean_env, paperbrief


def cached_day(workspace: Workspace) -> Path:
    result = workspace.run()
    assert result.returncode == 0, result.stderr
    return workspace.cache


def test_stats_has_a_title_naming_the_folder_and_a_total_line(workspace: Workspace):
    cache = cached_day(workspace)
    result = paperbrief("cache", "stats", "--cache-dir", str(cache), cwd=workspace.root)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"paperbrief cache in {cache}"
    numbers = Cache(cache).stats()
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines if "│" in line]
    assert rows[-1][0] == "total" and [r[0] for r in rows[:-1]] == sorted(numbers)
    for column, name in enumerate(("entries", "failures", "bytes"), start=1):
        assert rows[-1][column] == f"{sum(row[name] for row in numbers.values()):,}"
    one = paperbrief("cache", "stats", "--stage", "extract", "--cache-dir", str(cache), cwd=cache)
    assert "extract" in one.stdout and "summarize" not in one.stdout


def test_the_cache_of_a_run_is_marked_and_a_full_clear_leaves_no_folders(workspace: Workspace):
    cache = cached_day(workspace)
    assert (cache / MARKER).read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    result = paperbrief("cache", "clear", "--cache-dir", str(cache), cwd=workspace.root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("removed ") and str(cache) in result.stdout
    left = sorted(p.name for p in cache.iterdir())
    assert left == [".run.lock", MARKER]  # no empty stage folders left; the run lock stays
    again = workspace.run()
    assert again.returncode == 0 and workspace.computed()["extract"] == 5


def test_clear_one_stage_keeps_the_others(workspace: Workspace):
    cache = cached_day(workspace)
    result = paperbrief(
        "cache", "clear", "--stage", "summarize", "--cache-dir", str(cache), cwd=cache
    )
    assert result.returncode == 0, result.stderr
    assert not (cache / "summarize").exists() and (cache / "extract").is_dir()
    assert workspace.run().returncode == 0
    computed = workspace.computed()
    assert computed["summarize"] == 5 and computed["extract"] == 0


def test_clear_older_than_removes_only_old_entries(tmp_path: Path):
    cache = Cache(tmp_path / "cache")
    cache.put("feed", any_key("old"), meta(), {})
    cache.put("feed", any_key("new"), meta(), {})
    old = [p for p in (tmp_path / "cache" / "feed").rglob("*") if any_key("old") in p.name]
    ten_days_ago = time.time() - 10 * 86_400
    for path in old:
        os.utime(path, (ten_days_ago, ten_days_ago))
    result = paperbrief("cache", "clear", "--older-than", "7", "--cache-dir", "cache", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "removed 2 files" in result.stdout  # the old entry and its metadata
    assert cache.stats()["feed"]["entries"] == 1
    assert not any(p.exists() for p in old)
    # the old entry's folder is gone when it held nothing else
    assert all(any(d.iterdir()) for d in (tmp_path / "cache" / "feed").iterdir())


def test_clear_waits_for_a_running_run_to_let_go_of_the_cache(tmp_path: Path):
    # A run holds entries by reference and reads them later: none may go from under it.
    cache = Cache(tmp_path / "cache")
    cache.put("feed", any_key("held"), meta(), {})
    command = [sys.executable, "-m", "pipeline", "cache", "clear", "--cache-dir", "cache"]
    with cache.run_lock(lambda message: None):
        clearing = subprocess.Popen(
            command, cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, text=True
        )
        time.sleep(1.5)
        assert clearing.poll() is None  # still waiting
        assert cache.stats()["feed"]["entries"] == 1
    out, _ = clearing.communicate(timeout=60)
    assert clearing.returncode == 0
    assert out.startswith(f"waiting for run pid {os.getpid()}")
    assert "removed 2 files" in out and "feed" not in cache.stats()


def test_clear_refuses_a_folder_that_is_not_a_paperbrief_cache(tmp_path: Path):
    home = tmp_path / "home"
    (home / "feed").mkdir(parents=True)  # even with a folder named like a stage
    (home / "feed" / "notes.json").write_text("{}")
    (home / "thesis.pdf").write_bytes(b"%PDF-1.7 mine")
    result = paperbrief("cache", "clear", "--cache-dir", str(home), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert f"{home} is not a paperbrief cache" in result.stderr
    assert "thesis.pdf" in result.stderr and "nothing removed" in result.stderr
    assert (home / "feed" / "notes.json").exists() and (home / "thesis.pdf").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match="no stage folders"):
        Cache(empty).clear()


def test_a_cache_from_before_the_marker_can_still_be_cleared(tmp_path: Path):
    cache = Cache(tmp_path)
    cache.put("extract", any_key("a"), meta(), {})
    (tmp_path / "seen.json").write_text("{}")
    (tmp_path / ".seen.json.k3j2.tmp").write_text("{")  # a write cut short is ours too
    assert not (tmp_path / MARKER).exists()
    assert cache.clear() == 4
    assert [p.name for p in tmp_path.iterdir()] == [".run.lock"]  # clear holds it; it stays


def test_a_run_does_not_mark_a_folder_of_other_files(tmp_path: Path):
    (tmp_path / "thesis.tex").write_text("mine")
    Cache(tmp_path).mark()
    assert not (tmp_path / MARKER).exists()


@pytest.mark.parametrize(
    ("action", "words"),
    [("stats", "bytes on disk"), ("clear", "Delete cached entries")],
)
def test_each_cache_action_has_help_that_says_what_it_does(tmp_path: Path, action: str, words: str):
    result = paperbrief("cache", action, "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert words in " ".join(result.stdout.split())
    if action == "clear":
        assert "--older-than DAYS" in result.stdout and "--stage" in result.stdout
