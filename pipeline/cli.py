"""The command line: parse, build settings, call the runner, print. Nothing else lives here."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pipeline
from pipeline import collector
from pipeline.errors import (
    EXIT_FAILED,
    EXIT_NO_REPORT,
    EXIT_OK,
    EXIT_USAGE,
    FeedError,
    OutputError,
    PaperbriefError,
    RunStopped,
    UsageError,
)
from pipeline.stopping import STOP_SIGNALS, Interrupted

# The commands (and through them settings, pydantic and rich) are imported when the parser is
# built: `paperbrief --version` needs none of them.
if TYPE_CHECKING:
    from rich.console import Console

# For cron: 0 every paper done; 1 a report was written but some papers failed; 2 bad usage
# (flags, settings, files); 3 no report could be written (the feed was unreachable).

EXIT_CODES = """\
exit codes (for cron and scripts):
  0  every paper done and the report written
  1  the report was written but some papers failed (listed on stderr and in run.json)
  2  bad usage: a flag, setting, date or file is wrong (one line on stderr says which)
  3  no report could be written: the arXiv feed was unreachable, nothing could be read,
     or an output file could not be written (a full disk; what was made is cached)
  130, 143  stopped by Ctrl-C or SIGTERM: the calls on the wire were let finish and cached,
            and the same command goes on from there (a second signal stops at once)
"""


def build_parser() -> argparse.ArgumentParser:
    from pipeline.commands import cache as cache_cmd
    from pipeline.commands import compare as compare_cmd
    from pipeline.commands import config as config_cmd
    from pipeline.commands import extract as extract_cmd
    from pipeline.commands import flags
    from pipeline.commands import init as init_cmd
    from pipeline.commands import prompts as prompts_cmd
    from pipeline.commands import report as report_cmd

    parser = argparse.ArgumentParser(
        prog="paperbrief",
        description="Turn a day of arXiv papers into a ranked research briefing.",
        epilog=EXIT_CODES + "\nStart with `paperbrief init`, then `paperbrief run --help`.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"paperbrief {pipeline.__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(commands)
    init_cmd.add_parser(commands)
    config_cmd.add_parser(commands)
    report_cmd.add_parser(commands, flags.add_location_flags)
    cache_cmd.add_parser(commands)
    extract_cmd.add_parser(commands)
    _add_schema(commands)
    compare_cmd.add_parser(commands, flags.add_location_flags)
    prompts_cmd.add_parser(commands, flags.add_location_flags)
    return parser


RUN_HELP = (
    """\
Run the pipeline feed → triage → download → extract → chunk → summarize → rank → report and
write out/<date>/summaries.md, summaries.json and run.json.

Which papers:
  (no source flag)   today's arXiv announcements (RSS) in the configured categories: new
                     submissions and cross-lists; replacements with --include-replacements
  --date D           arXiv's listing dated D, through the arXiv API: papers submitted between
                     14:00 US Eastern on the weekday before the previous weekday and 14:00 on
                     the previous weekday (the window arXiv announces under D's date; public
                     holidays are not modelled). arXiv does not announce on weekends.
  --ids A,B          exactly these arXiv papers
  --source PATH      a folder of PDFs, or one PDF (offline)

Every stage is cached: a second run does no work, --force STAGE recomputes one stage, and
--only STAGE runs one stage from cached inputs. arXiv is asked politely: one request at a time,
3 s apart by default (PAPERBRIEF_ARXIV_DELAY).

Settings come from the nearest paperbrief.toml (here or in a folder above; `paperbrief init`
writes one), then PAPERBRIEF_* environment variables, then these flags; `paperbrief config`
shows the result. cache/ and out/ are beside that paperbrief.toml, else in this folder.

"""
    + EXIT_CODES
)


def _add_run(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from pipeline.commands import flags
    from pipeline.record import STAGES

    run = commands.add_parser(
        "run",
        help="list, read, summarize and rank papers, then write the briefing",
        description=RUN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = run.add_argument_group("which papers")
    source.add_argument(
        "--source", type=Path, metavar="PATH", help="folder of PDFs, or one PDF (offline)"
    )
    source.add_argument("--date", metavar="YYYY-MM-DD", help="arXiv listing of that day")
    source.add_argument("--ids", help="comma-separated arXiv ids, e.g. 2603.03371,2603.03637v2")
    flags.add_listing_flags(source)
    flags.add_reading_flags(run.add_argument_group("reading"))
    runs = run.add_argument_group("caching and output")
    runs.add_argument(
        "--force",
        action="append",
        default=[],
        choices=(*STAGES, "all"),
        metavar="STAGE",
        help="recompute this stage even if cached (repeatable; 'all' for every stage)",
    )
    runs.add_argument("--only", choices=STAGES, metavar="STAGE", help="run only this stage")
    flags.add_location_flags(runs)


def _add_schema(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    schema = commands.add_parser(
        "schema",
        help="print the JSON Schema of an output file",
        description="Print the JSON Schema of summaries.json (daily), report.json (weekly) "
        "or run.json (run).",
    )
    schema.add_argument("which", choices=("daily", "weekly", "run"))


def main(argv: Sequence[str] | None = None) -> int:
    held: list[int] = []
    if argv is None:  # paperbrief is the process: the signals are its own until the command's
        # While the command's modules are imported a signal is only noted, and acted on once
        # they are: a KeyboardInterrupt inside the import machinery could leave its lock held,
        # and the run's threads then waited on it for ever.
        for signum in STOP_SIGNALS:
            signal.signal(signum, lambda signum, _: held.append(signum))
    try:
        return _main(argv, held)
    except KeyboardInterrupt as exc:
        # A signal before the command's handlers existed (imports, settings), or a second one.
        if argv is None:
            for signum in STOP_SIGNALS:  # one more now would be a traceback from the exit
                signal.signal(signum, signal.SIG_IGN)
            # CPython marks a KeyboardInterrupt that left code run by exec() of a string (how
            # dataclasses and pydantic build classes, at import) as unhandled, even once caught
            # here, and ends the process by SIGINT (status -2, not 130); a clean exec clears it.
            exec("")
        # Written plainly: rich may not be imported yet.
        print("paperbrief: interrupted; everything finished is cached", file=sys.stderr)
        return getattr(exc, "exit_code", 130)  # SIGTERM: 143


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM as Python's own SIGINT handler treats a Ctrl-C: interrupt where it lands."""
    raise Interrupted(signum)


