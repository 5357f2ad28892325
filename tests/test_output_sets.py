"""A command's output files land together: a disk that fills while they are written leaves the
previous set as it was (never new reports beside an older run.json) and no temporary file,
with the one-line error naming the file (exit 3)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pipeline.cli import main
from tests.conftest import DAY
from tests.full_disk import FullDisk


@pytest.fixture
def here(tmp_path: Path, monkeypatch, papers: Path) -> Path:
    """A user's folder whose source holds three of the five sample papers."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith(("OPENAI_", "PAPERBRIEF_"))]:
        monkeypatch.delenv(name)
    (tmp_path / "src").mkdir()
    for pdf in sorted(papers.glob("*.pdf"))[:3]:
        shutil.copy(pdf, tmp_path / "src")
    return tmp_path


def run(out: Path) -> list[str]:
    return ["run", "--source", "src", "--date", DAY, "--backend", "extractive", "--out", str(out)]


def add_the_other_papers(here: Path, papers: Path) -> None:
    """Two more papers: the next run's report differs in every file from the last one's."""
    for pdf in sorted(papers.glob("*.pdf"))[3:]:
        shutil.copy(pdf, here / "src")


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def error_line(capsys) -> str:
    """The command's one error line, its last on stderr (a run's progress comes before)."""
    lines = capsys.readouterr().err.splitlines()
    assert [line for line in lines if "error" in line] == lines[-1:], lines
    return lines[-1]


@pytest.fixture
def full(monkeypatch) -> FullDisk:
    return FullDisk(monkeypatch)


@pytest.mark.parametrize("nth", [2, 3, 4], ids=["json", "html", "run.json"])
def test_a_disk_full_after_some_files_keeps_the_previous_set(
    here: Path, papers: Path, capsys, full: FullDisk, nth: int
):
    out = Path("out")
    assert main(run(out)) == 0
    folder = out / DAY / "extractive"
    before = contents(folder)
    assert list(before) == ["run.json", "summaries.html", "summaries.json", "summaries.md"]
    add_the_other_papers(here, papers)
    capsys.readouterr()

    full.at(nth)
    assert main(run(out)) == 3
    failed = ["summaries.md", "summaries.json", "summaries.html", "run.json"][nth - 1]
    assert error_line(capsys) == (
        f"paperbrief: error: could not write {folder / failed} (No space left on device); what "
        "was made is cached: make room or fix the folder, then run the same command again"
    )
    assert contents(folder) == before  # the old set, whole, and no temporary file

    full.at(None)
    assert main(run(out)) == 0  # room again: the new set, from the cache
    after = contents(folder)
    assert list(after) == list(before)
    assert all(after[name] != before[name] for name in after), "every file is the new run's"


def test_a_folder_in_the_way_of_one_file_is_found_before_any_file_is_replaced(
    here: Path, papers: Path, capsys
):
    out = Path("out")
    assert main(run(out)) == 0
    folder = out / DAY / "extractive"
    (folder / "run.json").unlink()
    (folder / "run.json").mkdir()  # as a user's mistake might leave it
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    add_the_other_papers(here, papers)
    capsys.readouterr()
    assert main(run(out)) == 3
    assert error_line(capsys).startswith(
        f"paperbrief: error: could not write {folder / 'run.json'} (Is a directory); "
    )
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
    assert sorted(p.name for p in folder.iterdir()) == sorted([*before, "run.json"])


def test_report_daily_and_weekly_on_a_full_disk_leave_their_files_as_they_were(
    here: Path, papers: Path, capsys, full: FullDisk
):
    out = Path("out")
    assert main(run(out)) == 0
    assert main(["report", "weekly", "--to", DAY, "--backend", "extractive"]) == 0
    daily, weekly = out / DAY / "extractive", out / f"weekly-{DAY}" / "extractive"
    before = {daily: contents(daily), weekly: contents(weekly)}
    add_the_other_papers(here, papers)
    assert main(run(Path("elsewhere"))) == 0  # the cached day is now five papers, not three
    capsys.readouterr()
    for command, folder, failed in (
        (["report", "daily", "--date", DAY], daily, "summaries.json"),
        (["report", "weekly", "--to", DAY], weekly, "report.json"),
    ):
        full.at(2)
        assert main([*command, "--backend", "extractive"]) == 3
        assert error_line(capsys).startswith(
            f"paperbrief: error: could not write {folder / failed} (No space left on device); "
        )
        assert contents(folder) == before[folder]
        full.at(None)
        assert main([*command, "--backend", "extractive"]) == 0
        assert contents(folder).keys() == before[folder].keys() != contents(folder)


def test_a_first_weekly_report_on_a_full_disk_leaves_no_folder(here: Path, capsys, full):
    out = Path("out")
    assert main(run(out)) == 0
    capsys.readouterr()
    full.at(2)
    assert main(["report", "weekly", "--to", DAY, "--backend", "extractive"]) == 3
    assert "report.json (No space left on device)" in error_line(capsys)
    assert not (out / f"weekly-{DAY}" / "extractive").exists()


def test_a_set_written_whole_leaves_no_temporary_file(here: Path):
    assert main(run(Path("out"))) == 0
    assert main(["report", "weekly", "--to", DAY, "--backend", "extractive"]) == 0
    assert main(["report", "daily", "--date", DAY, "--backend", "extractive"]) == 0
    assert sorted(p.name for p in Path("out").rglob("*") if p.is_file()) == [
        "report.html", "report.json", "report.md",
        "run.json", "summaries.html", "summaries.json", "summaries.md",
    ]  # fmt: skip
