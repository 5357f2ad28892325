"""What a user sees while a run goes and when it ends, through the CLI as a subprocess.

Captured stderr is not a terminal, so progress comes as plain lines (as under cron or `| tee`):
retries and rate-limit waits as they happen, stage starts and finishes, never cut at 80 columns.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pipeline.samples import SAMPLE_PAPERS
from tests.fakes.arxiv_server import FakeArxiv, FakePaper
from tests.fakes.openai_server import FakeOpenAI, default_summary, request_title
from tests.fakes.replies import reply_kind, schema_reply
from tests.workspace import Workspace

BROKEN, ODD_LINK = SAMPLE_PAPERS[0].title, SAMPLE_PAPERS[1].title


def scripted_reply(body: dict[str, Any]) -> str:
    """Schema-valid replies, except that one paper's summary is never JSON and another's
    code link is a sentence."""
    if reply_kind(body) != "PaperSummary":
        return schema_reply(body)
    title = request_title(body)
    if title == BROKEN:
        return "not json"
    summary = default_summary(title)
    if title == ODD_LINK:
        summary["code_url"] = "available on request"
    return json.dumps(summary)


def test_retries_waits_and_spend_show_as_plain_lines_and_the_table_tells_all(
    workspace: Workspace,
):
    workspace.price("gpt-4o-mini", 0.15, 0.60)
    with FakeOpenAI(reply_for=scripted_reply) as server:
        server.script([{"status": 429, "retry_after": 2}])  # the first call is refused
        result = workspace.run(env={**server.env(), "COLUMNS": "80"})
    assert result.returncode == 1, result.stderr  # one paper failed, the report was written
    err = result.stderr.splitlines()
    # the retry and the wait it caused, as they happened, and the stages' plain lines
    assert any("note: LLM gpt-4o-mini: retry 1/" in line and "HTTP 429" in line for line in err)
    assert any("note: LLM rate limit: waiting" in line for line in err)
    assert "summarize: started, 5 items" in err
    finished = [line for line in err if line.startswith("summarize: finished 5/5 in ")]
    assert finished and "tokens" in finished[0] and "so far" in finished[0]
    # transient: retries are not warnings of the run
    record = workspace.record()
    assert not any("retry" in w or "waiting" in w for w in record["warnings"])
    # a code link that is not a URL is dropped, with one warning naming the paper
    dropped = [w for w in record["warnings"] if "dropped the code link" in w]
    assert len(dropped) == 1 and "available on request" in dropped[0]
    assert "**Code:** available" not in workspace.report()
    daily = json.loads((workspace.folder() / "summaries.json").read_text())
    assert [p["code_url"] for p in daily["papers"] if p["title"] == ODD_LINK] == [None]
    # the final table: per-stage calls, tokens and dollars; a status is never cut
    out = result.stdout
    assert "failed in summarize" in out and "failed in summari…" not in out
    *tables, llm, wrote = out.splitlines()
    assert all(len(line.rstrip()) <= 80 for line in tables)  # the tables fit whole
    assert llm.startswith("backend openai") and wrote == f"wrote {workspace.folder()}/"
    cells = [[c.strip() for c in line.strip("│").split("│")] for line in out.splitlines()]
    rows = {row[0]: row[1:] for row in cells if len(row) == 8}
    spent = [row for step, row in record["llm"]["by_stage"].items() if "summarize" in step]
    calls = sum(row["calls"] for row in spent)
    tokens = sum(row["prompt_tokens"] + row["completion_tokens"] for row in spent)
    assert rows["summarize"][2:6] == [
        "1",
        str(calls),
        f"{tokens:,}",
        f"{record['llm']['cost_usd']:.4f}",
    ]
    assert rows["feed"][3:5] == ["0", "0"]


def test_plain_warnings_are_one_line_however_long(workspace: Workspace):
    result = workspace.run(env={"COLUMNS": "40"})
    assert result.returncode == 0, result.stderr
    warning = (
        "warning: no LLM configured (set OPENAI_API_KEY or OPENAI_BASE_URL): "
        "using the extractive backend"
    )
    assert warning in result.stderr.splitlines()
    assert "summarize: finished 5/5 in " in result.stderr
    assert "5 LLM calls" not in result.stdout and "no LLM call this run" in result.stdout


def test_an_arxiv_retry_is_shown_as_it_happens(tmp_path: Path):
    today = date.today().isoformat()
    papers = [
        FakePaper(
            id="2603.00001v1",
            title="Sparse Attention for Long-Context Serving",
            abstract="We propose a method that reduces serving cost by 20% on three benchmarks.",
            categories=["cs.LG"],
            submitted=datetime(2026, 3, 2, 12, tzinfo=UTC),
        )
    ]
    workspace = Workspace(tmp_path / "ws", day=today)
    with FakeArxiv(papers, rss=papers) as server:
        server.fail("/rss/", "503", times=1, retry_after=0)
        result = workspace.run(env={**server.env(), "PAPERBRIEF_CATEGORIES": "cs.LG"})
    assert result.returncode == 0, result.stderr
    assert any(
        line.startswith("note: arXiv RSS: retry 1/") and "(HTTP 503)" in line
        for line in result.stderr.splitlines()
    )
    assert not any("retry" in w for w in workspace.record()["warnings"])
