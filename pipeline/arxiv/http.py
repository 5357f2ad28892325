"""The one HTTP client that talks to arXiv, polite by construction.

arXiv's terms ask for one connection at a time and no more than one request every 3 seconds, so:

- one `httpx.Client` with a single connection, and a lock so threads take turns;
- every request (API, RSS or PDF, retries and redirects included) starts at least
  `settings.delay` seconds after the previous one started, measured with the injected clock;
- 429 and 503 wait for `Retry-After` (seconds or an HTTP date), capped at `max_backoff`;
- other 5xx, timeouts and dropped connections back off exponentially with jitter;
- at most `max_retries` retries; other 4xx are answered at once, never retried;
- a reply is read as a stream, never past its cap (`max_feed_mb` for the API and RSS,
  `max_pdf_mb` for a PDF): a Content-Length over the cap is refused before the body is read;
- each request has a deadline (`deadline`, from asking to the last byte), not only a timeout
  per read, so a server that drips a byte at a time fails that request; neither is retried;
- the run's stop abandons the request on the wire at once (it is fetched again next run);
- only URLs under the configured base URL of their kind are requested (`RefusedURL` otherwise),
  so no URL found inside a paper or a reply is ever fetched; a base URL's credentials
  (`http://user:pass@proxy/`) are used and never shown (`pipeline.redaction`).

`get` returns the final `httpx.Response` whatever its status (callers decide what a 404 means)
and raises `RequestFailed` only when no reply came at all after the retries.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote

import httpx
from pydantic import BaseModel
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_any,
)
from tenacity.stop import stop_base

from pipeline.redaction import masked, redacted, url_secrets
from pipeline.settings import ArxivSettings
from pipeline.wording import plural

if TYPE_CHECKING:
    from pipeline.stopping import Stop

Kind = Literal["api", "rss", "pdf"]
KINDS: tuple[Kind, ...] = ("api", "rss", "pdf")
KIND_NAMES: dict[Kind, str] = {"api": "API", "rss": "RSS", "pdf": "PDF"}
HOMEPAGE = "https://github.com/paperbrief/paperbrief"
BACKOFF_BASE = 2.0  # seconds before the first retry of a 5xx or a network failure (then ×2)
MAX_REDIRECTS = 5
RETRY_AFTER_STATUSES = frozenset({429, 503})

Params = Mapping[str, str | int]


class RequestStats(BaseModel):
    """What one kind of request cost: attempts sent, retries, bytes received, calls that failed."""

    requests: int = 0
    retries: int = 0
    bytes: int = 0
    failures: int = 0


class RequestFailed(Exception):
    """No HTTP reply after every retry (timeouts, refused or dropped connections)."""

    def __init__(self, message: str, *, url: str, retries: int) -> None:
        # a configured URL may hold credentials; whoever shows or stores this never sees them
        super().__init__(redacted(message))
        self.url = redacted(url)
        self.retries = retries


class RefusedURL(RequestFailed):
    """Not sent: the URL is not under the configured base URL of its kind (a redirect away
    from arXiv, a link from a reply). The listing makes it a `FeedError`, a download the
    paper's `DownloadError`: one line each, never a traceback."""


class ReplyTooLarge(RequestFailed):
    """The reply is larger than its kind's cap (`arxiv.max_feed_mb`, `arxiv.max_pdf_mb`):
    announced so (refused before reading) or grown past it (cut there). Not retried."""


class _AskedToWaitTooLong(stop_base):
    """Give up, rather than ask again before arXiv said we may, when its Retry-After is longer
    than we are willing to wait (arxiv.max_backoff)."""

    def __init__(self, cap: float) -> None:
        self.cap = cap

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome else None
        retry_after = exc.retry_after if isinstance(exc, _RetryableStatus) else None
        return retry_after is not None and retry_after > self.cap


class _RunStopping(stop_base):
    """Give up, rather than retry, once the run is asked to stop."""

    def __init__(self, stopping: Callable[[], bool]) -> None:
        self.stopping = stopping

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self.stopping()


