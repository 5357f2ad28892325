"""What a run spent and how faithful its summaries were, as run.json reports them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from pipeline.faithfulness import share_of_supported
from pipeline.models import FailedPaper, SummaryRecord, Usage
from pipeline.record import LLMStats


class Ledger:
    """LLM usage by stage or step: one per run, and one per paper inside summarize.

    Papers are summarized concurrently, hence the lock.
    """

    def __init__(self) -> None:
        self.by_stage: dict[str, Usage] = {}
        # Everything added so far, summed as it comes: what a display shows after each call,
        # without re-adding every stage's usage each time (`total` sums by stage, for records).
        self.running = Usage()
        self._lock = threading.Lock()

    def add(self, stage: str, usage: Usage | None) -> Usage:
        """Add a call's usage; the running sum with it."""
        with self._lock:
            if usage is not None:
                self.by_stage[stage] = self.by_stage.get(stage, Usage()) + usage
                self.running = self.running + usage
            return self.running

    def total(self) -> Usage:
        return sum(self.by_stage.values(), Usage())


def usage_row(usage: Usage) -> dict[str, Any]:
    return {
        "calls": usage.calls,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "cost_usd": round(usage.cost_usd, 6),
        "cost_counted": not usage.unpriced_models,
        "unpriced_models": usage.unpriced_models,
        "estimated_models": usage.estimated_models,
    }


def cost_text(usage: Usage, quote: Callable[[str], str] = repr) -> str:
    """Dollars as the terminal and the reports say them: "$0.0123", or, when a model had no
    price, that its cost is not counted, never "$0.0000" for calls nobody priced; and when a
    server sent no usage, that its calls' tokens and cost are our estimate."""
    return dollars_text(usage, quote) + estimated_text(usage, quote)


def dollars_text(usage: Usage, quote: Callable[[str], str] = repr) -> str:
    """`cost_text` without the note on estimated usage."""
    if not usage.unpriced_models:
        return f"${usage.cost_usd:.4f}"
    names = ", ".join(quote(model) for model in usage.unpriced_models)
    if usage.cost_usd:
        return f"${usage.cost_usd:.4f} plus the cost of {names}, not counted (no price)"
    return f"cost not counted (no price for {names})"


def estimated_text(usage: Usage, quote: Callable[[str], str] = repr) -> str:
    """ " (estimated for 'm': ...)" after dollars some of whose calls' usage we estimated."""
    if not usage.estimated_models:
        return ""
    names = ", ".join(quote(model) for model in usage.estimated_models)
    return f" (estimated for {names}: the server reported no usage)"


def llm_record(
    stats: LLMStats,
    by_stage: dict[str, Usage],
    records: list[SummaryRecord],
    failed: Sequence[tuple[FailedPaper, Usage]] = (),
) -> LLMStats:
    """This run's calls, tokens and dollars, in total, per stage and per paper."""
    usage = sum(by_stage.values(), Usage())
    # What each paper's summary cost when it was made (a cached summary keeps its price), and
    # what a paper that failed after spending cost this run, with why it failed.
    by_paper = {record.paper_id: usage_row(record.usage) for record in records}
    for failure, spent in failed:
        by_paper[failure.id] = {
            **usage_row(spent),
            "failed_stage": failure.stage,
            "error": failure.error,
        }
    return stats.model_copy(
        update={
            "by_paper": by_paper,
            "calls": usage.calls,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "cached_tokens": usage.cached_tokens,
            "cost_usd": round(usage.cost_usd, 6),
            "cost_counted": not usage.unpriced_models,
            "unpriced_models": usage.unpriced_models,
            "estimated_models": usage.estimated_models,
            "by_stage": {stage: usage_row(u) for stage, u in by_stage.items()},
        }
    )


def faithfulness_summary(summaries: list[tuple[str, SummaryRecord]]) -> dict[str, Any]:
    """Numbers checked against the source across the run; `summaries` pairs paper id and record."""
    present = [r.faithfulness for _, r in summaries if r.faithfulness is not None]
    return {
        "numbers_checked": sum(r.checked for r in present),
        "numbers_supported": sum(r.supported for r in present),
        "share_supported": share_of_supported(present),
        "papers_flagged": sorted(
            paper_id for paper_id, r in summaries if r.faithfulness and r.faithfulness.unsupported
        ),
    }
