"""Typed records that cross stage boundaries.

Every stage takes and returns these models; the cache stores them as JSON. LLM reply models
forbid extra keys so a reply with invented fields fails validation instead of slipping through.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field


def base_id(paper_id: str) -> str:
    """The arXiv id without its version ("2603.03371v2" → "2603.03371")."""
    head, sep, tail = paper_id.rpartition("v")
    return head if sep and tail.isdigit() and head else paper_id


class PaperMeta(BaseModel):
    """One paper as listed by the feed, before its full text is read."""

    id: str = Field(description="arXiv id with version when known, else a stable local id")
    title: str
    abstract: str = ""
    authors: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    primary_category: str | None = None
    comments: str | None = Field(default=None, description="author comments: venue, pages, code")
    journal_ref: str | None = None
    doi: str | None = None
    published: date | None = None
    updated: date | None = None
    url: str | None = Field(default=None, description="the paper's abstract page")
    pdf_url: str | None = None
    announce_type: str | None = Field(
        default=None, description="RSS announce type: new, cross, replace, replace-cross"
    )
    pdf_path: Path | None = Field(default=None, description="local PDF, when the feed has one")
    pdf_sha256: str | None = None
    file_name: str | None = Field(
        default=None, description="the local PDF's file name, kept where the path is not"
    )

    def portable(self) -> PaperMeta:
        """The metadata without where the PDF sits on this machine: what cache keys and
        downstream stages see, so moving a folder does not recompute anything."""
        return self.model_copy(update={"pdf_path": None})

    @property
    def base_id(self) -> str:
        return base_id(self.id)

    @property
    def arxiv_id(self) -> str | None:
        """The id when arXiv's own feed listed the paper under it (and it is an arXiv id), else
        None: a local PDF's id is made from its file name, and a name that looks like an id
        ("2501.00001.pdf") is not one. Only this id may link to arXiv or date a paper by it."""
        from pipeline.sources import is_arxiv_id

        listed = self.url is not None and self.file_name is None and self.pdf_path is None
        return self.id if listed and is_arxiv_id(self.id) else None

    @property
    def arxiv_page(self) -> str | None:
        """arXiv's abstract page, built from `arxiv_id` (never the feed's URL as given)."""
        return f"https://arxiv.org/abs/{self.arxiv_id}" if self.arxiv_id else None

    @property
    def file_label(self) -> str:
        """What names a paper that is not on arXiv: its PDF's file name, else its id."""
        return self.file_name or (self.pdf_path.name if self.pdf_path else self.id)


class PdfFile(BaseModel):
    """A paper's PDF on this machine. Cache keys see only its content digest, so moving or
    renaming the file recomputes nothing."""

    path: Path
    sha256: str
    # The user's own file (a folder's PDF), not a download: what to do about a damaged one
    # differs. Not in the key (`key_digest`), and not written when False, so a download's
    # cached record reads as before.
    local: bool = Field(default=False, exclude_if=lambda local: not local)

    def key_digest(self) -> str:
        return self.sha256


class FailedPaper(BaseModel):
    """A paper that dropped out of the run: in which stage, and why (one line)."""

    id: str
    stage: str
    error: str


class Section(BaseModel):
    heading: str
    level: int = 1
    page_start: int = Field(description="1-based page where the section starts")
    page_end: int
    text: str
    kind: Literal["front", "body", "references", "appendix"] = "body"


class Document(BaseModel):
    """The extracted text of one paper."""

    paper_id: str
    title: str
    abstract: str
    # read with the title: a folder's feed takes its metadata from here, parsing no PDF twice
    authors: list[str] = Field(default_factory=list)
    sections: list[Section]
    captions: list[str] = Field(default_factory=list)
    pages: int
    pages_read: int = Field(description="pages actually read (a page cap may stop early)")
    has_references: bool = False
    tables: int = Field(
        default=0,
        description="tables found (numbers, or words laid out as a grid next to a 'Table N' "
        "caption); their cells are kept out of the sections, their captions are in `captions`",
    )
    # Not written when 0 (nearly always), so a Document reads and digests as before it existed.
    pages_skipped: int = Field(
        default=0,
        description="pages left unread: over extract.max_page_mb of drawing instructions",
        exclude_if=lambda skipped: not skipped,
    )

    def body_sections(self) -> list[Section]:
        return [s for s in self.sections if s.kind in ("front", "body")]


class Chunk(BaseModel):
    paper_id: str
    index: int
    section_path: list[str]
    text: str
    tokens: int


class Chunks(BaseModel):
    """A paper's chunks plus how they were counted (the tokenizer is part of the cache key)."""

    paper_id: str
    encoding: str
    chunks: list[Chunk]
    total_tokens: int
    omitted_sections: list[str] = Field(
        default_factory=list, description="section headings left out to fit the per-paper budget"
    )
    read_from: list[str] = Field(
        default_factory=list,
        description="top-level sections read, with how much of each: 'Introduction "
        "(contributions)', 'Method (overview)', 'Conclusion'",
    )


