"""What the runner tells the display while it works: one bar per stage, and warnings."""

from __future__ import annotations

from typing import Protocol


class Observer(Protocol):
    def stage_started(self, stage: str, total: int) -> None: ...
    def advanced(self, stage: str) -> None: ...
    def warn(self, message: str) -> None: ...


class QuietObserver:
    def stage_started(self, stage: str, total: int) -> None:
        pass

    def advanced(self, stage: str) -> None:
        pass

    def warn(self, message: str) -> None:
        pass
