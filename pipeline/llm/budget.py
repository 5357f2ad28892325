"""A cost cap in front of any `LLM`: once the run has spent its budget, no new call starts."""

from __future__ import annotations

import threading
from typing import Any

from pipeline.errors import LLMError
from pipeline.llm.base import LLM, Message, Price, R, UsageSink
from pipeline.llm.limiter import estimate_tokens
from pipeline.models import Usage


class CostCapReached(LLMError):
    """The run reached --max-cost; what was done is kept, this call was never made."""


class BudgetedLLM:
    """Charges every request's usage to one budget shared by the run.

    The cap is checked before each call, not each paper, against what was spent plus the
    estimated cost of the calls still in flight, so papers running side by side do not all start
    while the first reply is on its way. Calls already on the wire finish and are paid.
    """

    def __init__(self, inner: LLM, cap: float, price: Price | None, spent: float = 0.0) -> None:
        self.inner = inner
        self.name = inner.name
        self.model = inner.model
        self.cap = cap
        self.price = price
        self.spent = spent
        self.reserved = 0.0
        self._lock = threading.Lock()

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
                self.spent += usage.cost_usd
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
                self.reserved -= estimate

    def _reserve(self, messages: list[Message], max_tokens: int, task: str) -> float:
        with self._lock:
            if self.spent + self.reserved >= self.cap:
                raise CostCapReached(
                    f"not summarized: the run reached its cost cap (${self.cap:.4g}); raise "
                    "--max-cost or run again later",
                    stage=task,
                )
            estimate = self._estimate(messages, max_tokens)
            self.reserved += estimate
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
