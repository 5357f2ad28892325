"""Counts as people write them: "1 paper", "2 papers", "1 LLM call"."""

from __future__ import annotations


def plural(n: int, noun: str) -> str:
    """`1 paper`, `2 papers`, `0 papers`."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
