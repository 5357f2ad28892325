"""`run --batch`: triage and summaries go through the OpenAI Batch API at half price, failed items
go to a follow-up batch (or, with --batch-fallback, to a direct call), and a stopped run resumes
its batch without paying twice. The real openai client against the fake server's Batch API."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import SettingsError
from pipeline.llm.backends import backend_for
from pipeline.llm.base import Message, Price
from pipeline.models import PaperSummary
from pipeline.settings import load_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.replies import reply_kind, schema_reply
from tests.project import Project
from tests.workspace import Workspace

PRICE = Price(input=0.15, output=0.60)
FAST = {"llm.batch_poll": 0.01, "llm.batch_gather": 0.05}
FAST_ENV = {"PAPERBRIEF_LLM__BATCH_POLL": "0.01", "PAPERBRIEF_LLM__BATCH_GATHER": "0.1"}


@pytest.fixture
def project(tmp_path: Path, papers: Path) -> Project:
    return Project(tmp_path / "project", papers)


def batch_flags(server: FakeOpenAI, **more: Any) -> dict[str, Any]:
    return {
        "llm.base_url": server.base_url,
        "llm.api_key": "test-key",
        "llm.prices": {"gpt-4o-mini": PRICE.model_dump()},
        "llm.batch": True,
        "reading.top": 2,  # five papers: triage chooses, so it runs too
        **FAST,
        **more,
    }


def batch_inputs(server: FakeOpenAI) -> list[list[dict[str, Any]]]:
    """Each created batch's request lines, in order of creation."""
    api = server.batches
    files = [api.batches[batch_id]["input_file_id"] for batch_id in api.created]
    return [[json.loads(line) for line in api.content(f).decode().splitlines()] for f in files]


def half_price(row: dict[str, Any]) -> float:
    return PRICE.cost(row["prompt_tokens"], row["completion_tokens"]) / 2


def test_a_batch_day_goes_round_by_round_at_half_price(project: Project):
    # map-reduce for both papers, and one call in flight would allow one paper at a time
    more = {"reading.single_call_budget": 500, "llm.concurrency": 1}
    with FakeOpenAI(reply_for=schema_reply) as server:
        record = project.run(scripted=False, **batch_flags(server, **more))
        direct, rounds = server.chat_bodies, batch_inputs(server)
    assert direct == []  # every request went through a batch
    kinds = [{reply_kind(line["body"]) for line in requests} for requests in rounds]
    # triage, then every map request of the day, then every reduce request
    assert kinds == [{"TriageReply"}, {"ChunkNotes"}, {"PaperSummary"}]
    assert len(rounds[2]) == 2
    assert all(line["url"] == "/v1/chat/completions" for r in rounds for line in r)
    assert record.failed == [] and project.report().count("**Key insight") >= 2
    llm = record.llm
    assert llm.calls == sum(len(r) for r in rounds)
    assert llm.cost_usd == pytest.approx(half_price(llm.model_dump()), rel=1e-3)
    triage = llm.by_stage["triage"]
    assert triage["cost_usd"] == pytest.approx(half_price(triage), abs=1e-6)


def test_batch_replies_without_usage_are_counted_by_our_estimate(project: Project):
    with FakeOpenAI(reply_for=schema_reply, omit_usage=True) as server:
        record = project.run(scripted=False, **batch_flags(server))
    llm = record.llm
    assert llm.estimated_models == ["gpt-4o-mini"] and llm.prompt_tokens > 0
    assert llm.cost_usd == pytest.approx(half_price(llm.model_dump()), rel=1e-3)


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param({"script": [{"status": 500}]}, id="error-file"),
        pytest.param({"expire_after": 0}, id="expired"),
    ],
)
def test_failed_items_go_to_a_follow_up_batch(project: Project, failure: dict[str, Any]):
    with FakeOpenAI(reply_for=schema_reply) as server:
        server.script(failure.get("script", []))
        server.batches.expire_after = failure.get("expire_after")
        record = project.run(scripted=False, **batch_flags(server))
        direct, rounds = server.chat_bodies, batch_inputs(server)
    triage, follow_up = rounds[0], rounds[1]
    failed = triage if "expire_after" in failure else triage[:1]  # the first line answered 500
    assert [line["body"] for line in follow_up] == [line["body"] for line in failed]
    assert direct == [] and record.failed == []
    assert not record.llm.by_stage["triage"].get("failures")


