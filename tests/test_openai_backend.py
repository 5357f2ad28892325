"""The openai backend, driven through the real `openai` client against a local fake server."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import openai
import pytest
from pydantic import BaseModel, ConfigDict, Field

from pipeline.errors import (
    EndpointCapabilityError,
    InvalidReplyError,
    LLMError,
    RefusalError,
    ReplyTooLongError,
)
from pipeline.llm.base import Message, Price
from pipeline.llm.limiter import RateLimiter
from pipeline.llm.openai_backend import OpenAIBackend, strict_schema
from pipeline.models import PaperSummary, Usage
from tests.fakes.http import Storm, free_port
from tests.fakes.openai_server import FakeOpenAI, default_reply, request_title

T = TypeVar("T")
TITLE = "Sparse Attention at Scale"
MESSAGES = [
    Message(role="system", content="Answer as JSON."),
    Message(role="user", content=f"Title: {TITLE}\n<paper>We sparsify attention.</paper>"),
]


class Finding(BaseModel):
    """A small reply model, so these tests do not follow every change to PaperSummary."""

    model_config = ConfigDict(extra="forbid")

    claim: str
    confidence: int = Field(ge=1, le=10)


def finding_reply(body: dict[str, Any]) -> str:
    return json.dumps({"claim": f"{request_title(body)} works", "confidence": 7})


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(reply_for=finding_reply) as fake:
        yield fake


def backend_for(server: FakeOpenAI, **options: Any) -> OpenAIBackend:
    options = {"api_key": "test-key", "max_retries": 0, "timeout": 5.0, "backoff": 0.01, **options}
    return OpenAIBackend("gpt-test", base_url=server.base_url, **options)


@dataclass
class Answered:
    """A reply and what it cost, summed from the backend's usage reports."""

    value: Finding
    usage: Usage


async def ask(
    backend: OpenAIBackend, max_tokens: int = 300, spent: list[Usage] | None = None
) -> Answered:
    reports: list[Usage] = [] if spent is None else spent
    value = await backend.structured(
        MESSAGES,
        Finding,
        temperature=0.1,
        max_tokens=max_tokens,
        task="test",
        on_usage=reports.append,
    )
    return Answered(value, sum(reports, Usage()))


def ask_once(backend: OpenAIBackend, spent: list[Usage] | None = None) -> Answered:
    """One call; a failing call's cost is still reported into `spent`."""
    return run(backend, ask(backend, spent=spent))


def run(backend: OpenAIBackend, call: Awaitable[T]) -> T:
    """`asyncio.run` that closes the backend's client before the loop ends, as a runner would."""

    async def closing() -> T:
        try:
            return await call
        finally:
            await backend.aclose()

    return asyncio.run(closing())


# --- structured output ----------------------------------------------------------------


def test_request_asks_for_strict_json_schema(server: FakeOpenAI) -> None:
    backend = backend_for(server)

    reply = ask_once(backend)

    assert reply.value == Finding(claim=f"{TITLE} works", confidence=7)
    [body] = server.chat_bodies
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Finding", "strict": True, "schema": strict_schema(Finding)},
    }
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("gpt-test", 0.1, 300)
    assert body["messages"] == [m.model_dump() for m in MESSAGES]
    assert server.requests[0].headers["authorization"] == "Bearer test-key"
    assert backend.response_mode == "json_schema"


def test_usage_cost_and_cached_tokens(server: FakeOpenAI) -> None:
    server.script([{"prompt_tokens": 1000, "completion_tokens": 500, "cached_tokens": 400}])
    prices = {"gpt-test": Price(input=2.0, output=8.0, cached_input=0.5)}

    usage = ask_once(backend_for(server, prices=prices)).usage

    assert (usage.calls, usage.prompt_tokens, usage.completion_tokens) == (1, 1000, 500)
    assert usage.cached_tokens == 400
    assert usage.cost_usd == pytest.approx((600 * 2.0 + 400 * 0.5 + 500 * 8.0) / 1e6)
    assert usage.seconds > 0


