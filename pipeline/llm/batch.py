"""Batch mode (`run --batch`): the OpenAI Batch API behind the same `LLM` interface as direct calls.

A `BatchLLM` answers `structured()` like the direct client, but each request waits in a round:
once no request has joined for `gather` seconds (every paper of the stage is then waiting on
its reply), the round's requests go out as one JSONL file (`/v1/files`, purpose "batch") and
one batch (`/v1/batches`, endpoint `/v1/chat/completions`, window "24h"), polled every `poll`
seconds until it ends. So a stage's calls go round by round: triage in one batch; the map notes
of every long paper and the single calls of the short ones in one batch, then the reduce calls,
then repairs and re-asks. The replies go through the direct client's own reading and the one
re-ask loop (`llm/replies.py`): the same schema, refusal, cut-off and faithfulness rules.

Never paying twice: a round is known by the exact set of its requests (each request's
`custom_id` is the digest of its body and its follow-up number). The batch id and its requests'
ids are stored under that key as soon as the batch exists, so a stopped run started again polls
the same batch; a finished batch's results are stored too, so a re-run neither downloads nor
parses them again. A request is answered by any stored batch that holds it (a run started
again need not group its requests as the stopped one did), and an unfinished one is polled to
its end rather than paid for again; a failed item is never served from the store.
The key also rides on the batch as metadata: a create whose reply was lost (a timeout; never
retried) or a run killed before it could record the id is found by the next run in the
account's list of batches, instead of being sent again. The list is read page by page back to
the first attempt to create the round's batch, which is recorded (`attempted_at`) before the
create is sent.

A round over the Batch API's limits on one batch (`BatchLimits`: OpenAI's 50,000 requests and
200 MB of input file, `llm.batch_max_requests` / `llm.batch_max_bytes`) goes out as several
batches, filled in custom_id order so a run started again splits the same requests the same
way; each is created and recorded before the next, then all are polled. A request that alone
is over the byte limit fails as an item would (a follow-up, or `fallback`'s direct call).

Failed items (an error line, an expired or cancelled batch, a failed batch, a line of the
results that cannot be read: only its own request fails, the paid replies beside it are kept)
go to a follow-up batch, up to `rounds` times, or, with `fallback`, to one direct call each at
the full price.
Batch replies are billed at `BATCH_PRICE_FACTOR` of the model's price; usage is reported as
each round's replies are read, so the run log, the cost cap and the final table all see it.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

from pydantic import BaseModel, ValidationError

from pipeline.errors import CallStopped, LLMError
from pipeline.llm.base import Message, R, UsageSink
from pipeline.llm.chat_reply import ChatReply
from pipeline.wording import plural

if TYPE_CHECKING:
    import openai
    from openai.pagination import AsyncCursorPage
    from openai.types import Batch

    from pipeline.llm.openai_backend import OpenAIBackend

log = logging.getLogger(__name__)

BATCH_PRICE_FACTOR = 0.5  # OpenAI bills Batch API requests at half the model's price
ENDPOINT: Final = "/v1/chat/completions"
WINDOW: Final = "24h"
ENDED = frozenset({"completed", "failed", "expired", "cancelled"})
TASK = "batch"
METADATA_KEY = "paperbrief_round"  # the round's key, on the batch itself (see `_adopted`)
PAGE = 100  # batches per page of the account's list (the API's most)
# How far the provider's clock may be behind ours: the lookup reads batches this much older
# than the first attempt to create the round's batch, then stops.
CLOCK_SKEW = 3600.0
# What goes to a batch: a day's triage and summaries, which may wait. Anything else (the
# weekly digest: one call a user waits for) is asked directly.
BATCHED_TASKS = frozenset({"triage", "notes", "summarize", "repair"})


class ItemResult(BaseModel):
    """One request's outcome: the chat completion's JSON body, or why there is none."""

    body: dict[str, Any] | None = None
    error: str | None = None


class BatchRecord(BaseModel):
    """What the cache keeps of one round: the batch to poll, then its results."""

    batch_id: str
    input_file_id: str
    requests: int
    status: str = "validating"
    results: dict[str, ItemResult] | None = None  # by custom_id, once the batch has ended
    ids: list[str] = []  # its requests' custom_ids (empty in records made before they were kept)
    # When a run first tried to create this round's batch (our clock, seconds since the epoch):
    # a lookup by metadata reads the account's batches back to then. Recorded before the
    # create, with no batch_id yet: a create whose reply was lost leaves this mark.
    attempted_at: float | None = None


class BatchStore(Protocol):
    def get(self, key: str) -> BatchRecord | None: ...
    def put(self, key: str, record: BatchRecord) -> None: ...
    def items(self) -> list[tuple[str, BatchRecord]]: ...
    def drop(self, key: str) -> None: ...


class MemoryBatches:
    """A store for callers without a cache (a benchmark, a one-off probe)."""

    def __init__(self) -> None:
        self.records: dict[str, BatchRecord] = {}

    def get(self, key: str) -> BatchRecord | None:
        return self.records.get(key)

    def put(self, key: str, record: BatchRecord) -> None:
        self.records[key] = record

    def items(self) -> list[tuple[str, BatchRecord]]:
        return list(self.records.items())

    def drop(self, key: str) -> None:
        self.records.pop(key, None)


# --- pure parts: ids, the input file, the output files ------------------------------------


def custom_id(body: dict[str, Any], follow_up: int) -> str:
    """The request's id in its batch: its body's digest and how many batches failed it before."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return f"{hashlib.sha256(text.encode()).hexdigest()[:40]}-{follow_up}"


