"""A batch's output or error file with a bad line (not JSON, cut off, no custom_id, a list, a
request never asked, a 200 whose body is an error) fails only the request it was for, with a
reason; every other reply was paid for and is kept, and no run pays for it again. The real
openai client against the fake server's Batch API, whose `spoil` damages a batch's files."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import LLMError
from pipeline.llm.batch import MemoryBatches
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.replies import reply_kind, schema_reply
from tests.project import Project
from tests.test_batch import batch_client, batch_flags, batch_inputs, notes_call


@pytest.fixture
def project(tmp_path: Path, papers: Path) -> Project:
    return Project(tmp_path / "project", papers)


def appended(line: bytes) -> Callable[[bytes], bytes]:
    return lambda data: data + line + b"\n"


def cut_off(data: bytes) -> bytes:
    return data[:-40]  # the last line loses its end, as a dropped download's would


def first_line_is(change: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[bytes], bytes]:
    def spoil(data: bytes) -> bytes:
        first, rest = data.split(b"\n", 1)
        return json.dumps(change(json.loads(first))).encode() + b"\n" + rest

    return spoil


def someone_elses(line: dict[str, Any]) -> dict[str, Any]:
    return {**line, "custom_id": "someone-else-0"}


def an_error_body(line: dict[str, Any]) -> dict[str, Any]:
    body = {"error": {"message": "The server is overloaded.\nTry again.", "code": "overloaded"}}
    return {**line, "response": {**line["response"], "body": body}}


def foreign_line(data: bytes) -> bytes:
    return data + json.dumps(someone_elses(json.loads(data.split(b"\n", 1)[0]))).encode() + b"\n"


# (how the summaries' batch output is damaged, how many of its requests it fails)
SPOILED = [
    pytest.param(appended(b"<html>502 Bad Gateway</html>"), 0, id="not-json"),
    pytest.param(appended(b"[1, 2, 3]"), 0, id="a-list"),
    pytest.param(appended(b'{"id": "x", "response": {"status_code": 200}}'), 0, id="no-id"),
    pytest.param(appended(b'{"custom_id": ["a"], "response": null}'), 0, id="id-not-a-string"),
    pytest.param(appended(b"[" * 100_000), 0, id="deep-nesting"),
    pytest.param(foreign_line, 0, id="unknown-id"),
    pytest.param(cut_off, 1, id="truncated"),
    pytest.param(first_line_is(someone_elses), 1, id="replaced-by-unknown-id"),
    pytest.param(first_line_is(an_error_body), 1, id="error-body"),
]


@pytest.mark.parametrize(("spoil", "damaged"), SPOILED)
def test_a_bad_output_line_fails_only_its_request_and_every_paid_reply_is_kept(
    project: Project, spoil: Callable[[bytes], bytes], damaged: int
):
    with FakeOpenAI(reply_for=schema_reply) as server:
        server.batches.spoil["batch_2"] = {"output": spoil}  # the summaries' batch (after triage)
        record = project.run(scripted=False, **batch_flags(server))
        rounds = batch_inputs(server)
    summaries = rounds[1]
    assert {reply_kind(line["body"]) for line in summaries} == {"PaperSummary"}
    assert len(summaries) == 2
    follow_ups = [line["body"] for r in rounds[2:] for line in r]
    # only a request whose line was lost is asked again; the other reply was kept
    assert len(follow_ups) == damaged
    assert all(body in [line["body"] for line in summaries] for body in follow_ups)
    assert record.failed == [] and server.chat_bodies == []
    assert project.report().count("**Key insight") >= 2


def test_a_bad_error_file_line_fails_nothing_else(project: Project):
    with FakeOpenAI(reply_for=schema_reply) as server:
        server.script([{}, {"status": 500}])  # the summaries' first request: an error line
        server.batches.spoil["batch_2"] = {"error": appended(b"\x00garbage")}
        record = project.run(scripted=False, **batch_flags(server))
        rounds = batch_inputs(server)
    assert len(rounds[1]) == 2 and len(rounds[2]) == 1  # only the 500 is asked again
    assert record.failed == []


def test_a_request_whose_line_is_lost_fails_alone_and_the_next_run_asks_only_for_it():
    # No follow-up rounds: the lost line's request fails with the reason, the other is answered;
    # a run started again sends only the failed one, the kept reply served from the store.
    store = MemoryBatches()
    with FakeOpenAI(reply_for=schema_reply) as server:
        server.batches.spoil["batch_1"] = {"output": cut_off}

        async def both() -> list[Any]:
            llm = batch_client(server, store)
            calls = [notes_call(llm, "A"), notes_call(llm, "B")]
            try:
                return await asyncio.gather(*calls, return_exceptions=True)
            finally:
                await llm.aclose()

        first = asyncio.run(both())
        (failure,) = [r for r in first if isinstance(r, Exception)]
        assert isinstance(failure, LLMError)
        assert "no readable result in batch batch_1" in str(failure)
        assert "output file line 2: not JSON" in str(failure) and "\n" not in str(failure)
        assert server.batches.answered == 2

        second = asyncio.run(both())
        assert not any(isinstance(r, Exception) for r in second)
        (resent,) = batch_inputs(server)[1]
        assert resent["body"] == batch_inputs(server)[0][-1]["body"]  # the cut-off line's
        assert server.batches.answered == 3  # the kept reply was not paid for twice

        assert not any(isinstance(r, Exception) for r in asyncio.run(both()))
        assert server.batches.answered == 3 and len(server.batches.created) == 2


def test_a_stored_result_that_is_no_chat_completion_fails_its_request_with_a_reason():
    # a result stored before lines were checked, or a cache edited by hand
    from pipeline.llm.batch import ItemResult

    store = MemoryBatches()
    with FakeOpenAI(reply_for=schema_reply) as server:
        assert asyncio.run(notes_call(batch_client(server, store), "A")).notes
        ((key, record),) = store.items()
        bad = {cid: ItemResult(body={"choices": "not a list"}) for cid in record.results or {}}
        store.put(key, record.model_copy(update={"results": bad}))
        with pytest.raises(LLMError, match=r"batch reply is not a chat completion \(.+\)$"):
            asyncio.run(notes_call(batch_client(server, store), "A"))
