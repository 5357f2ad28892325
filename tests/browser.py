"""Headless Chromium for the HTML tests: a page opened from disk, with the network off.

Chromium is Debian's `chromium` package (`.ci/run` installs it). Without it the browser tests
fail and say how to install it: a browser test that skips in CI tests nothing. Set
PAPERBRIEF_NO_BROWSER=1 to skip them on purpose.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

# No sandbox: CI runs as root, where Chromium refuses it. The rest keeps Chromium from calling
# home (updates, sync, field trials) and every host from resolving, IP literals included; what
# is left goes to a proxy on the discard port and fails at once. Only 127.0.0.1 is let through
# (loopback bypasses the proxy), so a test's own listener sees any request a page makes.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--proxy-server=127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def chromium_or_fail() -> str:
    found = find_chromium()
    if found:
        return found
    if os.environ.get("PAPERBRIEF_NO_BROWSER") == "1":
        pytest.skip("PAPERBRIEF_NO_BROWSER=1: browser tests skipped on request")
    pytest.fail(
        "chromium not found: install it (apt-get install -y chromium; .ci/run does) "
        "or set PAPERBRIEF_NO_BROWSER=1 to skip the browser tests",
        pytrace=False,
    )


class Chromium:
    """One headless Chromium run per call, each with a fresh profile."""

    def __init__(self, executable: str) -> None:
        self.executable = executable

    def dump_dom(self, page: Path) -> str:
        """The DOM after the page loaded (and after any script in it ran), serialized."""
        return self._run("--dump-dom", page=page).stdout

    def screenshot(self, page: Path, out: Path, width: int = 1000, height: int = 1600) -> Path:
        self._run(f"--screenshot={out}", f"--window-size={width},{height}", page=page)
        assert out.is_file(), f"Chromium wrote no screenshot of {page}"
        return out

    def print_pdf(self, page: Path, out: Path) -> Path:
        self._run(f"--print-to-pdf={out}", "--no-pdf-header-footer", page=page)
        assert out.is_file(), f"Chromium printed no PDF of {page}"
        return out

    def _run(self, *args: str, page: Path) -> subprocess.CompletedProcess[str]:
        with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
            done = subprocess.run(
                [self.executable, *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        assert done.returncode == 0, f"chromium exited {done.returncode}: {done.stderr[-2000:]}"
        return done


class Listener:
    """A web server on 127.0.0.1 that counts every connection and request made to it."""

    def __init__(self) -> None:
        self.connections = 0
        self.paths: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @contextmanager
    def running(self) -> Iterator[Listener]:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                listener.paths.append(self.path)
                self.send_response(204)
                self.end_headers()

            do_POST = do_GET

            def log_message(self, format: str, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def verify_request(self, request: object, client_address: object) -> bool:
                listener.connections += 1  # a connection that sends nothing counts too
                return True

        server = Server(("127.0.0.1", 0), Handler)
        self.port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
