"""MuPDF's own messages never reach the terminal: `extract` prints the document and nothing
else, and a run's output is its table, however many errors MuPDF reports on a paper's pages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pipeline.samples import SAMPLE_PAPERS
from tests.builders import distinct_copies, with_unknown_annotations
from tests.conftest import DAY
from tests.workspace import Workspace


def annotated(papers: Path, folder: Path, count: int) -> Path:
    folder.mkdir()
    pdf = folder / SAMPLE_PAPERS[0].filename
    pdf.write_bytes((papers / SAMPLE_PAPERS[0].filename).read_bytes())
    return with_unknown_annotations(pdf, count)


def extract(pdf: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", "extract", str(pdf)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_extract_prints_only_the_document_for_a_pdf_with_an_unknown_annotation(
    papers: Path, tmp_path: Path
):
    pdf = annotated(papers, tmp_path / "src", 1)
    out, err = extract(pdf).communicate(timeout=60)

    assert json.loads(out)["title"] == SAMPLE_PAPERS[0].title
    assert b"MuPDF" not in err


def test_extract_into_a_closed_pipe_says_nothing(papers: Path, tmp_path: Path):
    """`paperbrief extract F | head -1`, on a page whose annotations MuPDF reports by the
    thousand: no Director exception or traceback for each."""
    pdf = annotated(papers, tmp_path / "src", 2000)
    run = extract(pdf)
    assert run.stdout is not None and run.stderr is not None
    first = run.stdout.readline()
    run.stdout.close()
    err = run.stderr.read()
    run.wait(timeout=60)

    assert first == b"{\n"
    assert err == b""
    assert run.returncode == 0


def test_a_runs_output_holds_no_mupdf_message(papers: Path, tmp_path: Path):
    """20 papers: extract runs in worker processes, whose stdout is the run's."""
    folder = distinct_copies(papers, tmp_path / "day", 4)
    for pdf in folder.glob("*.pdf"):
        with_unknown_annotations(pdf, 3)
    workspace = Workspace(tmp_path / "ws", "--source", str(folder), "--date", DAY)
    done = subprocess.run(
        workspace.command(), cwd=workspace.root, env=workspace.env, capture_output=True
    )

    assert done.returncode == 0, done.stderr
    assert b"MuPDF" not in done.stdout + done.stderr
    assert workspace.record()["failed"] == []
