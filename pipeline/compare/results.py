"""What a comparison found, as models: each variant's papers and numbers, how the rankings
agree, and the judge's verdicts. `compare.json` is `Comparison` as JSON."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from pydantic import BaseModel, Field

from pipeline.compare.metrics import (
    kendall_tau_b,
    ranks,
    rouge_l,
    summary_text,
    takeaway_echo,
    takeaway_redundancy,
    words,
)
from pipeline.faithfulness import share_of_supported
from pipeline.models import FailedPaper, FaithfulnessReport, PaperSummary, SummaryRecord, Usage

MOVES_SHOWN = 5


class VariantSpec(BaseModel):
    """One arm of the comparison: a summarize prompt variant, on a model or the baseline."""

    label: str = Field(description="how the reports name it: 'terse', 'gpt-4o/terse', ...")
    prompt: str = "default"
    model: str | None = Field(default=None, description="None: the settings' own model")
    baseline: bool = Field(default=False, description="the extractive backend (no LLM)")


class PaperResult(BaseModel):
    paper_id: str
    title: str
    rank: int
    impact_score: float
    summary: PaperSummary
    usage: Usage = Field(description="what the summary cost when it was made (cached ones too)")
    faithfulness: FaithfulnessReport | None = None
    summary_words: int
    takeaway_words: float = Field(description="mean words per takeaway")
    rouge_abstract: float | None = Field(description="ROUGE-L F1 against the paper's abstract")
    redundancy: float = Field(description="mean ROUGE-L F1 between pairs of takeaways")
    echo: float = Field(description="mean share of a takeaway the summary already says")


class VariantStats(BaseModel):
    """The numbers that decide, one row per variant."""

    papers: int
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    spent_now_usd: float = Field(description="paid by this comparison (not served from cache)")
    cost_counted: bool = Field(default=True, description="false: a model had no price")
    unpriced_models: list[str] = Field(
        default_factory=list, description="models called without a price (not in cost_usd)"
    )
    spent_now_unpriced: list[str] = Field(
        default_factory=list, description="the same for spent_now_usd"
    )
    estimated_models: list[str] = Field(
        default_factory=list, description="models whose server sent no usage: cost_usd estimated"
    )
    wall_seconds: float
    latency_per_call: float | None
    first_reply_valid: float | None = Field(
        description="share of papers whose every reply (summary, repair) was schema-valid the "
        "first time, i.e. with no re-ask; None when no paper called a model"
    )
    reasks: int
    numbers_supported: float
    unsupported_numbers: int
    summary_words: float
    takeaway_words: float
    rouge_abstract: float | None
    redundancy: float
    echo: float


class VariantResult(BaseModel):
    spec: VariantSpec
    edition: str
    backend: str
    model: str
    wall_seconds: float
    spent_now: Usage = Field(default_factory=Usage)
    papers: list[PaperResult] = Field(description="in the variant's ranking, best first")
    failed: list[FailedPaper] = Field(default_factory=list)
    stats: VariantStats | None = None

    def ranking(self) -> list[str]:
        return [p.paper_id for p in self.papers]

    def paper(self, paper_id: str) -> PaperResult | None:
        return next((p for p in self.papers if p.paper_id == paper_id), None)


class Move(BaseModel):
    paper_id: str
    title: str
    rank_a: int
    rank_b: int


class Agreement(BaseModel):
    """How two variants' rankings of the papers both ranked agree."""

    a: str
    b: str
    papers: int
    tau: float | None = Field(description="Kendall's tau-b; None when undefined")
    moved: list[Move] = Field(description="papers whose rank moved most, largest first")


class Verdict(BaseModel):
    """One paper, one pair, asked in both orders; `winner` is a label or 'tie'."""

    paper_id: str
    a_first: str = Field(description="the verdict with a shown first")
    b_first: str = Field(description="the verdict with b shown first")
    reasons: list[str] = Field(default_factory=list)


class JudgePair(BaseModel):
    a: str
    b: str
    verdicts: list[Verdict]
    a_wins: int = Field(description="verdicts (of 2 per paper) preferring a")
    b_wins: int
    ties: int
    order_agreement: float | None = Field(description="share of papers judged alike both ways")


class Judging(BaseModel):
    model: str
    prompt: str
    pairs: list[JudgePair]
    usage: Usage = Field(description="the judge's own cost, apart from the variants'")


