"""A paper from a local folder has no checked arXiv id: a file named like one ("2501.00001.pdf")
is not that arXiv paper. No report, daily or weekly, in any format, links it to arxiv.org or
dates it by the day it was briefed; each names the file, as plain text."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from types import SimpleNamespace

from pipeline.html.weekly import _paper as weekly_paper_html
from pipeline.models import PaperMeta, RankedPaper
from pipeline.stages.digest import WeekPaper
from pipeline.stages.report import daily
from pipeline.weekly import _top as weekly_top
from pipeline.weekly import references, top_papers, week_papers
from tests.builders import meta, record, summary
from tests.project import Project
from tests.test_report import inputs as base_inputs
from tests.test_weekly import MONDAY, weekly

NAMED_LIKE_AN_ID = "2501.00001.pdf"
BRIEFED = date.fromisoformat(MONDAY)  # the run's day: not when a local PDF was published


def test_a_local_pdf_named_like_an_arxiv_id_links_nowhere_and_claims_no_date(
    tmp_path: Path, papers: Path
):
    folder = tmp_path / "source"
    folder.mkdir()
    shutil.copy(papers / "sample-toolguard.pdf", folder / NAMED_LIKE_AN_ID)
    shutil.copy(papers / "sample-draft-trees.pdf", folder / "sample-draft-trees.pdf")
    project = Project(tmp_path / "project", papers)
    assert project.run(day=MONDAY, papers=folder).failed == []
    outcome = weekly(project)

    daily, week = project.folder(), outcome.folder
    files = [daily / f"summaries.{ext}" for ext in ("md", "html", "json")]
    files += [week / f"report.{ext}" for ext in ("md", "html", "json")]
    for file in files:
        text = file.read_text()
        assert "arxiv.org" not in text, file.name
        assert NAMED_LIKE_AN_ID in text, file.name  # named by its file, as plain text
    for file in files[3:5]:  # the weekly page and Markdown: neither link nor date is claimed
        text = file.read_text()
        assert "ublished" not in text and "arXiv link" not in text, file.name

    data = json.loads((week / "report.json").read_text())
    named = next(p for p in data["top"] if p["file"] == NAMED_LIKE_AN_ID)
    assert named["url"] is None and named["published"] is None and named["id"] == "2501.00001"
    assert all(r["date"] is None for r in data["references"])
    md = (week / "report.md").read_text()
    assert "| `2501.00001.pdf` (local file) |  |\n" in md  # its reference: no date is known
    assert "**File:** `2501.00001.pdf` | **Impact score:**" in md


def test_only_a_paper_arxivs_feed_listed_links_to_arxiv_and_is_dated():
    listed = meta("2501.00001v2").model_copy(update={"published": date(2025, 1, 2)})
    local = PaperMeta(id="2501.00001", title="A file", url=None, file_name=NAMED_LIKE_AN_ID)
    old_cache = PaperMeta(id="2501.00002", title="A placeholder", url=None)  # a failed feed
    week = [
        WeekPaper(
            ref=n,
            day=BRIEFED,
            meta=m,
            summary=summary(),
            impact_score=90 - n,
            backend="b",
            model="m",
        )
        for n, m in enumerate([listed, local, old_cache], start=1)
    ]
    top = top_papers(week, 3)
    assert [p.url for p in top] == ["https://arxiv.org/abs/2501.00001", None, None]
    assert [p.file for p in top] == [None, NAMED_LIKE_AN_ID, "2501.00002"]
    assert [p.published for p in top] == [date(2025, 1, 2), None, None]
    assert [r.date for r in references(week)] == [date(2025, 1, 2), None, None]

    md = "\n".join(weekly_top(SimpleNamespace(top=top)))  # type: ignore[arg-type]
    link = "[https://arxiv.org/abs/2501.00001](<https://arxiv.org/abs/2501.00001>)"
    assert f"**arXiv link:** {link} | **Published:** January 2, 2025 |" in md
    assert f"**File:** `{NAMED_LIKE_AN_ID}` | **Impact score:**" in md
    pages = [weekly_paper_html(p) for p in top]
    assert (
        'href="https://arxiv.org/abs/2501.00001v2"' in pages[0]
        and "published 2025-01-02" in pages[0]
    )
    assert all("href" not in page and "published" not in page for page in pages[1:])


def test_a_local_pdf_named_like_an_arxiv_id_is_not_that_arxiv_paper_in_the_week():
    listed = RankedPaper(meta=meta("2501.00001v1"), record=record("2501.00001v1"), impact_score=80)
    local = PaperMeta(id="2501.00001", title="A file", url=None, file_name=NAMED_LIKE_AN_ID)
    named = RankedPaper(meta=local, record=record("2501.00001"), impact_score=70)
    days = [
        SimpleNamespace(day=BRIEFED, report=SimpleNamespace(papers=[p])) for p in (listed, named)
    ]
    week = week_papers(days)  # type: ignore[arg-type]  # what it reads of an Edition
    assert [p.meta.title for p in week] == ["Paper 2501.00001v1", "A file"]  # two papers, not one


def test_summaries_json_links_only_to_arxivs_page_of_a_checked_id():
    listed = meta("2603.00002v1").model_copy(update={"url": "https://evil.test/2603.00002v1"})
    no_id = meta("x-paper").model_copy(update={"url": "https://arxiv.org/abs/2603.00003"})
    papers = [
        RankedPaper(meta=m, record=record(m.id), impact_score=50, rank=n)
        for n, m in enumerate([listed, no_id], start=1)
    ]
    data = daily(base_inputs().model_copy(update={"papers": papers})).data
    assert [p["url"] for p in data["papers"]] == ["https://arxiv.org/abs/2603.00002v1", None]
