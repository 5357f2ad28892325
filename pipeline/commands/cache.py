"""`paperbrief cache stats|clear`."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from pipeline.cache import Cache
from pipeline.settings import Settings


def cache_command(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    cache = Cache(settings.cache_dir)
    if args.action == "clear":
        removed = cache.clear(args.stage)
        console.print(f"removed {removed} files from {settings.cache_dir}", highlight=False)
        return 0
    table = Table(title=f"cache {settings.cache_dir}", title_justify="left")
    for column in ("stage", "entries", "failures", "bytes"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for stage, numbers in cache.stats().items():
        if args.stage in (None, stage):
            table.add_row(stage, *(str(numbers[k]) for k in ("entries", "failures", "bytes")))
    console.print(table)
    return 0
