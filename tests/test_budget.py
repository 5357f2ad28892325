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
    messages = [Message(role="user", content="x" * 400)]
    sink = spent.append if spent is not None else lambda usage: None
    return await llm.structured(
        messages, Answer, temperature=0, max_tokens=100, task="summarize", on_usage=sink
    )


def test_papers_in_flight_do_not_all_start_past_the_cap():
    inner = SlowLLM()
    llm = BudgetedLLM(inner, cap=0.000001, price=PRICE)

    async def day() -> list[object]:
        return await asyncio.gather(*(ask(llm) for _ in range(8)), return_exceptions=True)

    results = asyncio.run(day())
    assert inner.calls == 1
    assert sum(isinstance(r, CostCapReached) for r in results) == 7
    assert llm.spent == pytest.approx(0.01) and llm.reserved == pytest.approx(0.0)


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
