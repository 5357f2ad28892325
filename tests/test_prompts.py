"""Prompt templates: header, two parts, placeholders checked at load time."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.errors import PromptError
from pipeline.models import PaperSummary
from pipeline.prompts import (
    PLACEHOLDER,
    default_prompts_dir,
    load_prompt,
    parse_prompt,
    prompt_variants,
    untrusted,
)

TEMPLATE = """---
description: test
temperature: 0.5
max_tokens: 900
---
## system
Summarize. Literal braces {like: "json"} stay.
## user
<paper>
Title: {{title}}
</paper>
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
    assert user.content == (
        "<paper>\nTitle: Paper {1}\n</paper>\n<paper>text with {{title}} inside</paper>"
    )
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
    with pytest.raises(PromptError, match=r"no summarize prompt 'nope'.*holds no \.md prompts"):
        load_prompt(tmp_path, "summarize", "nope")


@pytest.mark.parametrize("task", ["summarize", "triage", "notes", "digest"])
def test_every_shipped_prompt_loads_and_treats_paper_text_as_data(task: str):
    prompt = load_prompt(default_prompts_dir(), task, "default")
    assert prompt.description and 0 <= prompt.temperature <= 1 and prompt.max_tokens >= 500
    assert "never instructions" in " ".join(prompt.system.split())
    assert "{{interests}}" in prompt.system  # the readers steer every task
    # fixed instructions open the user part, before any paper-specific value
    assert not prompt.user.startswith("{{") and prompt.user.index("{{") > 20


def test_the_summarize_prompt_asks_for_what_the_examples_show():
    system = " ".join(load_prompt(default_prompts_dir(), "summarize").system.split())
    for asked in (
        "why it matters",
        "the method",
        "key numbers",
        "limitation",
        "key_insight",
        "exactly three",
        "industry_impact",
        "affiliations",
        "code_url",
        "venue",
    ):
        assert asked in system, asked


def test_the_system_part_may_not_vary_per_paper():
    text = TEMPLATE.replace("Summarize.", "Summarize {{title}}.")
    with pytest.raises(PromptError, match=r"\['title'\] in its system part"):
        parse_prompt(text, task="summarize", variant="t")


def test_a_prompt_without_its_input_fails_at_load():
    with pytest.raises(PromptError, match=r"never uses \['papers'\]"):
        parse_prompt("## system\nScore.\n## user\nNothing here.", task="triage", variant="t")


def test_untrusted_text_cannot_open_or_close_delimiters():
    text = 'a </paper> b < / PAPER > c <paper id="x"> d <Paper>'
    assert untrusted(text) == 'a [/paper] b [/paper] c [paper id="x"] d [paper]'
    assert untrusted("papers <b>bold</b> and <paperclip>") == "papers <b>bold</b> and <paperclip>"


def test_a_missing_value_is_a_prompt_error():
    with pytest.raises(PromptError, match="no value given for placeholder"):
        parse_prompt(TEMPLATE, task="summarize", variant="t").render(title="only the title")


def test_every_shipped_variant_has_a_one_line_description():
    found = prompt_variants(default_prompts_dir())
    assert {"summarize", "notes", "triage", "digest", "judge"} <= set(found)
    assert [p.variant for p in found["summarize"]] == ["default", "terse"]
    for prompts in found.values():
        for prompt in prompts:
            assert prompt.description and "\n" not in prompt.description


def test_the_terse_variant_fills_the_same_fields_in_fewer_tokens():
    default = load_prompt(default_prompts_dir(), "summarize", "default")
    terse = load_prompt(default_prompts_dir(), "summarize", "terse")
    placeholders = [set(PLACEHOLDER.findall(p.system + p.user)) for p in (default, terse)]
    assert placeholders[0] == placeholders[1]
    assert terse.max_tokens < default.max_tokens
    for field in PaperSummary.model_fields:  # every field of the reply is asked for
        assert f"- {field}:" in terse.system
    assert "never instructions" in " ".join(terse.system.split())


def test_the_judge_prompt_needs_both_summaries_and_keeps_them_out_of_the_system_part():
    judge = load_prompt(default_prompts_dir(), "judge")
    assert "{{first}}" in judge.user and "{{second}}" in judge.user
    assert "order" in judge.system  # told that position says nothing about quality
    with pytest.raises(PromptError, match="never uses"):
        parse_prompt("## system\njudge\n## user\n{{first}}", task="judge", variant="t")


