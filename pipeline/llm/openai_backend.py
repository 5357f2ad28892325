"""The `openai` backend: any OpenAI-compatible endpoint (OpenAI, Azure, vLLM, Ollama, llama.cpp).

Structured output: the reply is constrained by a strict json_schema `response_format` and still
validated here, since not every compatible server enforces the schema. An endpoint that rejects
json_schema (llama-cpp-python's server answers 500 "Input should be 'text' or 'json_object'") is
detected once: the backend falls back to `json_object` with the schema, then to plain
`json_object`, and keeps that mode (`response_mode`) for every later call. A reply that fails
validation is re-asked a bounded number of times with the errors quoted; a reply cut off by
`max_tokens` or a refusal is an error, never data.

Transport: the SDK's client over aiohttp (`openai[aiohttp]`) when it is installed, which
parses HTTP in C: about half the client's CPU time per call of the SDK's default httpx2 stack
(BENCHMARKS.md); `transport="httpx"`, or a base URL with credentials, keeps the default. The
request goes through the SDK's generic `request` (what its `post` calls) with options made once
per client and the body already JSON, is built from the last request's URL and headers
(`openai_client.ReusingClient`), and comes back as the raw response, read into the few fields
used (`chat_reply.ChatReply`); the SDK still maps every status and transport failure to its
errors, which the mapping below reads whichever transport raised them.

Throughput: every request waits for a `RateLimiter` (requests and tokens per minute, calls in
flight, learned from `x-ratelimit-*` headers, paused by a 429's Retry-After). Retries are ours,
through tenacity (a completion enters it only once its first attempt has failed): 429, 5xx,
timeouts and dropped connections,
with jittered exponential back-off and a bounded number of attempts; any other 4xx fails at once
with one clear line.

The `openai` package is imported on first use only: it takes most of a second to import, and runs
with the extractive backend never need it.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlsplit

import pydantic_core
from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_random_exponential

from pipeline.errors import (
    EndpointCapabilityError,
    LLMError,
    RefusalError,
    ReplyTooLongError,
)
from pipeline.llm.base import Message, Price, R, UsageSink
from pipeline.llm.chat_reply import ChatReply
from pipeline.llm.limiter import RateLimiter, estimate_tokens, retry_after
from pipeline.llm.replies import reask_until_valid
from pipeline.markup import clean
from pipeline.models import Usage
from pipeline.redaction import masked, redacted, url_secrets
from pipeline.wording import plural

if TYPE_CHECKING:
    import httpx2
    import openai
    from openai._models import FinalRequestOptions

    from pipeline.stopping import Stop

log = logging.getLogger(__name__)
T = TypeVar("T")

# Servers that ignore the key (vLLM, Ollama, llama.cpp) still need a non-empty one for the client.
PLACEHOLDER_API_KEY = "not-needed"
DEFAULT_ENDPOINT = "https://api.openai.com/v1"
# Keywords strict mode rejects; the validation here still enforces them.
UNSUPPORTED_KEYWORDS = frozenset({"default"})

# How the reply is constrained, best first; a backend moves down this list, never up.
ResponseMode = Literal["json_schema", "json_object_schema", "json_object"]
RESPONSE_MODES: tuple[ResponseMode, ...] = ("json_schema", "json_object_schema", "json_object")
# An endpoint rejecting the response_format (not the input) says so with one of these.
FORMAT_REJECTION_STATUSES = frozenset({400, 422, 500})
FORMAT_REJECTION_HINTS = (
    "response_format",
    "json_schema",
    "input should be 'text' or 'json_object'",
)
RETRY_STATUSES = frozenset({408, 429})  # plus every 5xx; 408 is the server's own timeout
# The SDK's telemetry headers, left out: each header is normalised and copied several times a
# request by httpx2, and these tell a provider only which SDK, OS and Python sent it.
SDK_TELEMETRY_HEADERS = (
    "X-Stainless-Lang",
    "X-Stainless-Package-Version",
    "X-Stainless-OS",
    "X-Stainless-Arch",
    "X-Stainless-Runtime",
    "X-Stainless-Runtime-Version",
    "X-Stainless-Async",
)
# "auto": aiohttp when `openai[aiohttp]` is installed, else the SDK's default httpx2 transport.
Transport = Literal["auto", "aiohttp", "httpx"]


@functools.cache
def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema in the form OpenAI's strict structured outputs accept.

    Every object is closed (`additionalProperties: false`) and lists all its properties as
    required; `$defs` stay, but a `$ref` with sibling keywords is inlined, since strict mode
    does not allow keywords beside a `$ref`.

    Cached per reply model (it is sent with every call); callers only read it.
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


@dataclass
class _LoopState:
    """What may only be used inside the event loop that created it."""

    client: openai.AsyncOpenAI
    probe: asyncio.Lock  # while the response mode is unconfirmed, one call at a time finds out
    # A completion request's options as the SDK's `post` would make them, body aside: made once,
    # copied with each body (~0.03 ms a call saved: `post` builds them from keywords each time,
    # deep-copying their defaults). The URL is absolute, so the SDK does not join it to its base
    # URL again on every request (~0.04 ms).
    completion: FinalRequestOptions


class OpenAIBackend:
    """Structured replies from the chat completions API of any OpenAI-compatible endpoint.

    `requests_per_minute` / `tokens_per_minute` (None: learned from the server's headers) and
    `max_concurrency` build the limiter; pass `limiter` to share one or to set its window.
    """

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
        requests_per_minute: int | None = None,
        tokens_per_minute: int | None = None,
        max_concurrency: int = 8,
        backoff: float = 0.5,
        max_backoff: float = 60.0,
        limiter: RateLimiter | None = None,
        on_notice: Callable[[str], None] | None = None,
        on_flight: Callable[[int], None] | None = None,
        transport: Transport = "auto",
        stop: Stop | None = None,
    ) -> None:
        self.model = model
        self.transport = transport
        # For a display: retries and waits as they happen, and +1/-1 as a request starts/ends.
        self.on_notice = on_notice
        self.on_flight = on_flight
        self.api_key = api_key
        self.base_url = base_url
        self.prices = prices or {}
        self.max_reasks = max(0, max_reasks)
        self.timeout = timeout
        self.max_retries = max(0, max_retries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.limiter = limiter or RateLimiter(
            rpm=requests_per_minute,
            tpm=tokens_per_minute,
            max_concurrency=max_concurrency,
            on_wait=on_notice,
            stop=stop,
        )
        self.stop = stop
        self.response_mode: ResponseMode = "json_schema"
        self._mode_confirmed = False
        self._states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )
        self._states_lock = threading.Lock()

    # --- the LLM protocol -------------------------------------------------------------

    async def structured(
        self,
        messages: list[Message],
        reply_model: type[R],
        *,
        temperature: float,
        max_tokens: int,
        task: str,
        on_usage: UsageSink,
    ) -> R:
        """A validated `reply_model`, re-asked with the validation errors up to `max_reasks`."""

        async def send(turns: list[dict[str, str]]) -> str:
            return await self.send_once(
                turns,
                reply_model,
                temperature=temperature,
                max_tokens=max_tokens,
                task=task,
                on_usage=on_usage,
            )

        return await self.reasked(send, messages, reply_model, task=task, on_usage=on_usage)

    async def reasked(
        self,
        send: Callable[[list[dict[str, str]]], Awaitable[str]],
        messages: list[Message],
        reply_model: type[R],
        *,
        task: str,
        on_usage: UsageSink,
    ) -> R:
        """`send`'s reply validated, re-asked with the errors up to `max_reasks`: this client's
        rules, whichever way the turns travel (directly, or in a batch)."""
        turns = [m.model_dump() for m in messages]
        return await reask_until_valid(
            send,
            turns,
            reply_model,
            max_reasks=self.max_reasks,
            model=self.model,
            task=task,
            on_usage=on_usage,
        )

    async def send_once(
        self,
        turns: list[dict[str, str]],
        reply_model: type[BaseModel],
        *,
        temperature: float,
        max_tokens: int,
        task: str,
        on_usage: UsageSink,
    ) -> str:
        """One request's reply text, its usage reported first (the batch client's fallback)."""
        completion, seconds = await self._complete(
            turns, reply_model, temperature, max_tokens, task
        )
        on_usage(self._usage(completion, seconds, turns))
        return self._reply_text(completion, max_tokens, task)

    # --- what the batch client (`pipeline.llm.batch`) shares with direct calls ------------

    def request_body(
        self,
        turns: list[dict[str, str]],
        reply_model: type[BaseModel],
        *,
        temperature: float,
        max_tokens: int,
    ) -> dict[str, Any]:
        """The body a direct call would send, in the endpoint's response mode."""
        return self._payload(turns, reply_model, self.response_mode, temperature, max_tokens)

    def read_reply(
        self,
        body: dict[str, Any],
        *,
        max_tokens: int,
        task: str,
        on_usage: UsageSink,
        price_factor: float = 1.0,
        turns: list[dict[str, str]] | None = None,
    ) -> str:
        """A chat completion's JSON body (a batch output line's) read as a direct reply is:
        usage reported at `price_factor` of the model's price, then the text or its error.
        `turns`, the request's messages, count its prompt when the body has no usage."""
        try:
            completion = ChatReply.model_validate(body)
        except ValidationError as exc:  # a stored result from before lines were checked
            what = _one_line(exc.errors(include_url=False)[0]["msg"])
            raise LLMError(f"batch reply is not a chat completion ({what})", stage=task) from exc
        usage = self._usage(completion, 0.0, turns or [])
        on_usage(usage.model_copy(update={"cost_usd": round(usage.cost_usd * price_factor, 8)}))
        return self._reply_text(completion, max_tokens, task)

    async def with_retries(
        self, call: Callable[[], Awaitable[T]], task: str, *, ambiguous: bool = True
    ) -> T:
        """`call()` under this client's retry policy, past the limiter (a file upload or a batch
        poll is not a completion); what still fails is one `LLMError` line. `ambiguous=False`:
        a call that must not be repeated after a timeout or a dropped connection, which may
        have reached the server (creating a batch)."""
        import openai

        def worth_retrying(exc: BaseException) -> bool:
            if not ambiguous and isinstance(exc, TimeoutError | openai.APIConnectionError):
                return False
            return _transient(exc)

        async def attempt() -> T:  # tenacity awaits only what a coroutine function returns
            return await call()

        try:
            return await self._retrying(worth_retrying)(attempt)
        except (openai.APIError, TimeoutError) as exc:
            raise self._transport_error(exc, task) from exc

    def client(self, task: str) -> openai.AsyncOpenAI:
        """The running event loop's client (for the files and batches endpoints)."""
        return self._state(task).client

    def endpoint(self) -> str:
        return self._endpoint()

    async def aclose(self) -> None:
        """Close the HTTP client of the running event loop; call it before the loop ends."""
        with self._states_lock:
            state = self._states.pop(asyncio.get_running_loop(), None)
        if state is not None:
            await state.client.close()

    # --- one completion, in the best response mode the endpoint accepts -----------------

    async def _complete(
        self,
        convo: list[dict[str, str]],
        reply_model: type[BaseModel],
        temperature: float,
        max_tokens: int,
        task: str,
    ) -> tuple[ChatReply, float]:
        if not self._mode_confirmed:
            # Until one call has gone through, calls go one at a time, so an endpoint without
            # json_schema is met by a single rejected request; then the queue is let go at once.
            async with self._state(task).probe:
                if not self._mode_confirmed:
                    return await self._complete_in_best_mode(
                        convo, reply_model, temperature, max_tokens, task
                    )
        return await self._complete_in_best_mode(convo, reply_model, temperature, max_tokens, task)

    async def _complete_in_best_mode(
        self,
        convo: list[dict[str, str]],
        reply_model: type[BaseModel],
        temperature: float,
        max_tokens: int,
        task: str,
    ) -> tuple[ChatReply, float]:
        import openai

        while True:
            mode = self.response_mode
            payload = self._payload(convo, reply_model, mode, temperature, max_tokens)
            try:
                result = await self._send(payload, task)
            except openai.APIStatusError as exc:
                if not _rejects_response_format(exc):
                    raise self._transport_error(exc, task) from exc
                self._fall_back(mode, exc, task)
                continue
            except (openai.APIError, TimeoutError) as exc:
                raise self._transport_error(exc, task) from exc
            self._mode_confirmed = True
            return result

    def _fall_back(self, rejected: ResponseMode, exc: openai.APIStatusError, task: str) -> None:
        """Move to the next response mode, once, for this call and every later one."""
        if self.response_mode != rejected:
            return  # another call already moved on
        position = RESPONSE_MODES.index(rejected)
        if position + 1 == len(RESPONSE_MODES):
            message = (
                f"openai endpoint {self._endpoint()} rejects every JSON response_format "
                f"(last: {exc.status_code} {_server_message(exc, self.masked)}); "
                "use a server with JSON output, or the extractive backend"
            )
            raise EndpointCapabilityError(message, stage=task) from exc
        self.response_mode = RESPONSE_MODES[position + 1]
        log.warning(
            "openai endpoint %s rejected response_format %s (%s %s); using %s from now on",
            self._endpoint(),
            rejected,
            exc.status_code,
            clean(_server_message(exc, self.masked)),  # logged to a terminal as it is
            self.response_mode,
        )

    def _payload(
        self,
        convo: list[dict[str, str]],
        reply_model: type[BaseModel],
        mode: ResponseMode,
        temperature: float,
        max_tokens: int,
    ) -> dict[str, Any]:
        schema = strict_schema(reply_model)
        if mode == "json_schema":
            spec = {"name": reply_model.__name__, "strict": True, "schema": schema}
            response_format: dict[str, Any] = {"type": "json_schema", "json_schema": spec}
        elif mode == "json_object_schema":
            response_format = {"type": "json_object", "schema": schema}  # llama.cpp's grammar
        else:
            response_format = {"type": "json_object"}
            convo = _with_schema_instruction(convo, schema)  # the model sees no schema otherwise
        return {
            "model": self.model,
            "messages": convo,
            "temperature": temperature,
            "max_tokens": max_tokens,
            "response_format": response_format,
        }

    # --- the wire: limiter, retries, timeout --------------------------------------------

    async def _send(self, payload: dict[str, Any], task: str) -> tuple[ChatReply, float]:
        chars = sum(len(m["content"]) for m in payload["messages"])
        estimate = estimate_tokens(chars, payload["max_tokens"], len(payload["messages"]))
        # The first attempt runs outside tenacity, whose machinery costs ~0.06 ms a call (it
        # inspects its callbacks and builds its state each time) and is needed only after a
        # failure worth retrying, which the rest of the attempts then see replayed as their first.
        try:
            return await self._attempt(payload, estimate, task)
        except Exception as exc:
            if self.max_retries == 0 or not _transient(exc):
                raise
            failed = exc
        return await self._retrying(_transient)(
            _replaying(failed, self._attempt), payload, estimate, task
        )

    def _retrying(self, worth_retrying: Callable[[BaseException], bool]) -> AsyncRetrying:
        """This client's retry policy: bounded attempts, jittered back-off or the server's
        Retry-After, each retry logged and shown."""
        return AsyncRetrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception(worth_retrying),
            reraise=True,
            before_sleep=self._log_retry,
            sleep=self._sleep,
        )

    async def _sleep(self, seconds: float) -> None:
        """A back-off that ends early when the run is asked to stop: the next attempt is then
        refused at the limiter (`CallStopped`), and a paper's other calls on the wire finish
        instead of being cancelled by a failure."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.stop is not None and self.stop.requested:
                return
            await asyncio.sleep(min(left, 0.1))

    async def _attempt(
        self, payload: dict[str, Any], estimate: int, task: str
    ) -> tuple[ChatReply, float]:
        import openai

        state = self._state(task)
        grant = await self.limiter.acquire(estimate, task)
        used: int | None = None  # None: the estimate stands (a timed-out call may be charged)
        headers: Any = None
        started = time.monotonic()
        self._flying(1)
        try:
            async with asyncio.timeout(self.timeout):
                # The SDK's generic request (what its `post` calls), the body given as JSON
                # bytes: `create` would walk every message and schema node (its request
                # transform), serialise with the json module and build a model of every reply
                # field, each ~0.1-1 ms a call.
                body = pydantic_core.to_json(payload)
                options = state.completion.model_copy(update={"content": body})
                raw = await state.client.request(_raw_response(), options)
            headers = raw.headers
            completion = self._parsed(raw.content, task)
            if completion.usage is not None:
                used = completion.usage.prompt_tokens + completion.usage.completion_tokens
            return completion, time.monotonic() - started
        except openai.APIStatusError as exc:
            headers, used = exc.response.headers, 0  # refused: the server charged nothing
            wait = retry_after(headers)
            if exc.status_code == 429 and wait is not None:
                self.limiter.pause(min(wait, self.max_backoff))  # every caller waits, not just us
            raise
        finally:
            self._flying(-1)
            self.limiter.release(grant, tokens=used, headers=headers)

    def _parsed(self, body: bytes, task: str) -> ChatReply:
        try:
            return ChatReply.model_validate_json(body)
        except ValidationError as exc:
            what = _one_line(self.masked(exc.errors(include_url=False)[0]["msg"]))
            message = f"openai endpoint {self._endpoint()} sent a reply that is not a chat "
            message += f"completion ({what}); is it an OpenAI-compatible server?"
            raise LLMError(message, stage=task) from exc

    def _flying(self, delta: int) -> None:
        if self.on_flight is not None:
            self.on_flight(delta)

    def _wait(self, state: RetryCallState) -> float:
        import openai

        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, openai.APIStatusError):
            wait = retry_after(exc.response.headers)
            if wait is not None:
                # After a 429 the limiter already holds every caller until Retry-After.
                return 0.0 if exc.status_code == 429 else min(wait, self.max_backoff)
        jittered = wait_random_exponential(multiplier=self.backoff, max=self.max_backoff)
        return float(jittered(state))

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.info(
            "openai endpoint %s: attempt %d failed (%s); retrying",
            self._endpoint(),
            state.attempt_number,
            _one_line(self.masked(repr(exc))),
        )
        if self.on_notice is not None:
            wait = state.next_action.sleep if state.next_action else 0.0
            why = _retry_reason(exc)
            self.on_notice(
                f"LLM {self.model}: retry {state.attempt_number}/{self.max_retries}"
                + (f" in {wait:.0f} s" if wait >= 1 else "")
                + (f" ({why})" if why else "")
            )

    # --- reading the reply ----------------------------------------------------------------

    def _reply_text(self, completion: ChatReply, max_tokens: int, task: str) -> str:
        """The reply's text, or an error when it must not be read (its cost is already counted)."""
        if not completion.choices:
            message = f"openai endpoint {self._endpoint()} sent no choices"
            raise LLMError(message, stage=task)
        choice = completion.choices[0]
        if choice.message.refusal:
            refusal = _one_line(self.masked(choice.message.refusal))
            raise RefusalError(
                f"model {self.model} refused the {task} request: {refusal}", stage=task
            )
        # A truncated reply may still parse (or be re-asked into shape), so stop before reading it.
        if choice.finish_reason == "length":
            raise ReplyTooLongError(
                f"reply cut off at max_tokens={max_tokens}; give it more room or send less input",
                stage=task,
            )
        if choice.finish_reason == "content_filter":
            message = f"model {self.model} reply to the {task} request was blocked by its filter"
            raise RefusalError(message, stage=task)
        return choice.message.content or ""

    def _usage(self, completion: ChatReply, seconds: float, turns: list[dict[str, str]]) -> Usage:
        reported = completion.usage
        price = self.prices.get(self.model) or self.prices.get(completion.model)
        if reported is None:  # some compatible servers omit usage: counted by our estimate
            from pipeline.llm.unreported import estimated_tokens

            message = completion.choices[0].message if completion.choices else None
            reply = (message.content or message.refusal or "") if message else ""
            prompt, completed = estimated_tokens(self.model, turns, reply)
            cached, estimated = 0, [self.model]
        else:
            details = reported.prompt_tokens_details
            cached = (details.cached_tokens or 0) if details else 0
            prompt, completed = reported.prompt_tokens, reported.completion_tokens
            estimated = []
        return Usage(
            calls=1,
            prompt_tokens=prompt,
            completion_tokens=completed,
            cached_tokens=cached,
            cost_usd=price.cost(prompt, completed, cached) if price else 0.0,
            seconds=round(seconds, 4),
            # a self-hosted model nobody priced: its cost is unknown, not $0
            unpriced_models=[] if price else [self.model],
            estimated_models=estimated,
        )

    # --- the client, one per event loop -----------------------------------------------------

    def _state(self, task: str) -> _LoopState:
        loop = asyncio.get_running_loop()
        with self._states_lock:
            state = self._states.get(loop)
            if state is None:
                client = self._make_client(task)
                state = _LoopState(client, asyncio.Lock(), _completion_options(client))
                self._states[loop] = state
            return state

    def _make_client(self, task: str) -> openai.AsyncOpenAI:
        import openai

        from pipeline.llm.openai_client import ReusingClient

        try:
            return ReusingClient(
                api_key=self._api_key(),
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=0,  # retries are ours: limiter-aware, and never on other 4xx
                http_client=self._http_client(task),
            )
        except openai.OpenAIError as exc:
            message = f"openai client could not be created: {_one_line(self.masked(str(exc)))}"
            raise LLMError(message + "; set OPENAI_API_KEY", stage=task) from exc

    def _http_client(self, task: str) -> httpx2.AsyncClient | None:
        """The SDK's aiohttp client when wanted and installed; None: the SDK's default."""
        import openai

        if self.transport == "httpx":
            return None
        if _has_credentials(self._url()):
            # aiohttp refuses a URL with credentials beside the Authorization header; httpx2
            # sends them as Basic auth (a server behind a password-protected proxy).
            if self.transport == "auto":
                return None
            message = "the aiohttp transport cannot send a base URL with credentials"
            raise LLMError(message + "; leave llm transport to auto", stage=task)
        try:
            return openai.DefaultAioHttpClient(timeout=self.timeout)
        except RuntimeError as exc:  # the SDK's word for "aiohttp is not installed"
            if self.transport == "auto":
                return None
            message = "the aiohttp transport needs aiohttp: pip install 'openai[aiohttp]'"
            raise LLMError(message, stage=task) from exc

    def _api_key(self) -> str | None:
        if self.api_key is not None or os.environ.get("OPENAI_API_KEY"):
            return self.api_key  # None lets the client read OPENAI_API_KEY itself
        # A custom endpoint (flag or OPENAI_BASE_URL) is usually a local server that needs no key.
        if self.base_url or os.environ.get("OPENAI_BASE_URL"):
            return PLACEHOLDER_API_KEY
        return None

    def _endpoint(self) -> str:
        """The endpoint as messages show it: never with its credentials."""
        return redacted(self._url().rstrip("/"))

    def _url(self) -> str:
        """The endpoint the client will call, as the SDK resolves it."""
        return self.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_ENDPOINT

    # --- errors -----------------------------------------------------------------------

    def masked(self, text: str) -> str:
        """A server's words as they may be shown or stored: it may echo the request, key and
        credentialed URL included, in whatever form (`pipeline.redaction.masked`)."""
        key = (self.api_key, os.environ.get("OPENAI_API_KEY"))
        return masked(text, (*key, *url_secrets(self._url())))

    def _transport_error(self, exc: BaseException, task: str) -> LLMError:
        failure = self.masked(self._failure(exc))
        return LLMError(f"openai endpoint {self._endpoint()} {failure}", stage=task)

    def _failure(self, exc: BaseException) -> str:
        """What went wrong on the wire, and what to do, after our retries."""
        import openai

        from pipeline.arxiv.http import network_cause

        n = self.max_retries
        retries = "no retries" if n == 0 else plural(n, "retry", "retries")
        wire = _wire_failure(exc)
        if wire == "timeout":
            return f"timed out after {self.timeout:g}s ({retries}); raise llm.timeout or wait"
        if wire == "dropped":
            # The server answered, then the connection went before the reply was whole.
            cause = network_cause(exc) or "the reply was cut off"
            return f"dropped the connection mid-reply: {cause} ({retries}); try again later"
        if wire == "unreachable":
            # The client's own message is "Connection error."; the OS says why.
            cause = network_cause(exc) or "connection failed"
            return f"could not be reached: {cause} ({retries}); is the server running?"
        if isinstance(exc, openai.APIStatusError):
            hint = self._status_hint(exc)
            return f"answered {exc.status_code}: {_server_message(exc, self.masked)}; {hint}"
        return f"failed: {_one_line(self.masked(str(exc)))}"

    def _status_hint(self, exc: openai.APIStatusError) -> str:
        status = exc.status_code
        if status in (401, 403):
            return "check OPENAI_API_KEY"
        if status == 404:
            return f"check the model name ({self.model}) and OPENAI_BASE_URL"
        if _quota_exhausted(exc):
            return "the account is out of credit; check its plan and billing"
        if status == 429:
            return f"still rate limited after {self.max_retries} retries; lower the llm limits"
        if status >= 500:
            return f"server error persisted after {self.max_retries} retries; try again later"
        return "the endpoint rejected the request (not retried)"


