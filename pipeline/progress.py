"""What the user sees while a run goes and when it ends: progress on stderr and a final table.

On a terminal: one bar per stage with its ETA, and a line under the bars with the LLM calls in
flight, tokens and dollars so far. Elsewhere (cron, `make demo | tee`): plain lines, one per
stage start and finish and one per notice, never cut at the console's width.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from pipeline.accounting import cost_text
from pipeline.models import Usage
from pipeline.record import STAGES, RunRecord
from pipeline.terminal import one_line
from pipeline.wording import plural

# The bars are drawn only on a terminal: a run under cron or in a pipe (and every benchmark)
# prints plain lines and does not import rich's progress machinery.
if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

# LLM steps in run.json's llm.by_stage, by the stage that makes them.
STEP_STAGE = {"digest": "report"}


def _bars(console: Console, status: RichObserver) -> Progress:
    """Rich's bars with one status line under them."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    class Bars(Progress):
        def __init__(self, *columns: Any, **options: Any) -> None:
            self.status = status  # first: rich renders once while it is made
            super().__init__(*columns, **options)

        def get_renderables(self) -> Iterable[RenderableType]:
            yield self.make_tasks_table(self.tasks)
            if line := self.status.status_line():
                yield Text(line, style="dim")

    return Bars(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


class RichObserver:
    """Progress on stderr, so stdout stays clean for the final table."""

    def __init__(self, console: Console, *, live: bool | None = None) -> None:
        self.console = console
        # `live`: bars redrawn in place (a terminal); otherwise plain lines.
        self.live = console.is_terminal if live is None else live
        self.in_flight = 0
        self.tokens = 0
        self.cost_usd = 0.0
        self.unpriced: list[str] = []
        self.estimated: list[str] = []  # models whose server sent no usage
        self.progress = _bars(console, self) if self.live else None
        self.tasks: dict[str, TaskID] = {}
        self._counts: dict[str, tuple[int, int, float]] = {}  # done, total, started
        self._lock = threading.Lock()

    def __enter__(self) -> RichObserver:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.progress is not None:
            self.progress.stop()

    # --- the Observer protocol ----------------------------------------------------------

    def stage_started(self, stage: str, total: int) -> None:
        with self._lock:
            self._counts[stage] = (0, total, time.monotonic())
        if self.progress is not None:
            self.tasks[stage] = self.progress.add_task(stage, total=total)
        else:
            self._line(f"{stage}: started, {plural(total, 'item')}")

    def advanced(self, stage: str) -> None:
        with self._lock:
            done, total, started = self._counts.get(stage, (0, 1, time.monotonic()))
            done += 1
            self._counts[stage] = (done, total, started)
        if self.progress is not None:
            self.progress.advance(self.tasks[stage])
        elif done == total:
            seconds = time.monotonic() - started
            spent = f"; {self.spent_text()}" if self.tokens else ""
            self._line(f"{stage}: finished {done}/{total} in {seconds:.1f} s{spent}")

    def warn(self, message: str) -> None:
        # The message may quote a paper or a file name: never markup, and one line however
        # narrow the terminal, so logs can be grepped.
        self._line(Text.assemble(("warning:", "yellow"), " ", one_line(message)))

    def note(self, message: str) -> None:
        """A retry or a wait, as it happens; transient, so never in run.json."""
        self._line(Text.assemble(("note:", "cyan"), " ", one_line(message)))

    def calls_in_flight(self, delta: int) -> None:
        with self._lock:
            self.in_flight += delta

    def spent(
        self,
        tokens: int,
        cost_usd: float,
        unpriced: Sequence[str] = (),
        estimated: Sequence[str] = (),
    ) -> None:
        with self._lock:
            self.tokens, self.cost_usd, self.unpriced = tokens, cost_usd, list(unpriced)
            self.estimated = list(estimated)

    # --- what is shown --------------------------------------------------------------------

    def spent_text(self) -> str:
        noun = "token" if self.tokens == 1 else "tokens"
        spent = Usage(
            cost_usd=self.cost_usd, unpriced_models=self.unpriced, estimated_models=self.estimated
        )
        return f"{self.tokens:,} {noun}, {cost_text(spent)} so far"

    def status_line(self) -> str:
        if not self.in_flight and not self.tokens:
            return ""
        return f"LLM: {self.in_flight} in flight; {self.spent_text()}"

    def _line(self, text: str | Text) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)


def stage_usage(record: RunRecord) -> dict[str, Usage]:
    """run.json's llm.by_stage (summarize-map, summarize-reduce, triage...) added up per stage."""
    totals: dict[str, Usage] = {}
    for step, row in record.llm.by_stage.items():
        name = step.split("-")[0]
        name = STEP_STAGE.get(name, name if name in STAGES else step)
        usage = Usage(
            calls=row.get("calls", 0),
            prompt_tokens=row.get("prompt_tokens", 0),
            completion_tokens=row.get("completion_tokens", 0),
            cost_usd=row.get("cost_usd", 0.0),
            unpriced_models=row.get("unpriced_models", []),
            estimated_models=row.get("estimated_models", []),
        )
        totals[name] = totals.get(name, Usage()) + usage
    return totals


