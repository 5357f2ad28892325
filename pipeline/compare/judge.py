"""`compare --judge MODEL`: an LLM's pairwise preference between two variants' summaries.

Each pair is asked twice per paper, once with each summary shown first, because LLM judges
favour a position; the report gives the agreement between the two orders, which says how
much the verdicts can be trusted. Verdicts are cached by everything they depend on (the
prompt, the judge's identity, the two texts in the order shown), so a second comparison
pays nothing, and each cached verdict keeps what it cost when it was asked.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.cache import Cache
from pipeline.compare.results import JudgePair, Judging, VariantResult, Verdict
from pipeline.llm.base import LLM
from pipeline.llm.gathering import gather_keeping
from pipeline.models import PaperSummary, Usage
from pipeline.prompts import Prompt, untrusted

STAGE = "judge"  # the cache folder its verdicts live in


class JudgeReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    better: Literal["A", "B", "tie"]
    reason: str = Field(description="one sentence")


class JudgeRecord(BaseModel):
    """A cached verdict and what it cost when it was asked."""

    reply: JudgeReply
    usage: Usage


def shown(summary: PaperSummary) -> str:
    """What the judge reads of a summary: the fields a reader reads."""
    lines = [*summary.summary, f"Key insight: {summary.key_insight}", "Takeaways:"]
    lines += [f"- {t}" for t in summary.key_takeaways]
    lines.append(f"Industry impact: {summary.industry_impact}")
    return "\n".join(lines)


class Judge:
    def __init__(
        self, llm: LLM, identity: dict[str, Any], prompt: Prompt, cache: Cache, interests: str
    ) -> None:
        self.llm, self.identity, self.prompt = llm, identity, prompt
        self.cache, self.interests = cache, interests

    def _key(self, title: str, abstract: str, first: str, second: str) -> str:
        payload = [self.prompt.digest, self.identity, title, abstract, first, second]
        blob = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    async def ask(self, title: str, abstract: str, first: str, second: str) -> JudgeRecord:
        key = self._key(title, abstract, first, second)
        cached = self.cache.get(STAGE, key, JudgeRecord)
        if cached is not None:
            return cached
        spent: list[Usage] = []
        messages = self.prompt.render(
            title=untrusted(title),
            abstract=untrusted(abstract or "(no abstract)"),
            first=untrusted(first),
            second=untrusted(second),
            interests=self.interests,
        )
        reply = await self.llm.structured(
            messages,
            JudgeReply,
            temperature=self.prompt.temperature,
            max_tokens=self.prompt.max_tokens,
            task=STAGE,
            on_usage=spent.append,
        )
        record = JudgeRecord(reply=reply, usage=sum(spent, Usage()))
        self.cache.put(STAGE, key, record, {"stage": STAGE, "title": title})
        return record


def winner(reply: JudgeReply, first: str, second: str) -> str:
    return {"A": first, "B": second, "tie": "tie"}[reply.better]


async def judge_pairs(
    judge: Judge,
    variants: Sequence[VariantResult],
    common: Sequence[str],
    abstracts: dict[str, str],
) -> tuple[list[JudgePair], Usage]:
    """Every pair of variants on every common paper, in both orders."""
    pairs: list[JudgePair] = []
    usage = Usage()
    for a, b in itertools.combinations(variants, 2):

        async def both_orders(paper_id: str, a: VariantResult = a, b: VariantResult = b) -> Any:
            pa, pb = a.paper(paper_id), b.paper(paper_id)
            assert pa is not None and pb is not None  # common papers are in every variant
            ta, tb = shown(pa.summary), shown(pb.summary)
            abstract = abstracts.get(paper_id, "")
            return await gather_keeping(
                [judge.ask(pa.title, abstract, ta, tb), judge.ask(pa.title, abstract, tb, ta)]
            )

        # every paper of the pair at once: the backend's limiter keeps the calls in bounds; a
        # call refused (a stop, the cap) lets the verdicts on the wire come and be cached
        asked = await gather_keeping([both_orders(paper_id) for paper_id in common])
        verdicts: list[Verdict] = []
        la, lb = a.spec.label, b.spec.label
        for paper_id, (one, two) in zip(common, asked, strict=True):
            usage = usage + one.usage + two.usage
            verdicts.append(
                Verdict(
                    paper_id=paper_id,
                    a_first=winner(one.reply, la, lb),
                    b_first=winner(two.reply, lb, la),
                    reasons=[one.reply.reason, two.reply.reason],
                )
            )
        pairs.append(tally(la, lb, verdicts))
    return pairs, usage


def tally(a: str, b: str, verdicts: list[Verdict]) -> JudgePair:
    said = [v for verdict in verdicts for v in (verdict.a_first, verdict.b_first)]
    same = [v.a_first == v.b_first for v in verdicts]
    return JudgePair(
        a=a,
        b=b,
        verdicts=verdicts,
        a_wins=said.count(a),
        b_wins=said.count(b),
        ties=said.count("tie"),
        order_agreement=round(sum(same) / len(same), 4) if same else None,
    )


def judging(model: str, prompt: Prompt, pairs: list[JudgePair], usage: Usage) -> Judging:
    return Judging(model=model, prompt=prompt.name, pairs=pairs, usage=usage)
