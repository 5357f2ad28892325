"""The command line: parse, build settings, call the runner, print. Nothing else lives here."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from rich.console import Console

from pipeline.errors import PaperbriefError, UsageError
from pipeline.settings import Settings, load_settings

STAGE_NAMES = ("feed", "extract", "chunk", "summarize", "rank", "report")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paperbrief",
        description="Turn a day of arXiv papers into a ranked research briefing.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(commands)
    _add_cache(commands)
    return parser


def _add_settings_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="settings file (default ./paperbrief.toml)")
    parser.add_argument("--cache-dir", type=Path, help="cache folder (default ./cache)")


def _add_run(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = commands.add_parser(
        "run",
        help="list, read, summarize and rank papers, then write the briefing",
        description=(
            "Run the pipeline feed → extract → chunk → summarize → rank → report. Every stage is "
            "cached: a second run does no work, --force STAGE recomputes one stage, and "
            "--only STAGE runs one stage from cached inputs. Writes out/<date>/summaries.md, "
            "summaries.json and run.json. Exit code 0: every paper done; 1: some failed (listed); "
            "2: bad usage."
        ),
    )
    run.add_argument("--source", type=Path, help="folder of PDFs to brief (offline)")
    run.add_argument("--date", type=date.fromisoformat, help="date of the briefing (YYYY-MM-DD)")
    run.add_argument("--backend", choices=("auto", "openai", "extractive"))
    run.add_argument("--model", help="model name for the LLM backend")
    run.add_argument("--base-url", help="OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp)")
    run.add_argument("--prompt", help="summarize prompt variant in prompts/summarize/ (default)")
    run.add_argument("--out", type=Path, help="output folder (default ./out)")
    run.add_argument("--concurrency", type=int, help="papers summarized at once")
    run.add_argument(
        "--force",
        action="append",
        default=[],
        choices=(*STAGE_NAMES, "all"),
        metavar="STAGE",
        help="recompute this stage even if cached (repeatable; 'all' for every stage)",
    )
    run.add_argument("--only", choices=STAGE_NAMES, metavar="STAGE", help="run only this stage")
    _add_settings_flags(run)


def _add_cache(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cache = commands.add_parser("cache", help="show or clear the on-disk cache")
    cache.add_argument("action", choices=("stats", "clear"))
    cache.add_argument("--stage", choices=(*STAGE_NAMES, "pdf"), help="only this stage")
    _add_settings_flags(cache)


def settings_from(args: argparse.Namespace) -> Settings:
    flags = {
        "cache_dir": args.cache_dir,
        "out_dir": getattr(args, "out", None),
        "concurrency": getattr(args, "concurrency", None),
        "llm.backend": getattr(args, "backend", None),
        "llm.model": getattr(args, "model", None),
        "llm.base_url": getattr(args, "base_url", None),
        "prompts.summarize": getattr(args, "prompt", None),
    }
    return load_settings(args.config, os.environ, flags)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    try:
        if args.command == "run":
            from pipeline.commands.run import run_command

            return run_command(args, settings_from(args), console)
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
    Console(stderr=True).print(f"paperbrief: error: {exc}", highlight=False, markup=False)
    return code


if __name__ == "__main__":
    sys.exit(main())