# --- LLM reply models -------------------------------------------------------------------


class RubricScore(BaseModel):
    model_config = ConfigDict(extra="forbid")

    score: Annotated[int, Field(ge=1, le=10)]
    rationale: str = Field(description="one line explaining the score")


class Rubric(BaseModel):
    model_config = ConfigDict(extra="forbid")

    novelty: RubricScore
    industry_impact: RubricScore
    evidence: RubricScore
    urgency: RubricScore


class PaperSummary(BaseModel):
    """The structured summary of one paper, as returned by any backend.

    Every field is required (OpenAI's strict mode needs that); facts the paper may not state are
    `None` or an empty list rather than a guess.
    """

    model_config = ConfigDict(extra="forbid")
    # A typical reply's tokens (two ~200-token paragraphs, takeaways, four rationales), from
    # which max_tokens is sized (`pipeline.llm.base.reply_room`); not part of the schema.
    reply_tokens: ClassVar[int] = 1000

    summary: Annotated[list[str], Field(min_length=2, max_length=2)] = Field(
        description="two paragraphs: problem and method; results with numbers and limitation"
    )
    key_insight: str
    key_takeaways: Annotated[list[str], Field(min_length=3, max_length=3)]
    industry_impact: str
    limitations: list[str] = Field(description="limitations the paper states or shows; may be []")
    affiliations: list[str] = Field(description="institutions as the paper states them, else []")
    code_url: str | None = Field(description="code or data link the paper gives, else null")
    venue: str | None = Field(description="venue the paper says it appears at, else null")
    tags: list[str]
    rubric: Rubric


class TriageItem(BaseModel):
    """One paper's cheap reading from its title and abstract."""

    model_config = ConfigDict(extra="forbid")

    paper_id: str = Field(description="the id exactly as given in the request")
    gist: str = Field(description="one line: what the paper does and claims")
    rubric: Rubric


class TriageReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[TriageItem] = Field(description="one item per paper in the request, each once")


class ChunkNotes(BaseModel):
    """The map step's notes on one part of a long paper."""

    model_config = ConfigDict(extra="forbid")
    reply_tokens: ClassVar[int] = 400  # see PaperSummary.reply_tokens

    notes: list[str] = Field(description="facts from this part: problem, method, results, limits")
    numbers: list[str] = Field(description="key numbers verbatim with what they measure")


# --- Usage and ranking ------------------------------------------------------------------


class Usage(BaseModel):
    """Token and cost accounting for one or more LLM calls."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0
    # Replies that failed validation and were asked again: their cost is in the counts above;
    # `compare` reports how often a prompt's first reply was not schema-valid.
    reasks: int = 0
    unpriced_models: list[str] = Field(
        default_factory=list,
        description="models called without a price: their calls' cost is not in cost_usd",
    )
    estimated_models: list[str] = Field(
        default_factory=list,
        description="models whose server sent no usage: their tokens and cost are our estimate",
    )

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            calls=self.calls + other.calls,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            cost_usd=round(self.cost_usd + other.cost_usd, 8),
            seconds=round(self.seconds + other.seconds, 4),
            reasks=self.reasks + other.reasks,
            unpriced_models=sorted({*self.unpriced_models, *other.unpriced_models}),
            estimated_models=sorted({*self.estimated_models, *other.estimated_models}),
        )


class FaithfulnessReport(BaseModel):
    """Which numbers in a summary were found in the paper's text (see pipeline/faithfulness.py)."""

    checked: int = Field(default=0, description="distinct numbers in the summary's prose")
    supported: int = 0
    unsupported: list[str] = Field(default_factory=list, description="as written in the summary")
    share: float = Field(default=1.0, ge=0, le=1, description="supported / checked; 1 if none")
    repaired: bool = Field(default=False, description="a repair request was sent")


class SummaryRecord(BaseModel):
    """What the summarize stage stores: the summary plus who wrote it and at what cost."""

    paper_id: str
    summary: PaperSummary
    backend: str
    model: str
    prompt: str = Field(description="prompt variant, e.g. summarize/default")
    prompt_digest: str = Field(default="", description="hash of the prompt text that was used")
    usage: Usage = Field(default_factory=Usage)
    stage_usage: dict[str, Usage] = Field(
        default_factory=dict,
        description="usage split by step: summarize-map, summarize-reduce, summarize-repair",
    )
    faithfulness: FaithfulnessReport | None = None
    written: date | None = Field(default=None, description="the day the summary was made")
    read_from: list[str] = Field(
        default_factory=list, description="the sections the summary was read from (Chunks)"
    )


class TriageScore(BaseModel):
    """A paper's triage result: kept for the report's appendix when it is not read in full."""

    paper_id: str
    rubric: Rubric
    gist: str
    impact_score: float = Field(ge=0, le=100)


class RankedPaper(BaseModel):
    meta: PaperMeta
    record: SummaryRecord
    impact_score: float = Field(ge=0, le=100)
    rank: int = 0