def test_unknown_model_costs_nothing(server: FakeOpenAI) -> None:
    prices = {"another-model": Price(input=2.0, output=8.0)}
    usage = ask_once(backend_for(server, prices=prices)).usage
    assert usage.prompt_tokens > 0
    assert usage.cost_usd == 0.0


@pytest.mark.parametrize(
    ("bad_reply", "error_text"),
    [("not json", "Invalid JSON"), ('{"claim": "x", "confidence": 11}', "confidence")],
)
def test_invalid_reply_is_reasked_with_the_errors(
    server: FakeOpenAI, bad_reply: str, error_text: str
) -> None:
    server.script([{"content": bad_reply}])

    reply = ask_once(backend_for(server))

    assert reply.value.confidence == 7
    assert reply.usage.calls == 2
    first, second = server.chat_bodies
    assistant, reask = second["messages"][-2:]
    assert second["messages"][:-2] == first["messages"]
    assert assistant == {"role": "assistant", "content": bad_reply}
    assert reask["role"] == "user"
    assert error_text in reask["content"]
    assert "valid Finding JSON" in reask["content"]


def test_invalid_replies_beyond_max_reasks_raise_with_last_reply_and_usage(
    server: FakeOpenAI,
) -> None:
    server.script([{"content": "nope 1"}, {"content": "nope 2"}, {"content": "never asked"}])

    spent: list[Usage] = []
    with pytest.raises(InvalidReplyError) as caught:
        ask_once(backend_for(server, max_reasks=1), spent)

    assert caught.value.last_reply == "nope 2"
    usage = sum(spent, Usage())
    assert (usage.calls, usage.prompt_tokens > 0) == (2, True)
    assert caught.value.stage == "test"
    assert len(server.chat_bodies) == 2


def test_fenced_json_is_accepted_without_a_reask(server: FakeOpenAI) -> None:
    server.script([{"content": '```json\n{"claim": "c", "confidence": 3}\n```'}])
    assert ask_once(backend_for(server)).usage.calls == 1


def test_cut_off_reply_is_too_long_with_usage_and_not_reasked(server: FakeOpenAI) -> None:
    # The content is complete, valid JSON: a length stop must still not be read as data.
    server.script([{"finish_reason": "length", "prompt_tokens": 70, "completion_tokens": 300}])

    spent: list[Usage] = []
    with pytest.raises(ReplyTooLongError, match=r"cut off at max_tokens=300"):
        ask_once(backend_for(server), spent)

    [usage] = spent
    assert (usage.calls, usage.prompt_tokens, usage.completion_tokens) == (1, 70, 300)
    assert len(server.chat_bodies) == 1


def test_refusal_is_a_refusal_error_with_its_text(server: FakeOpenAI) -> None:
    server.script([{"refusal": "I can't help with that", "completion_tokens": 6}])

    spent: list[Usage] = []
    with pytest.raises(RefusalError, match=r"refused.*I can't help with that"):
        ask_once(backend_for(server), spent)

    assert [usage.completion_tokens for usage in spent] == [6]
    assert len(server.chat_bodies) == 1


# --- an endpoint without json_schema (llama-cpp-python's server) --------------------------


def test_missing_json_schema_is_detected_once_and_remembered() -> None:
    with FakeOpenAI(reply_for=finding_reply, reject_json_schema=True) as server:
        backend = backend_for(server)

        async def day() -> list[Any]:
            first = await asyncio.gather(*(ask(backend) for _ in range(4)))  # concurrent start
            return [*first, await ask(backend)]

        replies = run(backend, day())

        assert [r.value.confidence for r in replies] == [7] * 5
        assert server.chat_statuses == [500] + [200] * 5  # one rejected request, never retried
        assert backend.response_mode == "json_object_schema"
        formats = [b["response_format"] for b in server.chat_bodies]
        assert formats[0]["type"] == "json_schema"
        assert formats[1:] == [{"type": "json_object", "schema": strict_schema(Finding)}] * 5


