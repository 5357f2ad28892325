"""The rate limiter: pure window arithmetic with a hand-made clock, then the asyncio queue."""

from __future__ import annotations

import asyncio
import math
import sys
import time
from email.utils import formatdate
from typing import Any

import pytest

from pipeline.llm.limiter import (
    Budget,
    RateLimiter,
    estimate_tokens,
    parse_duration,
    retry_after,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("6m0s", 360.0),
        ("20ms", 0.02),
        ("1h2m3.5s", 3723.5),
        ("0.25", 0.25),
        ("7.66s", 7.66),
        ("soon", None),
        ("", None),
        ("1s later", None),
    ],
)
def test_parse_duration_reads_openai_reset_formats(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_retry_after_prefers_milliseconds_then_seconds_then_a_date() -> None:
    assert retry_after({"retry-after-ms": "250", "Retry-After": "3"}) == 0.25
    assert retry_after({"Retry-After": "1.5"}) == 1.5
    now = 1_700_000_000.0
    date = formatdate(now + 30, usegmt=True)
    assert retry_after({"retry-after": date}, wall_clock=now) == pytest.approx(30)
    assert retry_after({"retry-after": "whenever"}) is None
    assert retry_after({}) is None


def test_estimate_is_prompt_characters_over_four_plus_all_the_room() -> None:
    assert estimate_tokens(chars=4000, max_tokens=1500, messages=2) == 1000 + 8 + 1500


def test_requests_per_window_slide() -> None:
    budget = Budget(rpm=2, window=60, margin=0)
    budget.grant(0.0, 0)
    budget.grant(1.0, 0)

    assert budget.delay(2.0, 0) == 58.0  # the first grant leaves the window at 60
    assert budget.delay(60.0, 0) == 0.0


def test_a_call_counts_what_the_provider_holds_for_it() -> None:
    budget = Budget(tpm=1000, window=60, margin=0)
    held = budget.grant(0.0, 500)  # prompt estimate + max_tokens
    budget.release(held, 1.0, tokens=200)  # a short reply: the provider holds all 500 anyway
    assert budget.delay(1.0, 501) == 59.0

    longer = budget.grant(1.0, 100)
    budget.release(longer, 2.0, tokens=300)  # the prompt was longer than its characters said
    assert budget.delay(2.0, 200) == 0.0 and budget.delay(2.0, 201) == 58.0

    refused = budget.grant(2.0, 200)
    budget.release(refused, 3.0, tokens=0)  # answered 429: nothing charged
    assert budget.delay(3.0, 200) == 0.0


def test_a_call_bigger_than_the_limit_waits_for_an_empty_window() -> None:
    budget = Budget(tpm=1000, window=60, margin=0)
    budget.grant(10.0, 100)

    assert budget.delay(11.0, 5000) == 59.0
    assert budget.delay(70.0, 5000) == 0.0


def test_margin_keeps_a_grant_counted_a_little_longer() -> None:
    budget = Budget(rpm=1, window=60, margin=0.5)
    budget.grant(0.0, 0)
    assert budget.delay(60.0, 0) == 0.5


def test_concurrency_cap_waits_for_a_release() -> None:
    budget = Budget(max_concurrency=2)
    first = budget.grant(0.0, 10)
    budget.grant(0.0, 10)

    assert math.isinf(budget.delay(0.0, 10))
    budget.release(first, 1.0)
    assert budget.delay(1.0, 10) == 0.0


def test_pause_holds_every_call_until_it_ends() -> None:
    budget = Budget()
    budget.pause(5.0)
    budget.pause(3.0)  # an earlier end does not shorten the pause

    assert budget.delay(1.0, 10) == 4.0
    assert budget.delay(5.0, 10) == 0.0


def test_limits_are_learned_from_headers_and_the_lower_one_applies() -> None:
    budget = Budget(rpm=100, window=60, margin=0)
    grant = budget.grant(0.0, 50)
    headers = {"x-ratelimit-limit-requests": "3", "x-ratelimit-limit-tokens": "10000"}

    budget.release(grant, 0.5, tokens=50, headers=headers)

    assert (budget.requests.limit, budget.tokens.limit) == (3, 10000)
    budget.grant(1.0, 0)
    budget.grant(2.0, 0)
    assert budget.delay(3.0, 0) == 57.0


def test_use_the_server_counts_beyond_ours_is_held_until_its_reset() -> None:
    budget = Budget(tpm=1000, window=60, margin=0)
    grant = budget.grant(0.0, 100)
    # The server has 800 of 1000 used (someone else shares the key); our window holds 100.
    headers = {"x-ratelimit-remaining-tokens": "200", "x-ratelimit-reset-tokens": "30s"}

    budget.release(grant, 1.0, tokens=100, headers=headers)

    assert budget.tokens.limit == 300  # what we held (100) and what remained (200)
    assert budget.delay(1.0, 300) == 30.0  # until the server's reset, at 1 + 30
    assert budget.delay(31.0, 300) == 0.0

    later = budget.grant(32.0, 100)
    budget.release(later, 33.0, tokens=100, headers={"x-ratelimit-remaining-tokens": "800"})
    assert budget.tokens.limit == 1000  # the server agrees with us again


def test_the_server_view_is_compared_with_ours_when_the_request_left() -> None:
    # Grants sent after this request are not yet counted by the server: no false excess.
    budget = Budget(tpm=1000, window=60, margin=0)
    first = budget.grant(0.0, 300)
    budget.grant(0.5, 300)  # still in flight
    headers = {"x-ratelimit-remaining-tokens": "700", "x-ratelimit-reset-tokens": "60s"}

    budget.release(first, 1.0, tokens=300, headers=headers)

    assert budget.tokens.limit == 1000


def test_old_grants_are_forgotten() -> None:
    budget = Budget(rpm=10, tpm=10, window=1, margin=0)
    for second in range(100):
        budget.release(budget.grant(float(second), 1), float(second) + 0.5)
    assert len(budget) == 100  # each kept two windows: far fewer than the bulk drop's 1024

    for second in range(100, 5000):
        budget.release(budget.grant(float(second), 1), float(second) + 0.5)
    assert len(budget) < 2100
    assert budget.delay(4999.5, 9) == 0.0 and budget.delay(4999.5, 10) == 0.5


def test_limits_are_read_from_remaining_and_reset_alone() -> None:
    # A provider that sends no x-ratelimit-limit-*: our window (the call itself) + what remains.
    budget = Budget(window=60, margin=0)
    first = budget.grant(0.0, 1000)
    headers = {
        "x-ratelimit-remaining-requests": "2",
        "x-ratelimit-remaining-tokens": "3000",
        "x-ratelimit-reset-tokens": "59.5s",
        "x-ratelimit-reset-requests": "59.5s",
    }
    budget.release(first, 0.5, tokens=1000, headers=headers)

    assert (budget.requests.limit, budget.tokens.limit) == (3, 4000)
    budget.grant(1.0, 2000)
    assert budget.delay(2.0, 1000) == 0.0
    assert budget.delay(2.0, 1001) == 58.0  # the first call leaves the window at 60
    budget.grant(2.0, 500)
    assert budget.delay(3.0, 1) == 57.0  # three requests in the window


def test_a_limit_is_read_in_the_terms_the_provider_counts() -> None:
    # The provider held 1000 (prompt + max_tokens) on arrival; the reply used 400.
    budget = Budget(window=60, margin=0)
    first = budget.grant(0.0, 1000)
    headers = {"x-ratelimit-remaining-tokens": "600", "x-ratelimit-reset-tokens": "60s"}
    budget.release(first, 0.5, tokens=400, headers=headers)

    assert budget.tokens.limit == 1600
    assert budget.delay(1.0, 600) == 0.0  # the server has 600 left
    assert budget.delay(1.0, 601) == 59.0


def test_a_limit_read_without_one_told_outlasts_the_reset() -> None:
    # The reset says when the server's count empties; its limit is still there after it.
    budget = Budget(window=6, margin=0)
    grant = budget.grant(0.0, 1000)
    reply = {"x-ratelimit-remaining-tokens": "3000", "x-ratelimit-reset-tokens": "6s"}
    budget.release(grant, 0.1, tokens=1000, headers=reply)

    assert budget.delay(7.0, 0) == 0.0 and budget.tokens.limit == 4000
    for start in (7.0, 7.0, 7.0, 7.0):
        budget.grant(start, 1000)
    assert budget.delay(7.0, 1000) == 6.0  # not a burst of everything queued: a 429 storm


def test_the_middle_recent_reading_applies_until_it_ends() -> None:
    budget = Budget(window=60, margin=0)
    # Each call holds 100; the readings are 900, 850 and 990 (held before + 100 + remaining).
    for start, remaining in ((0.0, 800), (10.0, 650), (20.0, 690)):
        grant = budget.grant(start, 100)
        reply = {"x-ratelimit-remaining-tokens": str(remaining), "x-ratelimit-reset-tokens": "30s"}
        budget.release(grant, start, tokens=100, headers=reply)

    # One request that reached the server out of order reads high, one beside the window's
    # edge reads low: the middle reading stands.
    assert budget.tokens.limit == 900
    assert budget.delay(20.0, 601) == 10.0  # until the first reading ends, at 30
    budget.delay(31.0, 0)
    assert budget.tokens.limit == 850  # the lower of two
    budget.delay(41.0, 0)
    assert budget.tokens.limit == 990


def limiter_lines_run(budget: Budget, start: float, calls: int) -> int:
    """Lines of limiter code run for `calls` more calls (ask, grant, release with headers)."""
    counted = 0

    def trace(frame: Any, event: str, arg: Any) -> Any:
        nonlocal counted
        if frame.f_code.co_filename.endswith("limiter.py"):
            counted += event == "line"
            return trace
        return None

    reply = {"x-ratelimit-remaining-tokens": "1000000", "x-ratelimit-remaining-requests": "9000"}
    sys.settrace(trace)
    try:
        for n in range(calls):
            now = start + n * 1e-3
            budget.delay(now, 100)
            budget.release(budget.grant(now, 100), now, tokens=90, headers=reply)
    finally:
        sys.settrace(None)
    return counted


@pytest.mark.parametrize("held", [500, 6000])
def test_bookkeeping_does_not_grow_with_the_calls_a_window_holds(held: int) -> None:
    budget = Budget(rpm=100_000, tpm=10**9, window=60, margin=0, max_concurrency=1)
    for n in range(held):
        budget.release(budget.grant(n * 1e-3, 100), n * 1e-3, tokens=90)

    per_call = limiter_lines_run(budget, 10.0, 50) / 50

    # O(log n): 6,000 calls in the window cost a few lines more than 500; a scan costs 12 times.
    assert per_call < 500, per_call


# --- the asyncio queue ------------------------------------------------------------------


def test_waiters_are_served_in_order_and_woken_by_a_release() -> None:
    limiter = RateLimiter(max_concurrency=1)
    order: list[int] = []

    async def call(n: int, hold: float) -> None:
        grant = await limiter.acquire(10)
        order.append(n)
        await asyncio.sleep(hold)
        limiter.release(grant)

    async def day() -> float:
        started = time.monotonic()
        await asyncio.gather(*(call(n, 0.05) for n in range(4)))
        return time.monotonic() - started

    elapsed = asyncio.run(day())

    assert order == [0, 1, 2, 3]
    assert elapsed < 0.5  # woken at each release, not by polling


def test_a_release_that_frees_tokens_wakes_the_waiting_call_at_once() -> None:
    limiter = RateLimiter(tpm=1000, window=60, margin=0)

    async def day() -> float:
        grant = await limiter.acquire(900)
        waiting = asyncio.create_task(limiter.acquire(500))
        await asyncio.sleep(0.05)
        assert not waiting.done()  # the window is full of the estimate
        started = time.monotonic()
        limiter.release(grant, tokens=0)  # refused: nothing charged
        await waiting
        return time.monotonic() - started

    assert asyncio.run(day()) < 0.1


def test_pause_holds_callers_and_cancelled_waiters_leave_the_queue() -> None:
    limiter = RateLimiter()

    async def day() -> float:
        limiter.pause(0.2)
        abandoned = asyncio.create_task(limiter.acquire(1))
        await asyncio.sleep(0.01)
        abandoned.cancel()
        started = time.monotonic()
        limiter.release(await limiter.acquire(1))
        return time.monotonic() - started

    assert 0.15 <= asyncio.run(day()) < 0.5
    assert not limiter._queue


def test_an_injected_clock_drives_the_window() -> None:
    now = [0.0]
    limiter = RateLimiter(rpm=1, window=60, margin=0, clock=lambda: now[0])

    async def day() -> None:
        limiter.release(await limiter.acquire(1))
        waiting = asyncio.create_task(limiter.acquire(1))
        await asyncio.sleep(0.02)
        assert not waiting.done()
        now[0] = 61.0
        limiter.pause(0)  # any event wakes the head, which sees the new time
        await asyncio.wait_for(waiting, 1)

    asyncio.run(day())