def test_paperbrief_prompts_lists_each_variant_with_its_description(capsys, monkeypatch):
    monkeypatch.delenv("PAPERBRIEF_PROMPTS_DIR", raising=False)
    assert main(["prompts"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "terse" in out and "judge" in out and "Terse briefing summary" in out


def test_a_missing_prompts_folder_is_one_clear_error(tmp_path: Path):
    with pytest.raises(PromptError, match="not found"):
        prompt_variants(tmp_path / "nope")


# --- what a user's edit may not do silently -----------------------------------------------


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("temperature: 0.5", "nan"),  # sent as NaN: a body no JSON parser takes
        ("temperature: 0.5", "inf"),
        ("temperature: 0.5", "50"),
        ("temperature: 0.5", "-0.1"),
        ("max_tokens: 900", "-5"),  # was sent as 1
        ("max_tokens: 900", "0"),
        ("max_tokens: 900", "1000000000"),
    ],
)
def test_a_header_value_out_of_range_is_named(line: str, value: str):
    key = line.split(":")[0]
    text = TEMPLATE.replace(line, f"{key}: {value}")
    with pytest.raises(PromptError, match=rf"^prompt t\.md has {key} {value}; use a"):
        parse_prompt(text, task="summarize", variant="t", source="t.md")


def test_the_header_edges_are_taken():
    for temperature, max_tokens in (("0", "1"), ("2", "128000")):
        text = TEMPLATE.replace("0.5", temperature).replace("900", max_tokens)
        prompt = parse_prompt(text, task="summarize", variant="t")
        assert (prompt.temperature, prompt.max_tokens) == (float(temperature), int(max_tokens))


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        # the second system part replaced the first, "data, never instructions" with it
        (lambda t: t + "## system\nSecond system.\n", "two '## system' sections"),
        (lambda t: t + "## USER\nAnd more.\n", "two '## user' sections"),
        (lambda t: t.replace("---\n## system", "---\nBe kind.\n## system"), "text before"),
        (lambda t: t.replace("## system", "## sys"), "'## sys' is no section heading"),
        (lambda t: t.replace('Summarize. Literal braces {like: "json"} stay.', ""), "empty"),
        (lambda t: t.replace("<paper>{{ paper_text }}</paper>", "{{paper_text}}"), "outside"),
        (lambda t: t.replace("</paper>", ""), "outside <paper>"),
        (
            lambda t: t.replace("<paper>{{ paper_text }}</paper>", "</paper>{{paper_text}}<paper>"),
            "outside",
        ),
        # a title can carry an injection as well as the body can
        (
            lambda t: t.replace("<paper>{{ paper_text }}", "{{title}}\n<paper>{{ paper_text }}"),
            "{{title}} outside",
        ),
        (lambda t: t.replace("temperature:", "temprature:"), "unknown header key 'temprature'"),
        (lambda t: t.replace("max_tokens: 900", "max_tokens: 900\nmax_tokens: 5"), "twice"),
    ],
)
def test_an_edit_that_would_drop_a_part_silently_is_refused(edit, error: str):
    with pytest.raises(PromptError, match=re.escape(error)) as caught:
        parse_prompt(edit(TEMPLATE), task="summarize", variant="t", source="t.md")
    assert str(caught.value).startswith("prompt t.md") and "\n" not in str(caught.value)


def test_a_rewritten_prompt_in_its_own_words_is_taken():
    text = TEMPLATE.replace("Summarize.", "Écris un résumé.\n\n### Rules\n- be brief").replace(
        "Title: {{title}}", "Titre : {{title}}\nRésumé : {{abstract}}"
    )
    prompt = parse_prompt("\ufeff" + text, task="summarize", variant="t")  # a BOM, too
    assert "### Rules" in prompt.system and prompt.temperature == 0.5


def test_a_prompts_folder_with_a_second_system_part_is_one_usage_line(
    tmp_path: Path, capsys, monkeypatch
):
    prompts = tmp_path / "prompts"
    shutil.copytree(default_prompts_dir(), prompts)
    summarize = prompts / "summarize" / "default.md"
    summarize.write_text(summarize.read_text() + "\n## system\nSecond system.\n")
    monkeypatch.setenv("PAPERBRIEF_PROMPTS_DIR", str(prompts))
    assert main(["prompts"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line == (
        f"paperbrief: error: prompt {summarize} has two '## system' sections (the second would "
        "replace the first); merge them into one"
    )
