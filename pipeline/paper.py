"""What a run works on: each paper's way through the stages, and the day they belong to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipeline.cache import Stored
from pipeline.models import (
    Chunks,
    Document,
    FailedPaper,
    PaperMeta,
    PdfFile,
    SummaryRecord,
    TriageScore,
)

if TYPE_CHECKING:
    from pipeline.runlog import RunLog
    from pipeline.sources import Source
    from pipeline.stages.rank import Ranking
    from pipeline.stages.report import Report
    from pipeline.stages.triage import TriageResult


@dataclass
class Paper:
    meta: PaperMeta
    pdf: PdfFile | None = None
    # A cache hit leaves a reference (`Stored`), read only by a compute that needs the text.
    document: Document | Stored[Document] | None = None
    chunks: Chunks | Stored[Chunks] | None = None
    record: SummaryRecord | None = None
    triage: TriageScore | None = None
    selected: bool = True
    failure: FailedPaper | None = None

    @property
    def live(self) -> bool:
        return self.failure is None and self.selected


@dataclass
class Day:
    """The whole-day stages' target: the papers, and what the day-level stages made of them."""

    source: Source
    log: RunLog
    papers: list[Paper] = field(default_factory=list)
    triage: TriageResult | None = None
    ranking: Ranking | None = None
    report: Report | None = None
    # What the report header says of the run: the source, and who summarized with which prompt.
    source_line: str = ""
    backend: str = ""
    model: str = ""
    prompt: str = ""

    def live(self) -> list[Paper]:
        return [p for p in self.papers if p.live]

    def done(self) -> list[Paper]:
        return [p for p in self.papers if p.live and p.record is not None]


def release(papers: list[Paper], stage: str) -> None:
    """Let go of what no later stage of a full run reads, so a big day does not hold every
    paper's text at once: a Document's sections and captions once chunked (the report reads
    only its page counts), the Chunks once summarized. A reference holds no text already."""
    for paper in papers:
        if stage == "chunk" and isinstance(paper.document, Document):
            paper.document = paper.document.model_copy(update={"sections": [], "captions": []})
        elif stage == "summarize":
            paper.chunks = None
