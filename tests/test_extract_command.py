"""`paperbrief extract FILE.pdf` prints the extracted document as JSON."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.commands.extract import add_parser, extract_command
from pipeline.samples import SAMPLE_PAPERS


@pytest.fixture
def sample_pdf(papers: Path) -> Path:
    return papers / SAMPLE_PAPERS[0].filename


def test_prints_the_document_as_json(sample_pdf: Path, capsys: pytest.CaptureFixture) -> None:
    code = extract_command(argparse.Namespace(file=sample_pdf, max_pages=60, max_page_mb=16.0))
    printed = json.loads(capsys.readouterr().out)
    assert code == 0
    assert printed["title"] == SAMPLE_PAPERS[0].title
    assert printed["abstract"].startswith("Speculative decoding speeds up")
    assert printed["has_references"] is True
    intro = printed["sections"][1]
    assert intro.keys() == {"heading", "level", "kind", "pages", "text"}
    assert (intro["heading"], intro["level"], intro["kind"]) == ("Introduction", 1, "body")
    assert printed["captions"][0].startswith("Table 1:")


def test_bad_pdf_is_one_line_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    page = tmp_path / "page.pdf"
    page.write_text("<html>Not available</html>")
    assert main(["extract", str(page)]) == 1  # through the CLI's one error path
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"paperbrief: error: {page}: not a PDF") and err.count("\n") == 1


def test_parser_reads_file_and_page_cap() -> None:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["extract", "paper.pdf", "--max-pages", "5"])
    assert (args.command, args.file, args.max_pages) == ("extract", Path("paper.pdf"), 5)
    assert parser.parse_args(["extract", "paper.pdf"]).max_pages == 60
    assert parser.parse_args(["extract", "paper.pdf", "--max-page-mb", "0.5"]).max_page_mb == 0.5
    with pytest.raises(SystemExit) as refused:  # a usage error: exit 2, one line
        parser.parse_args(["extract", "paper.pdf", "--max-page-mb", "0"])
    assert refused.value.code == 2


def test_main_in_a_subprocess(sample_pdf: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "extract", str(sample_pdf), "--max-pages", "1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert (printed["pages"], printed["pages_read"]) == (2, 1)