def test_json_mode_falls_back_twice_validates_and_reasks() -> None:
    options: dict[str, Any] = {"reject_json_schema": True, "reject_json_object_schema": True}
    with FakeOpenAI(reply_for=finding_reply, **options) as server:
        server.script([{"content": '{"claim": "c"}'}])  # valid JSON, invalid Finding
        backend = backend_for(server)

        reply = ask_once(backend)

        assert reply.value.confidence == 7 and reply.usage.calls == 2
        assert server.chat_statuses == [500, 400, 200, 200]
        assert backend.response_mode == "json_object"
        last = server.chat_bodies[-1]
        assert last["response_format"] == {"type": "json_object"}
        system = last["messages"][0]
        assert system["role"] == "system" and system["content"].startswith("Answer as JSON.")
        assert json.dumps(strict_schema(Finding), separators=(",", ":")) in system["content"]
        assert "confidence: Field required" in last["messages"][-1]["content"]


def test_json_mode_invalid_replies_run_out_of_reasks() -> None:
    with FakeOpenAI(reply_for=finding_reply, reject_json_schema=True) as server:
        server.script([{"content": "{}"}, {"content": "{}"}])
        backend = backend_for(server, max_reasks=1)

        spent: list[Usage] = []
        with pytest.raises(InvalidReplyError, match="no valid Finding in 2 tries") as caught:
            ask_once(backend, spent)

        assert caught.value.last_reply == "{}"
        assert sum(spent, Usage()).calls == 2
        assert server.chat_statuses == [500, 200, 200]


def test_endpoint_without_any_json_mode_is_a_capability_error() -> None:
    options: dict[str, Any] = {"reject_json_schema": True, "reject_json_object_schema": True}
    with FakeOpenAI(reply_for=finding_reply, **options) as server:
        server.script([{"status": 400, "message": "response_format json_object not supported"}])

        with pytest.raises(EndpointCapabilityError, match="rejects every JSON response_format"):
            ask_once(backend_for(server, max_retries=3))

        assert server.chat_statuses == [500, 400, 400]


# --- retries and rate limits ------------------------------------------------------------


def test_429_retry_after_pauses_then_retries(server: FakeOpenAI) -> None:
    server.script([{"status": 429, "retry_after": 0.3}])
    started = time.monotonic()

    reply = ask_once(backend_for(server, max_retries=2))

    assert 0.3 <= time.monotonic() - started < 2.0
    assert reply.usage.calls == 1
    assert server.chat_statuses == [429, 200]


def test_server_errors_are_retried_then_succeed(server: FakeOpenAI) -> None:
    server.script([{"status": 500}, {"status": 503}])

    reply = ask_once(backend_for(server, max_retries=2))

    assert reply.usage.calls == 1
    assert server.chat_statuses == [500, 503, 200]
    assert {r.headers["x-stainless-retry-count"] for r in server.requests} == {"0"}  # ours


def test_persistent_server_error_raises_after_bounded_retries(server: FakeOpenAI) -> None:
    server.script([{"status": 500, "message": "overloaded"}] * 3)

    with pytest.raises(LLMError) as caught:
        ask_once(backend_for(server, max_retries=2))

    message = str(caught.value)
    assert f"openai endpoint {server.base_url} answered 500: overloaded" in message
    assert "\n" not in message
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    ("status", "message", "hint"),
    [
        (401, "Incorrect API key provided", "check OPENAI_API_KEY"),
        (400, "messages too long", "the endpoint rejected the request (not retried)"),
        (404, "The model does not exist", "check the model name (gpt-test)"),
    ],
)
def test_other_client_errors_fail_at_once(
    server: FakeOpenAI, status: int, message: str, hint: str
) -> None:
    server.script([{"status": status, "message": message}])

    with pytest.raises(LLMError, match=re.escape(f"answered {status}: {message}; {hint}")):
        ask_once(backend_for(server, max_retries=3))

    assert len(server.requests) == 1


def test_out_of_credit_429_is_not_retried(server: FakeOpenAI) -> None:
    quota = "You exceeded your current quota"
    server.script([{"status": 429, "code": "insufficient_quota", "message": quota}])

    with pytest.raises(LLMError, match="plan and billing"):
        ask_once(backend_for(server, max_retries=3))

    assert len(server.requests) == 1


