"""Counts as people write them: "1 paper", "2 papers", "1 LLM call"."""

from __future__ import annotations


def plural(n: int, noun: str, many: str | None = None) -> str:
    """`1 paper`, `2 papers`, `0 papers`; `many` for an irregular plural (`retries`)."""
    return f"{n} {noun}" if n == 1 else f"{n} {many or noun + 's'}"
