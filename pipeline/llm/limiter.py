"""Keep LLM calls under a provider's requests- and tokens-per-minute limits, at full speed.

Two layers:

- `Budget` is the pure time logic: a sliding window of what was granted (requests, and tokens:
  an estimate before the call, the real usage after it), what the server said in its
  `x-ratelimit-*` headers, a pause after a 429's `Retry-After`, and a cap on calls in flight.
  Every method takes `now`, so tests drive it with a hand-made clock.
- `RateLimiter` puts an asyncio queue in front of it: callers wait their turn (first come, first
  served), sleep until the budget allows them, and wake early when a finished call frees room.

    limiter = RateLimiter(rpm=500, tpm=200_000, max_concurrency=8)
    grant = await limiter.acquire(estimate_tokens(chars, max_tokens))
    ...  # the call
    limiter.release(grant, tokens=usage.total, headers=response.headers)
    limiter.pause(retry_after(headers))  # on a 429, every caller waits

The limiter holds no asyncio primitive bound to one event loop, so a backend may be used from
several loops in turn (tests run one per test).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

# Characters per token for English prose: the provider's own pre-call estimate uses the same rule.
CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD_TOKENS = 4  # role markers and separators around each chat message
DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def estimate_tokens(chars: int, max_tokens: int, messages: int = 1) -> int:
    """Tokens a call may use before it is made: its prompt (from characters) plus all its room."""
    prompt = math.ceil(chars / CHARS_PER_TOKEN) + MESSAGE_OVERHEAD_TOKENS * messages
    return prompt + max_tokens


def parse_duration(text: str) -> float | None:
    """Seconds in OpenAI's reset formats ("1s", "6m0s", "20ms", "1h2m3.5s") or a bare number."""
    text = text.strip()
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    parts = DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(number) * DURATION_UNITS[unit] for number, unit in parts)