def test_timeout_is_retried_then_an_error_naming_the_endpoint(server: FakeOpenAI) -> None:
    server.script([{"delay": 1.0}, {"delay": 1.0}])

    with pytest.raises(LLMError, match=r"127\.0\.0\.1.* timed out after 0\.2s \(1 retry\)"):
        ask_once(backend_for(server, timeout=0.2, max_retries=1))

    assert len(server.chat_bodies) == 2


def test_unreachable_endpoint_is_an_error() -> None:
    port = free_port()  # nothing listens there
    backend = OpenAIBackend(
        "gpt-test", api_key="k", base_url=f"http://127.0.0.1:{port}/v1", max_retries=1, backoff=0
    )

    with pytest.raises(LLMError, match=r"could not be reached: connection refused \(1 retry\)"):
        ask_once(backend)


def test_a_reply_cut_off_mid_body_is_retried_then_an_error_that_says_so() -> None:
    with FakeOpenAI(storm=Storm(cut=1.0)) as server:  # every reply hangs up halfway
        with pytest.raises(LLMError, match=r"dropped the connection mid-reply.*\(1 retry\)"):
            ask_once(backend_for(server, max_retries=1))

        assert len(server.chat_bodies) == 2


async def long_calls(backend: OpenAIBackend, count: int) -> list[Any]:
    """`count` calls at once of ~600 prompt tokens each (~900 before the reply)."""
    messages = [MESSAGES[0], Message(role="user", content=f"Title: {TITLE}\n" + "x" * 2400)]
    calls = [
        backend.structured(
            messages, Finding, temperature=0, max_tokens=300, task="t", on_usage=lambda u: None
        )
        for _ in range(count)
    ]
    return await asyncio.gather(*calls)


def test_concurrent_calls_under_a_tight_limit_meet_no_429(server: FakeOpenAI) -> None:
    # A one-second "minute": 40 calls of ~600 tokens each (~900 before the reply) against 12k.
    limits: dict[str, Any] = {"rpm": 40, "tpm": 12_000, "window": 1.0}
    with FakeOpenAI(reply_for=finding_reply, latency=0.02, **limits) as limited:
        limiter = RateLimiter(rpm=40, tpm=12_000, window=1.0, margin=0.05, max_concurrency=8)
        backend = backend_for(limited, limiter=limiter, max_retries=3)

        replies = run(backend, long_calls(backend, 40))

        assert len(replies) == 40
        assert limited.chat_statuses.count(429) <= 0.01 * 40
        assert limiter.budget.tokens.learned == 12_000  # read from x-ratelimit-limit-tokens


def test_limits_read_from_remaining_alone_hold_against_a_server_that_holds_max_tokens() -> None:
    # Issue 12's provider in a one-second "minute": 12k tokens, each request charged its prompt
    # and its whole max_tokens on arrival, and only x-ratelimit-remaining/reset-* sent back.
    limits: dict[str, Any] = {"tpm": 12_000, "window": 1.0}
    server_options: dict[str, Any] = {"charge": "max_tokens", "limit_headers": False}
    with FakeOpenAI(reply_for=finding_reply, latency=0.02, **limits, **server_options) as limited:
        limiter = RateLimiter(window=1.0, margin=0.1, max_concurrency=8)  # told no limit
        backend = backend_for(limited, limiter=limiter, max_retries=3)

        replies = run(backend, long_calls(backend, 30))

        assert len(replies) == 30
        # Not a storm (a third of the requests without the readings): a few at most, where a
        # loaded machine delays a request past the margin of a one-second window.
        assert limited.chat_statuses.count(429) <= 3, limited.chat_statuses
        assert limiter.budget.tokens.limit is not None  # read from what remained


def test_limits_are_learned_from_headers_when_not_configured() -> None:
    with FakeOpenAI(reply_for=finding_reply, rpm=5, window=1.0) as limited:
        limiter = RateLimiter(window=1.0, margin=0.05)  # the window is known, the limits are not
        backend = backend_for(limited, limiter=limiter, max_retries=5)

        async def day() -> list[Any]:
            return await asyncio.gather(*(ask(backend) for _ in range(12)))

        assert len(run(backend, day())) == 12
        assert backend.limiter.budget.requests.limit == 5
        assert limited.chat_statuses.count(200) == 12


