"""`paperbrief init`: write a commented paperbrief.toml with every setting and its default.

The file is generated from the settings models (their fields, defaults, descriptions and
examples), so it cannot drift from what paperbrief reads. Every setting is commented out: the
file starts as "all defaults", and a later release's better default is not frozen into it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from rich.console import Console

from pipeline.cache import write_atomic
from pipeline.errors import UsageError
from pipeline.folders import file_in_the_way
from pipeline.settings import CONFIG_FILE, ENV_NAMES, Section, Settings

HEADER = f"""\
# {CONFIG_FILE}: settings for paperbrief, written by `paperbrief init`.
#
# Every setting is shown commented out with its default; remove the leading "# " to change
# one. The environment overrides this file (the variable is named on each setting's line),
# and flags override both. `paperbrief config` shows what is in effect and where each value
# came from. cache/ and out/ are created beside this file, whichever folder below it you run
# paperbrief from.
"""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "init",
        help=f"write a commented {CONFIG_FILE} with every setting and its default",
        description=(
            f"Write {CONFIG_FILE} in the current folder (or FILE): every setting, its default "
            "and one line on what it does, all commented out. The folder holding it becomes "
            "the project: paperbrief run anywhere below it uses the cache/ and out/ beside it. "
            "An existing file is kept unless --force is given. "
            "Exit code 0: written; 2: the file exists or cannot be written."
        ),
    )
    parser.add_argument(
        "file",
        nargs="?",
        type=Path,
        default=Path(CONFIG_FILE),
        metavar="FILE",
        help=f"where to write (default ./{CONFIG_FILE})",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")


def init_command(args: argparse.Namespace, console: Console) -> int:
    path: Path = args.file
    if path.is_dir():
        path = path / CONFIG_FILE
    if path.exists() and not args.force:
        raise UsageError(f"{path} already exists; edit it, or overwrite it with --force")
    if (blocking := file_in_the_way(path.parent)) is not None:
        raise UsageError(f"cannot write {path}: {blocking} is a file, not a folder")
    try:
        write_atomic(path, config_text().encode("utf-8"), private=False)
    except OSError as exc:
        raise UsageError(f"cannot write {path} ({exc.strerror or exc})") from exc
    console.print(
        f"wrote {path}; cache/ and out/ will be in {path.absolute().parent}", highlight=False
    )
    return 0


def config_text() -> str:
    """The whole commented file: top-level settings first (TOML needs them before any table),
    then one table per section."""
    lines = [HEADER]
    sections: list[tuple[str, FieldInfo]] = []
    for name, field in Settings.model_fields.items():
        if _section_model(field) is not None:
            sections.append((name, field))
        else:
            lines += _setting_lines(name, (name,), field)
    for name, field in sections:
        model = _section_model(field)
        assert model is not None
        lines += ["", f"# {_described(field, name)}", f"[{name}]"]
        for key, sub in model.model_fields.items():
            lines += _setting_lines(key, (name, key), sub)
    return "\n".join(lines) + "\n"


def _section_model(field: FieldInfo) -> type[BaseModel] | None:
    annotation = field.annotation
    return annotation if isinstance(annotation, type) and issubclass(annotation, Section) else None


def _described(field: FieldInfo, name: str) -> str:
    if not field.description:
        # A setting without a line in the file is a setting a user cannot discover.
        raise AssertionError(f"setting {name} has no description in pipeline/settings.py")
    return field.description


def _setting_lines(key: str, path: tuple[str, ...], field: FieldInfo) -> list[str]:
    default = field.get_default(call_default_factory=True)
    env = env_name(path) + ("__<NAME>" if isinstance(default, dict) else "")
    comment = f"# {_described(field, '.'.join(path))} [env {env}]"
    if default is None or default == {}:
        # Nothing to show as the default: an example says what a value looks like instead.
        lines = [f"{comment}; none by default"]
        if field.examples:
            lines.append(f"# {key} = {toml_value(field.examples[0])}")
        return lines
    return [comment, f"# {key} = {toml_value(default)}"]


def env_name(path: tuple[str, ...]) -> str:
    """The environment variable that sets this setting."""
    named = {dotted: name for name, dotted in ENV_NAMES.items()}
    if path in named:
        return named[path]
    return "PAPERBRIEF_" + "__".join(part.upper() for part in path)


def toml_value(value: Any) -> str:
    """A value as TOML: JSON's strings, numbers and arrays are TOML too; tables are inline."""
    if isinstance(value, BaseModel):
        value = value.model_dump(exclude_none=True)
    if isinstance(value, SecretStr):
        return '"********"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Path):
        return json.dumps(str(value))
    if isinstance(value, dict):
        items = ", ".join(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items())
        return f"{{ {items} }}" if items else "{}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _toml_key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii()
    return key if bare else json.dumps(key)
