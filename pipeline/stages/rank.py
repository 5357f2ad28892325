"""Summaries → papers ordered by an impact score (0–100) from the weighted rubric."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from pipeline.cache import Stored
from pipeline.errors import SettingsError
from pipeline.models import PaperMeta, RankedPaper, Rubric, SummaryRecord
from pipeline.paper import Day
from pipeline.stage import Stage

if TYPE_CHECKING:
    from pipeline.settings import Settings

STAGE_VERSION = 1
RUBRIC_FIELDS = ("novelty", "industry_impact", "evidence", "urgency")


class Ranking(BaseModel):
    papers: list[RankedPaper]


def impact_score(rubric: Rubric, weights: Mapping[str, float]) -> float:
    """Weighted mean of the rubric scores, mapped from 1..10 onto 0..100."""
    unknown = set(weights) - set(RUBRIC_FIELDS)
    if unknown:
        raise SettingsError(f"rank.weights has unknown rubric names {sorted(unknown)}")
    total = sum(weights.get(name, 0.0) for name in RUBRIC_FIELDS)
    if total <= 0:
        raise SettingsError("rank.weights must have a positive sum")
    weighted = sum(
        weights.get(name, 0.0) * (getattr(rubric, name).score - 1) / 9 for name in RUBRIC_FIELDS
    )
    return round(100 * weighted / total, 1)


def ranked(
    papers: list[tuple[PaperMeta, SummaryRecord]], weights: Mapping[str, float]
) -> list[RankedPaper]:
    """Highest impact first; ties broken by paper id so the order is stable."""
    scored = [
        RankedPaper(
            meta=meta, record=record, impact_score=impact_score(record.summary.rubric, weights)
        )
        for meta, record in papers
    ]
    scored.sort(key=lambda p: (-p.impact_score, p.meta.id))
    return [paper.model_copy(update={"rank": i}) for i, paper in enumerate(scored, start=1)]


class Rank(Stage[Day, Ranking]):
    """The day's summaries → papers in order of impact."""

    name = "rank"
    version = STAGE_VERSION
    scope = "day"
    output = Ranking

    def params(self, settings: Settings) -> dict[str, Any]:
        return {"weights": settings.rank.weights}

    def inputs(self, day: Day) -> dict[str, Any]:
        done = [p for p in day.done() if p.record is not None]
        return {
            "metas": [p.meta.portable() for p in done],
            "records": [p.record for p in done],
        }

    def compute(
        self, *, metas: list[PaperMeta], records: list[SummaryRecord], weights: dict[str, float]
    ) -> Ranking:
        return Ranking(papers=ranked(list(zip(metas, records, strict=True)), weights))

    def apply(self, day: Day, output: Ranking) -> None:
        day.ranking = output
        # The ranking holds the records it was made from (their digests are in its key): the
        # papers take them, in place of the references a cached summarize stage applied.
        records = {ranked.meta.id: ranked.record for ranked in output.papers}
        for paper in day.done():
            if isinstance(paper.record, Stored) and paper.meta.id in records:
                paper.record = records[paper.meta.id]