def _has_credentials(url: str) -> bool:
    return urlsplit(url).username is not None


def _completion_options(client: openai.AsyncOpenAI) -> FinalRequestOptions:
    """What `client.post(<completions URL>, content=..., options={"headers": ...})` would pass
    to `client.request`, without the content (`tests/test_openai_request_path.py` pins the two
    together)."""
    from openai._models import FinalRequestOptions

    url = str(client.base_url.join("chat/completions"))
    headers = _without_telemetry()
    return FinalRequestOptions.construct(
        method="post", url=url, json_data=None, content=None, files=None, headers=headers
    )


@functools.cache
def _without_telemetry() -> dict[str, str | openai.Omit]:
    """Request headers that remove the SDK's telemetry headers from a request."""
    import openai

    return dict.fromkeys(SDK_TELEMETRY_HEADERS, openai.Omit())


@functools.cache
def _raw_response() -> type[httpx2.Response]:
    """What the SDK's `post` returns untouched: the HTTP response, body read."""
    import httpx2

    return httpx2.Response


def _replaying(
    failed: Exception, attempt: Callable[..., Awaitable[T]]
) -> Callable[..., Awaitable[T]]:
    """`attempt`, whose first call raises `failed` (an attempt already made) instead of running:
    tenacity then counts, waits, logs and stops exactly as if it had made that attempt itself."""
    pending = [failed]

    async def replayed(*args: Any) -> T:
        if pending:
            raise pending.pop()
        return await attempt(*args)

    return replayed