def round_key(model: str, endpoint: str, ids: list[str]) -> str:
    """A round's key: the exact set of its requests, at one endpoint."""
    text = "\n".join([model, endpoint, *sorted(ids)])
    return hashlib.sha256(text.encode()).hexdigest()


def input_file(requests: dict[str, dict[str, Any]]) -> bytes:
    """The batch's JSONL input: one `{"custom_id","method","url","body"}` line per request."""
    return b"".join(_line(cid, body) for cid, body in sorted(requests.items()))


def _line(cid: str, body: dict[str, Any]) -> bytes:
    request = {"custom_id": cid, "method": "POST", "url": ENDPOINT, "body": body}
    return (json.dumps(request) + "\n").encode()


@dataclass(frozen=True)
class BatchLimits:
    """What one batch may hold (OpenAI's: 50,000 requests, a 200 MB input file)."""

    requests: int = 50_000
    bytes: int = 200_000_000


def batches_of(
    requests: dict[str, dict[str, Any]], limits: BatchLimits
) -> tuple[list[dict[str, dict[str, Any]]], dict[str, str]]:
    """A round's requests as batches within the limits, filled in custom_id order (so a run
    started again splits the same requests the same way, and finds its batches by their keys),
    and the requests no batch can hold, with why."""
    parts: list[dict[str, dict[str, Any]]] = []
    too_large: dict[str, str] = {}
    size = 0
    for cid, body in sorted(requests.items()):
        line = len(_line(cid, body))
        if line > limits.bytes:
            too_large[cid] = (
                f"request of {line:,} bytes is over the batch input file limit "
                f"({limits.bytes:,} bytes)"
            )
            continue
        if not parts or len(parts[-1]) >= limits.requests or size + line > limits.bytes:
            parts.append({})
            size = 0
        parts[-1][cid] = body
        size += line
    return parts, too_large


def results_of(
    ids: list[str], output: str, errors: str, batch_id: str, status: str, why: str = ""
) -> dict[str, ItemResult]:
    """Every request's outcome from the output and error files; one missing from both was not
    processed (an expired, cancelled or failed batch) or its line could not be read. A line
    that cannot be read fails only the request it was for (every other reply was paid for and
    is kept); a line for a request not asked here answers nothing."""
    wanted = set(ids)
    found: dict[str, ItemResult] = {}
    unreadable: list[str] = []
    for name, text in (("output", output), ("error", errors)):
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                cid, result = _item(line)
            except _UnreadableLine as exc:
                unreadable.append(f"{name} file line {number}: {exc}")
                continue
            if cid not in wanted:
                log.info("batch %s: a line for request %.60r, not asked here", batch_id, cid)
            elif cid not in found or found[cid].body is None:  # a reply beats an error line
                found[cid] = result
    missing = f"not processed: batch {batch_id} {status}" + (f" ({why})" if why else "")
    if unreadable:
        lines = plural(len(unreadable), "line")
        missing = f"no readable result in batch {batch_id} ({status}; {lines} of its files "
        missing += f"unreadable, first: {unreadable[0]})"
        log.warning("batch %s: %s unreadable: %s", batch_id, lines, "; ".join(unreadable[:5]))
    return {cid: found.get(cid, ItemResult(error=missing)) for cid in ids}


class _UnreadableLine(ValueError):
    """A line of a batch's output or error file that names no request (or is not JSON)."""


