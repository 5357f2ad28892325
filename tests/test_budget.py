"""The cost cap: no new LLM call starts once the run's budget is spent or reserved."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

from pipeline.errors import InvalidReplyError
from pipeline.llm.base import Message, Price
from pipeline.llm.budget import BudgetedLLM, CostCapReached
from pipeline.models import Usage


class Answer(BaseModel):
    text: str


class SlowLLM:
    """Takes a while to answer and bills each call $0.01; can be told to fail."""

    name, model = "fake", "m"

    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail

    async def structured(self, messages, reply_model, *, temperature, max_tokens, task, on_usage):
        self.calls += 1
        await asyncio.sleep(0.05)
        on_usage(Usage(calls=1, cost_usd=0.01))
        if self.fail:
            raise InvalidReplyError("never valid", last_reply="{}")
        return reply_model(text="ok")


PRICE = Price(input=1.0, output=1.0)


async def ask(llm: BudgetedLLM, spent: list[Usage] | None = None) -> Answer:
    sink = spent.append if spent is not None else lambda usage: None
    return await llm.structured(
        MESSAGES, Answer, temperature=0, max_tokens=100, task="summarize", on_usage=sink
    )


MESSAGES = [Message(role="user", content="x" * 400)]


def estimate() -> float:
    """What one `ask` is expected to cost at most: its prompt and all of max_tokens."""
    return BudgetedLLM(SlowLLM(), cap=1.0, price=PRICE)._estimate(MESSAGES, 100)


def test_papers_in_flight_do_not_all_start_past_the_cap():
    inner = SlowLLM()
    llm = BudgetedLLM(inner, cap=1.5 * estimate(), price=PRICE)  # room for one call's estimate

    async def day() -> list[object]:
        return await asyncio.gather(*(ask(llm) for _ in range(8)), return_exceptions=True)

    results = asyncio.run(day())
    assert inner.calls == 1
    assert sum(isinstance(r, CostCapReached) for r in results) == 7
    assert llm.spent == pytest.approx(0.01) and llm.reserved == pytest.approx(0.0)


def test_a_call_whose_own_estimate_is_over_the_cap_never_starts():
    # the case: a cap of $0.0001 spent $0.00095 on a first call estimated above it
    inner = SlowLLM()
    llm = BudgetedLLM(inner, cap=0.9 * estimate(), price=PRICE)
    with pytest.raises(CostCapReached, match=r"would cost up to \$0\.000\d+"):
        asyncio.run(ask(llm))
    assert inner.calls == 0
    assert llm.spent == 0.0 and llm.reserved == 0.0


def test_a_call_whose_estimate_just_fits_starts():
    inner = SlowLLM()
    llm = BudgetedLLM(inner, cap=estimate(), price=PRICE)
    assert asyncio.run(ask(llm)).text == "ok"
    assert inner.calls == 1


class PricedLLM:
    """Bills each call at the price for its prompt and `used` of its max_tokens."""

    name, model = "fake", "m"

    def __init__(self, used: float) -> None:
        self.calls = 0
        self.used = used

    async def structured(self, messages, reply_model, *, temperature, max_tokens, task, on_usage):
        self.calls += 1
        await asyncio.sleep(0.001 * (self.calls % 3))
        chars = sum(len(m.content) for m in messages)
        prompt = chars // 4 + 4 * len(messages)
        on_usage(Usage(calls=1, cost_usd=PRICE.cost(prompt, int(max_tokens * self.used))))
        return reply_model(text="ok")


@pytest.mark.parametrize("used", [1.0, 0.5, 0.0])
@pytest.mark.parametrize("calls_worth", [0.5, 1.0, 3.7, 12.2])
def test_a_day_of_concurrent_calls_never_spends_past_the_cap(used: float, calls_worth: float):
    inner = PricedLLM(used)
    cap = calls_worth * estimate()
    llm = BudgetedLLM(inner, cap=cap, price=PRICE)

    async def day() -> list[object]:
        return await asyncio.gather(*(ask(llm) for _ in range(40)), return_exceptions=True)

    results = asyncio.run(day())
    assert llm.spent <= cap  # estimates are ceilings here, so the cap holds exactly
    assert inner.calls >= int(calls_worth)  # and the cap is not refused needlessly early
    assert all(isinstance(r, (Answer, CostCapReached)) for r in results)


def test_a_failed_call_is_still_charged_and_under_the_cap_calls_go_on():
    inner = SlowLLM(fail=True)
    llm = BudgetedLLM(inner, cap=0.015, price=PRICE)
    spent: list[Usage] = []
    with pytest.raises(InvalidReplyError):
        asyncio.run(ask(llm, spent))
    assert llm.spent == pytest.approx(0.01)
    assert spent == [Usage(calls=1, cost_usd=0.01)]  # the caller is told what the failure cost
    with pytest.raises(InvalidReplyError):  # 0.01 < 0.015: the next call may still start
        asyncio.run(ask(llm))
    with pytest.raises(CostCapReached, match="cost cap"):
        asyncio.run(ask(llm))
    assert inner.calls == 2
