"""What a run says it cost, through the real CLI against a local OpenAI-compatible server: tokens
and dollars per stage in the final table and run.json, each paper's cost in the JSON, and, for
a model without a price, that its cost is not counted (never $0 for calls nobody priced)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.replies import schema_reply
from tests.workspace import Workspace


def table_rows(stdout: str) -> dict[str, list[str]]:
    """The final stage table's rows by stage: hits, computed, failed, calls, tokens, $, seconds."""
    rows = {}
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in line.strip("│┃ ").split("│")]
        if len(cells) == 8 and cells[0] and cells[1].isdigit():
            rows[cells[0]] = cells[1:]
    return rows


def summaries(workspace: Workspace) -> dict[str, Any]:
    return json.loads((workspace.folder() / "summaries.json").read_text())


def test_a_priced_run_shows_tokens_and_dollars_per_stage_and_per_paper(workspace: Workspace):
    workspace.price("gpt-4o-mini", 0.15, 0.60)
    with FakeOpenAI(reply_for=schema_reply) as server:
        result = workspace.run("--top", "2", env=server.env())
    assert result.returncode == 0, result.stderr
    llm = workspace.record()["llm"]
    assert llm["cost_counted"] and llm["unpriced_models"] == []
    rows = table_rows(result.stdout)
    for stage, step in (("triage", "triage"), ("summarize", "summarize-reduce")):
        spent = llm["by_stage"][step]
        tokens = spent["prompt_tokens"] + spent["completion_tokens"]
        calls, shown_tokens, dollars = rows[stage][3:6]
        assert (calls, shown_tokens) == (str(spent["calls"]), f"{tokens:,}")
        assert dollars == f"{spent['cost_usd']:.4f}" and spent["cost_usd"] > 0
    # each paper read in full, with what its summary cost, in run.json and summaries.json
    papers = {p["id"]: p["usage"] for p in summaries(workspace)["papers"]}
    assert set(papers) == set(llm["by_paper"]) and len(papers) == 2
    for paper_id, usage in papers.items():
        assert usage["cost_usd"] == pytest.approx(llm["by_paper"][paper_id]["cost_usd"], abs=1e-6)
        assert usage["cost_usd"] > 0 and usage["unpriced_models"] == []
    summarize_cost = llm["by_stage"]["summarize-reduce"]["cost_usd"]
    assert sum(u["cost_usd"] for u in papers.values()) == pytest.approx(summarize_cost, abs=1e-6)
    assert "$" in result.stdout.splitlines()[-2] and "not counted" not in result.stdout


def test_a_model_without_a_price_is_not_counted_rather_than_free(workspace: Workspace):
    # a self-hosted endpoint nobody priced: OpenAI's prices do not apply to it
    with FakeOpenAI(reply_for=schema_reply) as server:
        result = workspace.run(env=server.env())
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("backend openai"))
    assert "cost not counted (no price for 'gpt-4o-mini')" in line and "$0" not in line
    assert '[llm.prices."gpt-4o-mini"]' in line
    assert table_rows(result.stdout)["summarize"][5] == "n/c"
    llm = workspace.record()["llm"]
    assert llm["cost_counted"] is False and llm["unpriced_models"] == ["gpt-4o-mini"]
    assert all(not row["cost_counted"] for row in llm["by_stage"].values())
    assert all(not row["cost_counted"] for row in llm["by_paper"].values())
    data = summaries(workspace)
    assert data["usage"]["unpriced_models"] == ["gpt-4o-mini"]
    assert all(p["usage"]["unpriced_models"] == ["gpt-4o-mini"] for p in data["papers"])
    footer = workspace.report().split("\n---\n")[-1]
    assert "cost not counted (no price for `gpt-4o-mini`)" in footer and "$0" not in footer
    html = (workspace.folder() / "summaries.html").read_text()
    assert "cost not counted (no price for <code>gpt-4o-mini</code>)" in html


def test_an_unpriced_triage_model_is_named_and_the_priced_part_still_counted(
    workspace: Workspace,
):
    workspace.price("gpt-4o-mini", 0.15, 0.60)
    with FakeOpenAI(reply_for=schema_reply) as server:
        result = workspace.run("--top", "2", "--triage-model", "nano", env=server.env())
    assert result.returncode == 0, result.stderr
    rows = table_rows(result.stdout)
    assert rows["triage"][5] == "n/c" and float(rows["summarize"][5]) > 0
    llm = workspace.record()["llm"]
    assert llm["unpriced_models"] == ["nano"] and llm["cost_usd"] > 0
    assert "plus the cost of 'nano', not counted (no price)" in result.stdout
    footer = workspace.report().split("\n---\n")[-1]
    assert "triage cost not counted (no price for `nano`)" in footer


def test_the_extractive_backend_says_it_made_no_llm_call(workspace: Workspace):
    result = workspace.run()  # no key, no endpoint: extractive
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("backend extractive"))
    assert "no LLM call this run" in line and "$" not in line
    footer = workspace.report().split("\n---\n")[-1]
    assert "this briefing made no LLM call" in footer and "$" not in footer
