"""Prompt templates as files: a header, a system part and a user part, with named placeholders.

A template looks like::

    ---
    description: Structured summary of one paper
    temperature: 0.2
    max_tokens: 1500
    ---
    ## system
    You summarize research papers ...
    ## user
    Title: {{title}}
    <paper>{{paper_text}}</paper>

Placeholders are `{{name}}` so that literal braces (JSON examples) need no escaping. Each task
declares the placeholders it fills; a template using any other name fails at load time, not
halfway through a run, and so does one that leaves out what the task needs (`paper_text`,
`papers`).

The header takes `description`, `temperature` (0 to 2) and `max_tokens` (1 to 128,000), each
once. The system part holds the rule that paper text is data, never instructions, so nothing may
drop it silently: a section given twice (the second would replace the first), text before the
first section (never sent), an empty system part, or a paper's words ({{title}}, {{paper_text}}…)
outside <paper>...</paper> is a `PromptError` naming the file. What the parts say is the
user's to change.

Stable prefix: the system part may use only per-run values (`interests`), so it is identical for
every paper of a run, and the shipped user parts open with a fixed instruction line before any
paper text. Providers cache the longest repeated prefix of a request, so every call after the
first pays the cached rate for it. Paper text is untrusted: the stages pass it through
`untrusted()` and the templates put it between <paper> and </paper>.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from pipeline.errors import PromptError
from pipeline.llm.base import Message

if TYPE_CHECKING:
    from pipeline.settings import Settings

PLACEHOLDER = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")
SECTION = re.compile(r"^##\s+(system|user)\s*$", re.MULTILINE | re.IGNORECASE)

TASK_PLACEHOLDERS: dict[str, frozenset[str]] = {
    "summarize": frozenset(
        {"title", "authors", "categories", "abstract", "comments", "paper_text", "interests"}
    ),
    "notes": frozenset({"title", "part", "section", "paper_text", "interests"}),
    "triage": frozenset({"papers", "interests"}),
    "digest": frozenset({"papers", "period", "interests", "audience", "count"}),
    # `compare --judge`: two summaries of one paper, shown as A and B.
    "judge": frozenset({"title", "abstract", "first", "second", "interests"}),
}
# A template without these would send the model nothing to work on.
TASK_REQUIRED: dict[str, frozenset[str]] = {
    "summarize": frozenset({"paper_text"}),
    "notes": frozenset({"paper_text"}),
    "triage": frozenset({"papers"}),
    "digest": frozenset({"papers"}),
    "judge": frozenset({"first", "second"}),
}
# Per-run values only: a system part that varied per paper would defeat provider prompt caching.
SYSTEM_PLACEHOLDERS = frozenset({"interests", "audience"})
# An opening or closing <paper ...> tag inside untrusted text, however it is spaced or cased.
_PAPER_TAG = re.compile(r"<\s*(/?)\s*paper\b([^>]*)>", re.IGNORECASE)
# Placeholders that carry a paper's own words (a title can carry an injection as well as the
# body): a template must put them between <paper> and </paper>, the only delimiters `untrusted`
# defuses and the system part names as data.
PAPER_WORDS = frozenset(
    {"title", "authors", "categories", "abstract", "comments", "section", "paper_text"}
)
HEADER_KEYS = ("description", "temperature", "max_tokens")
# The longest reply any chat model gives; more is a typo (and held against --max-cost whole).
MAX_REPLY_TOKENS = 128_000


class Prompt(BaseModel):
    task: str
    variant: str
    description: str = ""
    temperature: float = 0.2
    max_tokens: int = 1500
    system: str
    user: str
    digest: str

    @property
    def name(self) -> str:
        return f"{self.task}/{self.variant}"

    def render(self, **values: str) -> list[Message]:
        return [
            Message(role="system", content=_fill(self.system, values)),
            Message(role="user", content=_fill(self.user, values)),
        ]

    def request_key(self, messages: Sequence[Message], schema: str) -> str:
        """What one reply of this prompt is known by in the cache: the exact request, the
        sampling it was asked with (a hotter or longer variant must not be served a colder
        one's replies) and the reply schema; the store adds the model's identity."""
        request = json.dumps([m.model_dump() for m in messages], sort_keys=True)
        sampling = f"{self.temperature}/{self.max_tokens}"
        return hashlib.sha256(f"{schema}\n{sampling}\n{request}".encode()).hexdigest()


def untrusted(text: str) -> str:
    """Paper text made safe to put between <paper> and </paper>: its own paper tags are
    defused ("</paper>" becomes "[/paper]"), so it cannot close the delimiters early."""
    return _PAPER_TAG.sub(lambda m: f"[{m.group(1)}paper{m.group(2).rstrip()}]", text)


def _fill(template: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        try:
            return values[match.group(1)]
        except KeyError:
            raise PromptError(f"no value given for placeholder {{{{{match.group(1)}}}}}") from None

    return PLACEHOLDER.sub(value, template)


def prompts_dir_of(settings: Settings) -> Path:
    """The prompts folder a run reads: `prompts.dir`, else the prompts shipped with paperbrief."""
    return settings.prompts.dir or default_prompts_dir()


def task_prompt(settings: Settings, task: str) -> Prompt:
    """The prompt of `task` in the variant the settings choose (`prompts.<task>`)."""
    return load_prompt(prompts_dir_of(settings), task, getattr(settings.prompts, task))


def default_prompts_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "prompts"


def variants(prompts_dir: Path, task: str) -> list[str]:
    """The variants of a task's prompt: the names of its .md files."""
    try:
        return sorted(p.stem for p in (prompts_dir / task).glob("*.md") if p.is_file())
    except OSError:
        return []


def prompt_variants(prompts_dir: Path) -> dict[str, list[Prompt]]:
    """Every task's variants found in `prompts_dir/<task>/<variant>.md`, each one loaded (and so
    checked), tasks and variants in name order."""
    if not prompts_dir.is_dir():
        raise PromptError(f"prompts folder {prompts_dir} not found; check prompts.dir")
    found: dict[str, list[Prompt]] = {}
    for folder in sorted(p for p in prompts_dir.iterdir() if p.is_dir()):
        files = sorted(folder.glob("*.md"))
        if files:
            found[folder.name] = [load_prompt(prompts_dir, folder.name, f.stem) for f in files]
    return found


def load_prompt(prompts_dir: Path, task: str, variant: str = "default") -> Prompt:
    path = prompts_dir / task / f"{variant}.md"
    # A variant is a file name in the task's folder, never a path out of it.
    if Path(variant).name != variant or not path.exists():
        known = variants(prompts_dir, task)
        flag = " (--prompt)" if task == "summarize" else ""
        fix = (
            f"the variants there are {', '.join(known)}; set prompts.{task} to one of them"
            if known
            else "it holds no .md prompts; check prompts.dir"
        )
        raise PromptError(f"no {task} prompt {variant!r}{flag} in {prompts_dir / task}; {fix}")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PromptError(
            f"prompt {path} cannot be read ({exc.strerror}); check prompts.dir in the settings"
        ) from exc
    except UnicodeDecodeError as exc:
        raise PromptError(
            f"prompt {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from exc
    return parse_prompt(text, task=task, variant=variant, source=str(path))


def parse_prompt(text: str, *, task: str, variant: str, source: str = "<prompt>") -> Prompt:
    header, body = _split_header(text, source)
    sections = _sections(body, source)
    allowed = TASK_PLACEHOLDERS.get(task)
    used = set(PLACEHOLDER.findall(sections["system"] + sections["user"]))
    if allowed is not None and (unknown := used - allowed):
        raise PromptError(
            f"prompt {source} uses unknown placeholders {sorted(unknown)}; "
            f"{task} prompts may use {sorted(allowed)}"
        )
    if per_paper := set(PLACEHOLDER.findall(sections["system"])) - SYSTEM_PLACEHOLDERS:
        raise PromptError(
            f"prompt {source} uses {sorted(per_paper)} in its system part; put paper-specific "
            "values in the user part so the system part stays identical across papers"
        )
    if missing := TASK_REQUIRED.get(task, frozenset()) - used:
        raise PromptError(
            f"prompt {source} never uses {sorted(missing)}; a {task} prompt must include them"
        )
    _check_paper_text(sections["user"], source)
    temperature, max_tokens = _sampling(header, source)
    return Prompt(
        task=task,
        variant=variant,
        description=header.get("description", ""),
        temperature=temperature,
        max_tokens=max_tokens,
        system=sections["system"],
        user=sections["user"],
        digest=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


def _sections(body: str, source: str) -> dict[str, str]:
    """The system and user parts, each given once, nothing before them, the system part not
    empty: otherwise the rule that paper text is data could be dropped without a word."""
    parts = SECTION.split(body)
    # split() gives [preamble, name1, text1, name2, text2]
    if preamble := parts[0].strip():
        first = preamble.splitlines()[0][:60]
        if first.startswith("#"):
            raise PromptError(
                f"prompt {source}: {first!r} is no section heading; the sections are "
                "'## system' and '## user'"
            )
        raise PromptError(
            f"prompt {source} has text before its first section ({first!r}), which is never "
            "sent; move it under '## system' or '## user', or delete it"
        )
    sections: dict[str, str] = {}
    for name, part in zip(parts[1::2], parts[2::2], strict=True):
        if name.lower() in sections:
            raise PromptError(
                f"prompt {source} has two '## {name.lower()}' sections (the second would "
                "replace the first); merge them into one"
            )
        sections[name.lower()] = part.strip()
    if set(sections) != {"system", "user"}:
        raise PromptError(f"prompt {source} needs a '## system' and a '## user' section")
    if not sections["system"]:
        raise PromptError(
            f"prompt {source} has an empty '## system' section; it tells the model that paper "
            "text is data, never instructions: write one"
        )
    return sections


def _check_paper_text(user: str, source: str) -> None:
    """Each placeholder of a paper's words sits inside <paper> ... </paper>, whose tags in the paper
    itself are defused (`untrusted`): elsewhere the text could pose as the template's own."""
    for match in PLACEHOLDER.finditer(user):
        if match.group(1) not in PAPER_WORDS:
            continue
        before = _PAPER_TAG.findall(user[: match.start()])
        after = _PAPER_TAG.findall(user[match.end() :])
        if not (before and before[-1][0] == "" and after and after[0][0] == "/"):
            raise PromptError(
                f"prompt {source} puts {{{{{match.group(1)}}}}} outside <paper> ... </paper>; "
                "a paper's words must sit between those tags (the system part calls them data)"
            )


def _sampling(header: dict[str, str], source: str) -> tuple[float, int]:
    """The header's temperature and max_tokens, in range: a NaN or -5 was sent as it was."""
    try:
        temperature = float(header.get("temperature", 0.2))
        max_tokens = int(header.get("max_tokens", 1500))
    except ValueError as exc:
        raise PromptError(f"prompt {source} has a bad header value: {exc}") from exc
    if not 0 <= temperature <= 2:  # NaN fails this too
        raise PromptError(
            f"prompt {source} has temperature {header['temperature'][:40]}; "
            "use a number from 0 to 2"
        )
    if not 1 <= max_tokens <= MAX_REPLY_TOKENS:
        raise PromptError(
            f"prompt {source} has max_tokens {header['max_tokens'][:40]}; "
            f"use a whole number from 1 to {MAX_REPLY_TOKENS:,}"
        )
    return temperature, max_tokens


def _split_header(text: str, source: str) -> tuple[dict[str, str], str]:
    text = text.removeprefix("\ufeff")  # a byte-order mark some editors save first
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, text
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise PromptError(f"prompt {source}: header opened with '---' is never closed") from None
    header: dict[str, str] = {}
    for line in lines[1:end]:
        if line.strip():
            key, sep, value = line.partition(":")
            if not sep:
                raise PromptError(f"prompt {source}: header line {line!r} is not 'key: value'")
            key = key.strip()
            if key not in HEADER_KEYS:  # a misspelt temperature would be ignored
                raise PromptError(
                    f"prompt {source}: unknown header key {key[:40]!r}; "
                    f"the header takes {', '.join(HEADER_KEYS)}"
                )
            if key in header:
                raise PromptError(f"prompt {source}: header gives {key} twice; keep one")
            header[key] = value.strip()
    return header, "\n".join(lines[end + 1 :])
