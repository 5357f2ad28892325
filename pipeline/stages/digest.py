"""The week's summaries → the synthesized sections of the weekly report, grounded in the papers.

One `digest` call over the week's summaries, each numbered as the report's references. The
reply cites papers by number; paperbrief then checks it: every citation names a paper of the
week, every theme and trend cites one, and every number in a synthesized sentence appears in the
summaries it cites (the daily number check). A reply with problems is re-asked once with them
quoted; what is still wrong is flagged in the report, like the daily "⚠ unverified". How many
papers each item covers is counted here, never taken from the model.

Offline, the extractive backend's digester clusters the week's tags into themes with counts and
writes no implications or recommendations: those sections say they need an LLM backend.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from pipeline.faithfulness import SourceIndex, check, prose
from pipeline.llm.base import LLM, Message
from pipeline.models import PaperMeta, PaperSummary, Usage
from pipeline.prompts import Prompt, untrusted
from pipeline.stage import Stage

if TYPE_CHECKING:
    from pipeline.settings import Settings

STAGE_VERSION = 1
TASK = "digest"
KINDS = ("themes", "trends", "implications", "actions")
NEEDS_LLM = "needs an LLM backend: the extractive backend does not interpret papers"


class WeekPaper(BaseModel):
    """One paper of the week, as the digest and the report see it (numbered by `ref`)."""

    ref: int
    day: date
    meta: PaperMeta
    summary: PaperSummary
    impact_score: float
    backend: str
    model: str


class Claim(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(description="a few words")
    text: str = Field(description="one to three sentences; cite papers as [N]")
    refs: list[int] = Field(description="reference numbers of the papers it rests on")


class DigestReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    themes: list[Claim] = Field(max_length=5)
    trends: list[Claim] = Field(max_length=5)
    implications: list[Claim] = Field(max_length=5)
    actions: list[Claim] = Field(max_length=5)


class Finding(BaseModel):
    """A synthesized item as the report shows it: the claim, what paperbrief counted and what
    it could not verify."""

    title: str
    text: str
    refs: list[int] = Field(default_factory=list, description="valid citations, in order")
    papers: int = Field(default=0, description="papers of the week it covers (counted)")
    previous: int | None = Field(
        default=None, description="papers of the previous week with the same tags (counted)"
    )
    tags: list[str] = Field(default_factory=list, description="tags shared by its papers")
    flags: list[str] = Field(default_factory=list, description="grounding problems left")


class Synthesis(BaseModel):
    themes: list[Finding] = Field(default_factory=list)
    trends: list[Finding] = Field(default_factory=list)
    implications: list[Finding] = Field(default_factory=list)
    actions: list[Finding] = Field(default_factory=list)
    by_model: bool = Field(description="written by a model (else counted from tags)")
    notes: dict[str, str] = Field(
        default_factory=dict, description="why a section is empty, by section"
    )
    reasked: bool = False
    usage: Usage = Field(default_factory=Usage)


# --- the grounding check -------------------------------------------------------------------


def problems(claim: Claim, kind: str, papers: Mapping[int, WeekPaper]) -> list[str]:
    """What is wrong with one item: citations outside the week, none at all, unsupported numbers."""
    found = []
    outside = sorted({r for r in [*claim.refs, *cited_in(claim.text)] if r not in papers})
    if outside:
        found.append(f"cites {', '.join(f'[{r}]' for r in outside)}: not a paper of this week")
    valid = [r for r in claim.refs if r in papers]
    if kind in ("themes", "trends") and not valid:
        found.append("cites no paper of the week")
    if valid:
        sources = "\n".join("\n".join(prose(papers[r].summary)) for r in valid)
        report = check([claim.title, claim.text], SourceIndex(sources))
        if report.unsupported:
            found.append(f"numbers not in the cited papers: {', '.join(report.unsupported)}")
    return found


def cited_in(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\[(\d{1,3})\]", text)]


def findings(reply: DigestReply, papers: Mapping[int, WeekPaper]) -> dict[str, list[Finding]]:
    """Every item of the reply, checked once: its valid citations, counts and flags."""
    return {kind: [finding(c, kind, papers) for c in getattr(reply, kind)] for kind in KINDS}


def flagged(found: Mapping[str, list[Finding]]) -> list[str]:
    """The problems of a checked reply, one line per problem, to quote in a re-ask."""
    return [
        f"{kind} {n} ({item.title}): {flag}"
        for kind, items in found.items()
        for n, item in enumerate(items, start=1)
        for flag in item.flags
    ]


def finding(claim: Claim, kind: str, papers: Mapping[int, WeekPaper]) -> Finding:
    refs = list(dict.fromkeys(r for r in claim.refs if r in papers))
    return Finding(
        title=" ".join(claim.title.split()),
        text=" ".join(claim.text.split()),
        refs=refs,
        papers=len(refs),
        tags=shared_tags([papers[r] for r in refs]),
        flags=problems(claim, kind, papers),
    )


# --- tags --------------------------------------------------------------------------------

_CATEGORY = re.compile(r"^[a-z-]+(\.[a-z]{2})?$", re.IGNORECASE)


def tags_of(paper: WeekPaper) -> list[str]:
    """A paper's topical tags, normalised; arXiv category codes are not topics."""
    out = []
    for tag in paper.summary.tags:
        text = " ".join(tag.lower().split())
        if text and not (_CATEGORY.match(text) and "." in text) and text not in out:
            out.append(text)
    return out


