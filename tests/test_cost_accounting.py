"""Cost you can trust, in the corners: a paper that fails after it spent still has its row in
run.json's per-paper costs, and a server that omits `usage` is counted by our own estimate.
The real openai client against the fake server, in-process."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from pipeline.llm.base import Price
from pipeline.models import Usage
from pipeline.observer import QuietObserver
from pipeline.runlog import RunLog
from tests.fakes.openai_server import FakeOpenAI, request_title
from tests.fakes.replies import reply_kind, schema_reply
from tests.project import Project
from tests.test_cli_cost import table_rows
from tests.workspace import Workspace

PRICE = Price(input=0.15, output=0.60)
FAILING = "ToolGuard"  # the sample paper whose summary never validates


@pytest.fixture
def project(tmp_path: Path, papers: Path) -> Project:
    return Project(tmp_path / "project", papers)


def openai_flags(server: FakeOpenAI, **more: Any) -> dict[str, Any]:
    return {
        "llm.base_url": server.base_url,
        "llm.api_key": "test-key",
        "llm.prices": {"gpt-4o-mini": PRICE.model_dump()},
        **more,
    }


def summary_never_valid(title: str) -> Callable[[dict[str, Any]], str]:
    """Notes are fine; the summary of the paper named `title` is never JSON."""

    def reply(body: dict[str, Any]) -> str:
        if reply_kind(body) == "PaperSummary" and title in request_title(body):
            return "not json"
        return schema_reply(body)

    return reply


def test_a_paper_that_failed_after_spending_has_its_cost_row(project: Project):
    # map-reduce: the notes are paid for, then the reduce's three tries are never valid
    more = {"reading.single_call_budget": 500}
    with FakeOpenAI(reply_for=summary_never_valid(FAILING)) as server:
        record = project.run(scripted=False, **openai_flags(server, **more))
    (failed,) = record.failed
    assert failed.stage == "summarize" and "no valid PaperSummary" in failed.error
    row = record.llm.by_paper[failed.id]
    assert row["calls"] > 3 and row["cost_usd"] > 0  # its notes, then three summaries
    assert row["failed_stage"] == "summarize" and row["error"] == failed.error
    # every paper's row adds up to what the summarize steps cost the run
    steps = [u for step, u in record.llm.by_stage.items() if step.startswith("summarize")]
    assert sum(r["calls"] for r in record.llm.by_paper.values()) == sum(u["calls"] for u in steps)
    spent = sum(r["cost_usd"] for r in record.llm.by_paper.values())
    assert spent == pytest.approx(sum(u["cost_usd"] for u in steps), abs=1e-6)


def test_a_server_that_omits_usage_is_counted_by_our_estimate(workspace: Workspace):
    workspace.price("gpt-4o-mini", PRICE.input, PRICE.output)
    with FakeOpenAI(reply_for=schema_reply, omit_usage=True) as server:
        result = workspace.run(env=server.env())
        bodies = server.chat_bodies
    assert result.returncode == 0, result.stderr
    llm = workspace.record()["llm"]
    assert llm["estimated_models"] == ["gpt-4o-mini"] and llm["calls"] == len(bodies)
    # our tokenizer's count of what was sent: about a quarter of the characters, never 0
    chars = sum(len(m["content"]) for b in bodies for m in b["messages"])
    assert chars / 6 < llm["prompt_tokens"] < chars / 2 and llm["completion_tokens"] > 0
    cost = PRICE.cost(llm["prompt_tokens"], llm["completion_tokens"])
    assert llm["cost_usd"] == pytest.approx(cost, abs=1e-6)
    assert all(row["estimated_models"] == ["gpt-4o-mini"] for row in llm["by_paper"].values())
    said = "(estimated for 'gpt-4o-mini': the server reported no usage)"
    line = next(x for x in result.stdout.splitlines() if x.startswith("backend openai"))
    assert f"${llm['cost_usd']:.4f} {said}" in line
    assert table_rows(result.stdout)["summarize"][5].startswith("~")
    footer = workspace.report().split("\n---\n")[-1]
    assert "(estimated for `gpt-4o-mini`: the server reported no usage)" in footer


def test_the_cost_cap_holds_against_a_server_that_never_reports_usage(workspace: Workspace):
    # one call at a time; each costs about $0.0006 by our count and is reserved at about $0.001
    workspace.price("gpt-4o-mini", PRICE.input, PRICE.output)
    cap = 0.0025
    with FakeOpenAI(reply_for=schema_reply, omit_usage=True) as server:
        result = workspace.run("--max-cost", str(cap), "--concurrency", "1", env=server.env())
        calls = len(server.chat_bodies)
    assert result.returncode == 1  # some papers were not summarized
    record = workspace.record()
    assert 0 < calls < 5 and record["llm"]["calls"] == calls
    assert 0 < record["llm"]["cost_usd"] <= cap
    assert all("would cost up to $" in f["error"] for f in record["failed"])


class SpendShown(QuietObserver):
    def __init__(self) -> None:
        self.shown: list[tuple[int, float, list[str], list[str]]] = []

    def spent(
        self,
        tokens: int,
        cost_usd: float,
        unpriced: Sequence[str] = (),
        estimated: Sequence[str] = (),
    ) -> None:
        self.shown.append((tokens, cost_usd, list(unpriced), list(estimated)))


def test_the_spend_shown_as_calls_are_paid_is_the_runs_usage_so_far() -> None:
    # The display's total is kept as calls are paid, not re-added from the stages each call.
    observer = SpendShown()
    log = RunLog(observer)
    priced = Usage(calls=1, prompt_tokens=900, completion_tokens=100, cost_usd=0.00015)
    local = Usage(calls=1, prompt_tokens=50, completion_tokens=5, unpriced_models=["llama"])
    guessed = Usage(calls=1, prompt_tokens=7, completion_tokens=3, estimated_models=["vllm-x"])

    for step, usage in [("triage", priced), ("summarize", local), ("summarize", guessed)]:
        log.meter(step, usage)
        total = log.usage.total()
        tokens = total.prompt_tokens + total.completion_tokens
        expected = (tokens, total.cost_usd, total.unpriced_models, total.estimated_models)
        assert observer.shown[-1] == expected

    assert observer.shown[-1] == (1065, 0.00015, ["llama"], ["vllm-x"])
