"""Keep LLM calls under a provider's requests- and tokens-per-minute limits, at full speed.

Two layers:

- `Budget` is the pure time logic: a sliding window of what was granted (requests, and tokens:
  the prompt and all of max_tokens, or the real use when larger), what the server said in its
  `x-ratelimit-*` headers, a pause after a 429's `Retry-After`, and a cap on calls in flight.
  Limits come from the caller, from `x-ratelimit-limit-*`, or from `x-ratelimit-remaining-*`
  alone (what our window held when a request left plus what remained; the middle of the
  readings until their `-reset-*`): the lowest applies. Every method takes `now`, so tests
  drive it with a hand-made clock, and costs O(log n) in the calls a window holds.
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
import bisect
import contextlib
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.stopping import Stop

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
    """One call let through: when, its place in the window, and the tokens it counts for
    (the estimate, then the real use)."""

    start: float
    tokens: int
    seq: int = -1
    done: bool = False


class _Sums:
    """Running sums over the grants in order (a Fenwick tree): a grant's tokens change, a range
    is summed and the grant where a running total crosses a value is found, each in O(log n)."""

    def __init__(self, values: list[int] | None = None) -> None:
        self._tree = [0]
        for value in values or []:
            self.append(value)

    def __len__(self) -> int:
        return len(self._tree) - 1

    def append(self, value: int) -> None:
        i = len(self._tree)
        low = i & -i
        # The new node covers (i - low, i]: its own value plus the nodes below it.
        self._tree.append(value + self.prefix(i - 1) - self.prefix(i - low))

    def add(self, index: int, delta: int) -> None:
        i = index + 1
        while i < len(self._tree):
            self._tree[i] += delta
            i += i & -i

    def prefix(self, end: int) -> int:
        """The sum of the first `end` values."""
        total, i = 0, end
        while i > 0:
            total += self._tree[i]
            i -= i & -i
        return total

    def crossing(self, target: int) -> int:
        """The smallest index whose prefix (it included) reaches `target`; len() if none does."""
        position, remaining = 0, target
        step = 1 << (len(self).bit_length())
        while step:
            ahead = position + step
            if ahead < len(self._tree) and self._tree[ahead] < remaining:
                position, remaining = ahead, remaining - self._tree[ahead]
            step >>= 1
        return position


@dataclass
class _Kind:
    """One limited quantity (requests or tokens): its limits, told and learned.

    `learned` is the server's `x-ratelimit-limit-*`. Readings are limits implied by its
    `x-ratelimit-remaining-*` (what our window held when a request left, plus what remained),
    each kept until the server's reset; the middle one of those applies. One request that
    reached the server out of order (read high) or late beside a window's edge (read low) moves
    it little, while a server that keeps counting more than we do (another client on the key)
    moves them all and slows us down before it answers 429.
    """

    configured: int | None
    learned: int | None = None
    _ends: deque[tuple[float, int]] = field(default_factory=deque)  # (until, limit) as read
    _sorted: list[int] = field(default_factory=list)  # the same limits, in order
    # The last middle reading: with no limit told, it stays when the readings end, since the
    # reset is when the server's count empties, not when its limit goes away.
    _kept: int | None = None

    @property
    def read(self) -> int | None:
        """The middle reading (the lower of two), or None without one."""
        return self._sorted[(len(self._sorted) - 1) // 2] if self._sorted else None

    @property
    def limit(self) -> int | None:
        told = [n for n in (self.configured, self.learned) if n is not None]
        read = self.read if self._sorted or told else self._kept
        known = [*told, read] if read is not None else told
        return min(known) if known else None

    def add(self, limit: int, now: float, until: float) -> None:
        self.forget(now)
        self._ends.append((until, limit))
        bisect.insort(self._sorted, limit)
        self._kept = self.read

    def forget(self, now: float) -> None:
        # In the order read: a reading with an earlier reset than the one before it waits.
        while self._ends and self._ends[0][0] <= now:
            _, limit = self._ends.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, limit)]

    def lifted(self, now: float) -> float:
        """Seconds until the applying limit may rise (a reading ends); inf if it will not."""
        read = self.read
        told = [n for n in (self.configured, self.learned) if n is not None]
        if read is None or (told and min(told) <= read):
            return math.inf
        return self._ends[0][0] - now


class Budget:
    """The sliding-window bookkeeping behind `RateLimiter`; pure, every call is given `now`.

    A grant counts for `window + margin` seconds: the margin covers the gap between our clock
    and the moment the server counts the request, so a window that just freed on our side has
    also freed on the server's.

    Grants are kept in start order with running sums, so asking and learning cost O(log n) in
    the calls a window holds (not O(n): a 6,000-call window is as cheap as a 500-call one).
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
        # Grant number `seq` is at index `seq - _first` of `_starts` and `_sums`.
        self._starts: list[float] = []
        self._sums = _Sums()
        self._first = 0

    # --- asking -----------------------------------------------------------------------

    def delay(self, now: float, tokens: int) -> float:
        """Seconds until a call of `tokens` may start: 0 now, `inf` until a call in flight ends."""
        if self.in_flight >= self.max_concurrency:
            return math.inf
        self.requests.forget(now)
        self.tokens.forget(now)
        live = self._live_from(now)
        waits = [
            self.paused_until - now,
            self._wait_for(self.requests, now, 1, live, count_requests=True),
            self._wait_for(self.tokens, now, tokens, live, count_requests=False),
        ]
        return max(0.0, *waits)

    def grant(self, now: float, tokens: int) -> Grant:
        """Record a call that starts now (after `delay` said 0)."""
        self._forget_old(now)
        granted = Grant(start=now, tokens=max(tokens, 0), seq=self._first + len(self._starts))
        self._starts.append(now)
        self._sums.append(granted.tokens)
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

        A call counts the larger of its estimate and its real use: providers hold the prompt
        and all of max_tokens from the request's arrival to the end of the window, whatever
        the reply used (OpenAI's rule), so freeing the unused room would meet 429s. 0 suits a
        request the server refused; `tokens=None` keeps the estimate (a timeout).
        """
        if not grant.done:
            grant.done = True
            self.in_flight -= 1
        if tokens is not None:
            tokens = max(tokens, grant.tokens) if tokens > 0 else 0
            if grant.seq >= self._first:
                self._sums.add(grant.seq - self._first, tokens - grant.tokens)
            grant.tokens = tokens
        if headers:
            self.observe(headers, grant, now)

    def observe(self, headers: Mapping[str, str], grant: Grant, now: float) -> None:
        """Adjust to `x-ratelimit-*` headers from the reply to `grant`'s request.

        A `limit` header is learned as is. A `remaining` one, with or without it, implies a
        limit: what our window held when the request left (itself included) plus what remains,
        in force until the server's `reset` (a window when it sends none).
        """
        lowered = {k.lower(): v for k, v in headers.items()}
        for name, kind in (("requests", self.requests), ("tokens", self.tokens)):
            limit = _int(lowered.get(f"x-ratelimit-limit-{name}"))
            if limit is not None and limit > 0:
                kind.learned = limit
            remaining = _int(lowered.get(f"x-ratelimit-remaining-{name}"))
            if remaining is None or grant.seq < self._first:
                continue
            reset = parse_duration(lowered.get(f"x-ratelimit-reset-{name}", ""))
            seen = self._used_when_sent(grant, count_requests=name == "requests")
            hold = reset if reset is not None else self.window
            kind.add(max(seen + remaining, 1), now, now + hold)

    def pause(self, until: float) -> None:
        """No call starts before `until` (a 429's Retry-After applies to every caller)."""
        self.paused_until = max(self.paused_until, until)

    # --- inside -----------------------------------------------------------------------

    def _wait_for(
        self, kind: _Kind, now: float, need: int, live: int, *, count_requests: bool
    ) -> float:
        """Seconds until `need` more fits under `kind`'s limit, as grants expire (or a reading
        that lowered the limit ends, whichever comes first)."""
        limit = kind.limit
        if limit is None:
            return 0.0
        need = min(need, limit)  # a call bigger than the limit waits for an empty window
        end = len(self._starts)
        if count_requests:
            over = end - live + need - limit
            crossing = live + over - 1
        else:
            held = self._sums.prefix(live)
            over = self._sums.prefix(end) - held + need - limit
            crossing = self._sums.crossing(held + over)
        if over <= 0:
            return 0.0
        freed = self._starts[crossing] + self.window + self.margin - now
        return min(freed, kind.lifted(now))

    def _used_when_sent(self, grant: Grant, *, count_requests: bool) -> int:
        """What our window held when `grant`'s request left, itself included: the server's
        count at that moment, as far as we know it. The server's window has no margin: it
        counts from each request's arrival, and ours left about as long before theirs."""
        first = bisect.bisect_right(self._starts, grant.start - self.window)
        last = grant.seq - self._first + 1
        if count_requests:
            return last - first
        return self._sums.prefix(last) - self._sums.prefix(first)

    def _live_from(self, now: float) -> int:
        """Index of the oldest grant still counted at `now`."""
        return bisect.bisect_right(self._starts, now - self.window - self.margin)

    def _forget_old(self, now: float) -> None:
        # Grants are kept one window longer than they count, so a late reply's headers can be
        # compared; dropped in bulk (amortised O(1) a grant) once they are the larger part.
        old = bisect.bisect_right(self._starts, now - 2 * (self.window + self.margin))
        if old < 1024 or 2 * old < len(self._starts):
            return
        values = [self._sums.prefix(i + 1) - self._sums.prefix(i) for i in range(old, len(self))]
        self._starts = self._starts[old:]
        self._sums = _Sums(values)
        self._first += old

    def __len__(self) -> int:
        """Grants remembered (counted, or recent enough for a late reply's headers)."""
        return len(self._starts)


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
        stop: Stop | None = None,
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
        # The run's stop: a call still queued here is never sent after it (the limiter is where
        # a call waits for its turn, so the last place it can be held back).
        self.stop = stop
        if stop is not None:
            stop.listen(self._wake_all)

    async def acquire(self, tokens: int, task: str = "") -> Grant:
        """Wait for this call's turn and room; the grant must be given back with `release`.
        Raises `CallStopped` once the run's stop was asked, instead of granting."""
        waiter = _Waiter(asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._queue.append(waiter)
        told = False
        try:
            while True:
                if self.stop is not None:
                    self.stop.check(task)
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

    def _wake_all(self) -> None:
        # Called from a signal handler: no lock (the interrupted code may hold it); list()
        # copies the queue in one step under the GIL.
        for waiter in list(self._queue):
            waiter.wake()
