"""What a user sees when something is wrong: exit codes a cron job can use, dates, sources,
prompts, closed pipes and unreachable servers, each in one line they can act on."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pipeline.arxiv.http import ArxivClient, RequestFailed, network_cause
from pipeline.progress import plural
from pipeline.prompts import default_prompts_dir
from pipeline.settings import ArxivSettings
from tests.conftest import DAY
from tests.workspace import Workspace, clean_env, paperbrief

# arXiv at a closed local port (tests.workspace.OFFLINE), asked once, at once.
UNREACHABLE = {"PAPERBRIEF_ARXIV__MAX_RETRIES": "0", "PAPERBRIEF_ARXIV_DELAY": "0"}


def one_error_line(stderr: str) -> str:
    """The whole of stderr, which must be exactly one `paperbrief: error:` line."""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("paperbrief: error: "), stderr
    return lines[0]


# --- exit codes -----------------------------------------------------------------------------


def test_help_documents_the_exit_codes(tmp_path: Path):
    for args in (["--help"], ["run", "--help"]):
        text = " ".join(paperbrief(*args, cwd=tmp_path).stdout.split())
        assert "0 every paper done" in text
        assert "1 the report was written but some papers failed" in text
        assert "2 bad usage" in text
        assert "3 no report could be written" in text


def test_an_unreachable_feed_exits_3_naming_the_cause(tmp_path: Path):
    result = paperbrief("run", "--date", DAY, cwd=tmp_path, env=clean_env(**UNREACHABLE))
    assert result.returncode == 3
    last = result.stderr.splitlines()[-1]
    assert last.startswith("paperbrief: error: arXiv API at http://127.0.0.1:9/")
    assert "could not connect: connection refused" in last and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_only_against_an_empty_cache_is_a_usage_error(workspace: Workspace):
    result = workspace.run("--only", "report")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [  # one line: no progress bar, no backend warning
        f"paperbrief: error: --only report: nothing is cached in {workspace.cache} yet; "
        "run without --only first"
    ]
    assert result.stdout == ""
    assert not workspace.out.exists()  # no empty run.json over the day's real one


def test_only_after_a_full_run_reads_the_cache(workspace: Workspace):
    assert workspace.run().returncode == 0
    result = workspace.run("--only", "report")
    assert result.returncode == 0, result.stderr
    assert workspace.computed()["report"] == 0  # the report itself was cached too


# --- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("2026-13-45", "the month is 13, not 1 to 12"),
        ("2026-02-30", "February 2026 has 28 days, not 30"),
        ("2026-04-31", "April 2026 has 30 days, not 31"),
        ("04/03/2026", "is not a date"),
        ("yesterday", "is not a date"),
    ],
)
def test_a_bad_date_says_which_part_is_wrong_before_anything_else(
    tmp_path: Path, given: str, words: str
):
    result = paperbrief("run", "--date", given, cwd=tmp_path)
    assert result.returncode == 2
    line = one_error_line(result.stderr)  # no progress bar, no backend warning before it
    assert words in line and "write it as YYYY-MM-DD, e.g. 2026-03-04" in line
    assert "fromisoformat" not in line


# --- sources and prompts --------------------------------------------------------------------


def test_source_accepts_a_single_pdf(tmp_path: Path, papers: Path):
    pdf = sorted(papers.glob("*.pdf"))[0]
    workspace = Workspace(tmp_path / "ws", "--source", str(pdf), "--date", DAY)
    result = workspace.run()
    assert result.returncode == 0, result.stderr
    record = workspace.record()
    assert record["papers"] == 1 and record["succeeded"] == 1
    assert record["source"] == f"file {pdf.name}"
    assert "no LLM call this run" in result.stdout


@pytest.mark.parametrize(
    ("name", "words"),
    [("nowhere", "no such folder or file"), ("notes.txt", "is not a .pdf file")],
)
def test_a_bad_source_is_one_line(tmp_path: Path, name: str, words: str):
    (tmp_path / "notes.txt").write_text("not a paper")
    result = paperbrief("run", "--source", name, cwd=tmp_path)
    assert result.returncode == 2
    assert words in one_error_line(result.stderr)


def test_an_unknown_prompt_lists_the_variants(tmp_path: Path, papers: Path):
    prompts = tmp_path / "prompts"
    shutil.copytree(default_prompts_dir(), prompts)
    shutil.copy(prompts / "summarize" / "default.md", prompts / "summarize" / "terse.md")
    env = clean_env(PAPERBRIEF_PROMPTS_DIR=str(prompts))
    result = paperbrief("run", "--source", str(papers), "--prompt", "nosuch", cwd=tmp_path, env=env)
    assert result.returncode == 2
    line = one_error_line(result.stderr)
    assert "no summarize prompt 'nosuch' (--prompt)" in line
    assert "the variants there are default, terse" in line


def test_extract_into_a_closed_pipe_ends_quietly(papers: Path, tmp_path: Path):
    pdf = sorted(papers.glob("*.pdf"))[0]
    extract = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "extract", str(pdf)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    assert extract.stdout is not None and extract.stderr is not None
    extract.stdout.readline()  # `| head -1`: read one line, then close the pipe
    extract.stdout.close()
    stderr = extract.stderr.read().decode()
    assert extract.wait(timeout=120) == 0
    assert stderr == ""


def test_plurals():
    assert [plural(n, "paper") for n in (0, 1, 2)] == ["0 papers", "1 paper", "2 papers"]
    assert plural(1, "LLM call") == "1 LLM call"


# --- files ----------------------------------------------------------------------------------


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)  # inherited by the run's subprocess
    try:
        yield
    finally:
        os.umask(previous)


def test_outputs_follow_the_umask_and_the_cache_stays_private(
    workspace: Workspace, umask_022: None
):
    assert workspace.run().returncode == 0
    for name in ("summaries.md", "summaries.json", "summaries.html", "run.json"):
        mode = stat.S_IMODE((workspace.folder() / name).stat().st_mode)
        assert mode == 0o644, (name, oct(mode))
    entry = next(p for p in (workspace.cache / "extract").rglob("*.json"))
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert not list(workspace.out.rglob("*.tmp"))


# --- network causes -------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def client(url: str, **settings: float) -> ArxivClient:
    options = {"delay": 0.0, "max_retries": 0, "timeout": 5.0, **settings}
    return ArxivClient(ArxivSettings(api_url=url, **options))  # type: ignore[arg-type]


def test_a_refused_connection_says_so():
    url = f"http://127.0.0.1:{closed_port()}/api/query"
    with client(url) as arxiv, pytest.raises(RequestFailed) as failed:
        arxiv.get(url, kind="api")
    assert str(failed.value) == "could not connect: connection refused"


def test_a_silent_server_times_out():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # accepts the connection, never answers
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/api/query"
        with client(url, timeout=0.3) as arxiv, pytest.raises(RequestFailed) as failed:
            arxiv.get(url, kind="api")
    assert str(failed.value) == "timed out: no reply within the timeout"


def test_an_unknown_host_is_named_as_such():
    dns = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    try:
        raise httpx.ConnectError("[Errno -2] Name or service not known") from dns
    except httpx.ConnectError as exc:
        assert network_cause(exc) == "name or service not known"
    assert network_cause(httpx.RemoteProtocolError("Server disconnected")) is None
