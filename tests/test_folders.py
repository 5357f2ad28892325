"""The cache and out folders: one that cannot be used is named before any work (exit 2), and
an output file that cannot be written (a full disk) is named in one line (exit 3) while what
the run made stays cached for the same command next time."""

from __future__ import annotations

import errno
import json
import os
import sys
from pathlib import Path

import pytest

import pipeline.folders
from pipeline.cli import main
from tests.conftest import DAY

CACHE_FIX = "choose another with --cache-dir, PAPERBRIEF_CACHE_DIR or cache_dir in paperbrief.toml"
OUT_FIX = "choose another with --out, PAPERBRIEF_OUT_DIR or out_dir in paperbrief.toml"
LLM = ["--base-url", "http://127.0.0.1:9/v1"]  # compare's own checks want an endpoint

# Every command that writes into the cache or out folder, as a user would type it.
COMMANDS = {
    "run": ["run", "--source", "src", "--backend", "extractive"],
    "report daily": ["report", "daily", "--date", DAY],
    "report weekly": ["report", "weekly", "--to", DAY],
    "report weekly --fill": ["report", "weekly", "--to", DAY, "--fill"],
    "compare": ["compare", "--source", "src", "--prompt", "summarize=default,terse", *LLM],
    "cache stats": ["cache", "stats"],
    "cache clear": ["cache", "clear"],
}
WRITES_OUT = ["run", "report daily", "report weekly", "compare"]


