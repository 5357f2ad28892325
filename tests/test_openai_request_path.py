"""What a completion costs the client's thread, and that the shortcuts taken for it send and retry
exactly as the SDK's own path and tenacity would: the real `openai` client against the local
fake server, over either transport."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import httpx2
import pydantic_core
import pytest

from pipeline.llm.openai_backend import _without_telemetry
from tests.fakes.openai_server import FakeOpenAI
from tests.test_openai_backend import ask, finding_reply, run
from tests.test_openai_transport import TRANSPORTS, backend_for


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_completion_is_sent_as_the_sdks_post_would_send_it(transport: str) -> None:
    # The backend hands the SDK's `request` options it made once per client, not `post`'s: if
    # the SDK's `post` ever sends something more or else, the two requests differ.
    with FakeOpenAI(reply_for=finding_reply) as server:
        backend = backend_for(server.base_url, transport)

        async def both_ways() -> None:
            await ask(backend)
            client = backend.client("test")
            await client.post(
                str(client.base_url.join("chat/completions")),
                cast_to=httpx2.Response,
                content=pydantic_core.to_json(server.requests[0].body),
                options={"headers": _without_telemetry()},
            )

        run(backend, both_ways())
        ours, posted = server.requests

    assert ours.headers == posted.headers
    assert (ours.method, ours.path, ours.body) == (posted.method, posted.path, posted.body)


@contextmanager
def modules_entered() -> Iterator[set[str]]:
    """The modules of every Python function this thread enters while inside."""
    entered: set[str] = set()

    def seen(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            entered.add(frame.f_globals.get("__name__", ""))

    sys.setprofile(seen)
    try:
        yield entered
    finally:
        sys.setprofile(None)


def test_a_call_that_succeeds_at_once_never_enters_tenacity() -> None:
    # tenacity's machinery (~0.06 ms a call) is for failures; most calls have none.
    with FakeOpenAI(reply_for=finding_reply) as server:
        backend = backend_for(server.base_url, "auto", max_retries=3)

        async def measured() -> set[str]:
            await ask(backend)  # the client and its connection are made on the first call
            with modules_entered() as entered:
                await ask(backend)
            return entered

        entered = run(backend, measured())

    assert "pipeline.llm.openai_backend" in entered
    assert not {name for name in entered if name.startswith("tenacity")}


def test_a_first_failure_is_retried_counted_and_shown_as_tenacity_would() -> None:
    # The first attempt runs outside tenacity; after a retryable failure tenacity takes over,
    # replaying that failure as its own attempt 1: same waits, same numbers, same bound.
    with FakeOpenAI(reply_for=finding_reply) as server:
        server.script([{"status": 503}, {"status": 502}])
        notices: list[str] = []
        backend = backend_for(server.base_url, "auto", max_retries=2, on_notice=notices.append)

        answered = run(backend, ask(backend))

        assert server.chat_statuses == [503, 502, 200]
    assert answered.value.confidence == 7
    assert notices == ["LLM gpt-test: retry 1/2 (HTTP 503)", "LLM gpt-test: retry 2/2 (HTTP 502)"]
