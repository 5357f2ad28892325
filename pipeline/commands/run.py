"""`paperbrief run`: the day's briefing."""

from __future__ import annotations

import argparse
from datetime import date

from rich.console import Console

from pipeline.errors import UsageError
from pipeline.progress import RichObserver, llm_line, summary_tables
from pipeline.runner import STAGES, Runner, RunPlan
from pipeline.settings import Settings


def plan_from(args: argparse.Namespace) -> RunPlan:
    if args.source is None:
        raise UsageError(
            "no --source given: this version briefs a folder of PDFs; "
            "pass --source DIR (make demo shows one)"
        )
    force = frozenset(STAGES) if "all" in args.force else frozenset(args.force)
    return RunPlan(source=args.source, day=args.date or date.today(), force=force, only=args.only)


def run_command(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    plan = plan_from(args)
    stderr = Console(stderr=True)
    with RichObserver(stderr) as observer:
        runner = Runner(settings, plan, observer)
        if runner.llm_stats.backend == "extractive":
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
        stderr.print(f"failed: {failure.id} ({failure.stage}): {failure.error}", markup=False)
    return 1 if record.failed else 0