# --- the sync wrapper and the client ------------------------------------------------------


def test_local_server_needs_no_key(server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)

    ask_once(backend_for(server, api_key=None))

    assert server.requests[0].headers["authorization"] == "Bearer not-needed"


def test_client_is_created_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    backend = OpenAIBackend("gpt-test", api_key=None, base_url=None)  # no key: still fine here

    with pytest.raises(LLMError, match="OPENAI_API_KEY"):
        ask_once(backend)


def test_one_backend_serves_several_event_loops(server: FakeOpenAI) -> None:
    backend = backend_for(server)
    assert [ask_once(backend).value.confidence for _ in range(3)] == [7, 7, 7]


# --- strict_schema ----------------------------------------------------------------------


def schema_nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from schema_nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from schema_nodes(value)


def test_strict_schema_closes_every_object_and_requires_every_property() -> None:
    schema = strict_schema(PaperSummary)

    objects = [n for n in schema_nodes(schema) if n.get("type") == "object"]
    assert len(objects) == 3  # PaperSummary, Rubric, RubricScore
    for node in objects:
        assert node["additionalProperties"] is False
        assert node["required"] == list(node["properties"])
    summary = schema["properties"]["summary"]
    assert (summary["minItems"], summary["maxItems"]) == (2, 2)
    score = schema["$defs"]["RubricScore"]["properties"]["score"]
    assert (score["minimum"], score["maximum"]) == (1, 10)


class Inner(BaseModel):
    size: int = 3


class Outer(BaseModel):
    inner: Inner = Field(description="a nested model with a description beside its $ref")
    tags: list[str] = Field(default_factory=list)
    type: str = "named like a keyword"


def test_strict_schema_drops_defaults_and_inlines_refs_with_siblings() -> None:
    schema = strict_schema(Outer)

    nodes = list(schema_nodes(schema))
    assert not any("default" in n for n in nodes)
    assert not any("$ref" in n and len(n) > 1 for n in nodes)
    inner = schema["properties"]["inner"]
    assert inner["description"].startswith("a nested model")
    assert (inner["additionalProperties"], inner["required"]) == (False, ["size"])
    assert schema["required"] == ["inner", "tags", "type"]


# --- the fake server itself ---------------------------------------------------------------


def test_fake_server_lists_models_and_replies_deterministically(server: FakeOpenAI) -> None:
    with openai.OpenAI(api_key="test-key", base_url=server.base_url, max_retries=0) as client:
        assert [m.id for m in client.models.list()] == ["gpt-test"]

    def body(title: str) -> dict[str, Any]:
        return {"messages": [{"role": "user", "content": f"Title: {title}\n"}]}

    assert default_reply(body("Paper A")) == default_reply(body("Paper A"))
    assert default_reply(body("Paper A")) != default_reply(body("Paper B"))


def test_fake_server_enforces_its_window_with_headers() -> None:
    with (
        FakeOpenAI(rpm=2, window=0.5) as limited,
        openai.OpenAI(api_key="k", base_url=limited.base_url, max_retries=0) as client,
    ):
        messages: Any = [{"role": "user", "content": "Title: X"}]
        heads = [
            client.chat.completions.with_raw_response.create(model="m", messages=messages).headers
            for _ in range(2)
        ]
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model="m", messages=messages)

    assert [h["x-ratelimit-remaining-requests"] for h in heads] == ["1", "0"]
    assert heads[0]["x-ratelimit-limit-requests"] == "2"
    headers = caught.value.response.headers
    assert 0 < float(headers["retry-after"]) <= 0.5
    assert headers["x-ratelimit-reset-requests"].endswith("ms")


def test_a_reask_that_fails_on_the_wire_still_reports_the_first_calls_cost(
    server: FakeOpenAI,
) -> None:
    server.script([{"content": "not json"}, {"status": 400}])
    spent: list[Usage] = []
    with pytest.raises(LLMError):
        ask_once(backend_for(server), spent)
    assert len(server.chat_bodies) == 2
    assert sum(spent, Usage()).calls == 1
