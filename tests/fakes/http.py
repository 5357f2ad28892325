"""What every local test server shares: a quiet threaded HTTP server on 127.0.0.1, started
and stopped as a context manager, and a storm of random faults a bench can turn on."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: Any  # the object the handlers answer for

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up mid-reply (a timeout test) is expected, not news


class LocalServer:
    """Subclasses set `handler`; its requests reach the subclass as `self.server.fake`."""

    handler: type[BaseHTTPRequestHandler]

    def __init__(self) -> None:
        self._httpd: QuietServer | None = None

    def __enter__(self) -> Any:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        httpd = QuietServer(("127.0.0.1", 0), self.handler)
        httpd.fake = self
        # A short poll interval lets `stop()` return in milliseconds instead of half a second.
        serve = {"poll_interval": 0.01}
        threading.Thread(target=httpd.serve_forever, kwargs=serve, daemon=True).start()
        self._httpd = httpd

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def origin(self) -> str:
        assert self._httpd is not None, "start the server first (use it as a context manager)"
        return f"http://127.0.0.1:{self._httpd.server_port}"


class QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean; the fakes record what was asked


def free_port() -> int:
    """A port that was free a moment ago: nothing listens there (or a server may start)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


StormKind = Literal["5xx", "429", "cut", "hang"]


@dataclass
class Storm:
    """Random faults on a share of requests, drawn from a seeded generator (a bench's storm).

    error     answer 500, 502 or 503
    throttle  answer 429 (Retry-After: `retry_after`)
    cut       send the status line, headers and half the body, then drop the connection
    hang      say nothing for `hang_seconds`, then drop the connection (a client times out)
    """

    error: float = 0.0
    throttle: float = 0.0
    cut: float = 0.0
    hang: float = 0.0
    hang_seconds: float = 30.0
    retry_after: float = 0.2
    seed: int = 0
    drawn: Counter[str] = field(default_factory=Counter)  # faults dealt, by kind

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    def draw(self) -> tuple[StormKind | None, int]:
        """The fault for the next request, or None, and the status a 5xx answers with."""
        with self._lock:
            x, status = self._rng.random(), self._rng.choice((500, 502, 503))
            for kind, share in (
                ("5xx", self.error),
                ("429", self.throttle),
                ("cut", self.cut),
                ("hang", self.hang),
            ):
                if x < share:
                    self.drawn[kind] += 1
                    return kind, status  # type: ignore[return-value]
                x -= share
            return None, status


def send_cut(
    handler: BaseHTTPRequestHandler, status: int, head: dict[str, str], data: bytes
) -> None:
    """Promise `data` in Content-Length, send half of it and hang up: a reply cut off mid-body."""
    handler.send_response(status)
    for name, value in {**head, "Content-Length": str(len(data))}.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data[: len(data) // 2])
    handler.wfile.flush()
    handler.close_connection = True


def hang_up(handler: BaseHTTPRequestHandler, seconds: float) -> None:
    """Say nothing for `seconds`, then close the connection without a reply."""
    time.sleep(seconds)
    handler.close_connection = True
