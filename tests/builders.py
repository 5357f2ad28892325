"""Small builders for the models the tests pass between stages."""

from __future__ import annotations

import random
import re
import textwrap
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


def distinct_copies(originals: Path, folder: Path, rounds: int) -> Path:
    """`rounds` copies of each PDF in `originals` under new names in `folder`, each its own
    file (a comment after %%EOF changes the digest, not the text): a day big enough for the
    worker pool, with nothing the cache can share between copies."""
    folder.mkdir(parents=True)
    for n in range(rounds):
        for pdf in sorted(originals.glob("*.pdf")):
            (folder / f"{n}-{pdf.name}").write_bytes(pdf.read_bytes() + f"% {n}\n".encode())
    return folder


def with_unknown_annotations(pdf: Path, count: int = 1) -> Path:
    """`pdf` with `count` annotations of an unknown /Subtype and no appearance stream on its
    first page: MuPDF reports an error for each when it loads the page, and reads on."""
    doc = pymupdf.open(pdf)
    page = doc[0]
    refs = []
    for n in range(count):
        xref = doc.get_new_xref()
        box = f"[{72 + n % 40} 72 {90 + n % 40} 90]"
        doc.update_object(xref, f"<< /Type /Annot /Subtype /Foo /Rect {box} >>")
        refs.append(f"{xref} 0 R")
    doc.xref_set_key(page.xref, "Annots", f"[{' '.join(refs)}]")
    data = doc.tobytes()
    doc.close()
    pdf.write_bytes(data)
    return pdf


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


# --- Paper shapes the sample papers do not have ---------------------------------------------
# Small one-column papers drawn line by line, so a test can set each line's fonts, sizes and
# spans the way real papers do (issue 13: small capitals in the body font with one word per
# span, an abstract alone on page 2, a title whose short name is in another font, outlines).

PROSE = (
    "Retrieval augmented generation grounds a language model in documents it fetches at "
    "answer time, which keeps answers current and lets readers check the sources behind them. "
    "We study how the retriever and the generator interact when the corpus grows large and "
    "when the questions need several passages to answer well. Our experiments cover open "
    "questions, fact checking and long form answers across three public benchmarks."
)


class PaperWriter:
    """Draws a paper top to bottom: `line` for one line, `prose` for a wrapped paragraph."""

    def __init__(self, size: float = 10.0, leading: float = 1.25) -> None:
        self.doc = pymupdf.open()
        self.size, self.leading = size, leading
        self.page = self.doc.new_page()
        self.y = 72.0

    def new_page(self) -> None:
        self.page = self.doc.new_page()
        self.y = 72.0

    def line(
        self, pieces: list[tuple[str, str, float]] | str, *, gap: float = 0.0, x: float = 72.0
    ) -> int:
        """One line of `(text, font, size)` pieces, each word drawn on its own (one-word spans).
        Returns the page number (1-based) the line is on."""
        if isinstance(pieces, str):
            pieces = [(pieces, "tiro", self.size)]
        height = max(size for _, _, size in pieces) * self.leading
        if self.y + gap + height > 740:
            self.new_page()
        self.y += gap + height
        for text, font, size in pieces:
            for k, word in enumerate(text.split(" ")):
                if k:
                    x += pymupdf.get_text_length(" ", fontname=font, fontsize=size)
                if word:
                    self.page.insert_text((x, self.y), word, fontname=font, fontsize=size)
                    x += pymupdf.get_text_length(word, fontname=font, fontsize=size)
        return self.page.number + 1

    def row(
        self, cells: list[str], xs: list[float], *, gap: float = 0.0, size: float = 9.0
    ) -> None:
        """One table row: each cell's words drawn from its column's x (a word table)."""
        self.y += gap + size * self.leading
        for cell, x in zip(cells, xs, strict=True):
            self.page.insert_text((x, self.y), cell, fontname="tiro", fontsize=size)

    def prose(self, text: str = PROSE, *, width: int = 95, gap: float = 4.0) -> None:
        for i, row in enumerate(textwrap.wrap(text, width)):
            self.line(row, gap=gap if i == 0 else 0.0)

    def save(self, path: Path, toc: list[list] | None = None, title: str | None = None) -> Path:
        if toc:
            self.doc.set_toc(toc)
        if title is not None:
            self.doc.set_metadata({"title": title})
        self.doc.save(path)
        return path


def small_caps(text: str, size: float = 10.0, font: str = "tiro") -> list[tuple[str, str, float]]:
    """IEEE-style fake small capitals: each word's first letter at `size`, the rest upper case
    and smaller, every piece its own span ("II. OVERVIEW OF RAG")."""
    pieces: list[tuple[str, str, float]] = []
    small = round(size * 0.8, 1)
    for word in text.split():
        if word[:1].islower():  # "of": small capitals throughout
            pieces.append((word.upper(), font, small))
        else:
            pieces.append((word[:1], font, size))
            if word[1:]:
                pieces.append((word[1:].upper(), font, small))
        pieces.append((" ", font, size))
    return _glued(pieces[:-1])


def _glued(pieces: list[tuple[str, str, float]]) -> list[tuple[str, str, float]]:
    # `PaperWriter.line` splits pieces at spaces; a word's first letter and the rest of it must
    # touch, so they are drawn as pieces with no space between them.
    out: list[tuple[str, str, float]] = []
    for text, font, size in pieces:
        if text == " " and out:
            out[-1] = (out[-1][0] + " ", out[-1][1], out[-1][2])
        else:
            out.append((text, font, size))
    return out
