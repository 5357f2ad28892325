"""`paperbrief run` with an LLM: the real openai client against a local OpenAI-compatible server.

Triage, the cost cap and the number check, end to end through the CLI and run.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.samples import SAMPLE_PAPERS
from tests.conftest import DAY
from tests.fakes.openai_server import FakeOpenAI, default_summary, request_title
from tests.fakes.replies import reply_kind, schema_reply
from tests.workspace import Workspace


def kinds(server: FakeOpenAI) -> list[str]:
    return [reply_kind(body) for body in server.chat_bodies]


def test_triage_reads_only_the_top_papers_and_lists_the_rest(workspace: Workspace):
    workspace.price("gpt-4o-mini", 0.15, 0.60)
    with FakeOpenAI(reply_for=schema_reply) as server:
        result = workspace.run("--top", "2", env=server.env())
        asked = kinds(server)
    assert result.returncode == 0, result.stderr
    record = workspace.record()
    assert record["papers"] == 5 and record["read_in_full"] == 2
    assert asked.count("TriageReply") == 1  # five papers fit one triage batch
    assert asked.count("PaperSummary") == 2
    assert set(record["llm"]["by_stage"]) >= {"triage", "summarize-reduce"}
    by_paper = record["llm"]["by_paper"]
    assert len(by_paper) == 2 and all(
        p["calls"] == 1 and p["cost_usd"] > 0 for p in by_paper.values()
    )
    md = workspace.report()
    assert md.count("\n## ") >= 2 and "## 3." not in md
    appendix = md[md.index("Also in the feed") :]
    assert sum(paper.title in appendix for paper in SAMPLE_PAPERS) == 3


def test_a_cost_cap_stops_new_llm_work_and_keeps_what_is_done(workspace: Workspace):
    workspace.price("gpt-4o-mini", 0.15, 0.60)
    cap = 0.002  # one summary's estimate (about $0.0015) fits, two in flight do not
    with FakeOpenAI(reply_for=schema_reply) as server:
        env = server.env()
        result = workspace.run("--max-cost", str(cap), env=env)  # 8 papers may run at once
        calls = len(server.chat_bodies)
        assert result.returncode == 1
        record = workspace.record()
        capped = [f for f in record["failed"] if "cost cap" in f["error"]]
        assert 1 <= calls < 5 and len(capped) == 5 - calls
        assert 0 < record["llm"]["cost_usd"] <= cap
        assert "cost cap" in workspace.report()
        # what was done stays: without the cap only the others are summarized
        assert workspace.run(env=env).returncode == 0
    summarize = workspace.record()["stages"]["summarize"]
    assert (summarize["hits"], summarize["misses"], summarize["failed"]) == (calls, 5 - calls, 0)


def invented_numbers(body: dict[str, Any]) -> str:
    """A summary claiming a result the paper never states, however often it is asked."""
    summary = default_summary(request_title(body))
    summary["summary"][1] = "It cuts latency by 37.5% against every baseline."
    return json.dumps(summary)


def test_unsupported_numbers_get_one_repair_then_are_flagged(tmp_path: Path, papers: Path):
    one = tmp_path / "one"
    one.mkdir()
    (one / "sample-toolguard.pdf").write_bytes((papers / "sample-toolguard.pdf").read_bytes())
    workspace = Workspace(tmp_path / "ws", "--source", str(one), "--date", DAY)
    with FakeOpenAI(reply_for=invented_numbers) as server:
        result = workspace.run(env=server.env())
        bodies = server.chat_bodies
    assert result.returncode == 0, result.stderr
    assert len(bodies) == 2  # the summary, then one repair request quoting the number
    assert "37.5%" in json.dumps(bodies[1]["messages"][-1])
    faithfulness = workspace.record()["faithfulness"]
    assert faithfulness["papers_flagged"] == ["sample-toolguard"]
    assert faithfulness["share_supported"] < 1.0
    assert "unverified" in workspace.report() and "37.5%" in workspace.report()
