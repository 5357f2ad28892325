"""What every local test server shares: a quiet threaded HTTP server on 127.0.0.1, started
and stopped as a context manager."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


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
