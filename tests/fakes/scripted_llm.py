"""An in-process `LLM` for stage tests: answers from a function, records every call."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from pipeline.llm.backends import Capabilities, ModelBackend
from pipeline.llm.base import LLM, Message, Meter, UsageSink
from pipeline.models import Usage
from pipeline.settings import LLMSettings


@dataclass(frozen=True)
class Call:
    messages: list[Message]
    reply_model: type[BaseModel]
    max_tokens: int
    task: str

    @property
    def user(self) -> str:
        return "\n".join(m.content for m in self.messages if m.role == "user")


Answer = Callable[[Call], Any]  # returns a reply model instance, or an exception to raise


class ScriptedLLM:
    """Implements the `LLM` protocol; each call costs 1 call, 100 + 10 tokens and $0.001."""

    name = "fake"
    model = "fake-model"

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.calls: list[Call] = []

    async def structured(
        self,
        messages: list[Message],
        reply_model: type[Any],
        *,
        temperature: float,
        max_tokens: int,
        task: str,
        on_usage: UsageSink,
    ) -> Any:
        call = Call(list(messages), reply_model, max_tokens, task)
        self.calls.append(call)
        await asyncio.sleep(0)  # let concurrent calls interleave, as a real client would
        result = self.answer(call)
        # every call reached the model and was paid for, whether it is answered or fails
        on_usage(Usage(calls=1, prompt_tokens=100, completion_tokens=10, cost_usd=0.001))
        if isinstance(result, Exception):
            raise result
        return result

    def tasks(self) -> list[str]:
        return [call.task for call in self.calls]


class ScriptedBackend(ModelBackend):
    """A registered-style backend around a `ScriptedLLM`, for running whole days in-process
    (as simonw/llm's tests register a mock model)."""

    name = "scripted"
    capabilities = Capabilities(structured_output=True, remote=False, cpu_bound=False)

    def __init__(self, settings: LLMSettings, meter: Meter, llm: ScriptedLLM) -> None:
        super().__init__(settings, meter)
        self.scripted = llm

    @property
    def model(self) -> str:
        return self.scripted.model

    def make_client(self) -> LLM:
        return self.scripted

    async def release(self, client: Any) -> None:
        pass


def backend_of(llm: ScriptedLLM) -> Callable[[LLMSettings, Meter], ScriptedBackend]:
    """What `Runner(make_backend=...)` takes: this scripted model as the run's backend."""
    return lambda settings, meter: ScriptedBackend(settings, meter, llm)
