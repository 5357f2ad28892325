"""What the runner tells the display while it works: one bar per stage, warnings, and the
transient things a user wants to see as they happen (retries, rate-limit waits, LLM calls in
flight, tokens and dollars so far). Transient notices never reach run.json's warnings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

# A client's way to say what it is doing right now ("arXiv RSS: retry 2/4 in 8 s").
Notify = Callable[[str], None]


class Observer(Protocol):
    def stage_started(self, stage: str, total: int) -> None: ...
    def advanced(self, stage: str) -> None: ...
    def warn(self, message: str) -> None: ...
    def note(self, message: str) -> None: ...
    def calls_in_flight(self, delta: int) -> None: ...
    def spent(
        self,
        tokens: int,
        cost_usd: float,
        unpriced: Sequence[str] = (),
        estimated: Sequence[str] = (),
    ) -> None: ...


class QuietObserver:
    def stage_started(self, stage: str, total: int) -> None:
        pass

    def advanced(self, stage: str) -> None:
        pass

    def warn(self, message: str) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def calls_in_flight(self, delta: int) -> None:
        pass

    def spent(
        self,
        tokens: int,
        cost_usd: float,
        unpriced: Sequence[str] = (),
        estimated: Sequence[str] = (),
    ) -> None:
        pass
