"""`paperbrief run`: the day's briefing."""

from __future__ import annotations

import argparse
from datetime import date

from rich.console import Console

from pipeline.errors import UsageError
from pipeline.progress import RichObserver, llm_line, summary_tables
from pipeline.record import STAGES
from pipeline.runner import Runner, RunPlan
from pipeline.settings import Settings
from pipeline.sources import Source, parse_ids


def source_from(args: argparse.Namespace) -> Source:
    """--source DIR (offline), --ids (exactly those), --date (that day's listing), else today."""
    day = args.date or date.today()
    # `is not None`: an empty --ids is a mistake to report, not the absence of the flag
    if args.source is not None and args.ids is not None:
        raise UsageError("--source and --ids cannot be combined; choose one")
    if args.source is not None:
        return Source(kind="folder", day=day, folder=args.source)
    if args.ids is not None:
        return Source(kind="ids", day=day, ids=parse_ids(args.ids))
    return Source(kind="date" if args.date else "rss", day=day)


def plan_from(args: argparse.Namespace) -> RunPlan:
    force = frozenset(STAGES) if "all" in args.force else frozenset(args.force)
    if args.only:
        # upstream of --only, stages are read from the cache; forcing them would mean nothing
        force &= {args.only}
    return RunPlan(source=source_from(args), force=force, only=args.only)


def run_command(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    plan = plan_from(args)
    stderr = Console(stderr=True)
    with RichObserver(stderr) as observer:
        runner = Runner(settings, plan, observer)
        if not runner.tools.backend.capabilities.structured_output:
            observer.warn(
                "no LLM configured (set OPENAI_API_KEY or OPENAI_BASE_URL): "
                "using the extractive backend"
            )
        record = runner.run()
    for table in summary_tables(record, runner.rows, console.width):
        console.print(table)
    console.print(llm_line(record), highlight=False)
    console.print(f"wrote {record.out_dir}/", highlight=False)
    for failure in record.failed:
        stderr.print(
            f"failed: {failure.id} ({failure.stage}): {failure.error}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    return 1 if record.failed else 0
