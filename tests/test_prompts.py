"""Prompt templates: header, two parts, placeholders checked at load time."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import PromptError
from pipeline.prompts import default_prompts_dir, load_prompt, parse_prompt

TEMPLATE = """---
description: test
temperature: 0.5
max_tokens: 900
---
## system
Summarize. Literal braces {like: "json"} stay.
## user
Title: {{title}}
<paper>{{ paper_text }}</paper>
"""


def test_the_shipped_summarize_prompt_loads():
    prompt = load_prompt(default_prompts_dir(), "summarize", "default")
    assert prompt.name == "summarize/default"
    assert "<paper>" in prompt.user and "data" in prompt.system
    assert 0 <= prompt.temperature <= 1 and prompt.max_tokens >= 1000


def test_render_fills_placeholders_and_keeps_literal_braces():
    prompt = parse_prompt(TEMPLATE, task="summarize", variant="t")
    system, user = prompt.render(title="Paper {1}", paper_text="text with {{title}} inside")
    assert system.role == "system" and '{like: "json"}' in system.content
    # a placeholder-looking string inside the paper is data, not expanded again
    assert user.content == "Title: Paper {1}\n<paper>text with {{title}} inside</paper>"
    assert (prompt.temperature, prompt.max_tokens) == (0.5, 900)


def test_digest_changes_with_the_text():
    one = parse_prompt(TEMPLATE, task="summarize", variant="t")
    two = parse_prompt(
        TEMPLATE.replace("Summarize.", "Summarize briefly."), task="summarize", variant="t"
    )
    assert one.digest != two.digest


def test_unknown_placeholder_fails_at_load():
    with pytest.raises(PromptError, match=r"unknown placeholders \['venue'\]"):
        parse_prompt(TEMPLATE + "{{venue}}", task="summarize", variant="t")


def test_missing_parts_and_files_are_clear(tmp_path: Path):
    with pytest.raises(PromptError, match="'## system' and a '## user'"):
        parse_prompt("## user\nonly a user part", task="summarize", variant="t")
    with pytest.raises(PromptError, match="never closed"):
        parse_prompt("---\ndescription: x\n## system\na\n## user\nb", task="summarize", variant="t")
    with pytest.raises(PromptError, match="cannot be read"):
        load_prompt(tmp_path, "summarize", "nope")
