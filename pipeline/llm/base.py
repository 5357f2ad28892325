"""The small interface between the summarize stage and the model providers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from pydantic import BaseModel

from pipeline.models import Usage


class Message(BaseModel):
    role: str
    content: str


R = TypeVar("R", bound=BaseModel)


@dataclass(frozen=True)
class Reply(Generic[R]):
    """A validated reply and what it cost (all attempts, re-asks included)."""

    value: R
    usage: Usage


class LLM(Protocol):
    """A model that answers messages with a validated pydantic object.

    Implemented by the `openai` and `local` backends; the stages (triage, summarize's map and
    reduce steps) call it with their own prompts and reply models. Raises `LLMError` subclasses:
    `InvalidReplyError` when re-asks run out, `ReplyTooLongError` on finish_reason "length",
    `RefusalError` on a refusal.
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
    ) -> Reply[R]: ...


class Price(BaseModel):
    """US dollars per million tokens."""

    input: float = 0.0
    output: float = 0.0
    cached_input: float | None = None

    def cost(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> float:
        cached_rate = self.cached_input if self.cached_input is not None else self.input
        uncached = max(prompt_tokens - cached_tokens, 0)
        dollars = uncached * self.input + cached_tokens * cached_rate
        dollars += completion_tokens * self.output
        return round(dollars / 1_000_000, 8)
