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
halfway through a run.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from pydantic import BaseModel

from pipeline.errors import PromptError
from pipeline.llm.base import Message

PLACEHOLDER = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")
SECTION = re.compile(r"^##\s+(system|user)\s*$", re.MULTILINE | re.IGNORECASE)

TASK_PLACEHOLDERS: dict[str, frozenset[str]] = {
    "summarize": frozenset({"title", "authors", "categories", "abstract", "paper_text"}),
}


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


def _fill(template: str, values: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def default_prompts_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "prompts"


def load_prompt(prompts_dir: Path, task: str, variant: str = "default") -> Prompt:
    path = prompts_dir / task / f"{variant}.md"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PromptError(
            f"prompt {path} cannot be read ({exc.strerror}); check prompts.dir in the settings"
        ) from exc
    return parse_prompt(text, task=task, variant=variant, source=str(path))


def parse_prompt(text: str, *, task: str, variant: str, source: str = "<prompt>") -> Prompt:
    header, body = _split_header(text, source)
    parts = SECTION.split(body)
    # split() gives [preamble, name1, text1, name2, text2]
    pairs = zip(parts[1::2], parts[2::2], strict=True)
    sections = {name.lower(): part.strip() for name, part in pairs}
    if set(sections) != {"system", "user"}:
        raise PromptError(f"prompt {source} needs a '## system' and a '## user' section")
    allowed = TASK_PLACEHOLDERS.get(task)
    used = set(PLACEHOLDER.findall(sections["system"] + sections["user"]))
    if allowed is not None and (unknown := used - allowed):
        raise PromptError(
            f"prompt {source} uses unknown placeholders {sorted(unknown)}; "
            f"{task} prompts may use {sorted(allowed)}"
        )
    try:
        temperature = float(header.get("temperature", 0.2))
        max_tokens = int(header.get("max_tokens", 1500))
    except ValueError as exc:
        raise PromptError(f"prompt {source} has a bad header value: {exc}") from exc
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


def _split_header(text: str, source: str) -> tuple[dict[str, str], str]:
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
            header[key.strip()] = value.strip()
    return header, "\n".join(lines[end + 1 :])
