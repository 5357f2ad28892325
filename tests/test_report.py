"""The daily report: Markdown in the example's shape, JSON with the same facts."""

from __future__ import annotations

import json
from datetime import date

from pipeline.stages.rank import ranked
from pipeline.stages.report import FailedPaper, ReportInput, report
from tests.builders import meta, record

WEIGHTS = {"novelty": 0.3, "industry_impact": 0.35, "evidence": 0.2, "urgency": 0.15}


def inputs(backend: str = "openai") -> ReportInput:
    papers = ranked(
        [
            (meta("2603.00001v1", "Low Impact"), record("2603.00001v1", novelty=2)),
            (meta("2603.00002v1", "High Impact"), record("2603.00002v1", novelty=9, impact=9)),
        ],
        WEIGHTS,
    )
    return ReportInput(
        day=date(2026, 3, 4),
        source="folder papers",
        backend=backend,
        model="gpt-4o-mini",
        prompt="summarize/default",
        listed=3,
        papers=papers,
        failed=[FailedPaper(id="broken", stage="extract", error="broken.pdf is not a PDF")],
    )


def test_markdown_has_the_example_shape():
    md = report(inputs()).markdown
    assert md.startswith("# Research Paper Summaries — 2026-03-04")
    assert md.index("## 1. High Impact") < md.index("## 2. Low Impact")
    block = md[md.index("## 1. High Impact") : md.index("## 2. Low Impact")]
    for part in (
        "**Authors:** Ada Lovelace, Alan Turing",
        "https://arxiv.org/abs/2603.00002v1",
        "### Summary",
        "**Key insight:**",
        "### Key Takeaways",
        "**Industry impact:**",
    ):
        assert part in block
    assert block.count("\n- ") == 3
    assert "3 listed, 2 summarized" in md


def test_failures_and_costs_are_reported():
    md = report(inputs()).markdown
    assert "## Not summarized" in md and "`broken` (extract): broken.pdf is not a PDF" in md
    assert "2 LLM calls, 2000 prompt and 600 completion tokens, $0.0007" in md


def test_extractive_header_says_no_llm_was_used():
    md = report(inputs(backend="extractive")).markdown
    assert "**extractive** backend (no LLM)" in md


def test_json_carries_the_same_ranking():
    data = report(inputs()).data
    json.dumps(data)  # plain JSON, no custom types
    assert [p["id"] for p in data["papers"]] == ["2603.00002v1", "2603.00001v1"]
    top = data["papers"][0]
    assert top["rank"] == 1 and len(top["key_takeaways"]) == 3 and 0 <= top["impact_score"] <= 100
    assert data["failed"][0]["stage"] == "extract"
    assert data["usage"]["calls"] == 2
