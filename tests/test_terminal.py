"""Text from a paper, an LLM or a server is inert on the terminal: a title like `[/INST]` is
shown as those characters (it used to end every run with rich's MarkupError), and no title
makes a link, an emoji, blinking text or any escape sequence of its own."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pymupdf
from rich.console import Console

from pipeline.commands.extract import printable_json
from pipeline.progress import RichObserver
from pipeline.terminal import console, inert
from tests.fakes.arxiv_server import FakeArxiv, make_papers
from tests.workspace import Workspace, clean_env, paperbrief

HOSTILE = {
    "inst": "Why [/INST] Tokens Matter for Chat Models",
    "link": "[link=http://evil.test/x]Click[/link] [blink red]Alarm[/] :x: Attention",
}
# What a terminal would act on: an OSC (links, titles), blinking text, the emoji `:x:` makes.
ACTIVE = ("\x1b]", "\x1b[5", "\u274c", "evil.test/x\x1b")
BODY = "We propose a scheduler [bold]that[/bold] reduces latency by 41% :warning: in production."


def one_page_paper(path: Path, title: str) -> Path:
    doc = pymupdf.open()
    page = doc.new_page()
    y = 72.0
    for size, text in [
        (16, title),
        (11, "Ann Author"),
        (12, "Abstract"),
        (10, f"{BODY} Our method reaches 97.3% accuracy on the benchmark."),
        (12, "1 Introduction"),
        (10, f"{BODY} It outperforms the strongest baseline by 2.4x."),
        (12, "2 Conclusion"),
        (10, f"We presented a scheduler. {BODY}"),
    ]:
        left = page.insert_textbox(pymupdf.Rect(72, y, 540, 780), text, fontsize=size)
        y += (780 - y) - left + 8
    doc.save(path)
    return path


def test_a_day_of_hostile_titles_runs_to_the_end_and_shows_them_as_text(tmp_path: Path):
    papers = tmp_path / "papers"
    papers.mkdir()
    for name, title in HOSTILE.items():
        one_page_paper(papers / f"{name}.pdf", title)
    workspace = Workspace(tmp_path / "ws", "--source", str(papers), "--date", "2026-03-04")
    # FORCE_COLOR: rich writes styles and links as it would on a terminal
    env = {"FORCE_COLOR": "1", "COLUMNS": "250", "TTY_COMPATIBLE": "1"}
    for _ in ("computed", "cached"):
        result = workspace.run("--backend", "extractive", env=env)
        assert result.returncode == 0, result.stderr
        shown = result.stdout + result.stderr
        for title in HOSTILE.values():
            assert title in result.stdout
        assert not [sequence for sequence in ACTIVE if sequence in shown]


def test_text_printed_on_paperbriefs_console_drives_nothing():
    out = io.StringIO()
    terminal = console(file=out, force_terminal=True, color_system="truecolor", width=200)
    terminal.print(
        "[/INST] [link=http://e.test]x[/link] :x: a\x1b]8;;http://e.test\x07b\x9bc\u202ed"
    )
    # the controls go; what they carried is left as visible text
    assert out.getvalue() == "[/INST] [link=http://e.test]x[/link] :x: a]8;;http://e.testbcd\n"


def test_warnings_quoting_a_paper_carry_no_escape_sequence():
    out = io.StringIO()
    plain = Console(file=out, force_terminal=True, color_system="truecolor", width=200)
    RichObserver(plain, live=False).warn("paper [/INST]\x1b[5mblink\x1b[0m: \u202eunreadable")
    assert "paper [/INST][5mblink[0m: unreadable" in out.getvalue()
    assert "\x1b[5m" not in out.getvalue()


def test_inert_keeps_lines_tabs_and_every_printable_character():
    assert inert("a\tb\nc [x] é 😀 \u00a0d") == "a\tb\nc [x] é 😀 \u00a0d"
    assert inert("\x00\x07\x1b\x7f\x85\x9b\u200b\u202e\u2066\ufeff") == ""


def test_extract_prints_c1_controls_and_bidi_overrides_escaped(tmp_path: Path):
    document = {"title": "Title \u202eevil\u202c with \u00e9 [/INST]", "abstract": "a\x9b2Jb\x1b"}
    printed = printable_json(document)
    assert not set(printed) & {"\u202e", "\u202c", "\x9b", "\x1b"}
    assert json.loads(printed) == document  # the data is unchanged, only escaped
    assert "é [/INST]" in printed  # readable text stays readable


def test_extract_prints_a_hostile_title_as_json(tmp_path: Path):
    pdf = one_page_paper(tmp_path / "p.pdf", HOSTILE["link"])
    result = paperbrief("extract", str(pdf), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["title"] == HOSTILE["link"]


def test_todays_arxiv_listing_with_hostile_titles_ends_cleanly(tmp_path: Path):
    titles = [*HOSTILE.values(), "Bidi \u202eevil\u202c and \u2066isolated\u2069 text"]
    papers = [
        replace(paper, title=title) for paper, title in zip(make_papers(3), titles, strict=True)
    ]
    workspace = Workspace(tmp_path / "ws", day=date.today().isoformat())
    with FakeArxiv(papers, rss=papers) as server:
        env = {**server.env(), "PAPERBRIEF_CATEGORIES": "cs.LG", "FORCE_COLOR": "1"}
        result = workspace.run("--backend", "extractive", env={**env, "COLUMNS": "250"})
    assert result.returncode == 0, result.stderr
    shown = result.stdout + result.stderr
    assert HOSTILE["inst"] in result.stdout and HOSTILE["link"] in result.stdout
    assert "Bidi evil and isolated text" in result.stdout
    assert not [c for c in ("\u202e", "\u2066", *ACTIVE) if c in shown]


def test_config_shows_settings_as_written(tmp_path: Path):
    interests = "agents :x: [blink]now[/blink] [/INST]"
    env = clean_env(PAPERBRIEF_INTERESTS=interests, FORCE_COLOR="1", COLUMNS="200")
    result = paperbrief("config", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert f'reading.interests = "{interests}"' in result.stdout  # not an emoji: ❌
    assert not [sequence for sequence in ACTIVE if sequence in result.stdout]


def test_an_error_naming_a_hostile_file_is_one_inert_line(tmp_path: Path):
    name = tmp_path / "no\nsuch [/x] \x1b]8;;http://evil.test\x07.pdf"
    result = paperbrief("extract", str(name), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "\x1b" not in result.stderr
    assert result.stderr.startswith("paperbrief: error: ") and "such [/x] ]8;;" in result.stderr
