"""Calls made together, of which a refused one cancels none (a paper's map notes, a judge's
verdicts)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import TypeVar, cast

from pipeline.errors import CallRefused

R = TypeVar("R")


async def gather_keeping(calls: Sequence[Awaitable[R]]) -> list[R]:
    """Run the calls concurrently; on the first failure cancel the rest and raise it. A call
    refused before it was sent (the cost cap, a stop) cancels nothing: the others are on the
    wire and paid for, so they finish (each keeps what it caches), then the refusal is raised."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_unrefused(call)) for call in calls]
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    results = [task.result() for task in tasks]
    refused = next((r for r in results if isinstance(r, _Refused)), None)
    if refused is not None:
        raise refused.error
    return cast("list[R]", results)


@dataclass(frozen=True)
class _Refused:
    error: CallRefused


async def _unrefused(call: Awaitable[R]) -> R | _Refused:
    try:
        return await call
    except CallRefused as exc:
        return _Refused(exc)
