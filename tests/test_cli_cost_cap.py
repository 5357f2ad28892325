"""`--max-cost` as a user meets it: a cap below one call's estimate starts no call, and a cap
on a model without a price is refused before the run instead of silently counting $0."""

from __future__ import annotations

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
