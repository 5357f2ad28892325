"""`paperbrief prompts`: every task's prompt variants, with what each is for."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from pipeline.prompts import prompt_variants, prompts_dir_of
from pipeline.settings import Settings

HELP = """\
List the prompt variants in the prompts folder (prompts/<task>/<variant>.md), with the
description, temperature and max_tokens of each. Choose one with `run --prompt VARIANT`;
compare some with `compare --prompt summarize=default,terse`.
"""


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    settings_flags: Callable[[argparse.ArgumentParser], None],
) -> None:
    parser = commands.add_parser(
        "prompts",
        help="list every task's prompt variants with their descriptions",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    settings_flags(parser)


def prompts_command(settings: Settings, console: Console) -> int:
    folder = prompts_dir_of(settings)
    table = Table(title=f"Prompts in {folder}", title_justify="left")
    for column in ("task", "variant", "description", "temp.", "max tokens"):
        table.add_column(column, overflow="fold")
    chosen = settings.prompts.model_dump()
    for task, prompts in prompt_variants(folder).items():
        for prompt in prompts:
            # the variant a run would use is starred, so the listing also answers "which one?"
            star = " *" if chosen.get(task) == prompt.variant else ""
            table.add_row(
                task,
                prompt.variant + star,
                prompt.description or "(no description)",
                f"{prompt.temperature:g}",
                str(prompt.max_tokens),
            )
    console.print(table)
    console.print("* the variant your settings use", highlight=False)
    return 0
