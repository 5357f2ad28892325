"""A cost cap in front of any `LLM`: no call starts whose estimate does not fit in what is left."""

from __future__ import annotations

import threading
from typing import Any

from pipeline.errors import CallRefused
from pipeline.llm.base import LLM, Message, Price, R, UsageSink
from pipeline.llm.limiter import estimate_tokens
from pipeline.models import Usage


class CostCapReached(CallRefused):
    """The run reached --max-cost; what was done is kept, this call was never made."""


class Budget:
    """One run's money: the cap, what was paid and what calls in flight may still cost.

    Shared by every client of the run (the main model and a cheaper triage model), so the cap
    is one cap whichever model a call goes to."""

    def __init__(self, cap: float, spent: float = 0.0) -> None:
        self.cap = cap
        self.spent = spent
        self.reserved = 0.0
        self.lock = threading.Lock()


class BudgetedLLM:
    """Charges every request's usage to one budget shared by the run.

    The cap is checked before each call, not each paper, against what was spent plus the
    estimated cost of the calls still in flight plus this call's own estimate, so papers running
    side by side do not all start while the first reply is on its way, and a call that alone
    would pass the cap never starts. Calls already on the wire finish and are paid.
    """

    def __init__(
        self,
        inner: LLM,
        cap: float,
        price: Price | None,
        spent: float = 0.0,
        *,
        budget: Budget | None = None,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.model = inner.model
        self.price = price
        self.budget = budget if budget is not None else Budget(cap, spent)
        self._lock = self.budget.lock

    @property
    def cap(self) -> float:
        return self.budget.cap

    @property
    def spent(self) -> float:
        return self.budget.spent

    @property
    def reserved(self) -> float:
        return self.budget.reserved

    async def structured(
        self,
        messages: list[Message],
        reply_model: type[R],
        *,
        temperature: float,
        max_tokens: int,
        task: str,
        on_usage: UsageSink,
    ) -> R:
        estimate = self._reserve(messages, max_tokens, task)

        def charged(usage: Usage) -> None:
            with self._lock:
                self.budget.spent += usage.cost_usd
            on_usage(usage)

        try:
            return await self.inner.structured(
                messages,
                reply_model,
                temperature=temperature,
                max_tokens=max_tokens,
                task=task,
                on_usage=charged,
            )
        finally:
            with self._lock:
                self.budget.reserved -= estimate

    def _reserve(self, messages: list[Message], max_tokens: int, task: str) -> float:
        """Reserve the call's estimated cost, or refuse it: a call starts only if its own
        estimate fits in what is left of the cap, so the cap is exceeded by no more than the
        estimates' error, never by a whole call that was over it from the start."""
        estimate = self._estimate(messages, max_tokens)
        with self._lock:
            committed = self.spent + self.reserved
            if committed >= self.cap or committed + estimate > self.cap:
                left = max(self.cap - committed, 0.0)
                raise CostCapReached(
                    f"not summarized: the run reached its cost cap (${self.cap:.4g}; this call "
                    f"would cost up to ${estimate:.4g}, ${left:.4g} is left); raise --max-cost "
                    "or run again later",
                    stage=task,
                )
            self.budget.reserved += estimate
            return estimate

    def _estimate(self, messages: list[Message], max_tokens: int) -> float:
        # the limiter's estimate of the prompt; the reply is priced at its ceiling, max_tokens
        if self.price is None:
            return 0.0
        chars = sum(len(m.content) for m in messages)
        prompt_tokens = estimate_tokens(chars, 0, len(messages))
        return float(self.price.cost(prompt_tokens, max_tokens))

    def __getattr__(self, name: str) -> Any:
        # response_mode, limiter, ... belong to the wrapped client
        return getattr(self.inner, name)
