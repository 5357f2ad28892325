"""The weekly report and `paperbrief report`: built from the days already briefed, grounded,
and rebuilt from the cache without reading anything again."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from pipeline.commands.report import build_weekly, rebuild_daily
from pipeline.commands.schema import schema_of
from pipeline.html.weekly import MEDALS, weekly_html
from pipeline.record import REPORT_FILES
from pipeline.stages.report import DailyData
from pipeline.weekly import WeeklyReport
from tests.browser import Chromium
from tests.fakes.scripted_llm import Call, backend_of
from tests.project import Project, answer, digest_reply
from tests.test_html import CHART_BLUE, pixels
from tests.workspace import OFFLINE

PAPER_HEADING = re.compile(r'<article class="paper"><h3>(.*?)</h3>', re.S)
MONDAY, TUESDAY, WEDNESDAY, SUNDAY = "2026-03-02", "2026-03-03", "2026-03-04", "2026-03-08"
DAYS = {
    MONDAY: ["sample-draft-trees.pdf", "sample-toolguard.pdf"],
    TUESDAY: ["sample-rag-evaluation.pdf", "sample-toolguard.pdf"],  # ToolGuard again: once
    WEDNESDAY: ["sample-sim-to-real.pdf", "sample-reward-aware-distillation.pdf"],
}


@pytest.fixture
def week(tmp_path: Path, papers: Path) -> Project:
    """Three briefed days of a week, Monday to Wednesday, with a scripted model."""
    project = Project(tmp_path / "project", papers)
    for day, names in DAYS.items():
        folder = tmp_path / "sources" / day
        folder.mkdir(parents=True)
        for name in names:
            shutil.copy(papers / name, folder / name)
        record = project.run(day=day, papers=folder)
        assert record.failed == []
    return project


def weekly(project: Project, **options: Any):
    return build_weekly(
        project.settings(),
        date.fromisoformat(MONDAY),
        date.fromisoformat(SUNDAY),
        make_backend=backend_of(project.llm),
        **options,
    )


def digests(project: Project) -> int:
    return project.llm.tasks().count("digest")


def test_a_week_of_three_days_makes_one_synthesis_call_and_none_when_rerun(week: Project):
    outcome = weekly(week)
    report = outcome.report
    assert digests(week) == 1
    assert report.papers == 5  # ToolGuard was briefed on two days and counts once
    assert [d.isoformat() for d in report.days_briefed] == [MONDAY, TUESDAY, WEDNESDAY]
    assert [d.isoformat() for d in report.days_missing] == ["2026-03-05", "2026-03-06"]
    assert len(report.themes) == len(report.trends) == len(report.actions) == 5
    assert all(t.refs and t.papers == len(t.refs) and not t.flags for t in report.themes)
    assert [p.rank for p in report.top] == [1, 2, 3, 4, 5]
    scores = [p.impact_score for p in report.top]
    assert scores == sorted(scores, reverse=True)
    again = weekly(week)
    assert digests(week) == 1  # the synthesis is cached like any stage
    assert again.report.themes == report.themes


def test_the_markdown_follows_the_example_element_by_element(week: Project):
    outcome = weekly(week, top=3)
    md = (outcome.folder / "report.md").read_text()
    order = [
        "# 🧠 Weekly AI/ML Research Report",
        "**Edition:** March 2–8, 2026",
        "**Audience:** R&D, Product, Strategy, Investors",
        "Days not briefed",
        "## 1. Executive Summary",
        "**Scope:**",
        "5 distinct papers summarized",
        "**Focus:**",
        "**Key Themes This Week:**",
        "## 2. Top Papers",
        "### 🥇 1.",
        "### 🥈 2.",
        "### 🥉 3.",
        "## 3. Emerging Trends",
        "## 4. Investment & Innovation Implications",
        "The model's interpretation of the week's papers, not findings",
        "## 5. Recommended Actions",
        "## References & Sources",
        "| # | Paper | arXiv ID | Date |",
        "Sources:",
    ]
    positions = [md.find(text) for text in order]
    assert -1 not in positions, [t for t, at in zip(order, positions, strict=True) if at < 0]
    assert positions == sorted(positions)
    assert "### 4." not in md  # --top 3
    data = WeeklyReport.model_validate_json((outcome.folder / "report.json").read_text())
    assert data.top[0].title in md and len(data.references) == 5


def test_a_citation_outside_the_week_is_reasked_once_then_flagged(week: Project):
    week.llm.answer = lambda call: (
        digest_reply(call, extra_ref=99) if call.task == "digest" else answer(call)
    )
    report = weekly(week).report
    assert digests(week) == 2  # the reply, and one re-ask quoting the problem
    reask = week.llm.calls[-1].messages[-1].content
    assert "[99]: not a paper of this week" in reask
    assert all(99 not in t.refs for t in report.themes)  # counted from valid citations only
    assert all(any("not a paper of this week" in f for f in t.flags) for t in report.themes)
    md = (weekly(week).folder / "report.md").read_text()
    assert "⚠ unverified" in md


def test_numbers_the_cited_papers_do_not_state_are_flagged(week: Project):
    def invented(call: Call) -> Any:
        if call.task != "digest":
            return answer(call)
        reply = digest_reply(call)
        first = reply.themes[0].model_copy(update={"text": "Latency falls by 73.5% [1]."})
        return reply.model_copy(update={"themes": [first, *reply.themes[1:]]})

    week.llm.answer = invented
    report = weekly(week).report
    assert report.themes[0].flags == ["numbers not in the cited papers: 73.5%"]
    assert all(not t.flags for t in report.themes[1:])


def test_offline_the_weekly_report_counts_themes_and_invents_nothing(tmp_path: Path, papers: Path):
    project = Project(tmp_path / "project", papers)
    for day in (MONDAY, TUESDAY):
        project.run(day=day, scripted=False)
    settings = project.settings()
    outcome = build_weekly(settings, date.fromisoformat(MONDAY), date.fromisoformat(SUNDAY))
    report = outcome.report
    assert report.backend == "extractive" and not report.by_model
    assert report.papers == 5 and report.themes
    assert all(t.papers == len(t.refs) >= 1 for t in report.themes)
    assert report.implications == [] and report.actions == [] and report.trends == []
    md = (outcome.folder / "report.md").read_text()
    assert md.count("needs an LLM backend") == 3
    assert "counted from the papers' tags" in md


def test_the_previous_week_is_counted_when_it_is_cached(week: Project, papers: Path):
    earlier = "2026-02-24"  # the Tuesday before
    assert all(t.previous is None for t in weekly(week).report.themes)  # nothing cached yet
    week.run(day=earlier, papers=papers)
    report = weekly(week).report
    # the Tuesday before briefed the same five papers: each theme's papers had its tags then
    assert all(t.previous is not None and t.previous >= 1 for t in report.themes if t.tags)
    assert any(t.tags for t in report.themes)


def test_a_daily_report_is_rebuilt_from_the_cache_without_a_model(week: Project):
    folder = week.folder()
    before = {name: (folder / name).read_text() for name in ("summaries.md", "run.json")}
    calls = len(week.llm.calls)
    shutil.rmtree(folder)
    rebuilt = rebuild_daily(week.settings(), date.fromisoformat(WEDNESDAY), week.runner.edition)
    assert rebuilt == folder and len(week.llm.calls) == calls
    assert {name: (folder / name).read_text() for name in before} == before
    data = json.loads((folder / "summaries.json").read_text())
    assert data["run_id"] == json.loads(before["run.json"])["run_id"]
    DailyData.model_validate(data)  # the documented schema is what is written


def test_a_daily_rebuild_reads_the_briefing_the_run_made_or_makes_it_when_cleared(
    week: Project, monkeypatch: pytest.MonkeyPatch
):
    folder, day = week.folder(), date.fromisoformat(WEDNESDAY)
    written = {name: (folder / name).read_bytes() for name in REPORT_FILES}

    def rendered_again(inputs: Any) -> None:
        raise AssertionError("the cached briefing was rendered again")

    monkeypatch.setattr("pipeline.commands.report.daily", rendered_again)
    rebuild_daily(week.settings(), day, week.runner.edition)
    assert {name: (folder / name).read_bytes() for name in REPORT_FILES} == written
    monkeypatch.undo()
    shutil.rmtree(week.settings().cache_dir / "report")  # what `cache clear --stage report` does
    rebuild_daily(week.settings(), day, week.runner.edition)
    assert {name: (folder / name).read_bytes() for name in REPORT_FILES} == written


def test_two_prompt_variants_keep_both_reports(tmp_path: Path, papers: Path):
    project = Project(tmp_path / "project", papers)
    project.run()
    default = project.folder()
    terse = project.prompts / "summarize" / "terse.md"
    terse.write_text((project.prompts / "summarize" / "default.md").read_text())
    project.run(**{"prompts.summarize": "terse"})
    assert project.folder() != default and project.folder().name.endswith("-terse")
    for folder in (default, project.folder()):
        run = json.loads((folder / "run.json").read_text())
        assert json.loads((folder / "summaries.json").read_text())["run_id"] == run["run_id"]


def test_a_run_that_writes_no_report_leaves_no_older_report_beside_its_run_json(
    tmp_path: Path, papers: Path
):
    project = Project(tmp_path / "project", papers)
    project.run()
    project.run(only="summarize", force=frozenset({"summarize"}))
    assert not (project.folder() / "summaries.md").exists()
    rebuild_daily(project.settings(), project.runner.plan.source.day, project.runner.edition)
    assert (project.folder() / "summaries.md").exists()


def test_schemas_document_every_output():
    for which in ("daily", "weekly", "run"):
        schema = schema_of(which)
        assert schema["type"] == "object" and schema["properties"]


def test_the_weekly_command_as_a_user_runs_it(tmp_path: Path, papers: Path):
    env = {**OFFLINE, "PATH": "/usr/bin:/bin"}

    def paperbrief(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pipeline", *args, "--cache-dir", "cache", "--out", "out"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    assert paperbrief("run", "--source", str(papers), "--date", MONDAY).returncode == 0
    result = paperbrief("report", "weekly", "--from", MONDAY, "--to", SUNDAY)
    assert result.returncode == 0, result.stderr
    assert "5 papers from 1 day;" in result.stdout
    assert "not briefed: 2026-03-03" in result.stderr
    assert (tmp_path / "out" / f"weekly-{SUNDAY}" / "extractive" / "report.md").is_file()
    missing = paperbrief("report", "daily", "--date", TUESDAY)
    assert missing.returncode == 2 and "run `paperbrief run --date 2026-03-03` first" in (
        missing.stderr
    )


def test_the_weekly_page_renders_in_chromium_and_hostile_text_stays_text(
    week: Project, tmp_path: Path, browser: Chromium
):
    outcome = weekly(week)
    page = outcome.folder / "report.html"
    dom = browser.dump_dom(page)
    titles = [" ".join(re.sub("<[^>]+>", "", t).split()) for t in PAPER_HEADING.findall(dom)]
    assert titles == [
        f"{MEDALS.get(p.rank, '')} {p.rank}. {p.title} [{p.ref}]".strip()
        for p in outcome.report.top
    ]
    assert dom.count("<details>") == len(outcome.report.top)  # each abstract one click away
    shot = pixels(browser.screenshot(page, tmp_path / "week.png"))
    assert len(shot) > 20 and shot[CHART_BLUE] > 200  # the themes chart was drawn

    evil = '<script>document.title="pwned"</script><img src=x onerror="alert(1)">'
    report = outcome.report
    hostile = report.model_copy(
        update={
            "top": [report.top[0].model_copy(update={"title": evil}), *report.top[1:]],
            "themes": [report.themes[0].model_copy(update={"text": evil}), *report.themes[1:]],
        }
    )
    page.write_text(weekly_html(hostile), encoding="utf-8")
    dom = browser.dump_dom(page)
    assert (
        "<script>document" not in dom
        and "<img" not in dom
        and "pwned" not in dom.split("<title>")[1].split("</title>")[0]
    )
    assert dom.count("&lt;script&gt;") >= 2  # shown as text, twice