def shared_tags(papers: Sequence[WeekPaper], limit: int = 3) -> list[str]:
    counts = Counter(tag for paper in papers for tag in tags_of(paper))
    return [tag for tag, _ in counts.most_common(limit)]


# --- the digesters -----------------------------------------------------------------------


def paper_block(paper: WeekPaper) -> str:
    s = paper.summary
    lines = [
        f'<paper ref="{paper.ref}">',
        f"Title: {untrusted(' '.join(paper.meta.title.split()))}",
        f"Tags: {untrusted(', '.join(s.tags))}",
        f"Summary: {untrusted(' '.join(s.summary))}",
        f"Key insight: {untrusted(s.key_insight)}",
        f"Industry impact: {untrusted(s.industry_impact)}",
        "</paper>",
    ]
    return "\n".join(lines)


def digest_messages(
    papers: Sequence[WeekPaper], period: str, prompt: Prompt, *, interests: str, audience: str
) -> list[Message]:
    return prompt.render(
        papers="\n\n".join(paper_block(p) for p in papers),
        period=period,
        count=str(len(papers)),
        interests=interests,
        audience=audience,
    )


def reask_text(found: Sequence[str]) -> str:
    return (
        "Some items are not grounded in the week's papers: "
        + "; ".join(found)
        + ". Cite only the reference numbers given, cite at least one paper for every theme and "
        "trend, and keep numbers exactly as the cited summaries state them. Reply again with "
        "the full JSON object."
    )


class LLMDigester:
    """One digest call, checked; re-asked once with the problems; what is left is flagged."""

    def __init__(self, llm: LLM, meter: Any) -> None:
        self.llm = llm
        self.meter = meter

    async def digest(
        self,
        papers: Sequence[WeekPaper],
        period: str,
        prompt: Prompt,
        *,
        interests: str,
        audience: str,
    ) -> Synthesis:
        by_ref = {p.ref: p for p in papers}
        messages = digest_messages(papers, period, prompt, interests=interests, audience=audience)
        spent: list[Usage] = []

        def counted(usage: Usage) -> None:
            spent.append(usage)
            self.meter(TASK, usage)

        async def ask(turns: list[Message]) -> DigestReply:
            return await self.llm.structured(
                turns,
                DigestReply,
                temperature=prompt.temperature,
                max_tokens=prompt.max_tokens,
                task=TASK,
                on_usage=counted,
            )

        reply = await ask(messages)
        found_in = findings(reply, by_ref)
        problems_found = flagged(found_in)
        if problems_found:
            answer = Message(role="assistant", content=reply.model_dump_json())
            ask_again = Message(role="user", content=reask_text(problems_found))
            found_in = findings(await ask([*messages, answer, ask_again]), by_ref)
        return Synthesis(
            themes=found_in["themes"],
            trends=found_in["trends"],
            implications=found_in["implications"],
            actions=found_in["actions"],
            by_model=True,
            reasked=bool(problems_found),
            usage=sum(spent, Usage()),
        )


class TagDigester:
    """Themes counted from the week's tags; nothing interpreted (the extractive backend)."""

    async def digest(
        self,
        papers: Sequence[WeekPaper],
        period: str,
        prompt: Prompt,
        *,
        interests: str,
        audience: str,
    ) -> Synthesis:
        return tag_synthesis(papers)


def tag_synthesis(papers: Sequence[WeekPaper], limit: int = 5) -> Synthesis:
    carrying: dict[str, list[int]] = {}
    for paper in papers:
        for tag in tags_of(paper):
            carrying.setdefault(tag, []).append(paper.ref)
    ranked = sorted(carrying.items(), key=lambda item: (-len(item[1]), item[0]))[:limit]
    themes = [
        Finding(
            title=tag,
            text=f"{len(refs)} of the week's papers {'is' if len(refs) == 1 else 'are'} "
            f"tagged “{tag}”.",
            refs=refs,
            papers=len(refs),
            tags=[tag],
        )
        for tag, refs in ranked
    ]
    return Synthesis(
        themes=themes,
        by_model=False,
        notes={
            "trends": NEEDS_LLM,
            "implications": NEEDS_LLM,
            "actions": NEEDS_LLM,
        },
    )


# --- the stage ---------------------------------------------------------------------------


class Week(BaseModel):
    """The digest stage's target: the week's papers, numbered, and the period they cover."""

    period: str
    papers: list[WeekPaper]
    synthesis: Synthesis | None = None


class Digest(Stage[Week, Synthesis]):
    name = "digest"
    version = STAGE_VERSION
    scope = "day"
    output = Synthesis
    uses = ("digester",)

    def params(self, settings: Settings) -> dict[str, Any]:
        from pipeline.prompts import task_prompt

        return {
            "prompt": task_prompt(settings, TASK),
            "interests": settings.reading.interests,
            "audience": settings.report.audience,
            "schema": DigestReply.model_json_schema(),
        }

    def inputs(self, week: Week) -> dict[str, Any]:
        return {"papers": week.papers, "period": week.period}

    async def compute(
        self,
        *,
        papers: list[WeekPaper],
        period: str,
        prompt: Prompt,
        interests: str,
        audience: str,
        schema: dict[str, Any],
        digester: Any,
    ) -> Synthesis:
        # `schema` is the reply model's: in the key so that changing it re-asks the model.
        result: Synthesis = await digester.digest(
            papers, period, prompt, interests=interests, audience=audience
        )
        return result

    def apply(self, week: Week, output: Synthesis) -> None:
        week.synthesis = output

    def failed_day(self, error: Exception) -> str:
        return f"the weekly synthesis failed ({error}); the report lists the top papers only"
