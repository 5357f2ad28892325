"""`--max-cost` as a user meets it: a cap below one call's estimate starts no call, papers in
flight together pass the cap by no more than one call's estimate error, and a cap on a model
without a price is refused before the run instead of silently counting $0."""

from __future__ import annotations

from pipeline.llm.base import Price, reply_room
from pipeline.llm.limiter import estimate_tokens
from pipeline.models import PaperSummary
from pipeline.prompts import load_prompt
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.replies import schema_reply
from tests.workspace import Workspace


def test_a_cap_below_one_calls_estimate_starts_no_call(workspace: Workspace):
    # the case: a cap of $0.0001 spent $0.00095 on a call estimated above it
    workspace.price("gpt-4o-mini", 0.15, 0.60)
    with FakeOpenAI(reply_for=schema_reply) as server:
        result = workspace.run("--max-cost", "0.0001", env=server.env())
        calls = len(server.chat_bodies)
    assert result.returncode == 1
    assert calls == 0
    record = workspace.record()
    assert record["llm"]["cost_usd"] == 0
    assert len(record["failed"]) == 5
    assert all("would cost up to $" in f["error"] for f in record["failed"])


def test_a_cap_on_an_unpriced_model_is_a_usage_error_naming_the_setting(workspace: Workspace):
    with FakeOpenAI(reply_for=schema_reply) as server:  # self-hosted: no built-in price applies
        result = workspace.run("--max-cost", "1", env=server.env())
        calls = len(server.chat_bodies)
    assert result.returncode == 2
    assert calls == 0 and not workspace.out.exists()
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "'gpt-4o-mini' has no price" in lines[0]
    assert '[llm.prices."gpt-4o-mini"]' in lines[0] and "paperbrief.toml" in lines[0]


def test_an_unpriced_triage_model_is_named_too(workspace: Workspace):
    workspace.price("gpt-4o-mini", 0.15, 0.60)
    env = {"PAPERBRIEF_LLM__TRIAGE_MODEL": "tiny-triage"}
    with FakeOpenAI(reply_for=schema_reply) as server:
        result = workspace.run("--max-cost", "1", env={**server.env(), **env})
    assert result.returncode == 2
    assert '[llm.prices."tiny-triage"]' in result.stderr


def test_without_a_cap_an_unpriced_model_still_runs(workspace: Workspace):
    with FakeOpenAI(reply_for=schema_reply) as server:
        result = workspace.run(env=server.env())
    assert result.returncode == 0, result.stderr


def test_papers_in_flight_together_pass_the_cap_by_no_more_than_one_calls_estimate_error(
    workspace: Workspace,
):
    # Five papers start at once (concurrency 5, replies take 0.3 s). Each reply fills its
    # max_tokens and the server counts more prompt tokens than the budget's estimate from
    # characters: each call costs a little more than it was reserved at. The cap leaves room
    # for two calls' estimates; were calls in flight not reserved, all five would start.
    price = Price(input=0.15, output=0.60)
    workspace.price("gpt-4o-mini", price.input, price.output)
    # a reply fills the room it is given (sized to the reply, at most the prompt's ceiling)
    max_tokens = reply_room(PaperSummary, load_prompt(workspace.prompts, "summarize").max_tokens)
    used = {"prompt_tokens": 4000, "completion_tokens": max_tokens}
    cap = 0.004
    with FakeOpenAI(reply_for=schema_reply, latency=0.3) as server:
        server.script([used] * 5)
        result = workspace.run("--max-cost", str(cap), "--concurrency", "5", env=server.env())
        bodies = server.chat_bodies
    assert result.returncode == 1  # some papers were not summarized
    record = workspace.record()
    assert 2 <= len(bodies) < 5 and record["llm"]["calls"] == len(bodies)
    estimates = [
        price.cost(
            estimate_tokens(sum(len(m["content"]) for m in b["messages"]), 0, len(b["messages"])),
            b["max_tokens"],
        )
        for b in bodies
    ]
    actual = price.cost(used["prompt_tokens"], used["completion_tokens"])
    error = max(actual - estimate for estimate in estimates)
    assert error > 0  # the estimates were short: the bound below is not the cap itself
    assert record["llm"]["cost_usd"] <= cap + error
