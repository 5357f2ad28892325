"""The Batch API part of `FakeOpenAI`: `/v1/files` and `/v1/batches`, as the real `openai` client
calls them (`files.create`, `files.content`, `batches.create/retrieve/list/cancel`).

    with FakeOpenAI(reply_for=schema_reply) as server:
        server.batches.hold = True          # batches stay in_progress until released
        ...
        server.batches.release()
        server.batches.created              # ids of the batches created, in order

A batch moves on when it is retrieved: validating → in_progress → (held: stays) → completed,
its requests answered then by the server's own chat reply (scripted replies included), so a
scripted `{"status": 500}` becomes an error-file line. `expire_after = n` answers the first n
requests of the next batch to end and marks it expired, the rest written as `batch_expired`
error lines, as OpenAI does. `lose_create_reply = True` creates the next batch but hangs up
before answering, as a create whose reply timed out. `stall_creates_after = n`: every create
after the first n waits, unanswered and making nothing, until `unstall()` (a run stopped in the
middle of sending a round's batches). `max_requests` / `max_bytes` are the provider's limits on
one batch: a batch over them fails validation, as OpenAI's does. `drop_creates = n`: the next
n creates hang up before making anything (the request never reached the provider).
`spoil[batch_id] = {"output": f, "error": g}`: that batch, when it ends, writes `f(data)` as
its output file (and `g(data)` as its error file), as a provider or proxy that damages a line would.
`others(n, age)` adds n batches of someone else's, made `age` seconds ago. `GET /v1/batches`
lists the most recent first, a page at a time (`limit`, `after`; `has_more`, `first_id`,
`last_id`), as OpenAI's does; a batch's `created_at` is the time it was made. Wire shapes
follow openai-python's `types/batch.py` and `types/file_object.py`, and the output line
`{"id","custom_id","response":{"status_code","request_id","body"},"error"}`.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
import time
from collections.abc import Callable
from typing import Any

CREATED = 1_700_000_000  # files keep a fixed timestamp; batches carry the time they were made
ENDED = frozenset({"completed", "failed", "expired", "cancelled"})
ChatReply = Callable[[dict[str, Any]], tuple[int, dict[str, str], dict[str, Any]]]


class BatchAPI:
    def __init__(self, chat_reply: ChatReply) -> None:
        self.chat_reply = chat_reply
        self.hold = False
        self.expire_after: int | None = None
        self.lose_create_reply = False  # create the next batch, then hang up without a reply
        self.lose_reply_to: str | None = None  # the same for the create of this batch id
        self.ignore_after = False  # list the first page whatever `after` asks (a broken server)
        self.create_then_502 = False  # create the next batch, then answer 502 (a proxy's)
        self.served = True  # False: no Batch API here (vLLM, Ollama), every route answers 404
        self.stall_creates_after: int | None = None
        self._unstalled = threading.Event()
        self.max_requests: int | None = None
        self.max_bytes: int | None = None
        self.drop_creates = 0
        self.spoil: dict[str, dict[str, Callable[[bytes], bytes]]] = {}  # batch id → file → how
        self.listed: list[str] = []  # every batch, ours and others', in order of creation
        self.files: dict[str, dict[str, Any]] = {}  # id → the file object, plus "data"
        self.batches: dict[str, dict[str, Any]] = {}
        self.created: list[str] = []  # batch ids, in order of creation
        self.uploads = 0
        self.answered = 0  # requests answered inside batches: what a provider would bill
        self._lock = threading.RLock()

    def release(self) -> None:
        """Let held batches complete at their next retrieve."""
        with self._lock:
            self.hold = False

    def dropped(self) -> bool:
        """Whether this create is dropped before it reaches the provider (`drop_creates`)."""
        with self._lock:
            drop, self.drop_creates = self.drop_creates > 0, max(self.drop_creates - 1, 0)
            return drop

    def others(self, n: int, age: float = 0.0) -> None:
        """`n` batches of other work on the account, made `age` seconds ago."""
        with self._lock:
            for _ in range(n):
                batch_id = f"batch_{len(self.batches) + 1}"
                self.batches[batch_id] = {
                    **self._batch(batch_id, {"input_file_id": "file-other"}),
                    "created_at": int(time.time() - age),
                    "status": "completed",
                    "metadata": {"job": "someone else's"},
                }
                self.listed.append(batch_id)

    def stalled(self) -> bool:
        """Whether this create waits, unanswered, and then makes nothing (see the docstring)."""
        with self._lock:
            stall = self.stall_creates_after is not None
            stall = stall and len(self.created) >= (self.stall_creates_after or 0)
        if stall:
            self._unstalled.wait(timeout=60)
        return stall

    def unstall(self) -> None:
        with self._lock:
            self.stall_creates_after = None
        self._unstalled.set()

    # --- files --------------------------------------------------------------------------

    def upload(self, content_type: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        if not self.served:
            return 404, _error("no route POST /v1/files")
        fields = _form_fields(content_type, raw)
        if "file" not in fields or "purpose" not in fields:
            return 400, _error("the upload needs a file and a purpose")
        filename, data = fields["file"]
        with self._lock:
            self.uploads += 1
            file = self._file(data, filename, fields["purpose"][1].decode())
        return 200, file

    def content(self, file_id: str) -> bytes | None:
        with self._lock:
            file = self.files.get(file_id)
            return None if file is None else bytes(file["data"])

    def _file(self, data: bytes, filename: str, purpose: str) -> dict[str, Any]:
        file_id = f"file-{len(self.files) + 1}"
        self.files[file_id] = {
            "id": file_id,
            "object": "file",
            "bytes": len(data),
            "created_at": CREATED,
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
            "data": data,
        }
        return _public(self.files[file_id])

    # --- batches ------------------------------------------------------------------------

    def create(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if body.get("input_file_id") not in self.files:
                return 400, _error(f"no file {body.get('input_file_id')}")
            batch_id = f"batch_{len(self.batches) + 1}"
            self.batches[batch_id] = self._batch(batch_id, body)
            self.created.append(batch_id)
            self.listed.append(batch_id)
            return 200, dict(self.batches[batch_id])

    def _batch(self, batch_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": batch_id,
            "object": "batch",
            "endpoint": body.get("endpoint", "/v1/chat/completions"),
            "input_file_id": body["input_file_id"],
            "completion_window": body.get("completion_window", "24h"),
            "status": "validating",
            "created_at": int(time.time()),
            "output_file_id": None,
            "error_file_id": None,
            "errors": None,
            "metadata": body.get("metadata"),
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
        }

    def hang_up_after_create(self, batch_id: str) -> bool:
        """Whether this create's reply is lost (once), as a timed-out create's would be."""
        with self._lock:
            lost, self.lose_create_reply = self.lose_create_reply, False
            if batch_id == self.lose_reply_to:
                lost, self.lose_reply_to = True, None
            return lost

    def bad_gateway_after_create(self) -> bool:
        """Whether this create is answered 502 although the batch was made (once)."""
        with self._lock:
            failed, self.create_then_502 = self.create_then_502, False
            return failed

    def listing(self, limit: int = 20, after: str | None = None) -> dict[str, Any]:
        """`GET /v1/batches`: the most recent batches first, the page after batch `after`."""
        with self._lock:
            order = list(reversed(self.listed))
            start = order.index(after) + 1 if after in order and not self.ignore_after else 0
            ids = order[start : start + limit]
            page = [json.loads(json.dumps(self.batches[i])) for i in ids]
            more = start + limit < len(order)
        return {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": more,
        }

    def retrieve(self, batch_id: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            batch = self.batches.get(batch_id)
            if batch is None:
                return 404, _error(f"no batch {batch_id}")
            if batch["status"] == "validating":
                batch["request_counts"]["total"] = len(self._requests(batch))
                batch["status"] = "in_progress"
                if (over := self._over_limits(batch)) is not None:
                    batch["status"] = "failed"
                    batch["errors"] = {"object": "list", "data": [over]}
            elif batch["status"] == "in_progress" and not self.hold:
                self._run(batch)
            return 200, json.loads(json.dumps(batch))

    def cancel(self, batch_id: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            batch = self.batches.get(batch_id)
            if batch is None:
                return 404, _error(f"no batch {batch_id}")
            if batch["status"] not in ENDED:
                batch["status"] = "cancelled"
            return 200, dict(batch)

    def _over_limits(self, batch: dict[str, Any]) -> dict[str, Any] | None:
        size = len(self.files[batch["input_file_id"]]["data"])
        if self.max_bytes is not None and size > self.max_bytes:
            message = f"The input file is {size} bytes; the limit is {self.max_bytes}."
            return {"code": "file_too_large", "message": message, "param": None, "line": None}
        total = batch["request_counts"]["total"]
        if self.max_requests is not None and total > self.max_requests:
            message = f"The batch has {total} requests; the limit is {self.max_requests}."
            return {"code": "too_many_requests", "message": message, "param": None, "line": None}
        return None

    def _requests(self, batch: dict[str, Any]) -> list[dict[str, Any]]:
        data = self.files[batch["input_file_id"]]["data"]
        return [json.loads(line) for line in data.decode().splitlines() if line.strip()]

    def _run(self, batch: dict[str, Any]) -> None:
        """Answer the batch's requests, up to `expire_after` of them, and write its files."""
        outputs, errors = [], []
        for n, request in enumerate(self._requests(batch)):
            line: dict[str, Any] = {"id": f"batch_req_{n}", "custom_id": request["custom_id"]}
            if self.expire_after is not None and n >= self.expire_after:
                message = "This request could not be executed before the completion window expired."
                errors.append({**line, "response": None, "error": _expired(message)})
                continue
            status, _, payload = self.chat_reply(request["body"])
            self.answered += 1
            response = {"status_code": status, "request_id": f"req_{n}", "body": payload}
            (outputs if status == 200 else errors).append(
                {**line, "response": response, "error": None}
            )
        batch["status"] = "expired" if self.expire_after is not None else "completed"
        self.expire_after = None
        batch["request_counts"] = {
            "total": len(outputs) + len(errors),
            "completed": len(outputs),
            "failed": len(errors),
        }
        spoil = self.spoil.get(batch["id"], {})
        for name, lines in (("output_file_id", outputs), ("error_file_id", errors)):
            if lines:
                data = "".join(json.dumps(line) + "\n" for line in lines).encode()
                data = spoil.get(name.removesuffix("_file_id"), bytes)(data)
                batch[name] = self._file(data, f"{batch['id']}_{name}.jsonl", "batch_output")["id"]


def _form_fields(content_type: str, raw: bytes) -> dict[str, tuple[str, bytes]]:
    """A multipart/form-data body's fields: name → (filename, bytes)."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename() or ""
        fields[str(name)] = (filename, part.get_payload(decode=True) or b"")
    return fields


def _public(file: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in file.items() if k != "data"}


def _expired(message: str) -> dict[str, str]:
    return {"code": "batch_expired", "message": message}


def _error(message: str) -> dict[str, Any]:
    return {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}
    }
