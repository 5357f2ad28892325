"""The one HTTP client that talks to arXiv, polite by construction.

arXiv's terms ask for one connection at a time and no more than one request every 3 seconds, so:

- one `httpx.Client` with a single connection, and a lock so threads take turns;
- every request (API, RSS or PDF, retries and redirects included) starts at least
  `settings.delay` seconds after the previous one started, measured with the injected clock;
- 429 and 503 wait for `Retry-After` (seconds or an HTTP date), capped at `max_backoff`;
- other 5xx, timeouts and dropped connections back off exponentially with jitter;
- at most `max_retries` retries; other 4xx are answered at once, never retried;
- only URLs under the configured base URL of their kind are requested (`RefusedURL` otherwise),
  so no URL found inside a paper or a reply is ever fetched; a base URL's credentials
  (`http://user:pass@proxy/`) are used and never shown (`pipeline.redaction`).

`get` returns the final `httpx.Response` whatever its status (callers decide what a 404 means)
and raises `RequestFailed` only when no reply came at all after the retries.
"""

from __future__ import annotations

import os
import random
import re
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
        self._space()
        stats = self.stats[kind]
        stats.requests += 1
        response = self._http.get(url, params=dict(params) if params else None)
        stats.bytes += len(response.content)
        return response

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