def dollars_cell(usage: Usage) -> str:
    """A stage's dollars in the table: "n/c" (not counted, as the line under it says) for
    calls to a model without a price, never a $0 that was not paid; "+" after the dollars
    when some of the stage's calls were not counted; "~" before them when some are our
    estimate (a server that sent no usage)."""
    if usage.unpriced_models and not usage.cost_usd:
        return "n/c"
    estimated = "~" if usage.estimated_models else ""  # the server sent no usage
    return f"{estimated}{usage.cost_usd:.4f}" + ("+" if usage.unpriced_models else "")


def stage_table(record: RunRecord) -> Table:
    """Per stage: cache hits, work done, failures, LLM calls, tokens, dollars and seconds."""
    table = Table(title=f"paperbrief run {record.date}", title_justify="left")
    # Short headers, so the table fits 80 columns whole (cron mail, `| tee`).
    table.add_column("stage", no_wrap=True, min_width=len(max(STAGES, key=len)))
    for column in ("hits", "computed", "failed", "calls", "tokens", "$", "seconds"):
        table.add_column(column, justify="right", no_wrap=True)
    usage = stage_usage(record)
    for name, stats in record.stages.items():
        spent = usage.get(name, Usage())
        table.add_row(
            name,
            str(stats.hits),
            str(stats.misses),
            str(stats.failed),
            str(spent.calls),
            f"{spent.prompt_tokens + spent.completion_tokens:,}",
            dollars_cell(spent),
            f"{stats.seconds:.2f}",
        )
    return table


TABLE_ROWS = 25  # papers listed after a run, failures aside


def summary_tables(
    record: RunRecord, titles: dict[str, tuple[str, float | None, bool]], width: int = 100
) -> list[Table]:
    """The stage table and the paper table (rank, score, status): the top papers first."""
    papers = Table(title="papers, best first", title_justify="left")
    papers.add_column("#", justify="right", no_wrap=True, min_width=2)
    # Every column stays on one line; the title gets what the terminal has left. A status
    # is never cut: it is the column a user reads to know what went wrong.
    failed = {f.id: f for f in record.failed}
    status_width = max([len(f"failed in {f.stage}") for f in record.failed] + [12])
    # What is left after the rank, score and status columns and the borders (16) goes to the
    # paper's id (up to 24) and its title.
    left = max(20, width - 2 - 5 - status_width - 16)
    paper_width = min(24, left * 2 // 5)
    papers.add_column("paper", overflow="ellipsis", no_wrap=True, max_width=paper_width)
    papers.add_column("title", overflow="ellipsis", no_wrap=True, max_width=left - paper_width)
    papers.add_column("score", justify="right", no_wrap=True, min_width=5)
    papers.add_column("status", no_wrap=True, overflow="fold", min_width=status_width)
    # Ranked papers first, best first; failed and unranked ones after, by id.
    order = sorted(titles.items(), key=lambda kv: (kv[1][1] is None, -(kv[1][1] or 0), kv[0]))
    # A big day shows its best papers and every failure; the briefing lists the rest (a
    # 500-row table took seconds to lay out and scrolled the stage table away).
    shown = [
        (position, row)
        for position, row in enumerate(order, start=1)
        if position <= TABLE_ROWS or row[0] in failed
    ]
    for position, (paper_id, (title, score, selected)) in shown:
        if paper_id in failed:
            status = Text(f"failed in {failed[paper_id].stage}", style="red")
        elif not selected:
            status = Text("triaged only", style="dim")
        else:
            status = Text("done", style="green")
        impact = f"{score:.0f}" if score is not None else "—"
        rank = str(position) if score is not None else ""
        papers.add_row(rank, one_line(paper_id), one_line(title), impact, status)
    if len(shown) < len(order):
        more = Text(f"{len(order) - len(shown)} more in the briefing", style="dim")
        papers.add_row("…", "", more, "", "")
    return [stage_table(record), papers]


def llm_line(record: RunRecord) -> str:
    """The run's LLM spend in one line under the table; what it could not count, and how to."""
    llm = record.llm
    tokenizer = f"tokenizer {record.tokenizer['encoding']}"
    if not llm.calls:  # the extractive backend, or every LLM answer from the cache
        return f"backend {llm.backend} ({llm.model}): no LLM call this run; {tokenizer}"
    spent = Usage(
        cost_usd=llm.cost_usd,
        unpriced_models=llm.unpriced_models,
        estimated_models=llm.estimated_models,
    )
    cost = cost_text(spent)
    if llm.unpriced_models:
        tables = ", ".join(f'[llm.prices."{model}"]' for model in llm.unpriced_models)
        cost += f"; to count it, set {tables} input = USD, output = USD in paperbrief.toml"
    return (
        f"backend {llm.backend} ({llm.model}): {plural(llm.calls, 'LLM call')}, "
        f"{plural(llm.prompt_tokens, 'prompt token')} + "
        f"{plural(llm.completion_tokens, 'completion token')}, "
        f"{cost}{' (Batch API, half price)' if llm.batch else ''}; {tokenizer}"
    )