def _main(argv: Sequence[str] | None, held: list[int]) -> int:
    if list(sys.argv[1:] if argv is None else argv) == ["--version"]:
        # what argparse's version action prints, without importing every command first
        print(f"paperbrief {pipeline.__version__}")
        return EXIT_OK
    # Start-up makes ~40,000 objects that live as long as the process and almost no garbage:
    # the collector waits until the command's modules are imported, and when paperbrief is the
    # process (not a caller of `main`), they are left out of every later collection.
    with collector.paused(freeze=argv is None):
        args = build_parser().parse_args(argv)
        _import_command(args.command)
        from pipeline import terminal
    if argv is None:  # from here a signal interrupts where it lands, as Python's own handler
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _interrupt)
        if held:
            raise Interrupted(held[0])

    console = terminal.console()
    try:
        code = _dispatch(args, console)
        sys.stdout.flush()  # a closed pipe shows here, while BrokenPipeError is still caught
        return code
    except UsageError as exc:
        return _error(exc, args, EXIT_USAGE)
    except RunStopped as exc:  # not "error:": the user asked for it
        terminal.console(stderr=True, soft_wrap=True).print(f"paperbrief: {exc}")
        return exc.exit_code
    except (FeedError, OutputError) as exc:
        return _error(exc, args, EXIT_NO_REPORT)
    except PaperbriefError as exc:
        return _error(exc, args, EXIT_FAILED)
    except BrokenPipeError:
        # `paperbrief extract F | head`: the reader has what it wanted. Point stdout at
        # /dev/null so the interpreter's final flush does not print a second traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _import_command(command: str) -> None:
    """The modules the command runs with (`run`: the runner and every stage)."""
    if command == "run":
        import pipeline.commands.run  # noqa: F401


def _dispatch(args: argparse.Namespace, console: Console) -> int:
    # run imports the runner and its stages only when it runs: `--help` stays quick.
    from pipeline.commands import cache as cache_cmd
    from pipeline.commands import compare as compare_cmd
    from pipeline.commands import config as config_cmd
    from pipeline.commands import extract as extract_cmd
    from pipeline.commands import flags
    from pipeline.commands import init as init_cmd
    from pipeline.commands import prompts as prompts_cmd
    from pipeline.commands import report as report_cmd

    if args.command == "extract":
        return extract_cmd.extract_command(args)
    if args.command == "init":
        return init_cmd.init_command(args, console)
    if args.command == "config":
        return config_cmd.config_command(args, console)
    if args.command == "run":
        from pipeline.commands.run import run_command

        return run_command(args, console)
    if args.command == "report":
        return report_cmd.report_command(args, flags.settings_from(args), console)
    if args.command == "compare":
        return compare_cmd.compare_command(args, flags.settings_from(args), console)
    if args.command == "prompts":
        return prompts_cmd.prompts_command(flags.settings_from(args), console)
    if args.command == "schema":
        from pipeline.commands.schema import schema_command

        return schema_command(args.which)
    return cache_cmd.cache_command(args, flags.settings_from(args), console)


def _error(exc: Exception, args: argparse.Namespace, code: int) -> int:
    from pipeline import terminal
    from pipeline.redaction import masked, redacted

    stderr = terminal.console(stderr=True, soft_wrap=True)
    if args.debug:  # on stderr, as the error line; and as redacted as it (the chain quotes URLs)
        import traceback

        # the chain holds a server's own words, masked nowhere else: they may echo a credential
        trace = "".join(traceback.format_exception(exc))
        stderr.print(masked(trace, _secrets(args)), end="")
    # soft_wrap: one line however narrow the terminal, so it can be grepped and parsed, whatever
    # the message quotes (a file name, a server's words)
    line = " ".join(redacted(str(exc)).splitlines())
    stderr.print(f"paperbrief: error: {line}")
    return code


def _secrets(args: argparse.Namespace) -> list[str]:
    """The API key and every configured URL's credentials, as a traceback may quote them."""
    from pipeline.commands import flags
    from pipeline.redaction import url_secrets

    env_key = os.environ.get("OPENAI_API_KEY")
    try:
        settings = flags.settings_from(args)
    except PaperbriefError:  # the error being shown may be the settings'
        return [env_key] if env_key else []
    key = settings.llm.api_key.get_secret_value() if settings.llm.api_key else None
    arxiv = settings.arxiv
    urls = (
        settings.llm.base_url,
        os.environ.get("OPENAI_BASE_URL"),
        *(arxiv.api_url, arxiv.rss_url, arxiv.pdf_url),
    )
    found = [key, env_key, *(secret for url in urls for secret in url_secrets(url))]
    return [secret for secret in found if secret]


if __name__ == "__main__":
    sys.exit(main())