class _StoppedWaiting(Exception):
    """The run was asked to stop while a request waited (its turn, or a retry's back-off)."""


class _Abandoned(Exception):
    """A request ended from outside before its reply was whole: its deadline passed, or the
    run was asked to stop. Never retried: a server that drips would drip again."""

    def __init__(self, why: Literal["deadline", "stop"]) -> None:
        super().__init__(why)
        self.why = why


class _Cutoff:
    """Ends one request from outside, at its deadline (a timer thread) or at the run's stop
    (called from the signal handler), by shutting its connection's socket down: a read blocked
    on it returns at once, in whatever thread it waits. Only a flag and one system call, so it
    is safe in a signal handler."""

    def __init__(self, seconds: float, connection: Callable[[], socket.socket | None]) -> None:
        self.why: Literal["deadline", "stop"] | None = None
        self._connection = connection
        self._timer = threading.Timer(seconds, self.cut, ("deadline",))
        self._timer.daemon = True

    def __enter__(self) -> _Cutoff:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def cut(self, why: Literal["deadline", "stop"]) -> None:
        if self.why is None:
            self.why = why
        self.shut()

    def shut(self) -> None:
        """Shut the connection down if the request was cut (a connection made after the cut
        too: the run may stop while a request connects)."""
        sock = self._connection()
        if self.why is None or sock is None:
            return
        # The plain socket's shutdown, also for TLS: SSLSocket's own would drop its state under
        # the reading thread's feet. A socket closed already needs none.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _RetryableStatus(Exception):
    """A reply worth asking again for (429, 5xx); carries the reply and arXiv's requested wait."""

    def __init__(self, response: httpx.Response, retry_after: float | None) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response
        self.retry_after = retry_after


# Network trouble worth a retry. Local protocol errors and bad URLs are bugs, not weather.
_TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


def user_agent(contact: str) -> str:
    """`paperbrief/<version> (+homepage; mailto:<contact>)`, the mailto left out when empty."""
    try:
        own = version("paperbrief")
    except PackageNotFoundError:
        own = "0+unknown"
    about = f"+{HOMEPAGE}; mailto:{contact}" if contact.strip() else f"+{HOMEPAGE}"
    return f"paperbrief/{own} ({about})"


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta seconds or an HTTP date; None if absent
    or unreadable. A date in the past means no wait."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    wall = time.time() if now is None else now
    return max(0.0, when.timestamp() - wall)


