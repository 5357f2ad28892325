"""`paperbrief run` as a user runs it: a subprocess over a folder of PDFs, then read run.json.

What ran is read from run.json's stage counts and events, so the cache is tested by what
executed, not by timing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.record import STAGES
from tests.builders import encrypted_pdf
from tests.conftest import DAY
from tests.fakes.openai_server import FakeOpenAI
from tests.workspace import OFFLINE, Workspace


def test_offline_run_writes_the_briefing(workspace: Workspace):
    result = workspace.run()
    assert result.returncode == 0, result.stderr
    record = workspace.record()
    n = 5  # the sample papers
    assert record["papers"] == n and record["succeeded"] == n and record["failed"] == []
    assert set(record["stages"]) == {
        "feed",
        "triage",
        "download",
        "extract",
        "chunk",
        "summarize",
        "rank",
        "report",
    }
    assert all({"hits", "misses", "seconds"} <= set(s) for s in record["stages"].values())
    llm = record["llm"]
    assert (llm["backend"], llm["calls"], llm["cost_usd"]) == ("extractive", 0, 0.0)
    assert record["tokenizer"]["encoding"]
    md = (workspace.folder() / "summaries.md").read_text()
    assert md.startswith(f"# Research Paper Summaries — {DAY}")
    assert "extractive" in md.split("## 1.")[0]
    data = json.loads((workspace.folder() / "summaries.json").read_text())
    assert len(data["papers"]) == n
    scores = [p["impact_score"] for p in data["papers"]]
    assert scores == sorted(scores, reverse=True)
    assert "extractive backend" in result.stderr  # the user is told no LLM was configured


def test_second_run_is_all_cache_hits(workspace: Workspace):
    assert workspace.run().returncode == 0
    first = (workspace.folder() / "summaries.md").read_text()
    assert workspace.run().returncode == 0
    assert workspace.computed() == dict.fromkeys(STAGES, 0)
    stages = workspace.record()["stages"]
    # a folder of PDFs has nothing to download, and five papers need no triage
    assert all(
        stages[s]["hits"] > 0 for s in ("feed", "extract", "chunk", "summarize", "rank", "report")
    )
    assert (workspace.folder() / "summaries.md").read_text() == first


def test_a_broken_pdf_fails_alone_and_is_remembered(tmp_path: Path, papers: Path):
    folder = tmp_path / "mixed"
    shutil.copytree(papers, folder)
    (folder / "broken.pdf").write_bytes(b"<html>not a pdf</html>")
    encrypted_pdf(folder / "locked.pdf")
    workspace = Workspace(tmp_path / "ws", "--source", str(folder), "--date", DAY)

    result = workspace.run()
    assert result.returncode == 1
    record = workspace.record()
    failed = {f["id"]: f for f in record["failed"]}
    assert set(failed) == {"broken", "locked"}
    assert "broken.pdf" in failed["broken"]["error"] and "locked.pdf" in failed["locked"]["error"]
    assert record["succeeded"] == record["papers"] - 2
    assert "failed: broken" in result.stderr
    md = (workspace.folder() / "summaries.md").read_text()
    assert "## Not summarized" in md and "`locked`" in md

    assert workspace.run().returncode == 1
    assert workspace.computed()["feed"] == 0 and workspace.computed()["extract"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--source", ".", "--ids", "2603.00001"], "cannot be combined"),
        (["run", "--source", "no-such-folder"], "no-such-folder"),
        (["run", "--source", ".", "--only", "typeset"], "invalid choice"),
        (["run", "--source", ".", "--concurrency", "0"], "concurrency"),
    ],
)
def test_bad_usage_exits_2_with_one_clear_line(tmp_path: Path, args: list[str], message: str):
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", *args, *(["--cache-dir", str(tmp_path)])],
        cwd=tmp_path,
        env={**os.environ, **OFFLINE},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_openai_backend_end_to_end_against_a_local_server(workspace: Workspace):
    workspace.price("gpt-4o-mini", 0.15, 0.60)
    with FakeOpenAI() as server:
        server.script([{"content": "this is not JSON"}])  # the first reply must be re-asked
        env = server.env()
        result = workspace.run("--model", "gpt-4o-mini", "--concurrency", "1", env=env)
        assert result.returncode == 0, result.stderr
        bodies = server.chat_bodies
    record = workspace.record()
    n = record["papers"]
    assert record["llm"]["backend"] == "openai" and record["llm"]["model"] == "gpt-4o-mini"
    assert record["llm"]["calls"] == n + 1 == len(bodies)
    assert record["llm"]["prompt_tokens"] > 0 and record["llm"]["completion_tokens"] > 0
    assert record["llm"]["cost_usd"] > 0
    body = bodies[0]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert "<paper>" in body["messages"][1]["content"]
    assert "not JSON" in json.dumps(bodies[1]["messages"])  # the re-ask quotes the reply
    header = workspace.report().split("## 1.")[0]
    assert "Summaries by an LLM (model `gpt-4o-mini`)" in header


def test_the_page_cap_is_said_in_the_report_on_cached_runs_too(workspace: Workspace):
    capped = {"PAPERBRIEF_EXTRACT__MAX_PAGES": "1"}
    assert workspace.run(env=capped).returncode == 0
    first = workspace.report()
    assert workspace.run(env=capped).returncode == 0
    assert workspace.computed()["extract"] == 0
    assert "read the first 1 of 3 pages" in first and workspace.report() == first


# Prints the modules a command imported, after the command's own output.
MODULES_PROBE = (
    "import sys; from pipeline.cli import main; code = main(sys.argv[1:]); "
    "print(' '.join(sorted(sys.modules))); sys.exit(code)"
)
# What only computing a paper needs: a model's client, the PDF reader, batch mode.
NEVER_ON_A_REBUILD = {"openai", "aiohttp", "httpx", "pymupdf", "llama_cpp", "pipeline.llm.batch"}


def imported_by(workspace: Workspace, *args: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", MODULES_PROBE, *args],
        cwd=workspace.root,
        env=workspace.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return set(result.stdout.splitlines()[-1].split())


def test_a_report_rebuilt_from_the_cache_imports_only_what_it_uses(workspace: Workspace):
    assert workspace.run().returncode == 0
    where = ("--cache-dir", str(workspace.cache), "--out", str(workspace.out))
    daily = imported_by(workspace, "report", "daily", "--date", DAY, *where)
    # no stage's machinery either: the summarize stage, its tokenizer, the event loop
    for_daily = {"tiktoken", "asyncio", "pipeline.stages.summarize", "pipeline.stages.chunk"}
    assert daily & (NEVER_ON_A_REBUILD | for_daily) == set()
    only = imported_by(workspace, *workspace.command("--only", "report")[3:])
    # the bars are drawn only on a terminal: a piped run prints lines
    assert only & (NEVER_ON_A_REBUILD | {"rich.progress"}) == set()
    assert {"pipeline.stages.summarize", "pipeline.runner"} <= only  # the probe saw the run
