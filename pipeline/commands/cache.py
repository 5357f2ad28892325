"""`paperbrief cache stats` and `paperbrief cache clear`."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from pipeline.cache import Cache, known_folders
from pipeline.commands import flags
from pipeline.errors import UsageError
from pipeline.folders import check_cache
from pipeline.settings import Settings
from pipeline.wording import plural

FOLDERS = sorted(known_folders())  # every folder the cache writes, stages and the rest
DAY_SECONDS = 86_400


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cache = commands.add_parser(
        "cache",
        help="show or clear the on-disk cache",
        description=(
            "The cache is cache/ beside the nearest paperbrief.toml (else ./cache); "
            "PAPERBRIEF_CACHE_DIR or --cache-dir moves it."
        ),
    )
    actions = cache.add_subparsers(dest="action", required=True, metavar="ACTION")
    stats = actions.add_parser(
        "stats",
        help="entries, remembered failures and size per stage, with a total",
        description=(
            "Show, per stage folder of the cache, the cached entries, the remembered failures "
            "(inputs that failed and are not retried until --force) and the bytes on disk, "
            "then a total line. Changes nothing."
        ),
    )
    stats.add_argument("--stage", choices=FOLDERS, help="only this stage's folder")
    flags.add_location_flags(stats, out=False)
    clear = actions.add_parser(
        "clear",
        help="delete cached entries (all, one stage's, or older ones)",
        description=(
            "Delete cached entries and the folders they leave empty; the next run recomputes "
            "what it needs. Without options everything goes, including the index of papers "
            "seen on earlier days. A folder that does not look like a paperbrief cache is "
            "refused and nothing is deleted (exit code 2)."
        ),
    )
    clear.add_argument("--stage", choices=FOLDERS, help="only this stage's entries")
    clear.add_argument(
        "--older-than",
        type=float,
        metavar="DAYS",
        help="only entries last written more than DAYS days ago",
    )
    flags.add_location_flags(clear, out=False)


def cache_command(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    check_cache(settings, create=False)
    cache = Cache(settings.cache_dir.absolute())  # messages name the folder, not "cache"
    if args.action == "clear":
        return _clear(args, cache, console)
    return _stats(args, cache, console)


def _clear(args: argparse.Namespace, cache: Cache, console: Console) -> int:
    if args.older_than is not None and args.older_than < 0:
        raise UsageError(f"--older-than {args.older_than:g}: give a number of days, 0 or more")
    older = None if args.older_than is None else args.older_than * DAY_SECONDS
    try:
        removed = cache.clear(
            args.stage, older, lambda message: console.print(message, highlight=False)
        )
    except OSError as exc:  # a read-only mount, or files of another user
        where = exc.filename or cache.root
        raise UsageError(
            f"could not clear the cache {cache.root}: {where} cannot be removed "
            f"({exc.strerror or exc}); check the folder's permissions and mount"
        ) from exc
    what = f"{args.stage} " if args.stage else ""
    console.print(
        f"removed {plural(removed, 'file')} of {what}cache from {cache.root}", highlight=False
    )
    return 0


def _stats(args: argparse.Namespace, cache: Cache, console: Console) -> int:
    numbers = {k: v for k, v in cache.stats().items() if args.stage in (None, k)}
    if not numbers:
        console.print(f"no cache entries in {cache.root}", highlight=False)
        return 0
    # The folder on a line of its own: a table title would wrap a long path mid-word.
    console.print(f"paperbrief cache in {cache.root}", highlight=False, soft_wrap=True)
    table = Table()
    table.add_column("stage")
    for column in ("entries", "failures", "bytes"):
        table.add_column(column, justify="right")
    for stage, row in numbers.items():
        table.add_row(stage, *(f"{row[k]:,}" for k in ("entries", "failures", "bytes")))
    total = {k: sum(row[k] for row in numbers.values()) for k in ("entries", "failures", "bytes")}
    table.add_section()
    table.add_row("total", *(f"{total[k]:,}" for k in ("entries", "failures", "bytes")))
    console.print(table)
    return 0
