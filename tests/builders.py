"""Small builders for the models the tests pass between stages."""

from __future__ import annotations

import random
import re
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


# --- Damaged PDFs ---------------------------------------------------------------------------
# Ways real downloads and disks damage a PDF, for the "any PDF gives a document or one clear
# error" tests and `scripts/fuzz_extract.py`. Each takes the good bytes and a random source.


def truncated_bytes(data: bytes, rng: random.Random) -> bytes:
    """Cut off somewhere after the header (an interrupted download)."""
    return data[: rng.randrange(16, max(17, len(data) - 1))]


def flipped_bytes(data: bytes, rng: random.Random, flips: int = 20) -> bytes:
    """Random bytes overwritten (a bad disk or a mangled transfer)."""
    out = bytearray(data)
    for _ in range(flips):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def without_xref(data: bytes, rng: random.Random) -> bytes:
    """The cross-reference table and its offset gone: MuPDF must rebuild it from the objects."""
    data = re.sub(rb"startxref\s+\d+", b"startxref\n0", data)
    return re.sub(rb"\nxref\b.*?trailer", b"\ntrailer", data, flags=re.S)


def wrong_page_count(data: bytes, rng: random.Random) -> bytes:
    """A page tree whose /Count promises pages that are not there (or an absurd number)."""
    count = rng.choice([0, -1, 13, 99, 2**31])
    return re.sub(rb"/Count\s+\d+", b"/Count %d" % count, data)


def broken_object(data: bytes, rng: random.Random) -> bytes:
    """One object's body replaced with garbage, its length unchanged."""
    starts = [m.end() for m in re.finditer(rb"\d+ 0 obj", data)]
    if not starts:
        return flipped_bytes(data, rng)
    start = rng.choice(starts)
    end = data.find(b"endobj", start)
    end = end if end > start else min(len(data), start + 64)
    return data[:start] + bytes(rng.randrange(256) for _ in range(end - start)) + data[end:]


DAMAGE = {
    "truncated": truncated_bytes,
    "flipped": flipped_bytes,
    "no-xref": without_xref,
    "page-count": wrong_page_count,
    "broken-object": broken_object,
}


def damaged(data: bytes, how: str, seed: int) -> bytes:
    """`data` damaged the way `DAMAGE[how]` does, reproducibly for one seed."""
    return DAMAGE[how](data, random.Random(f"{how}-{seed}"))