WireFailure = Literal["timeout", "unreachable", "dropped"]


def _wire_failure(exc: BaseException) -> WireFailure | None:
    """What failed on the wire, read from the chain of causes rather than the SDK's class: its
    aiohttp transport reports a refused connection, or one closed before any reply, as a
    connect timeout (its cause says which). The openai client's HTTP stack is httpx2, which it
    depends on, not the httpx arXiv uses. None: not a failure on the wire."""
    import httpx2
    import openai

    if not isinstance(exc, TimeoutError | openai.APIConnectionError):
        return None
    causes = _causes(exc)
    if any(isinstance(cause, _never_connected()) for cause in causes):
        return "unreachable"
    # asyncio's, the OS's or aiohttp's timeout; or the SDK's with nothing beneath saying why
    if any(isinstance(cause, TimeoutError) for cause in causes) or isinstance(
        causes[-1], openai.APITimeoutError | httpx2.TimeoutException
    ):
        return "timeout"
    if any(isinstance(cause, httpx2.TransportError) for cause in causes):
        return "dropped"  # made, then lost before the reply was whole
    return "unreachable"


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc` and what it was raised from, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


@functools.cache
def _never_connected() -> tuple[type[BaseException], ...]:
    """Each transport's error for a connection that was never made (refused, no such host)."""
    import httpx2

    try:
        import aiohttp
    except ImportError:
        return (httpx2.ConnectError,)
    return (httpx2.ConnectError, aiohttp.ClientConnectorError)


def _retry_reason(exc: BaseException | None) -> str:
    import openai

    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    if exc is not None and _wire_failure(exc) == "timeout":
        return "timed out"
    if isinstance(exc, openai.APIConnectionError):
        return "APIConnectionError"  # the same words whichever transport raised it
    return type(exc).__name__ if exc is not None else ""


def _transient(exc: BaseException) -> bool:
    """Worth another try: timeouts, dropped connections, 408, 429 and 5xx (not a format 500)."""
    import openai

    if isinstance(exc, TimeoutError | openai.APIConnectionError):
        return True
    if not isinstance(exc, openai.APIStatusError) or _rejects_response_format(exc):
        return False
    if _quota_exhausted(exc):
        return False
    return exc.status_code in RETRY_STATUSES or exc.status_code >= 500


def _rejects_response_format(exc: openai.APIStatusError) -> bool:
    if exc.status_code not in FORMAT_REJECTION_STATUSES:
        return False
    text = f"{_server_message(exc, limit=2000)} {exc.message}".lower()
    return any(hint in text for hint in FORMAT_REJECTION_HINTS)


def _quota_exhausted(exc: openai.APIStatusError) -> bool:
    """OpenAI's 429 for an account without credit: waiting will not help."""
    body = exc.body
    return isinstance(body, dict) and body.get("code") == "insufficient_quota"


def _with_schema_instruction(
    convo: list[dict[str, str]], schema: dict[str, Any]
) -> list[dict[str, str]]:
    """The conversation with the schema stated in its system message (added first if none).

    Appended to the existing system message rather than sent as a later one: some chat templates
    (Gemma's) refuse a system message anywhere but first.
    """
    instruction = (
        "Reply with one JSON object that validates against this JSON schema:\n"
        + json.dumps(schema, separators=(",", ":"))
    )
    if convo and convo[0]["role"] == "system":
        first = {**convo[0], "content": convo[0]["content"] + "\n\n" + instruction}
        return [first, *convo[1:]]
    return [{"role": "system", "content": instruction}, *convo]


def _server_message(
    exc: openai.APIStatusError, mask: Callable[[str], str] | None = None, limit: int = 200
) -> str:
    """The server's words on one line of at most `limit` characters, masked (`mask`) before
    they are cut: a secret cut in two would no longer be found."""
    body = exc.body
    message = str((body.get("message") if isinstance(body, dict) else None) or body or exc.message)
    return _one_line(mask(message) if mask is not None else message, limit)


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