@pytest.fixture
def here(tmp_path: Path, monkeypatch) -> Path:
    """A user's folder with a file called `afile` in it and an empty source folder."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith(("OPENAI_", "PAPERBRIEF_"))]:
        monkeypatch.delenv(name)
    (tmp_path / "afile").write_text("not a folder\n")
    (tmp_path / "src").mkdir()
    return tmp_path


def one_line(capsys) -> str:
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("given", ["afile", "afile/cache"], ids=["a file", "under a file"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_file_as_the_cache_is_named_before_any_work(here: Path, capsys, command, given):
    assert main([*COMMANDS[command], "--cache-dir", given]) == 2
    assert one_line(capsys) == (
        f"paperbrief: error: cache folder {given} is not a folder: afile is a file; {CACHE_FIX}"
    )
    assert sorted(p.name for p in here.iterdir()) == ["afile", "src"]  # nothing was made


@pytest.mark.parametrize("given", ["afile", "afile/out"], ids=["a file", "under a file"])
@pytest.mark.parametrize("command", WRITES_OUT)
def test_a_file_as_the_out_folder_is_named_before_any_work(here: Path, capsys, command, given):
    assert main([*COMMANDS[command], "--out", given]) == 2
    assert one_line(capsys) == (
        f"paperbrief: error: output folder {given} is not a folder: afile is a file; {OUT_FIX}"
    )
    assert not (here / "out").exists()


def test_a_link_to_nothing_as_the_cache_is_named(here: Path, capsys):
    (here / "gone").symlink_to(here / "nowhere")
    assert main([*COMMANDS["run"], "--cache-dir", "gone/cache"]) == 2
    assert one_line(capsys) == (
        f"paperbrief: error: cache folder gone/cache is not a folder: gone is a link to "
        f"nothing; {CACHE_FIX}"
    )


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="Linux's /proc")
def test_a_folder_that_takes_no_files_is_named(here: Path, capsys):
    assert main([*COMMANDS["run"], "--cache-dir", "/proc/self"]) == 2
    assert one_line(capsys) == (
        f"paperbrief: error: cache folder /proc/self cannot be written in (it takes no new "
        f"files); {CACHE_FIX}"
    )


def test_a_full_disk_names_the_report_file_and_the_next_run_writes_it_from_the_cache(
    here: Path, papers: Path, capsys, monkeypatch
):
    run = ["run", "--source", str(papers), "--date", DAY, "--backend", "extractive"]
    real_write = pipeline.folders.staged_file

    def full_disk(path: Path, data: bytes, *, private: bool = True) -> Path:
        if path.name == "summaries.md":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_write(path, data, private=private)

    with monkeypatch.context() as patch:
        patch.setattr(pipeline.folders, "staged_file", full_disk)
        assert main(run) == 3
    report = Path("out", DAY, "extractive", "summaries.md")
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"paperbrief: error: could not write {report} (No space left on device); what was "
        "made is cached: make room or fix the folder, then run the same command again"
    )
    assert not report.exists()

    assert main(run) == 0  # room again: every stage from the cache, and the report written
    record = json.loads(report.with_name("run.json").read_text())
    assert {stage: s["misses"] for stage, s in record["stages"].items()} == dict.fromkeys(
        record["stages"], 0
    )
    assert "# " in report.read_text()


def test_a_full_disk_under_report_daily_and_weekly_names_the_file(
    here: Path, papers: Path, capsys, monkeypatch
):
    assert main(["run", "--source", str(papers), "--date", DAY, "--backend", "extractive"]) == 0

    def full_disk(path: Path, data: bytes, *, private: bool = True) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(pipeline.folders, "staged_file", full_disk)
    capsys.readouterr()
    for command, first in (
        (COMMANDS["report daily"], Path("out", DAY, "extractive", "summaries.md")),
        (COMMANDS["report weekly"], Path("out", f"weekly-{DAY}", "extractive", "report.md")),
    ):
        assert main([*command, "--backend", "extractive"]) == 3
        assert one_line(capsys).startswith(
            f"paperbrief: error: could not write {first} (No space left on device); "
        )


def test_the_folder_check_is_the_cli_one_line_in_a_subprocess(here: Path):
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "pipeline", *COMMANDS["run"], "--out", "afile"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("paperbrief: error: output folder afile is not a folder")


# --- a damaged index of a day's briefing --------------------------------------------------


def test_a_damaged_day_index_is_named_by_report_daily_and_weekly(here: Path, papers: Path, capsys):
    assert main(["run", "--source", str(papers), "--date", DAY, "--backend", "extractive"]) == 0
    entry = Path("cache", "days", DAY, "extractive.json")
    entry.write_bytes(entry.read_bytes()[:100])  # cut short, as by a full disk or a crash
    capsys.readouterr()
    said = (
        f"the briefing of {DAY} (extractive) in {entry} is unreadable (ValidationError); run "
        f"that day again to remake it (`paperbrief run --date {DAY}`)"
    )

    assert main(["report", "daily", "--date", DAY, "--backend", "extractive"]) == 2
    assert one_line(capsys) == f"paperbrief: error: {said}"

    assert main(["report", "weekly", "--to", DAY, "--backend", "extractive"]) == 3
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"warning: {said}"


def test_a_full_cache_disk_at_the_seen_index_warns_and_the_report_is_written(
    here: Path, capsys, monkeypatch
):
    from tests.fakes.arxiv_server import FakeArxiv
    from tests.test_cli_arxiv import paper

    def full_disk(path: Path, data: bytes, *, private: bool = True) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr("pipeline.seen.write_atomic", full_disk)
    papers = [paper(0), paper(1)]
    with FakeArxiv(papers, rss=papers) as server:
        for name, value in {**server.env(0.0), "PAPERBRIEF_CATEGORIES": "cs.LG"}.items():
            monkeypatch.setenv(name, value)
        assert main(["run", "--backend", "extractive"]) == 0
    err = capsys.readouterr().err
    assert "could not update the seen index ([Errno 28] No space left on device" in err
    assert list(Path("out").glob("*/extractive/summaries.md"))


def test_a_cache_that_cannot_be_cleared_is_named(here: Path, papers: Path, capsys, monkeypatch):
    assert main(["run", "--source", str(papers), "--date", DAY, "--backend", "extractive"]) == 0
    capsys.readouterr()

    def read_only(path: Path, missing_ok: bool = False) -> None:
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    with monkeypatch.context() as patch:
        patch.setattr(Path, "unlink", read_only)
        assert main(["cache", "clear"]) == 2
    line = one_line(capsys)
    assert line.startswith(f"paperbrief: error: could not clear the cache {here / 'cache'}: ")
    assert line.endswith(
        " cannot be removed (Read-only file system); check the folder's permissions and mount"
    )


def test_init_under_a_file_is_named(here: Path, capsys):
    assert main(["init", "afile/paperbrief.toml"]) == 2
    assert one_line(capsys) == (
        "paperbrief: error: cannot write afile/paperbrief.toml: afile is a file, not a folder"
    )
