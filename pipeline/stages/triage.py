"""Papers → triage scores from title and abstract, several papers per call; the top N are read.

The editor's first tier: one cheap call scores 10–20 papers on the rubric, steered by the
`interests` text; the best `top` by impact score go on to download and summarize, and the rest
keep their scores and one-line gist for the report's appendix.

A reply must score every paper of its batch exactly once. The reply model cannot say that, so
the ids are checked after validation; a reply that misses or invents ids is re-asked once with
the problem quoted. A batch whose calls still fail falls back to the extractive heuristic for
its papers, so one bad batch cannot hide twenty papers from the day; the fallback is stated in
each gist and in `TriageResult.failures`.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, Field

from pipeline.errors import CallStopped, InvalidReplyError, LLMError
from pipeline.llm.base import LLM, Message, UsageSink, ignore_usage
from pipeline.llm.limiter import MESSAGE_OVERHEAD_TOKENS
from pipeline.models import PaperMeta, TriageItem, TriageReply, TriageScore, Usage, base_id
from pipeline.paper import Day
from pipeline.prompts import Prompt, untrusted
from pipeline.stage import Stage
from pipeline.stages.rank import impact_score
from pipeline.wording import plural

if TYPE_CHECKING:
    from pipeline.settings import Settings

# 2: abstracts cut to ABSTRACT_TOKENS, so the requests (and replies) differ from version 1's
STAGE_VERSION = 2
TASK = "triage"
DEFAULT_BATCH = 15
# Triage is the cheap tier: a paper costs at most this many input tokens, its share of the
# instructions and reply schema included (issue 12; `tests/test_triage.py` holds it on real
# arXiv abstracts, `make bench-llm` prints it).
TOKENS_PER_PAPER = 400
# What is left of those for the abstract once the title, tags and a batch's share of the prompt
# are paid. Most abstracts fit; a longer one loses its last sentences, rarely what decides triage.
ABSTRACT_TOKENS = 280


class TriageResult(BaseModel):
    selected: list[str] = Field(description="paper ids to read in full, best first")
    scores: list[TriageScore] = Field(description="every paper's triage, best first")
    usage: Usage = Field(default_factory=Usage)
    failures: list[str] = Field(default_factory=list, description="batches that fell back")


def batches(papers: Sequence[PaperMeta], size: int = DEFAULT_BATCH) -> list[list[PaperMeta]]:
    """Consecutive batches of at most `size`, as even as possible (23 at 15 → 12 + 11)."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1, got {size}")
    count = -(-len(papers) // size)
    if count == 0:
        return []
    base, extra = divmod(len(papers), count)
    out, start = [], 0
    for i in range(count):
        end = start + base + (1 if i < extra else 0)
        out.append(list(papers[start:end]))
        start = end
    return out


def paper_block(meta: PaperMeta) -> str:
    """One paper as the triage prompt shows it: its id as an attribute, its text as data."""
    abstract = abstract_head(" ".join(meta.abstract.split())) or "(no abstract)"
    paper_id = untrusted(meta.id).replace('"', "")
    return (
        f'<paper id="{paper_id}">\n'
        f"Title: {untrusted(' '.join(meta.title.split()))}\n"
        f"Abstract: {untrusted(abstract)}\n"
        "</paper>"
    )


def abstract_head(abstract: str, budget: int = ABSTRACT_TOKENS) -> str:
    """The abstract, or its sentences that fit in `budget` tokens followed by " …".

    Counted with the bundled encoding whatever the model: the triage request must not depend on
    which vocabularies happen to be cached, and for English it counts close to the models'."""
    from pipeline.tokens import FALLBACK_ENCODING, tokenizer_named

    head = tokenizer_named(FALLBACK_ENCODING).head(abstract, budget)
    if head == abstract:
        return abstract
    end = max(head.rfind(mark) for mark in (". ", "? ", "! "))
    # a cut mid-sentence only when the first sentences alone would leave most of the room empty
    return (head[: end + 1] if end > len(head) // 2 else head.rstrip()) + " …"


def tokens_per_paper(
    batch: Sequence[PaperMeta],
    prompt: Prompt,
    *,
    interests: str,
    count: Callable[[str], int],
    fixed: int = 0,
) -> dict[str, float]:
    """What each paper of one batch costs in input tokens: its own block plus an even share of
    the rest of the request (instructions, interests, per-message framing and `fixed`, the reply
    schema as the endpoint receives it)."""
    messages = triage_messages(batch, prompt, interests=interests)
    total = sum(count(m.content) + MESSAGE_OVERHEAD_TOKENS for m in messages) + fixed
    own = {meta.id: count(paper_block(meta)) for meta in batch}
    shared = (total - sum(own.values())) / len(batch)
    return {paper_id: tokens + shared for paper_id, tokens in own.items()}


def triage_messages(batch: Sequence[PaperMeta], prompt: Prompt, *, interests: str) -> list[Message]:
    papers = "\n\n".join(paper_block(meta) for meta in batch)
    return prompt.render(papers=papers, interests=interests)


def id_problems(reply: TriageReply, expected: Sequence[str]) -> list[str]:
    """What is wrong with the reply's ids: missing, repeated or unknown ones (empty if none)."""
    seen = [item.paper_id for item in reply.items]
    wanted = set(expected)
    problems = []
    if missing := [i for i in expected if i not in seen]:
        problems.append(f"missing paper_id {missing}")
    if repeated := sorted({i for i in seen if seen.count(i) > 1}):
        problems.append(f"repeated paper_id {repeated}")
    if unknown := [i for i in seen if i not in wanted]:
        problems.append(f"unknown paper_id {unknown}")
    return problems


def with_known_ids(reply: TriageReply, expected: Sequence[str]) -> TriageReply:
    """Map an id written without its version ("2603.00001" for "2603.00001v2") or with stray
    spaces back to the requested id, when exactly one requested id fits."""
    wanted = set(expected)

    def known(paper_id: str) -> str:
        cleaned = paper_id.strip()
        if cleaned in wanted:
            return cleaned
        fits = [i for i in expected if base_id(i) == base_id(cleaned)]
        return fits[0] if len(fits) == 1 else paper_id

    items = [item.model_copy(update={"paper_id": known(item.paper_id)}) for item in reply.items]
    return TriageReply(items=items)


def reask_text(problems: Sequence[str]) -> str:
    return (
        "Your reply did not score every paper exactly once: "
        + "; ".join(problems)
        + ". Reply again with the full JSON object: one item per paper, with paper_id copied "
        "exactly from the paper's id attribute."
    )


class BatchStore(Protocol):
    """Where each batch's items are kept as soon as they are validated, so a run stopped or
    killed halfway through triage asks only for the batches never answered
    (`pipeline.tools.TriageCache`)."""

    def get(self, key: str) -> TriageReply | None: ...
    def put(self, key: str, reply: TriageReply) -> None: ...


def batch_key(messages: Sequence[Message], prompt: Prompt) -> str:
    """A batch is known by its exact request (prompt, interests, its papers' blocks), the
    prompt's sampling and the reply schema (`Prompt.request_key`); the store adds the triage
    model's identity."""
    return prompt.request_key(messages, _reply_schema())


@functools.cache
def _reply_schema() -> str:
    """The reply schema as keys hold it: built once, not for every batch."""
    return json.dumps(TriageReply.model_json_schema(), sort_keys=True)


async def batch_items(
    batch: Sequence[PaperMeta],
    llm: LLM,
    prompt: Prompt,
    *,
    interests: str,
    on_usage: UsageSink,
    store: BatchStore | None = None,
) -> list[TriageItem]:
    """One batch's items in the batch's order, after at most one re-ask about the ids; from
    `store` when this batch was answered before."""
    messages = triage_messages(batch, prompt, interests=interests)
    key = batch_key(messages, prompt) if store is not None else ""
    if store is not None and (known := store.get(key)) is not None:
        return known.items
    items = await _asked(batch, messages, llm, prompt, on_usage)
    if store is not None:
        store.put(key, TriageReply(items=items))
    return items


async def _asked(
    batch: Sequence[PaperMeta],
    messages: list[Message],
    llm: LLM,
    prompt: Prompt,
    on_usage: UsageSink,
) -> list[TriageItem]:
    expected = [meta.id for meta in batch]
    for attempt in range(2):
        reply = await llm.structured(
            messages,
            TriageReply,
            temperature=prompt.temperature,
            max_tokens=prompt.max_tokens,
            task=TASK,
            on_usage=on_usage,
        )
        value = with_known_ids(reply, expected)
        problems = id_problems(value, expected)
        if not problems:
            by_id = {item.paper_id: item for item in value.items}
            return [by_id[i] for i in expected]
        if attempt == 0:
            answer = Message(role="assistant", content=reply.model_dump_json())
            messages = [*messages, answer, Message(role="user", content=reask_text(problems))]
    raise InvalidReplyError(
        f"triage of {plural(len(batch), 'paper')}: {'; '.join(problems)} after one re-ask",
        last_reply=reply.model_dump_json(),
        stage=TASK,
    )


def scored(items: Sequence[TriageItem], weights: Mapping[str, float]) -> list[TriageScore]:
    return [
        TriageScore(
            paper_id=item.paper_id,
            rubric=item.rubric,
            gist=" ".join(item.gist.split()),
            impact_score=impact_score(item.rubric, weights),
        )
        for item in items
    ]


def selection(scores: Sequence[TriageScore], top: int) -> tuple[list[TriageScore], list[str]]:
    """Scores best first (ties by id, so the choice is stable) and the top `top` ids."""
    ordered = sorted(scores, key=lambda s: (-s.impact_score, s.paper_id))
    return ordered, [s.paper_id for s in ordered[: max(top, 0)]]


def heuristic_items(papers: Sequence[PaperMeta], interests: str) -> list[TriageItem]:
    # imported here: its cue patterns take a while to compile, and a cached day triages nothing
    from pipeline.llm.extractive import triage_rubric

    items = []
    for meta in papers:
        rubric, gist = triage_rubric(meta, interests)
        items.append(TriageItem(paper_id=meta.id, gist=gist, rubric=rubric))
    return items


def heuristic_triage(
    papers: Sequence[PaperMeta], interests: str, top: int, weights: Mapping[str, float]
) -> TriageResult:
    """Triage without a model (the extractive backend): abstract cue counts, see extractive."""
    ordered, selected = selection(scored(heuristic_items(papers, interests), weights), top)
    return TriageResult(selected=selected, scores=ordered)


async def triage(
    papers: Sequence[PaperMeta],
    llm: LLM,
    prompt: Prompt,
    *,
    interests: str,
    batch_size: int = DEFAULT_BATCH,
    top: int = 15,
    weights: Mapping[str, float],
    on_usage: UsageSink = ignore_usage,
    store: BatchStore | None = None,
) -> TriageResult:
    """Score every paper, batches concurrently (the backend's limiter paces them); each
    batch's items are kept in `store` as they arrive."""
    groups = batches(papers, batch_size)
    spent: list[Usage] = []

    def counted(usage: Usage) -> None:
        spent.append(usage)
        on_usage(usage)

    outcomes = await asyncio.gather(
        *(
            batch_items(group, llm, prompt, interests=interests, on_usage=counted, store=store)
            for group in groups
        ),
        return_exceptions=True,
    )
    # The run is stopping: the batches answered are kept (`store`), the rest wait for the next
    # run, and no heuristic stands in for them.
    stopped = next((o for o in outcomes if isinstance(o, CallStopped)), None)
    if stopped is not None:
        raise stopped
    items: list[TriageItem] = []
    failures = []
    for group, outcome in zip(groups, outcomes, strict=True):
        if isinstance(outcome, LLMError):
            failures.append(_failure(group, outcome))
            items += _fallback(group, interests)
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            items += outcome
    ordered, selected = selection(scored(items, weights), top)
    usage = sum(spent, Usage())
    return TriageResult(selected=selected, scores=ordered, usage=usage, failures=failures)


def _failure(group: Sequence[PaperMeta], error: LLMError) -> str:
    first, last = group[0].id, group[-1].id
    count = plural(len(group), "paper")
    return f"triage batch {first}…{last} ({count}) fell back to heuristics: {error}"


def _fallback(group: Sequence[PaperMeta], interests: str) -> list[TriageItem]:
    return [
        item.model_copy(update={"gist": f"{item.gist} (heuristic triage: the model call failed)"})
        for item in heuristic_items(group, interests)
    ]


# --- the stage object --------------------------------------------------------------------


class Triage(Stage[Day, TriageResult]):
    """The day's papers → the top `reading.top` to read in full; the rest stay in the appendix.

    Runs only when there is something to choose between (more live papers than `top`).
    """

    name = "triage"
    version = STAGE_VERSION
    scope = "day"
    output = TriageResult
    uses = ("triager",)

    def params(self, settings: Settings) -> dict[str, Any]:
        from pipeline.prompts import task_prompt

        reading = settings.reading
        return {
            "prompt": task_prompt(settings, TASK),
            "interests": reading.interests,
            "top": reading.top,
            "batch_size": reading.triage_batch,
            "weights": settings.rank.weights,
        }

    def wanted(self, day: Day, params: Mapping[str, Any]) -> bool:
        return len(day.live()) > params["top"]

    def inputs(self, day: Day) -> dict[str, Any]:
        # sorted: the listing's order must not change the key
        return {"papers": sorted((p.meta.portable() for p in day.live()), key=lambda m: m.id)}

    async def compute(
        self,
        *,
        papers: list[PaperMeta],
        prompt: Prompt,
        interests: str,
        top: int,
        batch_size: int,
        weights: dict[str, float],
        triager: Any,
    ) -> TriageResult:
        result: TriageResult = await triager.triage(
            papers, prompt, interests=interests, batch_size=batch_size, top=top, weights=weights
        )
        return result

    def complete(self, output: TriageResult) -> bool:
        # A day with a batch on heuristics is triaged again by the next run: the batches
        # answered come from their entries (`BatchStore`), only the failed ones are asked.
        return not output.failures

    def apply(self, day: Day, output: TriageResult) -> None:
        day.triage = output
        for failure in output.failures:  # said in each gist too; here it reaches run.json
            day.log.warn(failure)
        by_id = {score.paper_id: score for score in output.scores}
        selected = set(output.selected)
        for paper in day.live():
            paper.triage = by_id.get(paper.meta.id)
            paper.selected = paper.meta.id in selected

    def failed_day(self, error: Exception) -> str:
        return f"triage failed ({error}); reading every paper in full"