class Comparison(BaseModel):
    stamp: str
    day: str
    source: str
    estimate_usd: float
    estimate_unpriced: list[str] = Field(
        default_factory=list, description="models without a price: not in estimate_usd"
    )
    max_cost: float | None = None
    prepared_usd: float = Field(
        default=0.0, description="paid before the variants ran: triage, when it ran"
    )
    prepared_unpriced: list[str] = Field(
        default_factory=list, description="models without a price: not in prepared_usd"
    )
    common: list[str] = Field(description="papers every variant ranked: what is compared")
    titles: dict[str, str]
    variants: list[VariantResult]
    agreements: list[Agreement]
    judging: Judging | None = None
    judge_error: str | None = Field(default=None, description="why the judge gave no verdicts")


def paper_result(
    record: SummaryRecord, title: str, abstract: str, rank: int, score: float
) -> PaperResult:
    summary = record.summary
    takeaways = summary.key_takeaways
    return PaperResult(
        paper_id=record.paper_id,
        title=title,
        rank=rank,
        impact_score=score,
        summary=summary,
        usage=record.usage,
        faithfulness=record.faithfulness,
        summary_words=words(summary_text(summary)),
        takeaway_words=sum(words(t) for t in takeaways) / len(takeaways),
        rouge_abstract=rouge_l(summary_text(summary), abstract) if abstract.strip() else None,
        redundancy=takeaway_redundancy(summary),
        echo=takeaway_echo(summary),
    )


def _mean(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def variant_stats(result: VariantResult, common: Sequence[str]) -> VariantStats:
    """Aggregates over the papers every variant ranked, so the rows compare like with like."""
    papers = [p for p in result.papers if p.paper_id in set(common)]
    usage = sum((p.usage for p in papers), Usage())
    asked = [p for p in papers if p.usage.calls]
    overlaps = [p.rouge_abstract for p in papers if p.rouge_abstract is not None]
    reports = [p.faithfulness for p in papers]
    return VariantStats(
        papers=len(papers),
        calls=usage.calls,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        cost_usd=round(usage.cost_usd, 6),
        spent_now_usd=round(result.spent_now.cost_usd, 6),
        cost_counted=not usage.unpriced_models,
        unpriced_models=usage.unpriced_models,
        spent_now_unpriced=result.spent_now.unpriced_models,
        estimated_models=usage.estimated_models,
        wall_seconds=round(result.wall_seconds, 3),
        latency_per_call=round(usage.seconds / usage.calls, 4) if usage.calls else None,
        first_reply_valid=_mean([p.usage.reasks == 0 for p in asked]) if asked else None,
        reasks=usage.reasks,
        numbers_supported=share_of_supported(reports),
        unsupported_numbers=sum(len(r.unsupported) for r in reports if r is not None),
        summary_words=_mean([p.summary_words for p in papers]),
        takeaway_words=_mean([p.takeaway_words for p in papers]),
        rouge_abstract=_mean(overlaps) if overlaps else None,
        redundancy=_mean([p.redundancy for p in papers]),
        echo=_mean([p.echo for p in papers]),
    )


def common_papers(variants: Sequence[VariantResult]) -> list[str]:
    """Papers ranked by every variant, in the first variant's order."""
    if not variants:
        return []
    shared = set.intersection(*(set(v.ranking()) for v in variants))
    return [p for p in variants[0].ranking() if p in shared]


def agreement(a: VariantResult, b: VariantResult, common: Sequence[str]) -> Agreement:
    """Kendall's tau-b of the two rankings restricted to the common papers (re-ranked 1..n, so
    a paper only one side read does not shift the others), and the biggest moves."""
    rank_a = ranks([p for p in a.ranking() if p in set(common)])
    rank_b = ranks([p for p in b.ranking() if p in set(common)])
    ids = list(common)
    tau = kendall_tau_b([rank_a[i] for i in ids], [rank_b[i] for i in ids])
    moves = [
        Move(paper_id=i, title=_title(a, i), rank_a=rank_a[i], rank_b=rank_b[i])
        for i in ids
        if rank_a[i] != rank_b[i]
    ]
    moves.sort(key=lambda m: (-abs(m.rank_a - m.rank_b), m.rank_a))
    return Agreement(
        a=a.spec.label,
        b=b.spec.label,
        papers=len(ids),
        tau=None if tau is None else round(tau, 4),
        moved=moves[:MOVES_SHOWN],
    )


def agreements(variants: Sequence[VariantResult], common: Sequence[str]) -> list[Agreement]:
    return [agreement(a, b, common) for a, b in itertools.combinations(variants, 2)]


def _title(variant: VariantResult, paper_id: str) -> str:
    paper = variant.paper(paper_id)
    return paper.title if paper else paper_id
