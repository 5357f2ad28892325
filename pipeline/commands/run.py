"""`paperbrief run`: the day's briefing."""

from __future__ import annotations

import argparse
from datetime import date

from rich.console import Console

from pipeline import terminal
from pipeline.cache import Cache
from pipeline.commands.flags import settings_from
from pipeline.errors import EXIT_FAILED, EXIT_NO_REPORT, EXIT_OK, UsageError
from pipeline.folders import check_cache, check_out
from pipeline.llm.backends import backend_for
from pipeline.progress import RichObserver, llm_line, summary_tables
from pipeline.prompts import task_prompt
from pipeline.record import STAGES
from pipeline.runner import Runner, RunPlan
from pipeline.settings import Settings
from pipeline.sources import Source, parse_date, parse_ids, source_path
from pipeline.stopping import Stop, on_signals


def source_from(args: argparse.Namespace) -> Source:
    """--source PATH (offline), --ids (exactly those), --date (that day's listing), else today.

    Everything about the source that can be wrong is checked here, before any progress bar or
    backend warning, so a mistyped date is the only thing the user sees."""
    day = parse_date(args.date) if args.date is not None else date.today()
    # `is not None`: an empty --ids is a mistake to report, not the absence of the flag
    if args.source is not None and args.ids is not None:
        raise UsageError("--source and --ids cannot be combined; choose one")
    if args.source is not None:
        return Source(kind="folder", day=day, folder=source_path(args.source))
    if args.ids is not None:
        return Source(kind="ids", day=day, ids=parse_ids(args.ids))
    if args.date is not None:
        # a weekend is not an error: it briefs the Friday listing and says so (issue 9)
        return Source(kind="date", day=day)
    return Source(kind="rss", day=day)


def plan_from(args: argparse.Namespace) -> RunPlan:
    force = frozenset(STAGES) if "all" in args.force else frozenset(args.force)
    if args.only:
        # upstream of --only, stages are read from the cache; forcing them would mean nothing
        force &= {args.only}
    return RunPlan(source=source_from(args), force=force, only=args.only)


def check_prompts(settings: Settings) -> None:
    """Load the prompt files the run will use, so a missing variant (--prompt nosuch) is a
    usage error before the run starts, not a failure found at the summarize stage."""
    for task in ("triage", "summarize", "notes"):
        task_prompt(settings, task)


def check_cost_cap(settings: Settings) -> None:
    """--max-cost with a model that has no price is a usage error, not a warning: such a cap
    counts $0 per call and would never stop the run, and a warning scrolls past in a cron log
    while the provider's bill does not."""
    if settings.llm.max_cost is None:
        return
    unpriced = backend_for(settings.llm).unpriced_models()
    if unpriced:
        model = unpriced[0]
        raise UsageError(
            f"--max-cost cannot be held: model {model!r} has no price at this endpoint, so its "
            f'cost counts as $0; set one in paperbrief.toml: [llm.prices."{model}"] '
            "input = USD, output = USD (per million tokens)"
        )


def run_command(args: argparse.Namespace, console: Console) -> int:
    plan = plan_from(args)
    settings = settings_from(args)
    check_prompts(settings)
    check_cache(settings)
    check_out(settings)
    if plan.only not in (None, "feed") and not Cache(settings.cache_dir).holds("feed"):
        # the common case of the runner's own check, caught before any bar or warning is shown
        raise UsageError(
            f"--only {plan.only}: nothing is cached in {settings.cache_dir} yet; "
            "run without --only first"
        )
    check_cost_cap(settings)
    stderr = terminal.console(stderr=True)
    Cache(settings.cache_dir).mark()
    stop = Stop()
    with RichObserver(stderr) as observer, on_signals(stop, observer.warn):
        runner = Runner(settings, plan, observer, stop=stop)
        if not runner.tools.backend.capabilities.structured_output:
            observer.warn(
                "no LLM configured (set OPENAI_API_KEY or OPENAI_BASE_URL): "
                "using the extractive backend"
            )
        record = runner.run()
    for table in summary_tables(record, runner.rows, console.width):
        console.print(table)
    console.print(llm_line(record), markup=False, highlight=False, soft_wrap=True)
    for failure in record.failed:
        error = " ".join(failure.error.splitlines())  # one line per paper, whatever it quotes
        stderr.print(
            f"failed: {failure.id} ({failure.stage}): {error}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if runner.day.report is None:
        stderr.print(
            f"paperbrief: error: no report was written (see the warnings above); "
            f"{record.out_dir}/run.json says what ran",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return EXIT_NO_REPORT
    console.print(f"wrote {record.out_dir}/", highlight=False, soft_wrap=True)
    return EXIT_FAILED if record.failed else EXIT_OK
