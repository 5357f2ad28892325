"""`paperbrief report daily|weekly`: reports from the days already briefed, read from the cache.

`report daily --date D` rebuilds that day's briefing with no LLM call and no network. `report
weekly` gathers the briefed days of a range (by default the last seven), runs the missing ones
first with `--fill`, makes the one synthesis call (cached like any stage) and writes
`out/weekly-<end>/<edition>/report.md`, `report.json` and `report.html`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from pipeline import terminal
from pipeline.cache import Cache
from pipeline.editions import Edition, edition_name
from pipeline.errors import UsageError
from pipeline.folders import check_cache, check_out, write_set
from pipeline.llm.backends import MakeBackend, backend_for
from pipeline.llm.base import ignore_meter
from pipeline.observer import Observer, QuietObserver
from pipeline.record import write_outputs
from pipeline.settings import Settings
from pipeline.stage import stage_key
from pipeline.stages.report import DailyReport, Report, ReportInput, daily
from pipeline.stopping import Stop, on_signals
from pipeline.wording import plural

# The weekly report's machinery (its synthesis stage, the executor, the week's pages) is
# imported where the weekly report is built: `report daily` and every `paperbrief run`, which
# imports this module for its command line, need none of it.
if TYPE_CHECKING:
    from pipeline.runlog import RunLog
    from pipeline.stages.digest import Synthesis, Week
    from pipeline.weekly import WeeklyReport


def edition_of(settings: Settings, make_backend: MakeBackend | None = None) -> str:
    """The edition the settings would write: backend, model and summarize prompt variant."""
    backend = (make_backend or backend_for)(settings.llm, ignore_meter)
    return edition_name(backend.name, backend.model, settings.prompts.summarize)


def find_edition(
    cache: Cache, day: date, wanted: str, explicit: bool, unreadable: Sequence[str] = ()
) -> Edition:
    """That day's briefing in the settings' edition; when the user named none and only one
    edition of the day is cached, that one. `unreadable`: what the cache warned of while
    reading (its warn callback's list), named rather than "no briefing"."""
    entry = cache.edition(day, wanted, Edition)
    if entry is not None:
        return entry
    folder = cache.edition_path(day, wanted).parent
    others = sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
    if not explicit and len(others) == 1:
        found = cache.edition(day, others[0], Edition)
        if found is not None:
            return found
    if unreadable:  # there, but damaged: "no briefing" would contradict the list of editions
        raise UsageError(unreadable[0])
    hint = f"; cached editions of that day: {', '.join(others)} (--edition NAME)" if others else ""
    raise UsageError(
        f"no briefing of {day.isoformat()} ({wanted}) in {cache.root}; run "
        f"`paperbrief run --date {day.isoformat()}` first{hint}"
    )


def rebuild_daily(settings: Settings, day: date, edition: str | None = None) -> Path:
    """Write a day's report files again from the cache; returns the folder."""
    unreadable: list[str] = []
    cache = Cache(settings.cache_dir, unreadable.append)
    wanted = edition or edition_of(settings)
    entry = find_edition(cache, day, wanted, edition is not None, unreadable)
    out = settings.out_dir / day.isoformat() / entry.edition
    write_outputs(out, entry.record, briefing(cache, settings, entry.report))
    return out


def briefing(cache: Cache, settings: Settings, report: ReportInput) -> Report:
    """The report stage's output for these inputs: read from the cache under the key the run
    stored it by (the stage's version and these inputs), else made again (a cleared cache)."""
    stage = DailyReport()
    assert not stage.uses  # no tools: their identities would be in the run's key
    key = stage_key(stage, {"report": report}, stage.params(settings), {})
    return cache.get(stage.name, key, Report) or daily(report)


@dataclass
class WeeklyOutcome:
    report: WeeklyReport
    folder: Path
    warnings: list[str]


def build_weekly(
    settings: Settings,
    start: date,
    end: date,
    *,
    top: int | None = None,
    fill: bool = False,
    observer: Observer | None = None,
    make_backend: MakeBackend | None = None,
    edition: str | None = None,
    stop: Stop | None = None,
) -> WeeklyOutcome:
    """Gather the week, synthesize it (one cached call), write report.md and report.json.

    After `stop` is asked, no day's run, paper or call starts; the calls on the wire finish
    and are cached, then RunStopped is raised and nothing is written."""
    from pipeline.html.weekly import weekly_html
    from pipeline.runlog import RunLog
    from pipeline.stages.digest import Week
    from pipeline.weekly import markdown, week_papers, weekdays, with_previous

    if start > end:
        raise UsageError(f"--from {start} is after --to {end}; swap them")
    observer = observer or QuietObserver()
    stop = stop if stop is not None else Stop()
    edition = edition or edition_of(settings, make_backend)
    damaged: list[str] = []  # a day's index entry that cannot be read: said, not skipped
    cache = Cache(settings.cache_dir, damaged.append)
    if fill:
        _fill(settings, cache, start, end, edition, observer, make_backend, stop)
        damaged.clear()  # the days it found damaged are remade now; read again below
    found = _editions(cache, weekdays(start, end), edition)
    papers = week_papers(list(found.values()))
    shift = timedelta(days=(end - start).days + 1)
    earlier = _editions(cache, weekdays(start - shift, end - shift), edition)
    previous = week_papers(list(earlier.values())) if earlier else None
    log = RunLog(observer)
    week = Week(period=_period(start, end), papers=papers)
    synthesis = _synthesize(settings, cache, log, week, make_backend, stop)
    synthesis = with_previous(synthesis, previous)
    report = _report(settings, start, end, edition, found, papers, synthesis, top)
    folder = settings.out_dir / f"weekly-{end.isoformat()}" / edition
    files = {
        "report.md": markdown(report).encode("utf-8"),
        "report.json": report.model_dump_json(indent=2).encode("utf-8"),
        "report.html": weekly_html(report).encode("utf-8"),
    }
    write_set(folder, files)
    return WeeklyOutcome(report, folder, list(dict.fromkeys([*damaged, *log.warnings])))


def _editions(cache: Cache, days: list[date], edition: str) -> dict[date, Edition]:
    found = {day: cache.edition(day, edition, Edition) for day in days}
    return {day: entry for day, entry in found.items() if entry is not None}


def _fill(
    settings: Settings,
    cache: Cache,
    start: date,
    end: date,
    edition: str,
    observer: Observer,
    make_backend: MakeBackend | None,
    stop: Stop,
) -> None:
    """Run the weekdays of the range that have no briefing, through the usual cached stages;
    a day's run raises RunStopped after a stop, before any stage of the next day starts."""
    from pipeline.runner import Runner, RunPlan
    from pipeline.sources import Source
    from pipeline.weekly import weekdays

    have = _editions(cache, weekdays(start, end), edition)
    for day in weekdays(start, end):
        if day not in have:
            plan = RunPlan(source=Source(kind="date", day=day))
            Runner(settings, plan, observer, make_backend=make_backend, stop=stop).run()


def _synthesize(
    settings: Settings,
    cache: Cache,
    log: RunLog,
    week: Week,
    make_backend: MakeBackend | None,
    stop: Stop,
) -> Synthesis:
    import asyncio

    from pipeline.executor import LocalExecutor, Plan
    from pipeline.stages.digest import Digest, Synthesis
    from pipeline.tools import Tools

    if not week.papers:
        return Synthesis(
            by_model=False,
            notes={k: "has no paper to rest on" for k in ("trends", "implications", "actions")},
        )
    made = make_backend(settings.llm, log.meter) if make_backend else None
    tools = Tools(settings, cache, log, backend=made, stop=stop)
    with asyncio.Runner() as loop:
        executor = LocalExecutor(settings, cache, log, tools, Plan(), log.observer, loop, stop=stop)
        try:
            executor.run(Digest(), week)  # type: ignore[arg-type]
        finally:
            loop.run(tools.aclose())
    if stop.requested:  # a reply that came is cached; a refused re-ask is the next run's
        raise stop.stopped()
    if week.synthesis is None:  # the call failed: the report still lists the week's papers
        reason = "could not be written: " + "; ".join(log.warnings[-1:])
        return Synthesis(
            by_model=False, notes=dict.fromkeys(("trends", "implications", "actions"), reason)
        )
    return week.synthesis


def _report(
    settings: Settings,
    start: date,
    end: date,
    edition: str,
    found: dict[date, Edition],
    papers: list,  # type: ignore[type-arg]
    synthesis: Synthesis,
    top: int | None,
) -> WeeklyReport:
    from pipeline.weekly import WeeklyReport, references, top_papers, weekdays

    entries = list(found.values())
    first = entries[0].report if entries else None
    return WeeklyReport(
        start=start,
        end=end,
        compiled=date.today(),
        audience=settings.report.audience,
        focus=settings.reading.interests,
        categories=sorted({c for e in entries for c in e.categories}),
        edition=edition,
        backend=first.backend if first else "",
        model=first.model if first else "",
        days_briefed=sorted(found),
        days_missing=[d for d in weekdays(start, end) if d not in found],
        listed=sum(e.listed for e in entries),
        triaged=sum(e.triaged for e in entries),
        read_in_full=sum(e.read_in_full for e in entries),
        papers=len(papers),
        top=top_papers(papers, top or settings.report.weekly_top),
        themes=synthesis.themes,
        trends=synthesis.trends,
        implications=synthesis.implications,
        actions=synthesis.actions,
        notes=synthesis.notes,
        by_model=synthesis.by_model,
        references=references(papers),
        usage=synthesis.usage,
    )


def _period(start: date, end: date) -> str:
    return f"{start.isoformat()} to {end.isoformat()}"


# --- the command line --------------------------------------------------------------------


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    settings_flags: Callable[[argparse.ArgumentParser], None],
) -> None:
    report = commands.add_parser(
        "report",
        help="rebuild a daily report or write the weekly one, from the days already briefed",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    kinds = report.add_subparsers(dest="kind", required=True, metavar="KIND")
    one = kinds.add_parser("daily", help="rebuild a day's report from the cache (no LLM call)")
    one.add_argument("--date", type=date.fromisoformat, help="the day, YYYY-MM-DD (default today)")
    week = kinds.add_parser("weekly", help="the weekly report over briefed days")
    week.add_argument("--from", dest="start", type=date.fromisoformat, help="first day")
    week.add_argument("--to", dest="end", type=date.fromisoformat, help="last day (default today)")
    week.add_argument("--top", type=int, help="top papers listed (default report.weekly_top)")
    week.add_argument("--fill", action="store_true", help="run the missing weekdays first")
    for parser in (one, week):
        parser.add_argument("--edition", help="which edition (default: the settings' own)")
        parser.add_argument("--backend", choices=("auto", "openai", "local", "extractive"))
        parser.add_argument("--model", help="model name for the LLM backend")
        parser.add_argument("--base-url", help="OpenAI-compatible endpoint")
        parser.add_argument("--prompt", help="summarize prompt variant of the edition")
        settings_flags(parser)


def report_command(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    check_cache(settings, create=args.kind == "weekly" and args.fill)
    check_out(settings)
    if args.kind == "daily":
        folder = rebuild_daily(settings, args.date or date.today(), args.edition)
        console.print(f"wrote {folder}/", highlight=False)
        return 0
    end = args.end or date.today()
    start = args.start or end - timedelta(days=6)
    stderr = terminal.console(stderr=True, soft_wrap=True)

    def warn(message: str) -> None:
        stderr.print(f"warning: {message}", markup=False, highlight=False)

    stop = Stop()
    with on_signals(stop, warn):  # --fill's runs and the synthesis call
        outcome = build_weekly(
            settings, start, end, top=args.top, fill=args.fill, edition=args.edition, stop=stop
        )
    for warning in outcome.warnings:
        warn(warning)
    report = outcome.report
    if report.days_missing:
        missing = ", ".join(d.isoformat() for d in report.days_missing)
        stderr.print(f"not briefed: {missing} (--fill runs them)", markup=False, highlight=False)
    console.print(
        f"{plural(report.papers, 'paper')} from {plural(len(report.days_briefed), 'day')}; "
        f"wrote {outcome.folder}/",
        highlight=False,
    )
    return 0 if report.papers else 3