def retry_after(headers: Mapping[str, str], wall_clock: float | None = None) -> float | None:
    """Seconds a server asked us to wait: `retry-after-ms`, else `Retry-After` (seconds or date)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    with contextlib.suppress(ValueError):
        if "retry-after-ms" in lowered:
            return max(float(lowered["retry-after-ms"]) / 1000, 0.0)
    value = lowered.get("retry-after")
    if value is None:
        return None
    with contextlib.suppress(ValueError):
        return max(float(value), 0.0)
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    now = time.time() if wall_clock is None else wall_clock
    return max(when - now, 0.0)


@dataclass(eq=False)
class Grant:
    """One call let through: when, and how many tokens it counts for (estimate, then real)."""

    start: float
    tokens: int
    done: bool = False


@dataclass
class _Excess:
    """Usage the server reported that our window does not explain (other clients, other counts)."""

    amount: int = 0
    until: float = 0.0


@dataclass
class _Kind:
    """One limited quantity (requests or tokens): its limits and what the server said."""

    configured: int | None
    learned: int | None = None
    excess: _Excess | None = None

    @property
    def limit(self) -> int | None:
        known = [n for n in (self.configured, self.learned) if n is not None]
        return min(known) if known else None


class Budget:
    """The sliding-window bookkeeping behind `RateLimiter`; pure, every call is given `now`.

    A grant counts for `window + margin` seconds: the margin covers the gap between our clock
    and the moment the server counts the request, so a window that just freed on our side has
    also freed on the server's.
    """

    def __init__(
        self,
        *,
        rpm: int | None = None,
        tpm: int | None = None,
        max_concurrency: int = 8,
        window: float = 60.0,
        margin: float = 0.5,
    ) -> None:
        if window <= 0 or margin < 0 or max_concurrency < 1:
            raise ValueError("window must be > 0, margin >= 0, max_concurrency >= 1")
        self.window = window
        self.margin = margin
        self.max_concurrency = max_concurrency
        self.requests = _Kind(rpm)
        self.tokens = _Kind(tpm)
        self.paused_until = 0.0
        self.in_flight = 0
        self._grants: deque[Grant] = deque()

    # --- asking -----------------------------------------------------------------------

    def delay(self, now: float, tokens: int) -> float:
        """Seconds until a call of `tokens` may start: 0 now, `inf` until a call in flight ends."""
        if self.in_flight >= self.max_concurrency:
            return math.inf
        self._prune(now)
        waits = [self.paused_until - now]
        live = [g for g in self._grants if self._live(g, now)]
        waits.append(self._wait_for(self.requests, now, 1, [(self._expiry(g), 1) for g in live]))
        token_events = [(self._expiry(g), g.tokens) for g in live]
        waits.append(self._wait_for(self.tokens, now, tokens, token_events))
        return max(0.0, *waits)

    def grant(self, now: float, tokens: int) -> Grant:
        """Record a call that starts now (after `delay` said 0)."""
        granted = Grant(start=now, tokens=max(tokens, 0))
        self._grants.append(granted)
        self.in_flight += 1
        return granted

    # --- learning ---------------------------------------------------------------------

    def release(
        self,
        grant: Grant,
        now: float,
        *,
        tokens: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """A call ended: free its slot, count its real tokens, learn from the server's headers.

        `tokens=None` keeps the estimate (a timeout may still have been charged); 0 suits a
        request the server refused.
        """
        if not grant.done:
            grant.done = True
            self.in_flight -= 1
        if tokens is not None:
            grant.tokens = max(tokens, 0)
        if headers:
            self.observe(headers, grant, now)

    def observe(self, headers: Mapping[str, str], grant: Grant, now: float) -> None:
        """Adjust to `x-ratelimit-*` headers from the reply to `grant`'s request.

        The server's limit is learned (the lower of it and the configured one applies). When the
        server counts more use than our window holds for the same moment, the difference is
        carried until the server's reset time, so we slow down instead of meeting a 429.
        """
        lowered = {k.lower(): v for k, v in headers.items()}
        for name, kind in (("requests", self.requests), ("tokens", self.tokens)):
            limit = _int(lowered.get(f"x-ratelimit-limit-{name}"))
            if limit is not None and limit > 0:
                kind.learned = limit
            remaining = _int(lowered.get(f"x-ratelimit-remaining-{name}"))
            reset = parse_duration(lowered.get(f"x-ratelimit-reset-{name}", ""))
            if remaining is not None and kind.limit is not None:
                seen = self._used_when_sent(grant, count_requests=name == "requests")
                excess = max(kind.limit - remaining - seen, 0)
                hold = reset if reset is not None else self.window
                kind.excess = _Excess(excess, now + hold) if excess else None

    def pause(self, until: float) -> None:
        """No call starts before `until` (a 429's Retry-After applies to every caller)."""
        self.paused_until = max(self.paused_until, until)

    # --- inside -----------------------------------------------------------------------

    def _wait_for(
        self, kind: _Kind, now: float, need: int, events: list[tuple[float, int]]
    ) -> float:
        """Seconds until `need` more fits under `kind`'s limit, as grants and excess expire."""
        limit = kind.limit
        if limit is None:
            return 0.0
        if kind.excess is not None and kind.excess.until > now:
            events = [*events, (kind.excess.until, kind.excess.amount)]
        need = min(need, limit)  # a call bigger than the limit waits for an empty window
        over = sum(amount for _, amount in events) + need - limit
        if over <= 0:
            return 0.0
        for expiry, amount in sorted(events):
            over -= amount
            if over <= 0:
                return expiry - now
        return 0.0  # unreachable: every event expires, and need <= limit

    def _used_when_sent(self, grant: Grant, *, count_requests: bool) -> int:
        """What our window held when `grant`'s request left: the server's view at that time."""
        since = grant.start - self.window - self.margin
        live = [g for g in self._grants if since < g.start <= grant.start]
        return len(live) if count_requests else sum(g.tokens for g in live)

    def _expiry(self, grant: Grant) -> float:
        return grant.start + self.window + self.margin

    def _live(self, grant: Grant, now: float) -> bool:
        return self._expiry(grant) > now

    def _prune(self, now: float) -> None:
        # Kept one window longer than they count, so a late reply's headers can be compared.
        horizon = now - 2 * (self.window + self.margin)
        while self._grants and self._grants[0].start < horizon and self._grants[0].done:
            self._grants.popleft()


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


@dataclass(eq=False)
class _Waiter:
    loop: asyncio.AbstractEventLoop
    event: asyncio.Event

    def wake(self) -> None:
        with contextlib.suppress(RuntimeError):  # its loop has closed: nobody is waiting
            self.loop.call_soon_threadsafe(self.event.set)


class RateLimiter:
    """Callers queue here before each LLM request; see the module docstring."""

    def __init__(
        self,
        *,
        rpm: int | None = None,
        tpm: int | None = None,
        max_concurrency: int = 8,
        window: float = 60.0,
        margin: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.budget = Budget(
            rpm=rpm, tpm=tpm, max_concurrency=max_concurrency, window=window, margin=margin
        )
        self.clock = clock
        # Told when the call at the head of the queue must wait a second or more for the budget
        # (a rate limit or a 429's Retry-After), for a display; never for a concurrency slot.
        self.on_wait = on_wait
        self._lock = threading.Lock()  # guards budget and queue; never held across an await
        self._queue: deque[_Waiter] = deque()

    async def acquire(self, tokens: int) -> Grant:
        """Wait for this call's turn and room; the grant must be given back with `release`."""
        waiter = _Waiter(asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._queue.append(waiter)
        told = False
        try:
            while True:
                with self._lock:
                    delay = math.inf
                    if self._queue[0] is waiter:
                        delay = self.budget.delay(self.clock(), tokens)
                        if delay <= 0:
                            self._queue.popleft()
                            granted = self.budget.grant(self.clock(), tokens)
                            self._wake_head()
                            return granted
                    waiter.event.clear()
                timeout = None if math.isinf(delay) else delay
                if self.on_wait is not None and timeout is not None and timeout >= 1 and not told:
                    told = True
                    self.on_wait(f"LLM rate limit: waiting {timeout:.0f} s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter.event.wait(), timeout)
        finally:
            with self._lock:
                if waiter in self._queue:  # cancelled while waiting: let the next one try
                    self._queue.remove(waiter)
                    self._wake_head()

    def release(
        self,
        grant: Grant,
        *,
        tokens: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """The call ended; `tokens` is its real usage (None keeps the estimate)."""
        with self._lock:
            self.budget.release(grant, self.clock(), tokens=tokens, headers=headers)
            self._wake_head()

    def pause(self, seconds: float) -> None:
        """Hold every caller for `seconds` (a 429's Retry-After)."""
        with self._lock:
            self.budget.pause(self.clock() + seconds)
            self._wake_head()

    def _wake_head(self) -> None:
        if self._queue:
            self._queue[0].wake()
