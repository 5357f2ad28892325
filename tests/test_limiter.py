"""The rate limiter: pure window arithmetic with a hand-made clock, then the asyncio queue."""

from __future__ import annotations

import asyncio
import math
import time
from email.utils import formatdate

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


def test_tokens_per_window_count_the_estimate_then_the_real_use() -> None:
    budget = Budget(tpm=1000, window=60, margin=0)
    grant = budget.grant(0.0, 900)  # prompt estimate + max_tokens

    assert budget.delay(1.0, 300) == 59.0
    budget.release(grant, 2.0, tokens=400)  # the reply used far less than max_tokens
    assert budget.delay(2.0, 300) == 0.0
    assert budget.delay(2.0, 700) == 58.0


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

    assert budget.tokens.excess is not None and budget.tokens.excess.amount == 700
    assert budget.delay(1.0, 300) == 30.0  # the excess clears at 1 + 30
    assert budget.delay(31.0, 300) == 0.0

    later = budget.grant(32.0, 100)
    budget.release(later, 33.0, tokens=100, headers={"x-ratelimit-remaining-tokens": "800"})
    assert budget.tokens.excess is None  # the server agrees with us again


def test_the_server_view_is_compared_with_ours_when_the_request_left() -> None:
    # Grants sent after this request are not yet counted by the server: no false excess.
    budget = Budget(tpm=1000, window=60, margin=0)
    first = budget.grant(0.0, 300)
    budget.grant(0.5, 300)  # still in flight
    headers = {"x-ratelimit-remaining-tokens": "700", "x-ratelimit-reset-tokens": "60s"}

    budget.release(first, 1.0, tokens=300, headers=headers)

    assert budget.tokens.excess is None


def test_old_grants_are_forgotten() -> None:
    budget = Budget(rpm=10, window=1, margin=0)
    for second in range(100):
        budget.release(budget.grant(float(second), 1), float(second) + 0.5)
    budget.delay(200.0, 1)
    assert len(budget._grants) == 0


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


def test_a_release_that_frees_tokens_wakes_the_waiting_call_early() -> None:
    limiter = RateLimiter(tpm=1000, window=60, margin=0)

    async def day() -> float:
        grant = await limiter.acquire(900)
        waiting = asyncio.create_task(limiter.acquire(500))
        await asyncio.sleep(0.05)
        assert not waiting.done()  # the window is full of the estimate
        started = time.monotonic()
        limiter.release(grant, tokens=300)  # the real use was smaller
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
