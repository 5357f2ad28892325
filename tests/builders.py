"""Small builders for the models the tests pass between stages."""

from __future__ import annotations

from pathlib import Path

import pymupdf

from pipeline.models import PaperMeta, PaperSummary, Rubric, RubricScore, SummaryRecord, Usage

# the default rank weights, spelled out so a test does not move with the settings
WEIGHTS = {"novelty": 0.3, "industry_impact": 0.35, "evidence": 0.2, "urgency": 0.15}


def rubric(novelty: int = 5, impact: int = 5, evidence: int = 5, urgency: int = 5) -> Rubric:
    return Rubric(
        novelty=RubricScore(score=novelty, rationale="new loss"),
        industry_impact=RubricScore(score=impact, rationale="cuts serving cost"),
        evidence=RubricScore(score=evidence, rationale="three benchmarks"),
        urgency=RubricScore(score=urgency, rationale="drop-in"),
    )


def summary(**scores: int) -> PaperSummary:
    return PaperSummary(
        summary=["Problem and method paragraph.", "Results paragraph: 94.1% vs 76.0%."],
        key_insight="Selective imitation beats blanket imitation.",
        key_takeaways=["First takeaway.", "Second takeaway.", "Third takeaway."],
        industry_impact="Cheaper small reasoning models.",
        limitations=["Evaluated on logic puzzles only."],
        affiliations=[],
        code_url=None,
        venue=None,
        tags=["cs.LG", "distillation"],
        rubric=rubric(**scores),
    )


def meta(paper_id: str, title: str | None = None) -> PaperMeta:
    return PaperMeta(
        id=paper_id,
        title=title or f"Paper {paper_id}",
        abstract="We propose a method.",
        authors=["Ada Lovelace", "Alan Turing"],
        categories=["cs.LG"],
        url=f"https://arxiv.org/abs/{paper_id}",
    )


def record(paper_id: str, **scores: int) -> SummaryRecord:
    return SummaryRecord(
        paper_id=paper_id,
        summary=summary(**scores),
        backend="openai",
        model="gpt-4o-mini",
        prompt="summarize/default",
        usage=Usage(calls=1, prompt_tokens=1000, completion_tokens=300, cost_usd=0.00033),
    )


def encrypted_pdf(path: Path, text: str = "secret paper text") -> Path:
    """A PDF that needs a password to open, as some venues publish them."""
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), text)
    doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="x", owner_pw="y")
    return path