def _item(line: str) -> tuple[str, ItemResult]:
    """One line's request id and outcome."""
    try:
        item = json.loads(line)
    except (ValueError, RecursionError) as exc:  # a cut-off file, an HTML page, nesting
        raise _UnreadableLine("not JSON") from exc
    if not isinstance(item, dict):
        raise _UnreadableLine(f"a JSON {type(item).__name__}, not an object")
    cid = item.get("custom_id")
    if not isinstance(cid, str) or not cid:
        raise _UnreadableLine("no custom_id")
    return cid, _outcome(item)


def _outcome(item: dict[str, Any]) -> ItemResult:
    response = _mapping(item.get("response"))
    status = response.get("status_code")
    body = response.get("body")
    if status == 200 and not item.get("error"):
        problem = _not_a_completion(body)
        if problem is None:
            return ItemResult(body=body)
        return ItemResult(error=f"HTTP 200 without a chat completion: {problem}")
    error = item.get("error") or _mapping(body).get("error") or {}
    message = error.get("message") if isinstance(error, dict) else error
    code = error.get("code") if isinstance(error, dict) else None
    prefix = f"HTTP {status}" if isinstance(status, int) else str(code or "error")
    return ItemResult(error=f"{prefix}: {_said(message or 'no reason given')}")


def _not_a_completion(body: Any) -> str | None:
    """Why a 200 line's body is no chat completion the client can read, or None."""
    if not isinstance(body, dict):
        return "no body" if body is None else f"a JSON {type(body).__name__} body"
    try:
        completion = ChatReply.model_validate(body)
    except ValidationError as exc:
        return _said(exc.errors(include_url=False)[0]["msg"])
    if completion.choices:
        return None
    error = body.get("error")
    message = error.get("message") if isinstance(error, dict) else error
    return _said(message) if message else "no choices"


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _said(text: Any) -> str:
    """A server's words as one bounded line (they end up in run.json and the reports)."""
    words = " ".join(str(text).split())
    return words if len(words) <= 300 else words[:299] + "…"


# --- the client --------------------------------------------------------------------------


@dataclass
class _Waiting:
    body: dict[str, Any]
    futures: list[asyncio.Future[ItemResult]] = field(default_factory=list)


