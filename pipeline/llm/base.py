"""The small interface between the summarize stage and the model providers."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from pipeline.models import Usage


class Message(BaseModel):
    role: str
    content: str


R = TypeVar("R", bound=BaseModel)

# Room over a reply model's typical length: most replies fit; a longer one is cut off and asked
# again with twice the room (summarize's `_with_room`), which costs less than holding a generous
# max_tokens on every call where the provider counts it against the rate limit on arrival.
ROOM_HEADROOM = 1.3


def reply_room(reply_model: type[BaseModel], ceiling: int, items: int = 1) -> int:
    """max_tokens sized to the reply: `items` times the model's typical length (its
    `reply_tokens`) with headroom, never above `ceiling` (the prompt's max_tokens)."""
    typical = getattr(reply_model, "reply_tokens", None)
    if not isinstance(typical, int):
        return ceiling
    return max(1, min(ceiling, math.ceil(typical * items * ROOM_HEADROOM)))


# Where a call reports what it spent, once per request that reached the model, as it is spent:
# a re-asked, cut-off, refused or cancelled call is paid for and counted all the same.
UsageSink = Callable[[Usage], None]


def ignore_usage(usage: Usage) -> None:
    """A sink for callers that do not account (benchmarks, one-off probes)."""


# (step, usage): where a run hears of every request's cost as it is paid, by step ("triage",
# "summarize-map", ...). The run log's meter is the one sink of a run.
Meter = Callable[[str, Usage], None]


def ignore_meter(step: str, usage: Usage) -> None:
    """A meter for callers that keep no run-wide account."""


class LLM(Protocol):
    """A model that answers messages with a validated pydantic object.

    Implemented by the `openai` and `local` clients; triage and summarize call it with their own
    prompts and reply models. Usage goes to `on_usage`, request by request, and nowhere else.
    Raises `LLMError` subclasses: `InvalidReplyError` when re-asks run out, `ReplyTooLongError`
    on finish_reason "length", `RefusalError` on a refusal.
    """

    name: str
    model: str

    async def structured(
        self,
        messages: list[Message],
        reply_model: type[R],
        *,
        temperature: float,
        max_tokens: int,
        task: str,
        on_usage: UsageSink,
    ) -> R: ...


# Dollars per million tokens at most: far above any model's price (o1-pro's output: 600), and
# low enough that no day's cost overflows to inf.
MAX_PRICE = 10_000.0


class Price(BaseModel):
    """US dollars per million tokens. A negative or NaN price would pass any --max-cost."""

    model_config = ConfigDict(allow_inf_nan=False)

    input: float = Field(default=0.0, ge=0, le=MAX_PRICE)
    output: float = Field(default=0.0, ge=0, le=MAX_PRICE)
    cached_input: float | None = Field(default=None, ge=0, le=MAX_PRICE)

    def cost(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> float:
        cached_rate = self.cached_input if self.cached_input is not None else self.input
        uncached = max(prompt_tokens - cached_tokens, 0)
        dollars = uncached * self.input + cached_tokens * cached_rate
        dollars += completion_tokens * self.output
        return round(dollars / 1_000_000, 8)

    def times(self, factor: float) -> Price:
        """This price at a discount (the Batch API's half price)."""
        cached = self.cached_input * factor if self.cached_input is not None else None
        return Price(input=self.input * factor, output=self.output * factor, cached_input=cached)
