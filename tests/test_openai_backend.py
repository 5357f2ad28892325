"""The openai backend, driven through the real `openai` client against a local fake server."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from pydantic import BaseModel, Field

from pipeline.errors import InvalidReplyError, LLMError
from pipeline.llm.base import Message, Price, SummaryRequest
from pipeline.llm.openai_backend import OpenAIBackend, strict_schema
from pipeline.models import PaperMeta, PaperSummary, Usage
from tests.fakes.openai_server import FakeOpenAI, default_summary

TITLE = "Sparse Attention at Scale"
# The client honours a float Retry-After, so scripted failures retry in 10 ms, not 0.5 s.
FAST = 0.01


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


def backend_for(server: FakeOpenAI, **options: Any) -> OpenAIBackend:
    options = {"api_key": "test-key", "max_retries": 0, "timeout": 5.0, **options}
    return OpenAIBackend("gpt-test", base_url=server.base_url, **options)


def paper_request(title: str = TITLE) -> SummaryRequest:
    return SummaryRequest(
        meta=PaperMeta(id="2401.00001v1", title=title),
        chunks=[],
        messages=[
            Message(role="system", content="Summarize the paper as JSON."),
            Message(role="user", content=f"Title: {title}\n<paper>We sparsify attention.</paper>"),
        ],
        temperature=0.1,
        max_tokens=900,
    )


def test_request_asks_for_strict_json_schema(server: FakeOpenAI) -> None:
    backend_for(server).summarize(paper_request())

    [body] = server.chat_bodies
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "PaperSummary",
            "strict": True,
            "schema": strict_schema(PaperSummary),
        },
    }
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("gpt-test", 0.1, 900)
    assert body["messages"] == [m.model_dump() for m in paper_request().messages]
    assert server.requests[0].headers["authorization"] == "Bearer test-key"


def test_valid_reply_gives_summary_usage_and_cost(server: FakeOpenAI) -> None:
    server.script([{"prompt_tokens": 1000, "completion_tokens": 500}])
    prices = {"gpt-test": Price(input=2.0, output=8.0)}

    result = backend_for(server, prices=prices).summarize(paper_request())

    assert result.summary == PaperSummary.model_validate(default_summary(TITLE))
    usage = result.usage
    assert (usage.calls, usage.prompt_tokens, usage.completion_tokens) == (1, 1000, 500)
    assert usage.cost_usd == pytest.approx((1000 * 2.0 + 500 * 8.0) / 1e6)
    assert usage.seconds > 0


def test_cached_tokens_are_recorded_and_priced(server: FakeOpenAI) -> None:
    server.script([{"prompt_tokens": 1000, "completion_tokens": 500, "cached_tokens": 400}])
    prices = {"gpt-test": Price(input=2.0, output=8.0, cached_input=0.5)}

    usage = backend_for(server, prices=prices).summarize(paper_request()).usage

    assert usage.cached_tokens == 400
    assert usage.cost_usd == pytest.approx((600 * 2.0 + 400 * 0.5 + 500 * 8.0) / 1e6)


def test_unknown_model_costs_nothing(server: FakeOpenAI) -> None:
    prices = {"another-model": Price(input=2.0, output=8.0)}
    usage = backend_for(server, prices=prices).summarize(paper_request()).usage
    assert usage.prompt_tokens > 0
    assert usage.cost_usd == 0.0


@pytest.mark.parametrize(
    ("bad_reply", "error_text"),
    [
        ("not json", "Invalid JSON"),
        (json.dumps({**default_summary(TITLE), "key_takeaways": ["only one"]}), "key_takeaways"),
    ],
)
def test_invalid_reply_is_reasked_with_the_errors(
    server: FakeOpenAI, bad_reply: str, error_text: str
) -> None:
    server.script([{"content": bad_reply}])

    result = backend_for(server).summarize(paper_request())

    assert result.summary.key_takeaways == default_summary(TITLE)["key_takeaways"]
    assert result.usage.calls == 2
    first, second = server.chat_bodies
    assistant, reask = second["messages"][-2:]
    assert second["messages"][:-2] == first["messages"]
    assert assistant == {"role": "assistant", "content": bad_reply}
    assert reask["role"] == "user"
    assert error_text in reask["content"]
    assert "JSON" in reask["content"]


def test_invalid_replies_beyond_max_reasks_raise_with_last_reply_and_usage(
    server: FakeOpenAI,
) -> None:
    server.script([{"content": "nope 1"}, {"content": "nope 2"}, {"content": "never asked"}])

    with pytest.raises(InvalidReplyError) as caught:
        backend_for(server, max_reasks=1).summarize(paper_request())

    assert caught.value.last_reply == "nope 2"
    usage = caught.value.usage
    assert isinstance(usage, Usage)
    assert (usage.calls, usage.prompt_tokens > 0) == (2, True)
    assert caught.value.paper_id == "2401.00001v1"
    assert len(server.chat_bodies) == 2


def test_fenced_json_is_accepted_without_a_reask(server: FakeOpenAI) -> None:
    fenced = "```json\n" + json.dumps(default_summary(TITLE)) + "\n```"
    server.script([{"content": fenced}])

    result = backend_for(server).summarize(paper_request())

    assert result.usage.calls == 1


def test_cut_off_reply_is_an_error_not_data(server: FakeOpenAI) -> None:
    # The content is complete, valid JSON: a length stop must still not be read as a summary.
    server.script([{"finish_reason": "length"}])

    with pytest.raises(LLMError, match=r"cut off at max_tokens=900") as caught:
        backend_for(server).summarize(paper_request())

    assert not isinstance(caught.value, InvalidReplyError)
    assert len(server.chat_bodies) == 1


def test_refusal_is_an_error(server: FakeOpenAI) -> None:
    server.script([{"refusal": "I can't help with that"}])

    with pytest.raises(LLMError, match=r"refused.*I can't help with that"):
        backend_for(server).summarize(paper_request())

    assert len(server.chat_bodies) == 1


@pytest.mark.parametrize("status", [500, 429])
def test_transient_failure_is_retried_by_the_client(server: FakeOpenAI, status: int) -> None:
    server.script([{"status": status, "retry_after": FAST}])

    result = backend_for(server, max_retries=2).summarize(paper_request())

    assert result.usage.calls == 1
    _, retry = server.requests
    assert retry.headers["x-stainless-retry-count"] == "1"


def test_persistent_server_error_raises_after_bounded_retries(server: FakeOpenAI) -> None:
    server.script([{"status": 500, "retry_after": FAST, "message": "overloaded"}] * 3)

    with pytest.raises(LLMError) as caught:
        backend_for(server, max_retries=2).summarize(paper_request())

    message = str(caught.value)
    assert f"openai endpoint {server.base_url} answered 500: overloaded" in message
    assert "\n" not in message
    assert len(server.requests) == 3


def test_unauthorized_fails_at_once_without_retries(server: FakeOpenAI) -> None:
    server.script([{"status": 401, "message": "Incorrect API key provided"}])

    with pytest.raises(
        LLMError, match="answered 401: Incorrect API key provided; check OPENAI_API"
    ):
        backend_for(server, max_retries=3).summarize(paper_request())

    assert len(server.requests) == 1


def test_timeout_is_an_error_naming_the_endpoint(server: FakeOpenAI) -> None:
    server.script([{"delay": 1.0}])

    with pytest.raises(LLMError, match=r"127\.0\.0\.1.* timed out after 0\.2s"):
        backend_for(server, timeout=0.2).summarize(paper_request())


def test_unreachable_endpoint_is_an_error() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago, so nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = OpenAIBackend("gpt-test", api_key="k", base_url=f"http://127.0.0.1:{port}/v1")
    backend.max_retries = 0

    with pytest.raises(LLMError, match="could not be reached"):
        backend.summarize(paper_request())


def test_local_server_needs_no_key(server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)

    backend_for(server, api_key=None).summarize(paper_request())

    assert server.requests[0].headers["authorization"] == "Bearer not-needed"


def test_client_is_created_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    backend = OpenAIBackend("gpt-test", api_key=None, base_url=None)  # no key: still fine here

    with pytest.raises(LLMError, match="OPENAI_API_KEY"):
        backend.summarize(paper_request())


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
    client = openai.OpenAI(api_key="test-key", base_url=server.base_url, max_retries=0)
    assert [m.id for m in client.models.list()] == ["gpt-test"]

    backend = backend_for(server)
    first = backend.summarize(paper_request("Paper A")).summary
    again = backend.summarize(paper_request("Paper A")).summary
    other = backend.summarize(paper_request("Paper B")).summary

    assert first == again
    assert first.summary[0].startswith("Paper A")
    assert first.rubric != other.rubric
