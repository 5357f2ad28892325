"""The `openai` backend: any OpenAI-compatible endpoint (OpenAI, Azure, vLLM, Ollama, llama.cpp).

The reply is constrained by a strict json_schema `response_format` and still validated here,
since not every compatible server enforces the schema. A reply that fails validation is re-asked
a bounded number of times with the errors quoted; a reply cut off by `max_tokens` or a refusal
is an error, never data. The `openai` package is imported on first use only: it takes most of a
second to import, and runs with the extractive backend never need it.
"""

from __future__ import annotations

import copy
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from pipeline.errors import InvalidReplyError, LLMError
from pipeline.llm.base import Price, SummaryRequest, SummaryResult
from pipeline.models import PaperSummary, Usage

if TYPE_CHECKING:
    import openai
    from openai.types.chat import ChatCompletion

# Servers that ignore the key (vLLM, Ollama, llama.cpp) still need a non-empty one for the client.
PLACEHOLDER_API_KEY = "not-needed"
# Keywords strict mode rejects; the validation here still enforces them.
UNSUPPORTED_KEYWORDS = frozenset({"default"})
MAX_ERRORS_QUOTED = 5


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema in the form OpenAI's strict structured outputs accept.

    Every object is closed (`additionalProperties: false`) and lists all its properties as
    required; `$defs` stay, but a `$ref` with sibling keywords is inlined, since strict mode
    does not allow keywords beside a `$ref`.
    """
    root = model.model_json_schema()
    return _strict(copy.deepcopy(root), root)


def _strict(node: Any, root: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_strict(item, root) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node and len(node) > 1:
        node = {**_resolve(root, node["$ref"]), **{k: v for k, v in node.items() if k != "$ref"}}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in UNSUPPORTED_KEYWORDS:
            continue
        # These map names to schemas, so a field called "type" is not mistaken for a keyword.
        if key in ("properties", "$defs") and isinstance(value, dict):
            out[key] = {name: _strict(sub, root) for name, sub in value.items()}
        else:
            out[key] = _strict(value, root)
    if out.get("type") == "object" or "properties" in out:
        out["additionalProperties"] = False
        out["required"] = list(out.get("properties", {}))
    return out


def _resolve(root: dict[str, Any], ref: str) -> dict[str, Any]:
    node: Any = root
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return copy.deepcopy(node)


class OpenAIBackend:
    """Summarizes through the chat completions API of any OpenAI-compatible endpoint."""

    name = "openai"

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None,
        base_url: str | None,
        prices: dict[str, Price] | None = None,
        max_reasks: int = 2,
        timeout: float = 120.0,
        max_retries: int = 3,
    ) -> None:
        self.model = model
        self.api_key = api_key
        self.base_url = base_url
        self.prices = prices or {}
        self.max_reasks = max(0, max_reasks)
        self.timeout = timeout
        self.max_retries = max_retries
        self._client: openai.OpenAI | None = None
        self._client_lock = threading.Lock()

    def summarize(self, request: SummaryRequest) -> SummaryResult:
        messages: list[dict[str, str]] = [m.model_dump() for m in request.messages]
        usage = Usage()
        reply, error = "", None
        for _ in range(self.max_reasks + 1):
            completion, seconds = self._complete(messages, request)
            usage += self._usage(completion, seconds)
            try:
                reply = self._reply_text(completion, request)
            except LLMError as exc:
                exc.usage = usage  # a cut-off or refused reply was still paid for
                raise
            try:
                summary = PaperSummary.model_validate_json(_unfenced(reply))
            except ValidationError as exc:
                error = exc
            else:
                return SummaryResult(summary=summary, usage=usage)
            messages += [
                {"role": "assistant", "content": reply},
                {"role": "user", "content": reask_text(error)},
            ]
        assert error is not None  # the loop ran at least once (max_reasks >= 0) and failed
        raise self._invalid(request, reply, error, usage) from error

    # --- one call ---------------------------------------------------------------------

    def _complete(
        self, messages: list[dict[str, str]], request: SummaryRequest
    ) -> tuple[ChatCompletion, float]:
        import openai

        client = self._get_client(request)
        started = time.monotonic()
        try:
            # Plain dicts of the documented shapes; the client's TypedDict overloads reject them.
            completion = client.chat.completions.create(  # type: ignore[call-overload]
                model=self.model,
                messages=messages,
                temperature=request.temperature,
                max_tokens=request.max_tokens,
                response_format=self._response_format(),
            )
        except openai.APIError as exc:
            raise self._transport_error(exc, request) from exc
        return completion, time.monotonic() - started

    def _response_format(self) -> dict[str, Any]:
        schema = strict_schema(PaperSummary)
        return {
            "type": "json_schema",
            "json_schema": {"name": "PaperSummary", "strict": True, "schema": schema},
        }

    def _reply_text(self, completion: ChatCompletion, request: SummaryRequest) -> str:
        """The reply's text, or an error when it must not be read as data."""
        if not completion.choices:
            raise self._error(request, f"openai endpoint {self._endpoint()} sent no choices")
        choice = completion.choices[0]
        if choice.message.refusal:
            refusal = _one_line(choice.message.refusal)
            raise self._error(request, f"model {self.model} refused to summarize: {refusal}")
        # A truncated reply may still parse (or be re-asked into shape), so stop before reading it.
        if choice.finish_reason == "length":
            raise self._error(
                request,
                f"reply cut off at max_tokens={request.max_tokens}; "
                "raise max_tokens in the prompt header or shorten the input",
            )
        return choice.message.content or ""

    def _usage(self, completion: ChatCompletion, seconds: float) -> Usage:
        reported = completion.usage
        if reported is None:  # some compatible servers omit usage; the call still counts
            return Usage(calls=1, seconds=round(seconds, 4))
        details = reported.prompt_tokens_details
        cached = (details.cached_tokens or 0) if details else 0
        prompt, completed = reported.prompt_tokens, reported.completion_tokens
        price = self.prices.get(self.model) or self.prices.get(completion.model)
        cost = price.cost(prompt, completed, cached) if price else 0.0
        return Usage(
            calls=1,
            prompt_tokens=prompt,
            completion_tokens=completed,
            cached_tokens=cached,
            cost_usd=cost,
            seconds=round(seconds, 4),
        )

    # --- the client -------------------------------------------------------------------

    def _get_client(self, request: SummaryRequest) -> openai.OpenAI:
        with self._client_lock:
            if self._client is None:
                self._client = self._make_client(request)
            return self._client

    def _make_client(self, request: SummaryRequest) -> openai.OpenAI:
        import openai

        try:
            return openai.OpenAI(
                api_key=self._api_key(),
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=self.max_retries,
            )
        except openai.OpenAIError as exc:
            message = f"openai client could not be created: {_one_line(str(exc))}"
            raise self._error(request, message + "; set OPENAI_API_KEY") from exc

    def _api_key(self) -> str | None:
        if self.api_key is not None or os.environ.get("OPENAI_API_KEY"):
            return self.api_key  # None lets the client read OPENAI_API_KEY itself
        # A custom endpoint (flag or OPENAI_BASE_URL) is usually a local server that needs no key.
        if self.base_url or os.environ.get("OPENAI_BASE_URL"):
            return PLACEHOLDER_API_KEY
        return None

    def _endpoint(self) -> str:
        if self._client is not None:
            return str(self._client.base_url).rstrip("/")
        return self.base_url or "https://api.openai.com/v1"

    # --- errors -----------------------------------------------------------------------

    def _error(self, request: SummaryRequest, message: str) -> LLMError:
        return LLMError(message, paper_id=request.meta.id, stage="summarize")

    def _transport_error(self, exc: openai.APIError, request: SummaryRequest) -> LLMError:
        return self._error(request, f"openai endpoint {self._endpoint()} {self._failure(exc)}")

    def _failure(self, exc: openai.APIError) -> str:
        """What went wrong on the wire, and what to do, after the client's own retries."""
        import openai

        if isinstance(exc, openai.APITimeoutError):
            return f"timed out after {self.timeout:g}s ({self.max_retries} retries)"
        if isinstance(exc, openai.APIConnectionError):
            return f"could not be reached ({self.max_retries} retries); is the server running?"
        if isinstance(exc, openai.APIStatusError):
            hint = self._status_hint(exc.status_code)
            return f"answered {exc.status_code}: {_server_message(exc)}; {hint}"
        return f"failed: {_one_line(exc.message)}"

    def _status_hint(self, status: int) -> str:
        # Only 408/409/429/5xx were retried by the client; other 4xx fail on the first answer.
        if status in (401, 403):
            return "check OPENAI_API_KEY"
        if status == 404:
            return f"check the model name ({self.model}) and OPENAI_BASE_URL"
        if status == 429:
            return f"still rate limited after {self.max_retries} retries; lower concurrency or wait"
        if status >= 500:
            return f"server error persisted after {self.max_retries} retries; try again later"
        return "the endpoint rejected the request; does it support json_schema response_format?"

    def _invalid(
        self, request: SummaryRequest, reply: str, exc: ValidationError, usage: Usage
    ) -> InvalidReplyError:
        tries = self.max_reasks + 1
        message = (
            f"model {self.model} gave no valid PaperSummary in {tries} tries "
            f"(last: {_brief_errors(exc)}); try a stronger model or a simpler prompt"
        )
        return InvalidReplyError(
            message, last_reply=reply, usage=usage, paper_id=request.meta.id, stage="summarize"
        )


def _server_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    message = body.get("message") if isinstance(body, dict) else None
    return _one_line(str(message or body or exc.message))


def reask_text(exc: ValidationError) -> str:
    """The user turn that asks the model to fix its previous reply."""
    return (
        "Your reply was not a valid PaperSummary JSON object. Validation errors: "
        f"{_brief_errors(exc)}. Reply again with the corrected JSON object only: "
        "no prose, no code fences."
    )


def _brief_errors(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    parts = [f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in errors]
    extra = len(parts) - MAX_ERRORS_QUOTED
    quoted = "; ".join(parts[:MAX_ERRORS_QUOTED])
    return quoted + (f"; and {extra} more" if extra > 0 else "")


def _unfenced(reply: str) -> str:
    """The JSON inside a ```json fence, which local models add despite the schema."""
    text = reply.strip()
    if text.startswith("```") and text.endswith("```"):
        text = text[3:-3].removeprefix("json").strip()
    return text


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
