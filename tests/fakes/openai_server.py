"""A small OpenAI-compatible HTTP server for tests: the real `openai` client talks to it.

    with FakeOpenAI() as server:
        backend = OpenAIBackend("gpt-test", api_key="test-key", base_url=server.base_url)
        server.script([{"content": "not json"}, {"status": 429, "retry_after": 0.01}])
        ...
        server.requests  # every request seen: method, path, headers, parsed JSON body

By default `POST /v1/chat/completions` answers with a schema-valid `PaperSummary` built from the
"Title:" line of the user message, deterministic for a given title, so a CLI run pointed at the
server with `OPENAI_BASE_URL` works end to end. Scripted replies are consumed first, in order.
A script item is a dict with any of:

    status         HTTP status (default 200); 4xx/5xx answer with an OpenAI-style error body
    message        the error message for a non-200 status
    code           the error code for a non-200 status (e.g. "insufficient_quota")
    retry_after    seconds, sent as the Retry-After header (floats are honoured by the client)
    content        the assistant's reply text (default: the default summary JSON)
    finish_reason  "stop" (default), "length", ...
    refusal        a refusal text; the reply then has no content
    prompt_tokens, completion_tokens, cached_tokens   usage overrides
    headers        extra response headers, e.g. x-ratelimit-remaining-requests
    delay          seconds to wait before answering (to exercise client timeouts)
    raw            bytes sent as the whole body of a 200 (a server that is not OpenAI-compatible)

Options of the server itself (all off by default):

    rpm, tpm           requests and tokens (prompt + completion) allowed per sliding window;
                       over it, a 429 with Retry-After / retry-after-ms. With either set, every
                       reply carries x-ratelimit-limit-*, -remaining-* and -reset-* headers.
    window             the window's length in seconds (60; a bench compresses a "minute")
    charge             what a request costs the token window: "usage" (default) counts the
                       tokens it used, once answered; "max_tokens" counts its prompt plus its
                       whole max_tokens when it arrives, as hosted providers do
    limit_headers      False sends only x-ratelimit-remaining-* and -reset-* (no -limit-*), so
                       a client must learn the limits from what remains
    latency            seconds every completion takes, after it is admitted
    reject_json_schema answer a json_schema response_format with a 500 "Input should be 'text' or
                       'json_object'", as llama-cpp-python 0.3.36's server does; a json_object
                       with a "schema" is accepted
    reject_json_object_schema   answer a json_object response_format that carries a "schema"
                       with a 400, as a strict OpenAI-compatible server would
    storm              a `tests.fakes.http.Storm`: random 5xx, 429, replies cut off mid-body
                       and hangs on that share of chat completions (a bench's fault storm)
    omit_usage         replies (direct and in a batch's output) carry no `usage`, as some
                       OpenAI-compatible servers send them

`chat_statuses` lists the status of every chat completion answered, in order.

Standard library only; one daemon thread serves requests, one thread per connection.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs

from tests.fakes.batch_api import BatchAPI
from tests.fakes.http import LocalServer, QuietHandler, QuietServer, Storm, hang_up, send_cut

CREATED = 1_700_000_000  # a fixed timestamp keeps replies byte-for-byte repeatable
TITLE_LINE = re.compile(r"^\s*Title:\s*(.+?)\s*$", re.MULTILINE)
RUBRIC = ("novelty", "industry_impact", "evidence", "urgency")
# What llama-cpp-python's server (0.3.36) answers, with a 500, to a json_schema response_format.
LLAMA_CPP_FORMAT_ERROR = (
    "[{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
    "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema', "
    "'ctx': {'expected': \"'text' or 'json_object'\"}}]"
)
ERROR_KINDS = {
    400: ("invalid_request_error", "invalid_request"),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "permission_denied"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # the parsed JSON body, or None for GET


class FakeOpenAI(LocalServer):
    """An OpenAI-compatible server on 127.0.0.1, started and stopped as a context manager."""

    def __init__(
        self,
        *,
        models: Iterable[str] = ("gpt-test",),
        reply_for: Callable[[dict[str, Any]], str] | None = None,
        rpm: int | None = None,
        tpm: int | None = None,
        window: float = 60.0,
        charge: Literal["usage", "max_tokens"] = "usage",
        limit_headers: bool = True,
        latency: float = 0.0,
        reject_json_schema: bool = False,
        reject_json_object_schema: bool = False,
        storm: Storm | None = None,
        omit_usage: bool = False,
    ) -> None:
        self.storm = storm
        self.omit_usage = omit_usage
        self.models = list(models)
        self.reply_for = reply_for or default_reply
        self.latency = latency
        self.reject_json_schema = reject_json_schema
        self.reject_json_object_schema = reject_json_object_schema
        self.charge = charge
        self.limits = RateWindow(rpm, tpm, window, limit_headers) if (rpm or tpm) else None
        self.charged: list[int] = []  # tokens each admitted request cost the window
        self._lock = threading.Lock()
        self._script: deque[dict[str, Any]] = deque()
        self._requests: list[RecordedRequest] = []
        self._statuses: list[int] = []
        self._completions = 0
        self.batches = BatchAPI(self.chat_reply)  # /v1/files and /v1/batches
        super().__init__()

    # --- lifecycle --------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """The environment that points paperbrief's openai backend at this server."""
        return {"OPENAI_BASE_URL": self.base_url, "OPENAI_API_KEY": "test-key"}

    @property
    def base_url(self) -> str:
        return self.origin + "/v1"

    # --- scripting and inspection -----------------------------------------------------

    def script(self, replies: Iterable[dict[str, Any]]) -> None:
        """Queue replies for the next chat completions, before the default reply resumes."""
        with self._lock:
            self._script.extend(dict(item) for item in replies)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def chat_bodies(self) -> list[dict[str, Any]]:
        """The JSON bodies of the chat completion requests, in order."""
        return [r.body for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def chat_statuses(self) -> list[int]:
        """The HTTP status of every chat completion answered, in order."""
        with self._lock:
            return list(self._statuses)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_item(self) -> tuple[dict[str, Any], int]:
        with self._lock:
            self._completions += 1
            item = self._script.popleft() if self._script else {}
            return item, self._completions

    # --- replies ----------------------------------------------------------------------

    def chat_reply(self, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        """Status, extra headers and JSON body for one chat completion request."""
        status, headers, payload = self._chat_reply(body)
        with self._lock:
            self._statuses.append(status)
        return status, headers, payload

    def _chat_reply(self, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        rejected = self._format_rejection(body.get("response_format"))
        if rejected is not None:
            return rejected[0], {}, error_body(*rejected)
        item, number = self._next_item()
        time.sleep(item.get("delay", 0))
        headers = {k: str(v) for k, v in item.get("headers", {}).items()}
        if "retry_after" in item:
            headers["Retry-After"] = str(item["retry_after"])
        status = item.get("status", 200)
        if "raw" in item:
            return 200, headers, item["raw"]
        if status != 200:
            return status, headers, error_body(status, item.get("message"), item.get("code"))
        completion = self._completion(body, item, number)
        if self.limits is not None:
            tokens = self._charge(body, completion)
            with self._lock:
                wait, limit_headers = self.limits.admit(time.monotonic(), tokens)
                if wait is not None:
                    self._script.appendleft(item)  # a scripted reply waits for the retry
                else:
                    self.charged.append(tokens)
            headers.update(limit_headers)
            if wait is not None:
                headers["Retry-After"] = f"{wait:.3f}"
                headers["retry-after-ms"] = str(math.ceil(wait * 1000))
                message = "Rate limit reached for requests or tokens per minute; try again"
                return 429, headers, error_body(429, message)
        time.sleep(self.latency)
        if self.omit_usage:
            del completion["usage"]
        return 200, headers, completion

    def _charge(self, body: dict[str, Any], completion: dict[str, Any]) -> int:
        """Tokens the request costs the window: what it used, or what it may use on arrival."""
        usage = completion["usage"]
        if self.charge == "usage":
            return int(usage["total_tokens"])
        room = body.get("max_completion_tokens") or body.get("max_tokens") or 0
        return int(usage["prompt_tokens"]) + int(room)

    def _format_rejection(self, response_format: Any) -> tuple[int, str] | None:
        kind = response_format.get("type") if isinstance(response_format, dict) else None
        if kind == "json_schema" and self.reject_json_schema:
            return 500, LLAMA_CPP_FORMAT_ERROR
        if kind == "json_object" and "schema" in response_format and self.reject_json_object_schema:
            return 400, "Unrecognized request argument supplied: response_format.schema"
        return None

    def _completion(self, body: dict[str, Any], item: dict[str, Any], n: int) -> dict[str, Any]:
        refusal = item.get("refusal")
        content = item["content"] if "content" in item else self.reply_for(body)
        if refusal:
            content = None
        prompt_tokens = item.get("prompt_tokens", len(_request_text(body)) // 4)
        completion_tokens = item.get("completion_tokens", len(content or refusal or "") // 4)
        return {
            "id": f"chatcmpl-fake-{n}",
            "object": "chat.completion",
            "created": CREATED,
            "model": body.get("model", self.models[0]),
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": refusal},
                    "logprobs": None,
                    "finish_reason": item.get("finish_reason", "stop"),
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": item.get("cached_tokens", 0)},
            },
        }

    def models_body(self) -> dict[str, Any]:
        card = {"object": "model", "created": CREATED, "owned_by": "fake"}
        return {"object": "list", "data": [{"id": m, **card} for m in self.models]}


class RateWindow:
    """Requests and tokens admitted over the last `window` seconds, as a rate-limited API counts.

    Not thread-safe: the server calls it under its lock.
    """

    def __init__(
        self,
        rpm: int | None,
        tpm: int | None,
        window: float = 60.0,
        limit_headers: bool = True,
    ) -> None:
        self.rpm, self.tpm, self.window = rpm, tpm, window
        self.limit_headers = limit_headers
        self._admitted: deque[tuple[float, int]] = deque()  # (time, tokens), oldest first

    def admit(self, now: float, tokens: int) -> tuple[float | None, dict[str, str]]:
        """(None, headers) when the request fits, else (seconds to wait, headers)."""
        while self._admitted and self._admitted[0][0] <= now - self.window:
            self._admitted.popleft()
        wait = max(self._wait(now, 1, self.rpm, count=True), self._wait(now, tokens, self.tpm))
        if wait <= 0:
            self._admitted.append((now, tokens))
        return (wait if wait > 0 else None), self._headers(now)

    def _wait(self, now: float, need: int, limit: int | None, *, count: bool = False) -> float:
        if limit is None:
            return 0.0
        over = sum(1 if count else t for _, t in self._admitted) + min(need, limit) - limit
        for at, tokens in self._admitted:
            if over <= 0:
                break
            over -= 1 if count else tokens
            if over <= 0:
                return at + self.window - now
        return 0.0

    def _headers(self, now: float) -> dict[str, str]:
        requests = len(self._admitted)
        tokens = sum(t for _, t in self._admitted)
        reset = self._admitted[-1][0] + self.window - now if self._admitted else 0.0
        headers: dict[str, str] = {}
        for name, limit, used in (("requests", self.rpm, requests), ("tokens", self.tpm, tokens)):
            if limit is not None:
                if self.limit_headers:
                    headers[f"x-ratelimit-limit-{name}"] = str(limit)
                headers[f"x-ratelimit-remaining-{name}"] = str(max(limit - used, 0))
                headers[f"x-ratelimit-reset-{name}"] = format_duration(reset)
        return headers


def format_duration(seconds: float) -> str:
    """OpenAI's reset format: "20ms", "1.5s", "6m0s"."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:.3g}s" if minutes else f"{rest:.3g}s"


def default_reply(body: dict[str, Any]) -> str:
    """A valid PaperSummary JSON for the paper named in the request's "Title:" line."""
    return json.dumps(default_summary(request_title(body)))


def default_summary(title: str) -> dict[str, Any]:
    # Scores come from a hash of the title, so different papers rank apart, yet each run agrees.
    digest = hashlib.sha256(title.encode()).digest()
    rubric = {
        name: {"score": 1 + digest[i] % 10, "rationale": f"Fake {name.replace('_', ' ')} rating."}
        for i, name in enumerate(RUBRIC)
    }
    return {
        "summary": [
            f"{title} addresses an open problem and proposes a method to solve it.",
            f"{title} reports gains over its baselines; the main limitation is a narrow test set.",
        ],
        "key_insight": f"The key idea of {title} is simple enough to reuse.",
        "key_takeaways": [
            f"Try the method of {title} on your own data.",
            "Compare against the strongest baseline before adopting it.",
            "Watch for a code release before investing engineering time.",
        ],
        "industry_impact": "Teams building on this line of work should evaluate it.",
        "limitations": ["The paper evaluates on a narrow test set."],
        "affiliations": [],
        "code_url": None,
        "venue": None,
        "tags": ["machine learning", "methods", "evaluation"],
        "rubric": rubric,
    }


def request_title(body: dict[str, Any]) -> str:
    for message in body.get("messages", []):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            found = TITLE_LINE.search(message["content"])
            if found:
                return found.group(1)
    return "Untitled paper"


def error_body(status: int, message: str | None = None, code: str | None = None) -> dict[str, Any]:
    kind, default_code = ERROR_KINDS.get(status, ("server_error", "server_error"))
    text = message or f"fake server answered {status}"
    return {"error": {"message": text, "type": kind, "param": None, "code": code or default_code}}


def _request_text(body: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content", "")) for m in body.get("messages", []))


class _Handler(QuietHandler):
    server: QuietServer
    protocol_version = "HTTP/1.1"  # keep-alive, as the openai client pools connections

    def do_GET(self) -> None:
        self._record(None)
        path, batches = self._path(), self.server.fake.batches
        if path == "/v1/models":
            self._send(200, {}, self.server.fake.models_body())
        elif path == "/v1/batches":
            query = parse_qs(self.path.partition("?")[2])
            limit, after = int(query.get("limit", ["20"])[0]), query.get("after", [None])[0]
            self._send(200, {}, batches.listing(limit, after))
        elif path.startswith("/v1/batches/"):
            self._answer(batches.retrieve(path.removeprefix("/v1/batches/")))
        elif path.startswith("/v1/files/") and path.endswith("/content"):
            data = batches.content(path.removeprefix("/v1/files/").removesuffix("/content"))
            if data is None:
                self._send(404, {}, error_body(404, f"no file at {path}"))
            else:
                self._send_bytes(data)
        else:
            self._send(404, {}, error_body(404, f"no route GET {path}"))

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        path, batches = self._path(), self.server.fake.batches
        if path == "/v1/files":  # multipart: the JSONL file and its purpose
            self._record(None)
            self._answer(batches.upload(self.headers.get("Content-Type", ""), raw))
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._record(None)
            self._send(400, {}, error_body(400, "request body is not JSON"))
            return
        self._record(body)
        if path == "/v1/chat/completions":
            self._chat(body)
        elif path == "/v1/batches":
            if batches.dropped() or batches.stalled():
                self.close_connection = True  # the run was stopped before this create
                return
            created = batches.create(body)
            if batches.hang_up_after_create(created[1].get("id", "")):
                self.close_connection = True  # the batch exists; its creator never hears
                return
            if batches.bad_gateway_after_create():
                self._send(502, {}, error_body(502))  # the batch exists all the same
                return
            self._answer(created)
        elif path.startswith("/v1/batches/") and path.endswith("/cancel"):
            self._answer(batches.cancel(path.removeprefix("/v1/batches/").removesuffix("/cancel")))
        else:
            self._send(404, {}, error_body(404, f"no route POST {path}"))

    def _chat(self, body: dict[str, Any]) -> None:
        fake = self.server.fake
        kind, status = fake.storm.draw() if fake.storm else (None, 0)
        if kind == "hang":
            hang_up(self, fake.storm.hang_seconds)
        elif kind == "5xx":
            self._send(status, {}, error_body(status))
        elif kind == "429":
            self._send(429, {"Retry-After": str(fake.storm.retry_after)}, error_body(429))
        elif kind == "cut":
            status, headers, payload = fake.chat_reply(body)
            head = {"Content-Type": "application/json", **headers}
            send_cut(self, status, head, json.dumps(payload).encode())
        else:
            self._send(*fake.chat_reply(body))

    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    def _record(self, body: Any) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.fake._record(RecordedRequest(self.command, self._path(), headers, body))

    def _answer(self, result: tuple[int, dict[str, Any]]) -> None:
        self._send(result[0], {}, result[1])

    def _send_bytes(self, data: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send(self, status: int, headers: dict[str, str], payload: dict[str, Any] | bytes) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


FakeOpenAI.handler = _Handler
