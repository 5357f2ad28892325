"""The command line: parse, build settings, call the runner, print. Nothing else lives here."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from rich.console import Console

from pipeline.commands import compare as compare_cmd
from pipeline.commands import extract as extract_cmd
from pipeline.commands import prompts as prompts_cmd
from pipeline.commands import report as report_cmd
from pipeline.errors import PaperbriefError, UsageError
from pipeline.record import STAGES
from pipeline.settings import Settings, load_settings

STAGE_NAMES = STAGES

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paperbrief",
        description="Turn a day of arXiv papers into a ranked research briefing.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(commands)
    report_cmd.add_parser(commands, _add_settings_flags)
    extract_cmd.add_parser(commands)
    _add_cache(commands)
    _add_schema(commands)
    compare_cmd.add_parser(commands, _add_settings_flags)
    prompts_cmd.add_parser(commands, _add_settings_flags)
    return parser


def _add_settings_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument("--config", type=Path, help="settings file (default ./paperbrief.toml)")
    parser.add_argument("--cache-dir", type=Path, help="cache folder (default ./cache)")


RUN_HELP = """\
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
  --source DIR       a folder of PDFs (offline)

Every stage is cached: a second run does no work, --force STAGE recomputes one stage, and
--only STAGE runs one stage from cached inputs. arXiv is asked politely: one request at a time,
3 s apart by default (PAPERBRIEF_ARXIV_DELAY).

Exit code 0: every paper done; 1: some failed (listed); 2: bad usage.
"""


def _add_run(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = commands.add_parser(
        "run",
        help="list, read, summarize and rank papers, then write the briefing",
        description=RUN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = run.add_argument_group("which papers")
    source.add_argument("--source", type=Path, help="folder of PDFs to brief (offline)")
    source.add_argument("--date", type=date.fromisoformat, help="arXiv listing of YYYY-MM-DD")
    source.add_argument("--ids", help="comma-separated arXiv ids, e.g. 2603.03371,2603.03637v2")
    source.add_argument("--categories", help="comma-separated, default cs.AI,cs.LG,cs.CL")
    source.add_argument(
        "--include-replacements",
        action="store_true",
        default=None,
        help="also list replaced (new-version) papers from the RSS feed",
    )
    source.add_argument("--include", help="keep only papers mentioning any of these keywords")
    source.add_argument("--exclude", help="drop papers mentioning any of these keywords")
    source.add_argument(
        "--reread",
        action="store_true",
        default=None,
        help="summarize papers already summarized on an earlier day",
    )
    llm = run.add_argument_group("reading")
    llm.add_argument("--backend", choices=("auto", "openai", "local", "extractive"))
    llm.add_argument("--model", help="model name for the LLM backend")
    llm.add_argument("--base-url", help="OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp)")
    llm.add_argument(
        "--model-path", type=Path, metavar="FILE.gguf", help="GGUF model for --backend local"
    )
    llm.add_argument("--chat-format", help="llama.cpp chat format for a GGUF without a template")
    llm.add_argument("--prompt", help="summarize prompt variant in prompts/summarize/ (default)")
    llm.add_argument("--top", type=int, help="papers read in full after triage (default 15)")
    llm.add_argument("--max-cost", type=float, help="stop starting LLM work past this many USD")
    llm.add_argument("--concurrency", type=int, help="LLM calls in flight")
    runs = run.add_argument_group("caching and output")
    runs.add_argument(
        "--force",
        action="append",
        default=[],
        choices=(*STAGE_NAMES, "all"),
        metavar="STAGE",
        help="recompute this stage even if cached (repeatable; 'all' for every stage)",
    )
    runs.add_argument("--only", choices=STAGE_NAMES, metavar="STAGE", help="run only this stage")
    runs.add_argument("--out", type=Path, help="output folder (default ./out)")
    _add_settings_flags(runs)


def _add_cache(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cache = commands.add_parser("cache", help="show or clear the on-disk cache")
    cache.add_argument("action", choices=("stats", "clear"))
    cache.add_argument("--stage", choices=(*STAGE_NAMES, "pdf"), help="only this stage")
    _add_settings_flags(cache)


def _add_schema(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    schema = commands.add_parser(
        "schema",
        help="print the JSON Schema of an output file",
        description="Print the JSON Schema of summaries.json (daily), report.json (weekly) "
        "or run.json (run).",
    )
    schema.add_argument("which", choices=("daily", "weekly", "run"))


def settings_from(args: argparse.Namespace) -> Settings:
    given = vars(args)
    flags = {
        "cache_dir": args.cache_dir,
        "out_dir": given.get("out"),
        "llm.concurrency": given.get("concurrency"),
        "llm.backend": given.get("backend"),
        "llm.model": given.get("model"),
        "llm.base_url": given.get("base_url"),
        "llm.model_path": given.get("model_path"),
        "llm.chat_format": given.get("chat_format"),
        "llm.max_cost": given.get("max_cost"),
        "prompts.summarize": given.get("prompt"),
        "reading.top": given.get("top"),
        "reading.reread": given.get("reread"),
        "arxiv.categories": given.get("categories"),
        "arxiv.include_replacements": given.get("include_replacements"),
        "arxiv.include": given.get("include"),
        "arxiv.exclude": given.get("exclude"),
    }
    return load_settings(args.config, os.environ, flags)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    try:
        if args.command == "extract":
            return extract_cmd.extract_command(args)
        if args.command == "run":
            from pipeline.commands.run import run_command

            return run_command(args, settings_from(args), console)
        if args.command == "report":
            return report_cmd.report_command(args, settings_from(args), console)
        if args.command == "compare":
            return compare_cmd.compare_command(args, settings_from(args), console)
        if args.command == "prompts":
            return prompts_cmd.prompts_command(settings_from(args), console)
        if args.command == "schema":
            from pipeline.commands.schema import schema_command

            return schema_command(args.which)
        from pipeline.commands.cache import cache_command

        return cache_command(args, settings_from(args), console)
    except UsageError as exc:
        return _error(console, exc, args.debug, EXIT_USAGE)
    except PaperbriefError as exc:
        return _error(console, exc, args.debug, EXIT_FAILED)
    except KeyboardInterrupt:
        console.print("paperbrief: interrupted; finished stages stay cached", style="yellow")
        return 130


def _error(console: Console, exc: Exception, debug: bool, code: int) -> int:
    if debug:
        console.print_exception()
    # soft_wrap: one line however narrow the terminal, so it can be grepped and parsed.
    Console(stderr=True, soft_wrap=True).print(
        f"paperbrief: error: {exc}", highlight=False, markup=False
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