def test_with_batch_fallback_a_failed_item_is_asked_directly(project: Project):
    with FakeOpenAI(reply_for=schema_reply) as server:
        server.script([{"status": 500}])
        record = project.run(scripted=False, **batch_flags(server, **{"llm.batch_fallback": True}))
        direct, rounds = server.chat_bodies, batch_inputs(server)
    assert direct == [rounds[0][0]["body"]]  # the failed triage request, once, directly
    assert all(reply_kind(line["body"]) != "TriageReply" for r in rounds[1:] for line in r)
    assert record.failed == []
    # the direct call is paid in full, the batch's replies at half price
    triage = record.llm.by_stage["triage"]
    assert half_price(triage) < triage["cost_usd"] < 2 * half_price(triage)


def test_an_invalid_batch_reply_is_re_asked_in_the_next_batch(project: Project):
    with FakeOpenAI(reply_for=schema_reply) as server:
        server.script([{"content": "not json"}])
        record = project.run(scripted=False, **batch_flags(server))
        rounds = batch_inputs(server)
    (reask,) = rounds[1]
    turns = reask["body"]["messages"]
    assert turns[-2] == {"role": "assistant", "content": "not json"}
    assert "was not a valid TriageReply" in turns[-1]["content"]
    assert record.failed == []


def invented_number(body: dict[str, Any]) -> str:
    """A summary claiming a number no paper states, until asked to repair it."""
    reply = json.loads(schema_reply(body))
    asked_to_repair = "were not found in the paper" in body["messages"][-1]["content"]
    if reply_kind(body) == "PaperSummary" and not asked_to_repair:
        reply["summary"][0] = "It improves accuracy by 93.17% over every baseline."
    return json.dumps(reply)


def test_unsupported_numbers_are_repaired_in_the_next_batch(project: Project):
    with FakeOpenAI(reply_for=invented_number) as server:
        record = project.run(scripted=False, **batch_flags(server))
        rounds = batch_inputs(server)
    summaries, repairs = rounds[1], rounds[2]  # after triage
    assert len(summaries) == len(repairs) == 2
    for line in repairs:
        turns = line["body"]["messages"]
        assert "93.17%" in turns[-2]["content"] and "93.17%" in turns[-1]["content"]
    assert record.failed == [] and "93.17" not in project.report()


def test_a_rerun_reads_finished_batches_from_the_cache(project: Project):
    with FakeOpenAI(reply_for=schema_reply) as server:
        project.run(scripted=False, **batch_flags(server))
        asked = len(server.requests)
        record = project.run(
            scripted=False, force=frozenset({"triage", "summarize"}), **batch_flags(server)
        )
        assert len(server.requests) == asked  # no upload, no poll, no download
    assert record.failed == [] and record.llm.calls > 0


def test_the_cost_cap_counts_batch_calls_at_half_price(tmp_path: Path):
    flags = {"llm.base_url": "http://127.0.0.1:9/v1", "llm.prices": {"m": PRICE.model_dump()}}
    flags |= {"llm.model": "m", "llm.max_cost": 1.0, "cache_dir": tmp_path}
    direct = backend_for(load_settings(env={}, flags=flags).llm).llm()
    batched = backend_for(load_settings(env={}, flags={**flags, "llm.batch": True}).llm).llm()
    assert direct.price == PRICE  # type: ignore[attr-defined]
    assert batched.price == PRICE.times(0.5)  # type: ignore[attr-defined]
    # a failed item asked directly costs the full price, so the cap reserves that
    fallback = {**flags, "llm.batch": True, "llm.batch_fallback": True}
    assert backend_for(load_settings(env={}, flags=fallback).llm).llm().price == PRICE  # type: ignore[attr-defined]


def test_batch_needs_an_openai_endpoint(tmp_path: Path):
    with pytest.raises(SettingsError, match="--batch needs the openai backend"):
        load_settings(env={}, flags={"llm.batch": True, "cache_dir": tmp_path})


# --- a stopped run, started again --------------------------------------------------------


