"""`llm.triage_model`: triage runs on a cheaper model of the same endpoint, priced at its rate,
and changing it recomputes triage only. In-process, with the real openai client against a local
OpenAI-compatible server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.llm.backends import backend_for
from pipeline.llm.base import Price
from pipeline.settings import load_settings
from pipeline.tools import Tools
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.replies import reply_kind, schema_reply
from tests.project import Project
from tests.workspace import Workspace

MAIN = Price(input=0.15, output=0.60)
CHEAP = Price(input=0.02, output=0.08)


def flags(server: FakeOpenAI, triage_model: str | None) -> dict[str, Any]:
    prices = {"gpt-4o-mini": MAIN.model_dump(), "nano": CHEAP.model_dump()}
    prices["nano-2"] = CHEAP.model_dump()
    return {
        "llm.base_url": server.base_url,
        "llm.api_key": "test-key",
        "llm.prices": prices,
        "llm.triage_model": triage_model,
        "reading.top": 2,
    }


def models_by_kind(bodies: list[dict[str, Any]]) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = {}
    for body in bodies:
        seen.setdefault(reply_kind(body), set()).add(body["model"])
    return seen


@pytest.fixture
def project(tmp_path: Path, papers: Path) -> Project:
    return Project(tmp_path / "project", papers)


def test_triage_runs_on_the_triage_model_and_is_priced_at_its_rate(project: Project):
    with FakeOpenAI(reply_for=schema_reply) as server:
        project.run(scripted=False, **flags(server, "nano"))
        bodies = server.chat_bodies
    assert models_by_kind(bodies) == {"TriageReply": {"nano"}, "PaperSummary": {"gpt-4o-mini"}}
    record = json.loads((project.folder() / "run.json").read_text())
    triage = record["llm"]["by_stage"]["triage"]
    assert triage["calls"] == 1 and triage["prompt_tokens"] > 0
    cheap = CHEAP.cost(triage["prompt_tokens"], triage["completion_tokens"])
    assert triage["cost_usd"] == pytest.approx(cheap, abs=1e-6)
    assert triage["cost_usd"] < MAIN.cost(triage["prompt_tokens"], triage["completion_tokens"])
    summaries = [row for stage, row in record["llm"]["by_stage"].items() if stage != "triage"]
    for row in summaries:  # the summaries stay at the run's model's price
        expected = MAIN.cost(row["prompt_tokens"], row["completion_tokens"])
        assert row["cost_usd"] == pytest.approx(expected, abs=1e-6)


def test_another_triage_model_recomputes_triage_only(project: Project):
    with FakeOpenAI(reply_for=schema_reply) as server:
        project.run(scripted=False, **flags(server, None))
        first = server.chat_bodies
        record = project.run(scripted=False, **flags(server, "nano-2"))
        second = server.chat_bodies[len(first) :]
    assert models_by_kind(first) == {
        "TriageReply": {"gpt-4o-mini"},
        "PaperSummary": {"gpt-4o-mini"},
    }
    assert models_by_kind(second) == {"TriageReply": {"nano-2"}}  # summaries come from the cache
    assert record.stages["triage"].misses == 1
    assert record.stages["summarize"].misses == 0 and record.stages["summarize"].hits == 2


def test_the_triage_key_follows_the_triage_model_and_the_summary_key_does_not(tmp_path: Path):
    def identities(triage_model: str | None) -> tuple[Any, Any]:
        env = {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
        settings = load_settings(env=env, flags={"llm.triage_model": triage_model})
        backend = backend_for(settings.llm)
        assert backend._client is None  # identities connect nothing
        return backend.triage_identity(), backend.identity()

    default_triage, default_summary = identities(None)
    nano_triage, nano_summary = identities("nano")
    assert default_triage == default_summary and default_triage.model == "gpt-4o-mini"
    assert nano_triage.model == "nano" and nano_summary == default_summary
    assert nano_triage.fingerprint == default_triage.fingerprint  # same endpoint


def test_tools_hand_triage_its_own_identity(tmp_path: Path):
    from pipeline.cache import Cache
    from pipeline.runlog import RunLog

    env = {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    settings = load_settings(env=env, flags={"llm.triage_model": "nano"})
    tools = Tools(settings, Cache(tmp_path / "cache"), RunLog())
    assert tools.identity("triager").model == "nano"
    assert tools.identity("summarizer").model == "gpt-4o-mini"
    triager = tools.get("triager")
    assert triager.llm.model == "nano" and tools.get("summarizer").llm.model == "gpt-4o-mini"


def test_a_triage_model_needs_an_openai_compatible_endpoint(tmp_path: Path):
    from pipeline.errors import SettingsError

    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF" + bytes(60))
    with pytest.raises(SettingsError, match="triage_model"):
        load_settings(env={"PAPERBRIEF_MODEL_PATH": str(gguf)}, flags={"llm.triage_model": "x"})


def test_the_triage_model_flag_sends_triage_to_that_model(workspace: Workspace):
    # the real CLI in a subprocess: five papers, two read in full, so triage runs
    with FakeOpenAI(reply_for=schema_reply) as server:
        result = workspace.run("--top", "2", "--triage-model", "nano", env=server.env())
        bodies = server.chat_bodies
    assert result.returncode == 0, result.stderr
    assert models_by_kind(bodies) == {"TriageReply": {"nano"}, "PaperSummary": {"gpt-4o-mini"}}
