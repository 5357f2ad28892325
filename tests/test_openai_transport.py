"""The openai backend over either HTTP transport the SDK offers: its default httpx2 stack, or
its aiohttp client (`openai[aiohttp]`, used when installed). Every reply and every failure on
the wire must read the same whichever transport carried it: the real `openai` client against
the local fake server."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import openai
import pytest

from pipeline.errors import LLMError, ReplyTooLongError
from pipeline.llm.limiter import RateLimiter
from pipeline.llm.openai_backend import OpenAIBackend
from pipeline.models import Usage
from tests.fakes.http import Storm, free_port
from tests.fakes.openai_server import FakeOpenAI
from tests.test_openai_backend import ask_once, finding_reply, run

AIOHTTP = importlib.util.find_spec("aiohttp") is not None
needs_aiohttp = pytest.mark.skipif(not AIOHTTP, reason="aiohttp not installed (openai[aiohttp])")
TRANSPORTS = ["httpx", pytest.param("aiohttp", marks=needs_aiohttp)]


def backend_for(url: str, transport: str, **options: Any) -> OpenAIBackend:
    options = {"api_key": "test-key", "max_retries": 1, "timeout": 5.0, "backoff": 0, **options}
    return OpenAIBackend("gpt-test", base_url=url, transport=transport, **options)  # type: ignore[arg-type]


def http_client_of(backend: OpenAIBackend) -> Any:
    async def made() -> Any:
        try:
            return backend.client("test")._client  # the SDK's HTTP client
        finally:
            await backend.aclose()

    return run(backend, made())


@needs_aiohttp
def test_the_aiohttp_transport_is_used_when_installed() -> None:
    backend = OpenAIBackend("gpt-test", api_key="k", base_url="http://127.0.0.1:9/v1")

    assert isinstance(http_client_of(backend), openai.DefaultAioHttpClient)


def test_a_base_url_with_credentials_goes_over_httpx_as_basic_auth() -> None:
    # aiohttp refuses a URL with credentials beside an Authorization header
    with FakeOpenAI(reply_for=finding_reply) as server:
        url = server.base_url.replace("http://", "http://me:s3cret@")
        backend = backend_for(url, "auto")

        assert ask_once(backend).value.confidence == 7
        assert server.requests[0].headers["authorization"].startswith("Basic ")
    assert not isinstance(http_client_of(backend_for(url, "auto")), openai.DefaultAioHttpClient)


WITHOUT_AIOHTTP = """
import sys
sys.modules["aiohttp"] = None  # as on a machine without it: importing it fails
from pipeline.errors import LLMError
from tests.test_openai_backend import ask_once
from tests.test_openai_transport import backend_for, http_client_of

print("auto:", type(http_client_of(backend_for("http://127.0.0.1:9/v1", "auto"))).__name__)
try:
    ask_once(backend_for("http://127.0.0.1:9/v1", "aiohttp"))
except LLMError as exc:
    print("aiohttp:", exc)
"""


def test_without_aiohttp_auto_keeps_httpx_and_asking_for_it_says_what_to_install() -> None:
    # A subprocess, so that the SDK is imported as on a machine without aiohttp.
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_AIOHTTP],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parent.parent,
    )

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "auto: AsyncHttpxClientWrapper"  # the SDK's default: httpx2
    assert lines[1].startswith("aiohttp: ")
    assert "pip install 'openai[aiohttp]'" in lines[1]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_reply_its_usage_and_the_limit_headers_arrive(transport: str) -> None:
    with FakeOpenAI(reply_for=finding_reply, rpm=50, window=60.0) as server:
        server.script([{"prompt_tokens": 900, "completion_tokens": 40, "cached_tokens": 512}])
        limiter = RateLimiter(window=60.0)  # told nothing: the headers teach it
        backend = backend_for(server.base_url, transport, limiter=limiter)

        reply = ask_once(backend)
        [request] = server.requests

    assert (reply.value.confidence, reply.usage.calls) == (7, 1)
    assert not {name for name in request.headers if name.startswith("x-stainless-")} - {
        "x-stainless-retry-count",  # the SDK's own retries: none, ours are counted apart
        "x-stainless-read-timeout",
    }, "the SDK's telemetry headers (OS, architecture, Python) are left out"
    assert (reply.usage.prompt_tokens, reply.usage.cached_tokens) == (900, 512)
    assert limiter.budget.requests.limit == 50


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_429_pauses_for_retry_after_then_retries(transport: str) -> None:
    with FakeOpenAI(reply_for=finding_reply) as server:
        server.script([{"status": 429, "retry_after": 0.3}])
        started = time.monotonic()

        ask_once(backend_for(server.base_url, transport))

        assert time.monotonic() - started >= 0.3
        assert server.chat_statuses == [429, 200]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_reply_cut_off_by_max_tokens_is_too_long(transport: str) -> None:
    with FakeOpenAI(reply_for=finding_reply) as server:
        server.script([{"finish_reason": "length", "completion_tokens": 300}])
        spent: list[Usage] = []

        with pytest.raises(ReplyTooLongError, match="cut off at max_tokens=300"):
            ask_once(backend_for(server.base_url, transport), spent)

    assert [usage.completion_tokens for usage in spent] == [300]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_slow_server_times_out(transport: str) -> None:
    with FakeOpenAI(reply_for=finding_reply) as server:
        server.script([{"delay": 1.0}, {"delay": 1.0}])
        backend = backend_for(server.base_url, transport, timeout=0.2)

        with pytest.raises(LLMError, match=r"timed out after 0\.2s \(1 retry\)"):
            ask_once(backend)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_refused_connection_is_unreachable_not_a_timeout(transport: str) -> None:
    backend = backend_for(f"http://127.0.0.1:{free_port()}/v1", transport)

    with pytest.raises(LLMError, match=r"could not be reached: connection refused \(1 retry\)"):
        ask_once(backend)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("fault", [Storm(cut=1.0), Storm(hang=1.0, hang_seconds=0.05)])
def test_a_connection_lost_before_the_whole_reply_is_dropped(transport: str, fault: Storm) -> None:
    # cut: half the body, then the server hangs up; hang: it hangs up without a word
    with FakeOpenAI(storm=fault) as server:
        with pytest.raises(LLMError, match=r"dropped the connection mid-reply.*\(1 retry\)"):
            ask_once(backend_for(server.base_url, transport))

        assert len(server.chat_bodies) == 2


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"<html>portal</html>", "sent a reply that is not a chat completion (Invalid JSON"),
        (b'{"id": "x", "choices": null}', "sent no choices"),
    ],
)
def test_a_reply_that_is_not_a_chat_completion_is_one_line_not_retried(
    transport: str, body: bytes, said: str
) -> None:
    with FakeOpenAI() as server:
        server.script([{"raw": body}])

        with pytest.raises(LLMError) as caught:
            ask_once(backend_for(server.base_url, transport))

        assert len(server.chat_bodies) == 1
        expected = f"openai endpoint {server.base_url} {said}"
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)
