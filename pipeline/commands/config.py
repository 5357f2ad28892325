"""`paperbrief config`: the settings in effect, and where each value came from."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from pipeline.commands import flags
from pipeline.commands.init import toml_value
from pipeline.redaction import redacted
from pipeline.settings import ANCHORED, CONFIG_FILE, Loaded, Section

ALIGN = 56
# A setting that, unset, takes another's value: shown with the value it takes.
FOLLOWS = {("llm", "triage_model"): ("llm", "model")}


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "config",
        help="print the settings in effect and where each came from",
        description=(
            f"Print every setting in effect, one per line, with where its value came from: "
            f"the default, {CONFIG_FILE} (the nearest one here or above), the environment, or "
            "a flag. Give the same flags as `paperbrief run` to see what that run would use. "
            "Secrets (the API key) are masked. Exit code 0; 2 for a bad setting."
        ),
    )
    flags.add_location_flags(parser)
    flags.add_listing_flags(parser.add_argument_group("listing flags, as for run"))
    flags.add_reading_flags(parser.add_argument_group("reading flags, as for run"))


def config_command(args: argparse.Namespace, console: Console) -> int:
    loaded = flags.loaded_from(args)
    for line in config_lines(loaded, Path.cwd()):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    return 0


def config_lines(loaded: Loaded, cwd: Path) -> list[str]:
    """A header naming the settings file (or saying there is none), then `key = value  # from`
    for every setting, sections in the order of the model."""
    if loaded.config_file is None:
        head = (
            f"# no {CONFIG_FILE} in {cwd} or any folder above it: cache/ and out/ are in the "
            "working directory (`paperbrief init` makes one)"
        )
    else:
        head = f"# settings file: {loaded.config_file.absolute()}"
    leaves = dict(_leaves(loaded))
    rows = [
        (".".join(path), _value_text(path, leaves, cwd), loaded.origin(path)) for path in leaves
    ]
    # Aligned for the common short values; a long one (reading.interests) just runs on.
    width = min(ALIGN, max(len(key) + len(value) for key, value, _ in rows) + 5)
    return [head, *(f"{f'{key} = {value}':<{width}}  # {origin}" for key, value, origin in rows)]


def _leaves(loaded: Loaded) -> list[tuple[tuple[str, ...], Any]]:
    leaves: list[tuple[tuple[str, ...], Any]] = []
    for name, value in loaded.settings:
        if isinstance(value, Section):
            leaves += [((name, key), sub) for key, sub in value]
        else:
            leaves.append(((name,), value))
    return leaves


def _value_text(path: tuple[str, ...], leaves: dict[tuple[str, ...], Any], cwd: Path) -> str:
    value = leaves[path]
    if value is None and path in FOLLOWS:
        other = FOLLOWS[path]
        return f"(not set: {'.'.join(other)}, {_shown(leaves[other])})"
    # The cache and out folders are shown absolute: which folder is the question.
    return _shown(cwd / value if path in ANCHORED else value)


def _shown(value: Any) -> str:
    if value is None:
        return "(not set)"
    # masks a secret whole (even its last characters help a guess), and the password of a URL
    return redacted(toml_value(value))