def start(workspace: Workspace, env: dict[str, str]) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "pipeline", "run", *workspace.source_args]
    command += ["--cache-dir", str(workspace.cache), "--out", str(workspace.out), "--batch"]
    return subprocess.Popen(
        command,
        cwd=workspace.root,
        env={**workspace.env, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def polled(server: FakeOpenAI) -> list[str]:
    return [r.path for r in server.requests if r.method == "GET" and "/batches/" in r.path]


def test_a_stopped_run_resumes_its_batch_and_pays_once(workspace: Workspace):
    workspace.price("gpt-4o-mini", PRICE.input, PRICE.output)
    with FakeOpenAI(reply_for=schema_reply) as server:
        env = {**server.env(), **FAST_ENV}
        server.batches.hold = True
        first = start(workspace, env)
        deadline = time.monotonic() + 60
        while len(polled(server)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # created, recorded and polled: the run waits on the batch
        first.send_signal(signal.SIGINT)
        _, stopped = first.communicate(timeout=60)
        assert "the same command resumes this batch" in stopped
        # at once, not after the batch: its id is stored, the next run polls it
        assert first.returncode == 130
        assert "paperbrief: stopped (Ctrl-C)" in stopped
        (held,) = server.batches.created
        assert server.batches.answered == 0

        server.batches.release()
        polls_before = len(polled(server))
        result = workspace.run("--batch", env=env)
        assert result.returncode == 0, result.stderr
        assert "(Batch API, half price)" in result.stdout
        rounds = batch_inputs(server)
        assert polled(server)[polls_before] == f"/v1/batches/{held}"  # the same batch, resumed
        assert server.batches.created[0] == held
        assert server.batches.uploads == len(server.batches.created)  # one upload per batch
        sent = [line["custom_id"] for r in rounds for line in r]
        assert len(sent) == len(set(sent)) == server.batches.answered  # nothing paid twice
        assert server.chat_bodies == []
    llm = workspace.record()["llm"]
    assert llm["calls"] == server.batches.answered
    assert llm["cost_usd"] == pytest.approx(half_price(llm), rel=1e-3)


def test_a_stop_while_triage_waits_on_its_batch_ends_at_once_and_the_next_run_resumes_it(
    workspace: Workspace,
):
    with FakeOpenAI(reply_for=schema_reply) as server:
        env = {**server.env(), **FAST_ENV, "PAPERBRIEF_READING__TOP": "2"}
        server.batches.hold = True
        first = start(workspace, env)
        deadline = time.monotonic() + 60
        while len(polled(server)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # triage's batch created, recorded and polled
        asked = time.monotonic()
        first.send_signal(signal.SIGINT)
        _, stopped = first.communicate(timeout=60)
        took = time.monotonic() - asked
        (held,) = server.batches.created
        server.batches.release()
        result = workspace.run("--batch", env=env)
        created = list(server.batches.created)
    assert first.returncode == 130, stopped
    assert "paperbrief: stopped (Ctrl-C)" in stopped and "fell back" not in stopped
    assert took < 5  # not after the held batch
    assert result.returncode == 0, result.stderr
    assert created[0] == held  # triage's batch resumed, not sent again
    assert workspace.record()["read_in_full"] == 2


def test_a_batch_whose_create_reply_was_lost_is_found_not_sent_again(project: Project):
    with FakeOpenAI(reply_for=schema_reply) as server:
        server.batches.lose_create_reply = True  # created at the endpoint, the run never hears
        first = project.run(scripted=False, **batch_flags(server, **{"reading.top": 15}))
        assert len(first.failed) == 5 and server.batches.created == ["batch_1"]
        assert "run the same command again to find and resume it" in first.failed[0].error
        second = project.run(scripted=False, **batch_flags(server, **{"reading.top": 15}))
        assert server.batches.created == ["batch_1"]  # found by its metadata, polled, read
        assert server.batches.answered == 5
    assert second.failed == [] and second.llm.calls == 5


def test_a_create_answered_502_after_the_batch_was_made_is_not_sent_twice(project: Project):
    with FakeOpenAI(reply_for=schema_reply) as server:
        server.batches.create_then_502 = True
        record = project.run(scripted=False, **batch_flags(server, **{"reading.top": 15}))
        assert server.batches.created == ["batch_1"]  # the retry found it instead
        assert server.batches.answered == 5
    assert record.failed == [] and record.llm.calls == 5


def test_the_weekly_digest_is_asked_directly_in_batch_mode(tmp_path: Path):
    # one call a user waits for at the terminal: no 24-hour batch for it
    with FakeOpenAI(reply_for=schema_reply) as server:
        flags = {"llm.base_url": server.base_url, "llm.api_key": "k", "cache_dir": tmp_path}
        llm = backend_for(load_settings(env={}, flags={**flags, "llm.batch": True}).llm).llm()
        messages = [Message(role="user", content="Title: A paper")]

        async def ask(task: str) -> None:
            await llm.structured(
                messages, PaperSummary, temperature=0, max_tokens=50, task=task, on_usage=print
            )
            await llm.aclose()  # type: ignore[attr-defined]

        asyncio.run(ask("digest"))
        assert len(server.chat_bodies) == 1 and server.batches.created == []


def test_an_endpoint_without_a_batch_api_is_named_with_what_to_do(project: Project):
    with FakeOpenAI(reply_for=schema_reply) as server:
        server.batches.served = False  # as vLLM or Ollama
        record = project.run(scripted=False, **batch_flags(server, **{"reading.top": 15}))
    assert len(record.failed) == 5
    assert "has no Batch API (/files answered 404); run without --batch" in record.failed[0].error


def test_the_display_shows_a_new_status_or_a_tenth_more_done_not_every_poll():
    from openai.types import Batch

    from pipeline.llm.batch import _finished, _news

    fields = {"id": "b", "object": "batch", "endpoint": "/v1/chat/completions"}
    fields |= {"input_file_id": "f", "completion_window": "24h", "created_at": 0}
    polls = [("validating", 0), ("in_progress", 0), ("in_progress", 4), ("in_progress", 10)]
    polls += [("in_progress", 15), ("in_progress", 21), ("completed", 100)]
    shown: tuple[str, int] | None = None
    lines = []
    for status, done in polls:
        counts = {"total": 100, "completed": done, "failed": 0}
        batch = Batch.model_validate({**fields, "status": status, "request_counts": counts})
        if _news(batch, shown):
            shown = (batch.status, _finished(batch))
            lines.append(shown)
    assert lines == [
        ("validating", 0),
        ("in_progress", 0),
        ("in_progress", 10),
        ("in_progress", 21),
        ("completed", 100),
    ]


# --- rounds a stopped run did not make the same way ----------------------------------------


def notes_call(llm: Any, text: str) -> Any:
    from pipeline.models import ChunkNotes

    messages = [Message(role="user", content=f"Notes on: {text}")]
    return llm.structured(
        messages, ChunkNotes, temperature=0, max_tokens=200, task="notes", on_usage=lambda u: None
    )


def batch_client(server: FakeOpenAI, store: Any) -> Any:
    from pipeline.llm.batch import BatchLLM
    from pipeline.llm.openai_backend import OpenAIBackend

    direct = OpenAIBackend("gpt-4o-mini", api_key="test-key", base_url=server.base_url)
    return BatchLLM(direct, store, poll=0.01, gather=0.05, rounds=0)


def test_a_request_held_by_a_stopped_runs_batch_is_answered_by_it_in_another_round():
    # Run 1 sends A and B together and stops while they run; run 2, with other things cached
    # in between, asks for A alone: it must wait for run 1's batch, not pay for A again.
    from pipeline.llm.batch import MemoryBatches

    store = MemoryBatches()
    with FakeOpenAI(reply_for=schema_reply) as server:
        server.batches.hold = True

        async def stopped() -> None:
            llm = batch_client(server, store)
            both = asyncio.gather(notes_call(llm, "A"), notes_call(llm, "B"))
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(both, 1.0)

        asyncio.run(stopped())
        assert len(server.batches.created) == 1

        async def alone() -> Any:
            asyncio.get_running_loop().call_later(0.3, server.batches.release)
            return await notes_call(batch_client(server, store), "A")

        assert asyncio.run(alone()).notes
        assert len(server.batches.created) == 1  # no second batch for A


def test_a_failed_batch_is_not_served_from_the_cache_to_the_next_run():
    # "run again later" must work: a round that expired is sent again, under a new key.
    from pipeline.errors import LLMError
    from pipeline.llm.batch import MemoryBatches

    store = MemoryBatches()
    with FakeOpenAI(reply_for=schema_reply) as server:
        server.batches.expire_after = 0
        with pytest.raises(LLMError, match="expired"):
            asyncio.run(notes_call(batch_client(server, store), "A"))
        assert asyncio.run(notes_call(batch_client(server, store), "A")).notes
        assert len(server.batches.created) == 2
        # and a third run reads the answer from the store
        assert asyncio.run(notes_call(batch_client(server, store), "A")).notes
        assert len(server.batches.created) == 2