class BatchLLM:
    """An `LLM` whose requests go to the Batch API, round by round (see the module docstring)."""

    name = "openai"
    price_factor = BATCH_PRICE_FACTOR

    def __init__(
        self,
        direct: OpenAIBackend,
        store: BatchStore,
        *,
        poll: float = 60.0,
        gather: float = 1.0,
        rounds: int = 2,
        fallback: bool = False,
        limits: BatchLimits | None = None,
        on_notice: Callable[[str], None] | None = None,
        on_flight: Callable[[int], None] | None = None,
    ) -> None:
        self.direct = direct
        self.limits = limits or BatchLimits()
        self.model = direct.model
        self.store = store
        self.poll = poll
        self.gather = gather
        self.rounds = max(0, rounds)
        self.fallback = fallback
        self.on_notice = on_notice
        self.on_flight = on_flight
        self._waiting: dict[str, _Waiting] = {}
        self._arrivals = 0
        self._flusher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # the loop holds tasks weakly

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
        """A validated `reply_model`; each attempt (and each re-ask) is one batch item."""
        if task not in BATCHED_TASKS:
            return await self.direct.structured(
                messages,
                reply_model,
                temperature=temperature,
                max_tokens=max_tokens,
                task=task,
                on_usage=on_usage,
            )

        send = functools.partial(
            self._send,
            reply_model=reply_model,
            temperature=temperature,
            max_tokens=max_tokens,
            task=task,
            on_usage=on_usage,
        )
        return await self.direct.reasked(send, messages, reply_model, task=task, on_usage=on_usage)

    async def _send(
        self,
        turns: list[dict[str, str]],
        *,
        reply_model: type[BaseModel],
        temperature: float,
        max_tokens: int,
        task: str,
        on_usage: UsageSink,
    ) -> str:
        """One attempt's reply text: from a batch, its follow-ups, or (fallback) a direct call."""
        body = self.direct.request_body(
            turns, reply_model, temperature=temperature, max_tokens=max_tokens
        )
        failure = ""
        for follow_up in range(self.rounds + 1):
            result = await self._submit(body, follow_up)
            if result.body is not None:
                return self.direct.read_reply(
                    result.body,
                    max_tokens=max_tokens,
                    task=task,
                    on_usage=on_usage,
                    price_factor=self.price_factor,
                    turns=turns,
                )
            failure = self.direct.masked(result.error or "no reason given")
            if self.fallback:
                self._note(f"batch item failed ({failure}); asking directly")
                return await self.direct.send_once(
                    turns,
                    reply_model,
                    temperature=temperature,
                    max_tokens=max_tokens,
                    task=task,
                    on_usage=on_usage,
                )
            log.info("batch item failed (%s); sending it again in the next batch", failure)
        tries = plural(self.rounds + 1, "batch", "batches")
        raise LLMError(
            f"batch request failed in {tries} (last: {failure}); "
            "run again later, or add --batch-fallback to ask failed items directly",
            stage=task,
        )

    async def aclose(self) -> None:
        await self.direct.aclose()

    # --- gathering a round ----------------------------------------------------------------

    async def _submit(self, body: dict[str, Any], follow_up: int) -> ItemResult:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ItemResult] = loop.create_future()
        cid = custom_id(body, follow_up)
        self._waiting.setdefault(cid, _Waiting(body)).futures.append(future)
        self._arrivals += 1
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush())
            self._tasks.add(self._flusher)
            self._flusher.add_done_callback(self._tasks.discard)
        return await future

    async def _flush(self) -> None:
        """Send the round once it is quiet, and hand each waiting request its result."""
        seen = -1
        while seen != self._arrivals:
            seen = self._arrivals
            await asyncio.sleep(self.gather)
        waiting, self._waiting, self._flusher = self._waiting, {}, None  # later: a new round
        futures = [f for w in waiting.values() for f in w.futures]
        stop = self.direct.stop
        if stop is not None and stop.requested:  # never sent: the next run asks for it
            for future in futures:
                if not future.done():
                    future.set_exception(CallStopped(f"not sent: the run is stopping ({stop.why})"))
            return
        try:
            results = await self._round({cid: w.body for cid, w in waiting.items()})
        except Exception as exc:  # each waiting call fails with it, as its own call would
            for future in futures:
                if not future.done():
                    future.set_exception(exc)
            return
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        for cid, entry in waiting.items():
            for future in entry.futures:
                if not future.done():
                    future.set_result(results[cid])

    # --- one round: cached, resumed or sent -----------------------------------------------

    async def _round(self, requests: dict[str, dict[str, Any]]) -> dict[str, ItemResult]:
        """The round's results: each request answered by any batch stored before (a stopped
        run's rounds need not be this run's rounds: what was cached in between changes which
        requests wait together), then any unfinished stored batch holding some of them polled
        to its end, and only the rest sent. A failed item is never served from the store: a
        later run sends it again."""
        answered: dict[str, ItemResult] = {}
        absent: set[str] = set()  # keys of unanswered creates looked for, and not made
        for key, record in self.store.items():
            if record.results is None and set(record.ids) & requests.keys():
                if not record.batch_id:
                    # A create that went unanswered, perhaps under another grouping of these
                    # requests than this round's (some of its round were answered since): the
                    # batch it may have made is looked for by its own key, or its requests
                    # would be paid for twice.
                    adopted = await self._adopted(
                        self.direct.client(TASK), key, record.attempted_at
                    )
                    if adopted is None:
                        absent.add(key)
                        continue  # never made: its requests go out below
                    record = adopted.model_copy(update={"ids": record.ids})
                    self.store.put(key, record)
                else:
                    self._note(
                        f"batch {record.batch_id}: resuming ({plural(len(record.ids), 'request')})"
                    )
                record = await self._finished(key, record)
            for cid, result in (record.results or {}).items():
                if cid in requests and result.body is not None:
                    answered[cid] = result
        rest = {cid: body for cid, body in requests.items() if cid not in answered}
        return {**answered, **(await self._sent(rest, absent) if rest else {})}

    async def _sent(
        self, requests: dict[str, dict[str, Any]], absent: set[str]
    ) -> dict[str, ItemResult]:
        """The requests sent as batches within the limits: each created and recorded before
        the next (a stopped run resumes those that exist), then all polled to their end."""
        parts, too_large = batches_of(requests, self.limits)
        results = {cid: ItemResult(error=why) for cid, why in too_large.items()}
        recorded = [await self._recorded(part, absent) for part in parts]
        # A lost create's mark whose batch was looked for and never made, once all its requests
        # are in the batches just recorded. Left, it would send every later round holding one
        # of them through the account's list again (a forced re-run, a follow-up), for nothing.
        # One with requests sent nowhere yet keeps its first attempt's time for their lookup.
        sent = {cid for _, record in recorded for cid in record.ids}
        for key in absent - {key for key, _ in recorded}:
            mark = self.store.get(key)
            if mark is None or set(mark.ids) <= sent:
                self.store.drop(key)
        for finished in await asyncio.gather(*(self._finished(*kr) for kr in recorded)):
            results.update(
                {cid: finished.results[cid] for cid in finished.ids} if finished.results else {}
            )
        return results

    async def _recorded(
        self, requests: dict[str, dict[str, Any]], absent: set[str]
    ) -> tuple[str, BatchRecord]:
        """One batch's key and record: a stored one, one found at the endpoint, or a new one
        (`absent`: keys already looked for at the endpoint this round, and not found)."""
        ids = sorted(requests)
        key = round_key(self.model, self.direct.endpoint(), ids)
        # The same requests failed in a batch before: a new batch, under a key that follows
        # from that one's id, so a stopped run finds this batch again (here or by metadata).
        while (record := self.store.get(key)) is not None and record.results is not None:
            key = round_key(self.model, self.direct.endpoint(), [*ids, f"after {record.batch_id}"])
        if record is None or not record.batch_id:  # never sent, or its create went unanswered
            client = self.direct.client(TASK)
            since = record.attempted_at if record is not None else None
            found = None if key in absent else await self._adopted(client, key, since)
            record = found or await self._create(client, requests, key, since)
            record = record.model_copy(update={"ids": ids})
            self.store.put(key, record)  # before the first poll: a stopped run resumes it
        else:  # a stopped run's batch, from a record made before ids were kept
            self._note(f"batch {record.batch_id}: resuming ({plural(len(ids), 'request')})")
            record = record.model_copy(update={"ids": ids})
        return key, record

    async def _finished(self, key: str, record: BatchRecord) -> BatchRecord:
        """The stored batch polled to its end, its results read and stored."""
        client = self.direct.client(TASK)
        ids = record.ids
        self._flying(len(ids))
        try:
            batch = await self._until_ended(client, record.batch_id)
            results = await self._results(client, batch, ids)
        finally:
            self._flying(-len(ids))
        record = record.model_copy(update={"status": batch.status, "results": results})
        self.store.put(key, record)
        return record

    async def _adopted(
        self, client: openai.AsyncOpenAI, key: str, since: float | None
    ) -> BatchRecord | None:
        """A batch of this round the cache does not know: created by a run that lost the reply
        to its create (a timeout) or was killed before recording it. Found by its metadata
        among the account's batches made since the first attempt (see `_listed`)."""
        batch = await self._listed(client, key, since)
        if batch is None:
            return None
        self._note(f"batch {batch.id}: found at the endpoint, resuming it")
        total = batch.request_counts.total if batch.request_counts else 0
        return BatchRecord(
            batch_id=batch.id, input_file_id=batch.input_file_id, requests=total, attempted_at=since
        )

    async def _listed(
        self, client: openai.AsyncOpenAI, key: str, since: float | None
    ) -> Batch | None:
        """The round's batch, found by its metadata in the account's list, most recent first,
        page by page until a page reaches batches made before `since` (less the clock skew)
        or the list ends. Without `since`, no run of this cache tried to create the round's
        batch: the first page is enough (a cache from before attempts were recorded)."""

        async def listed(after: str | None) -> AsyncCursorPage[Batch]:
            if after is None:
                return await client.batches.list(limit=PAGE)
            return await client.batches.list(limit=PAGE, after=after)

        after: str | None = None
        seen: set[str] = set()
        while True:
            page = await self.direct.with_retries(functools.partial(listed, after), TASK)
            found = next(
                (b for b in page.data if (b.metadata or {}).get(METADATA_KEY) == key), None
            )
            if found is not None or since is None or not page.data or not page.has_more:
                return found
            if page.data[-1].created_at < since - CLOCK_SKEW:
                return None  # older than any attempt: it was never made
            if page.data[-1].id in seen:
                return None  # a server that ignores `after` would list this page forever
            seen.update(b.id for b in page.data)
            after = page.data[-1].id

    async def _create(
        self,
        client: openai.AsyncOpenAI,
        requests: dict[str, dict[str, Any]],
        key: str,
        since: float | None,
    ) -> BatchRecord:
        data = input_file(requests)
        try:
            uploaded = await self.direct.with_retries(
                lambda: client.files.create(
                    file=("paperbrief-batch.jsonl", data, "application/jsonl"), purpose="batch"
                ),
                TASK,
            )
        except LLMError as exc:
            raise _without_batches(exc, self.direct.endpoint()) from exc
        # A create that timed out may have made the batch: never repeat it blindly. A 5xx or
        # 408 may come from a proxy after the batch was made: look for it before trying again.
        # The attempt is recorded first, so the next run's lookup knows how far back to read.
        if since is None:
            since = time.time()
            mark = BatchRecord(
                batch_id="",
                input_file_id=uploaded.id,
                requests=len(requests),
                attempted_at=since,
                ids=sorted(requests),
            )
            self.store.put(key, mark)
        tries = 0

        async def create_once() -> Batch:
            nonlocal tries
            tries += 1
            if tries > 1 and (made := await self._listed(client, key, since)) is not None:
                return made
            return await client.batches.create(
                input_file_id=uploaded.id,
                endpoint=ENDPOINT,
                completion_window=WINDOW,
                metadata={METADATA_KEY: key},
            )

        try:
            batch = await self.direct.with_retries(create_once, TASK, ambiguous=False)
        except LLMError as exc:
            raise _unanswered(exc, self.direct.endpoint()) from exc
        self._note(
            f"batch {batch.id}: sent {plural(len(requests), 'request')}; results within 24 h "
            "(stopping is safe: the same command resumes this batch)"
        )
        return BatchRecord(
            batch_id=batch.id, input_file_id=uploaded.id, requests=len(requests), attempted_at=since
        )

    async def _until_ended(self, client: openai.AsyncOpenAI, batch_id: str) -> Batch:
        shown: tuple[str, int] | None = None
        while True:
            batch = await self.direct.with_retries(lambda: client.batches.retrieve(batch_id), TASK)
            if _news(batch, shown):
                self._note(_progress(batch))
                shown = (batch.status, _finished(batch))
            if batch.status in ENDED:
                return batch
            await asyncio.sleep(self.poll)

    async def _results(
        self, client: openai.AsyncOpenAI, batch: Batch, ids: list[str]
    ) -> dict[str, ItemResult]:
        async def text(file_id: str | None) -> str:
            if not file_id:
                return ""
            content = await self.direct.with_retries(lambda: client.files.content(file_id), TASK)
            return content.text

        output, errors = await text(batch.output_file_id), await text(batch.error_file_id)
        why = (
            "; ".join(e.message or e.code or "" for e in (batch.errors.data or []))
            if (batch.errors)
            else ""
        )
        return results_of(ids, output, errors, batch.id, batch.status, why)

    def _note(self, message: str) -> None:
        log.info("%s", message)
        if self.on_notice is not None:
            self.on_notice(message)

    def _flying(self, delta: int) -> None:
        if self.on_flight is not None:
            self.on_flight(delta)


