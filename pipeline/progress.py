"""What the user sees while a run goes and when it ends: rich progress bars and a final table."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from pipeline.record import RunRecord


class RichObserver:
    """One bar per stage on stderr, so stdout stays clean for the final table."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichObserver:
        self.progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.progress.stop()

    def stage_started(self, stage: str, total: int) -> None:
        self.tasks[stage] = self.progress.add_task(stage, total=total)

    def advanced(self, stage: str) -> None:
        self.progress.advance(self.tasks[stage])

    def warn(self, message: str) -> None:
        # The message may quote a paper or a file name: never markup, and one line however
        # narrow the terminal, so logs can be grepped.
        line = Text.assemble(("warning:", "yellow"), " ", message)
        self.progress.console.print(line, highlight=False, soft_wrap=True)


def summary_tables(
    record: RunRecord, titles: dict[str, tuple[str, float | None, bool]], width: int = 100
) -> list[Table]:
    """The stage table (cache hits, work, time) and the paper table (rank, score, status)."""
    stages = Table(title=f"paperbrief run {record.date}", title_justify="left")
    for column in ("stage", "cache hits", "computed", "failed", "seconds"):
        stages.add_column(column, justify="right" if column != "stage" else "left")
    for name, stats in record.stages.items():
        stages.add_row(
            name, str(stats.hits), str(stats.misses), str(stats.failed), f"{stats.seconds:.2f}"
        )
    papers = Table(title_justify="left")
    papers.add_column("#", justify="right", no_wrap=True, min_width=2)
    # Every column stays on one line; the title gets what the terminal has left.
    papers.add_column("paper", overflow="ellipsis", no_wrap=True, max_width=24)
    papers.add_column("title", overflow="ellipsis", no_wrap=True, max_width=max(12, width - 62))
    papers.add_column("impact", justify="right", no_wrap=True, min_width=6)
    papers.add_column("status", no_wrap=True, min_width=6)
    failed = {f.id: f for f in record.failed}
    # Ranked papers first, best first; failed and unranked ones after, by id.
    order = sorted(titles.items(), key=lambda kv: (kv[1][1] is None, -(kv[1][1] or 0), kv[0]))
    for position, (paper_id, (title, score, selected)) in enumerate(order, start=1):
        if paper_id in failed:
            status = f"[red]failed in {failed[paper_id].stage}[/]"
        elif not selected:
            status = "[dim]triaged only[/]"
        else:
            status = "[green]done[/]"
        impact = f"{score:.0f}" if score is not None else "—"
        rank = str(position) if score is not None else ""
        papers.add_row(rank, paper_id, title, impact, status)
    return [stages, papers]


def llm_line(record: RunRecord) -> str:
    llm = record.llm
    return (
        f"backend {llm.backend} ({llm.model}): {plural(llm.calls, 'LLM call')}, "
        f"{llm.prompt_tokens} prompt + {plural(llm.completion_tokens, 'completion token')}, "
        f"${llm.cost_usd:.4f}; tokenizer {record.tokenizer['encoding']}"
    )


def plural(n: int, noun: str) -> str:
    """`1 paper`, `2 papers`, `0 papers`."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