def network_cause(exc: BaseException) -> str | None:
    """The operating system's words for a network failure ("name or service not known",
    "connection refused"), found in the exception or the ones it was raised from; None when
    none says more than the exception's type (a dropped connection)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and isinstance(current.strerror, str):
            # asyncio words a refusal "Connect call failed (host, port)"; errno says refused.
            errno = current.errno
            known = isinstance(errno, int) and errno > 0
            return _lower_first(os.strerror(errno) if errno and known else current.strerror)
        if match := _ERRNO_TEXT.search(str(current)):
            return _lower_first(match.group(1).strip())
        current = current.__cause__ or current.__context__
    return None


# httpx and anyio keep the OS error only as text: "[Errno 111] Connection refused".
_ERRNO_TEXT = re.compile(r"\[Errno -?\d+\] ([^\]\)'\"]+)")


def megabytes(mb: float) -> int:
    """Bytes in `mb` megabytes (10^6, as a download tool counts them)."""
    return int(mb * 1_000_000)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _describe(exc: BaseException, retries: int) -> str:
    """What happened on the wire, in words a user can act on without --debug:
    "could not connect after 4 retries: name or service not known"."""
    cause: str | None
    if isinstance(exc, httpx.ConnectTimeout):
        what, cause = "timed out", "no connection within the timeout"
    elif isinstance(exc, httpx.TimeoutException):
        what, cause = "timed out", "no reply within the timeout"
    elif isinstance(exc, httpx.ConnectError):
        what, cause = "could not connect", network_cause(exc)
    else:
        what, cause = "connection dropped", network_cause(exc)
    after = f" after {plural(retries, 'retry', 'retries')}" if retries else ""
    return f"{what}{after}: {cause}" if cause else f"{what}{after}"


class ArxivClient:
    """A polite, fault-tolerant GET for arXiv's API, RSS and PDF servers; a context manager."""

    def __init__(
        self,
        settings: ArxivSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        on_retry: Callable[[str], None] | None = None,
        stop: Stop | None = None,
    ) -> None:
        self.settings = settings
        # The run's stop (`pipeline.stopping`): no retry is made after it, nor waited for.
        self._stop = stop
        # Told of each retry before its wait ("arXiv RSS: retry 2/4 in 8 s"), for a display.
        self._on_retry = on_retry
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._bases: dict[Kind, httpx.URL] = {
            "api": httpx.URL(settings.api_url),
            "rss": httpx.URL(settings.rss_url),
            "pdf": httpx.URL(settings.pdf_url),
        }
        self._lock = threading.Lock()
        self._last_start: float | None = None
        # The socket of the one connection (max_connections=1), learnt as it is made, so that a
        # request's deadline or the run's stop can shut it down (`_Cutoff`).
        self._socket: socket.socket | None = None
        self._cutoff: _Cutoff | None = None
        self._caps: dict[Kind, int] = {
            "api": megabytes(settings.max_feed_mb),
            "rss": megabytes(settings.max_feed_mb),
            "pdf": megabytes(settings.max_pdf_mb),
        }
        self.stats: dict[str, RequestStats] = {kind: RequestStats() for kind in KINDS}
        self._http = httpx.Client(
            headers={"User-Agent": user_agent(settings.contact)},
            timeout=httpx.Timeout(settings.timeout),
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            follow_redirects=False,  # followed by hand, so each hop is checked and spaced
        )

    # --- lifecycle --------------------------------------------------------------------

    def __enter__(self) -> ArxivClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def masked(self, text: str) -> str:
        """A server's words as they may be shown or stored: a reply may echo the credentials
        of a configured URL, as the URL, `user:password` or the Basic header sent with them."""
        urls = (self.settings.api_url, self.settings.rss_url, self.settings.pdf_url)
        return masked(text, [secret for url in urls for secret in url_secrets(url)])

    # --- the one public call ----------------------------------------------------------

    def get(self, url: str, params: Params | None = None, *, kind: Kind) -> httpx.Response:
        """GET `url` (which must lie under the configured base URL of `kind`), politely.

        Returns the final reply, whatever its status. Raises `RefusedURL` for a URL outside
        arXiv's configured bases and `RequestFailed` when no reply came after the retries.
        """
        self.check_url(url, kind)
        stats = self.stats[kind]
        if self._stopping():
            raise RequestFailed("not sent: the run is stopping", url=url, retries=0)
        retrying = Retrying(
            retry=retry_if_exception_type((*_TRANSIENT, _RetryableStatus)),
            stop=stop_any(
                stop_after_attempt(self.settings.max_retries + 1),
                _AskedToWaitTooLong(self.settings.max_backoff),
                _RunStopping(self._stopping),
            ),
            wait=self._wait,
            sleep=self._backoff,
            before_sleep=lambda state: self._retrying(stats, kind, state),
            reraise=True,
        )
        with self._lock:
            try:
                response = retrying(self._attempt, url, params, kind)
            except _RetryableStatus as exc:
                stats.failures += 1
                if self._stopping():  # the retry it would have made was not: say so, not the 503
                    raise RequestFailed(
                        "not sent: the run is stopping", url=url, retries=0
                    ) from None
                return exc.response
            except _StoppedWaiting:
                stats.failures += 1
                retries = self.settings.max_retries
                message = "not sent: the run is stopping"
                raise RequestFailed(message, url=url, retries=retries) from None
            except _Abandoned as exc:
                stats.failures += 1
                raise RequestFailed(self._cut_message(exc), url=url, retries=0) from None
            except ReplyTooLarge:
                stats.failures += 1
                raise
            except _TRANSIENT as exc:
                stats.failures += 1
                if self._stopping():
                    raise RequestFailed(
                        "not sent: the run is stopping", url=url, retries=0
                    ) from exc
                retries = self.settings.max_retries
                message = self.masked(_describe(exc, retries))  # may quote a garbled reply
                raise RequestFailed(message, url=url, retries=retries) from exc
        if not response.is_success:
            stats.failures += 1
        return response

    def check_url(self, url: str, kind: Kind) -> None:
        """Raise `RefusedURL` unless `url` is under the configured base URL for `kind`."""
        if kind not in self._bases:
            raise ValueError(f"unknown request kind {kind!r}; expected one of {KINDS}")
        if not self._allowed(httpx.URL(url), self._bases[kind]):
            base = self._bases[kind]
            # `url` may be a server's Location, echoing what it was sent
            message = self.masked(f"refusing to fetch {url}: not under the arXiv {kind} URL {base}")
            raise RefusedURL(message, url=url, retries=0)

    # --- internals --------------------------------------------------------------------

    @staticmethod
    def _allowed(target: httpx.URL, base: httpx.URL) -> bool:
        # https is accepted for an http base (arXiv upgrades its links); nothing else may differ.
        schemes = {base.scheme, "https"}
        if target.scheme not in schemes or (target.host, target.port) != (base.host, base.port):
            return False
        # credentials only as configured: a redirect or a reply's link cannot add or change them
        if target.userinfo != base.userinfo or ".." in unquote(target.path).split("/"):
            return False
        prefix = base.path if base.path.endswith("/") else base.path + "/"
        return target.path == base.path or target.path.startswith(prefix)

    def _attempt(self, url: str, params: Params | None, kind: Kind) -> httpx.Response:
        response = self._send(httpx.URL(url), params, kind)
        for _ in range(MAX_REDIRECTS):
            if not response.has_redirect_location:
                break
            target = response.url.join(response.headers["Location"])
            base = self._bases.get(kind)
            if (
                base is not None
                and base.userinfo
                and not target.userinfo
                and (target.host, target.port) == (base.host, base.port)
            ):
                # A server names no credentials in Location (http → https, an absolute path):
                # the configured ones go on to the same host, which check_url still requires.
                target = target.copy_with(userinfo=base.userinfo)
            self.check_url(str(target), kind)
            response = self._send(target, None, kind)
        status = response.status_code
        if status in RETRY_AFTER_STATUSES:
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            raise _RetryableStatus(response, wait)
        if status >= 500:
            raise _RetryableStatus(response, None)
        return response

    def _send(self, url: httpx.URL, params: Params | None, kind: Kind) -> httpx.Response:
        """One exchange, its body read whole within the kind's cap and the deadline."""
        self._space()
        stats = self.stats[kind]
        stats.requests += 1
        request = self._http.build_request(
            "GET", url, params=dict(params) if params else None, extensions={"trace": self._trace}
        )
        cutoff = _Cutoff(self.settings.deadline, lambda: self._socket)
        forget = self._stop.listen(lambda: cutoff.cut("stop")) if self._stop else None
        self._cutoff = cutoff
        try:
            with cutoff:
                if self._stopping():  # asked before the listener was there: not sent
                    raise _StoppedWaiting
                response = self._http.send(request, stream=True)
                try:
                    body = self._body(response, kind, str(url))
                finally:
                    response.close()
        except httpx.HTTPError:
            if cutoff.why is not None:  # what broke was our own shutdown of the socket
                raise _Abandoned(cutoff.why) from None
            raise
        finally:
            self._cutoff = None
            if forget is not None:
                forget()
        if cutoff.why is not None:  # cut just as the last byte came: the stop still counts
            raise _Abandoned(cutoff.why)
        stats.bytes += len(body)
        # A reply read by hand is still a whole `httpx.Response` for the callers.
        response._content = body
        return response

    def _body(self, response: httpx.Response, kind: Kind, url: str) -> bytes:
        """The reply's (decoded) body, refused past the kind's cap: at once when its
        Content-Length says so, else when the bytes read pass it."""
        cap = self._caps[kind]
        announced = response.headers.get("Content-Length", "")
        if announced.strip().isdigit() and int(announced) > cap:
            raise self._too_large(kind, url, f"{int(announced):,} bytes announced")
        parts: list[bytes] = []
        size = 0
        for part in response.iter_bytes():
            size += len(part)
            if size > cap:
                raise self._too_large(kind, url, f"cut at {size:,} bytes")
            parts.append(part)
        return b"".join(parts)

    def _too_large(self, kind: Kind, url: str, how: str) -> ReplyTooLarge:
        setting = "max_pdf_mb" if kind == "pdf" else "max_feed_mb"
        limit = getattr(self.settings, setting)
        message = (
            f"the {KIND_NAMES[kind]} reply is larger than arxiv.{setting} = {limit:g} MB "
            f"({how}); raise arxiv.{setting} (paperbrief.toml [arxiv], or "
            f"PAPERBRIEF_ARXIV__{setting.upper()}) if it is real"
        )
        return ReplyTooLarge(message, url=url, retries=0)

    def _trace(self, event: str, info: Mapping[str, object]) -> None:
        """httpcore's trace hook: learn the socket of each connection as it is made."""
        if not event.endswith((".connect_tcp.complete", ".start_tls.complete")):
            return
        stream = info.get("return_value")
        get_extra_info = getattr(stream, "get_extra_info", None)
        sock = get_extra_info("socket") if get_extra_info is not None else None
        if isinstance(sock, socket.socket):
            self._socket = sock
            if self._cutoff is not None:
                self._cutoff.shut()  # a request cut while it connected ends now

    def _cut_message(self, exc: _Abandoned) -> str:
        if exc.why == "stop":
            return "abandoned: the run is stopping (fetched again by the next run)"
        return (
            f"timed out: no whole reply within arxiv.deadline = {self.settings.deadline:g} s; "
            "the server is too slow, try again later"
        )

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.requested

    def _backoff(self, seconds: float) -> None:
        """A retry's wait; a stop asked meanwhile ends it, and the retry is not made."""
        if self._stop is None:
            self._sleep(seconds)
            return
        self._stoppable_sleep(seconds)
        if self._stopping():
            raise _StoppedWaiting

    def _stoppable_sleep(self, seconds: float) -> None:
        """Sleep `seconds` in slices, returning early once the run is asked to stop."""
        left = seconds
        while left > 0 and not self._stopping():
            step = min(left, 0.1)
            self._sleep(step)
            left -= step

    def _space(self) -> None:
        """Wait until `delay` seconds have passed since the previous request started."""
        if self._last_start is not None:
            remaining = self._last_start + self.settings.delay - self._clock()
            if remaining > 0:
                if self._stop is None:
                    self._sleep(remaining)
                else:
                    self._stoppable_sleep(remaining)
                    if self._stopping():  # asked while it waited its turn: not sent
                        raise _StoppedWaiting
        self._last_start = self._clock()

    def _wait(self, state: RetryCallState) -> float:
        cap = self.settings.max_backoff
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _RetryableStatus) and exc.retry_after is not None:
            return min(exc.retry_after, cap)
        backoff = min(cap, BACKOFF_BASE * 2 ** (state.attempt_number - 1))
        return backoff * (0.5 + 0.5 * self._rng())  # jitter within [backoff/2, backoff]

    def _retrying(self, stats: RequestStats, kind: Kind, state: RetryCallState) -> None:
        stats.retries += 1
        if self._on_retry is None:
            return
        exc = state.outcome.exception() if state.outcome else None
        why: str | None = None
        if isinstance(exc, _RetryableStatus):
            why = f"HTTP {exc.response.status_code}"
        elif isinstance(exc, httpx.TimeoutException):
            why = "timed out"
        elif exc is not None and (cause := network_cause(exc)):
            why = self.masked(cause)  # found in the exception's text, which may quote a reply
        wait = state.next_action.sleep if state.next_action else 0.0
        retries = self.settings.max_retries
        self._on_retry(
            f"arXiv {KIND_NAMES[kind]}: retry {state.attempt_number}/{retries} "
            f"in {wait:.0f} s" + (f" ({why})" if why else "")
        )
