"""One paper's way through a run: what each stage made of it, and whether it is still read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.models import Chunks, Document, PaperMeta, SummaryRecord, TriageScore
from pipeline.stages import report


@dataclass
class Paper:
    meta: PaperMeta
    pdf: Path | None = None
    sha256: str | None = None
    document: Document | None = None
    chunks: Chunks | None = None
    record: SummaryRecord | None = None
    triage: TriageScore | None = None
    selected: bool = True
    failure: report.FailedPaper | None = None

    @property
    def live(self) -> bool:
        return self.failure is None and self.selected