def _without_batches(exc: LLMError, endpoint: str) -> LLMError:
    """vLLM, Ollama and llama.cpp serve chat completions but no Batch API: say so, not 404."""
    import openai

    cause = exc.__cause__
    if not isinstance(cause, openai.NotFoundError):
        return exc
    message = (
        f"openai endpoint {endpoint} has no Batch API (/files answered 404); run without --batch"
    )
    return LLMError(message, stage=TASK)


def _unanswered(exc: LLMError, endpoint: str) -> LLMError:
    """A failed create, said so that the user knows whether a batch may exist."""
    import openai

    cause = exc.__cause__
    if not isinstance(cause, TimeoutError | openai.APIConnectionError):
        return exc
    return LLMError(
        f"openai endpoint {endpoint} did not answer the batch's creation "
        f"({type(cause).__name__}); it may exist there: run the same command again to find "
        "and resume it",
        stage=TASK,
    )


def _finished(batch: Batch) -> int:
    counts = batch.request_counts
    return counts.completed + counts.failed if counts else 0


def _news(batch: Batch, shown: tuple[str, int] | None) -> bool:
    """Worth a line on the display: a new status, or a tenth more of the batch done (a day's
    batch may take hours of polls; a line per poll would bury everything else)."""
    if shown is None or shown[0] != batch.status:
        return True
    total = batch.request_counts.total if batch.request_counts else 0
    return _finished(batch) - shown[1] >= max(total // 10, 1)


def _progress(batch: Batch) -> str:
    counts = batch.request_counts
    done = f", {counts.completed}/{counts.total} done" if counts and counts.total else ""
    failed = f", {counts.failed} failed" if counts and counts.failed else ""
    return f"batch {batch.id}: {batch.status}{done}{failed}"
