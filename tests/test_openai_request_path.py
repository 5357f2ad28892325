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
import openai
import pydantic_core
import pytest

from pipeline.llm.openai_backend import _completion_options, _without_telemetry
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


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_request_built_from_the_last_one_is_the_one_the_sdk_builds(transport: str) -> None:
    # The client reuses the last request's URL and headers for the next body: if the SDK ever
    # builds a request from more than its options, key and retry count, the two differ here.
    backend = backend_for("http://127.0.0.1:9/v1", transport)

    async def built() -> tuple[httpx2.Request, httpx2.Request]:
        client = backend.client("test")
        options = _completion_options(client)
        first = options.model_copy(update={"content": b'{"model":"gpt-test"}'})
        client._build_request(first)
        last = client._last
        second = options.model_copy(update={"content": b'{"model":"gpt-test","n":2}'})
        reused = client._build_request(second)
        assert client._last is last  # built from the last one, not by the SDK again
        return reused, openai.AsyncOpenAI._build_request(client, second)

    reused, by_the_sdk = run(backend, built())

    assert (reused.method, reused.url) == (by_the_sdk.method, by_the_sdk.url)
    assert reused.headers.multi_items() == by_the_sdk.headers.multi_items()
    assert (reused.content, reused.extensions) == (by_the_sdk.content, by_the_sdk.extensions)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_cookie_the_server_sets_goes_with_the_next_request(transport: str) -> None:
    with FakeOpenAI(reply_for=finding_reply) as server:
        server.script([{"headers": {"Set-Cookie": "affinity=a1; Path=/"}}])
        backend = backend_for(server.base_url, transport)

        async def twice() -> None:
            await ask(backend)
            await ask(backend)

        run(backend, twice())
        first, second = server.requests

    assert "cookie" not in first.headers
    assert second.headers["cookie"] == "affinity=a1"


@contextmanager
def functions_entered() -> Iterator[set[tuple[str, str]]]:
    """The module and name of every Python function this thread enters while inside."""
    entered: set[tuple[str, str]] = set()

    def seen(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            entered.add((frame.f_globals.get("__name__", ""), frame.f_code.co_name))

    sys.setprofile(seen)
    try:
        yield entered
    finally:
        sys.setprofile(None)


def test_a_call_that_succeeds_at_once_skips_tenacity_and_the_sdks_request_building() -> None:
    # tenacity's machinery (~0.06 ms a call) is for failures, which most calls never meet; the
    # SDK builds a request like the last one from scratch (~0.19 ms).
    with FakeOpenAI(reply_for=finding_reply) as server:
        backend = backend_for(server.base_url, "auto", max_retries=3)

        async def measured() -> set[tuple[str, str]]:
            await ask(backend)  # the client, its connection and its first request are made
            with functions_entered() as entered:
                await ask(backend)
            return entered

        entered = run(backend, measured())

    modules = {module for module, _ in entered}
    assert {"pipeline.llm.openai_backend", "openai._base_client"} <= modules
    assert not {module for module in modules if module.startswith("tenacity")}
    assert ("openai._base_client", "_build_headers") not in entered


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


def test_a_client_setting_changed_after_a_request_reaches_the_next_one() -> None:
    backend = backend_for("http://127.0.0.1:9/v1", "httpx")

    async def built() -> httpx2.Request:
        client = backend.client("test")
        options = _completion_options(client)
        client._build_request(options.model_copy(update={"content": b"{}"}))
        client.organization = "org-later"
        return client._build_request(options.model_copy(update={"content": b"{}"}))

    assert run(backend, built()).headers.get("OpenAI-Organization") == "org-later"
