"""Chunks + paper metadata → `SummaryRecord`: one call, or map-reduce for a long paper.

- One call when the selected chunks fit `single_call_budget` tokens (their own token counts);
  otherwise map (notes on every chunk, concurrently, with the notes prompt) then reduce (one
  summarize call over the notes).
- max_tokens is sized to the reply model's typical length (`reply_room`), at most the prompt's.
- A reply cut off at max_tokens is retried once with max_tokens doubled (capped); cut off again,
  it is retried with less input: the lowest-priority chunks dropped (see `fewer_chunks`).
- A refusal fails the paper with a message that says "refused"; every error carries what the
  paper's calls had cost so far.
- Every number of the summary's prose is looked up in the text the model read
  (`pipeline.faithfulness`); unsupported ones get one repair request, and what is still
  unsupported stays flagged in `SummaryRecord.faithfulness`.
- The extractive backend is another `Summarizer` (`pipeline.llm.backends`), without prompts.

Usage is recorded per step in `SummaryRecord.stage_usage` under `summarize-map`,
`summarize-reduce` (the summary call, single or after the map) and `summarize-repair`, and
reported to the run's meter request by request, so a failed paper's calls are counted too.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import BaseModel

from pipeline.accounting import Ledger
from pipeline.errors import (
    CallStopped,
    LLMError,
    PaperError,
    RefusalError,
    ReplyTooLongError,
)
from pipeline.faithfulness import SourceIndex, source_index, summary_faithfulness
from pipeline.llm.base import LLM, Message, Meter, ignore_meter, reply_room
from pipeline.llm.gathering import gather_keeping
from pipeline.models import (
    Chunk,
    ChunkNotes,
    Chunks,
    FaithfulnessReport,
    PaperMeta,
    PaperSummary,
    SummaryRecord,
    Usage,
)
from pipeline.paper import Paper
from pipeline.prompts import Prompt, untrusted
from pipeline.stage import Placement, Stage
from pipeline.stages.chunk import OTHER, section_priority

if TYPE_CHECKING:
    from pipeline.settings import Settings

STAGE_VERSION = 2
MAP, REDUCE, REPAIR = "summarize-map", "summarize-reduce", "summarize-repair"
MAX_TOKENS_CAP = 8192
LESS_INPUT_SHARE = 0.6  # after two cut-off replies, keep about this share of the input tokens
REPAIR_TEMPLATE = (
    "These numbers in your summary were not found in the paper's text: {numbers}. "
    "Check each against the paper: correct it to the value the paper states, or remove it. "
    "Do not compute new numbers. Reply with the full corrected JSON object."
)

R = TypeVar("R", bound=BaseModel)


# The prompts a summary uses, by task: "summarize" (single call and reduce) and "notes" (map).
Prompts = Mapping[str, Prompt]


def prompts_digest(prompts: Prompts) -> str:
    """Part of the cache key: either prompt or the repair wording changes the record."""
    parts = [prompts["summarize"].digest, prompts["notes"].digest, REPAIR_TEMPLATE]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


@functools.cache
def schema_digest() -> str:
    """Part of the cache key: a changed reply model must not be served old replies."""
    schemas = [PaperSummary.model_json_schema(), ChunkNotes.model_json_schema()]
    return hashlib.sha256(json.dumps(schemas, sort_keys=True).encode()).hexdigest()[:16]


# --- texts -------------------------------------------------------------------------------


def paper_text(chunks: Sequence[Chunk]) -> str:
    """The paper as one text, each section under its heading, overlaps between chunks removed."""
    parts: list[str] = []
    previous: Chunk | None = None
    for chunk in chunks:
        same_section = previous is not None and previous.section_path == chunk.section_path
        text = (
            _without_overlap(previous.text, chunk.text) if same_section and previous else chunk.text
        )
        if not same_section:
            parts.append(f"\n## {' > '.join(chunk.section_path)}\n")
        parts.append(text)
        previous = chunk
    return "\n".join(parts).strip()


def _without_overlap(before: str, after: str) -> str:
    # Chunks of one section repeat the tail of the previous chunk at their start; find where
    # `after` begins inside `before` and keep only what is new.
    probe = after[: min(40, len(after))]
    start = before.rfind(probe) if probe else -1
    while start >= 0:
        if after.startswith(before[start:]):
            return after[len(before) - start :].lstrip()
        start = before.rfind(probe, 0, start)
    return after


def source_text(meta: PaperMeta, chunks: Sequence[Chunk]) -> str:
    """What the model read about the paper: the faithfulness check's source."""
    stated = [meta.title, meta.abstract, meta.comments or "", meta.journal_ref or ""]
    return "\n".join([*stated, *(chunk.text for chunk in chunks)])


def notes_text(notes: Sequence[tuple[Chunk, ChunkNotes]], total: int) -> str:
    """The map step's notes in paper order, for the reduce call's `paper_text`."""
    lines = ["Notes taken from each part of the paper, in order (not the full text)."]
    for chunk, note in notes:
        lines.append(f"\n## {' > '.join(chunk.section_path)} (part {chunk.index + 1} of {total})")
        lines += [f"- {line}" for line in note.notes]
        lines += [f"- Number: {number}" for number in note.numbers]
    return "\n".join(lines)


def summarize_messages(
    meta: PaperMeta, text: str, prompt: Prompt, *, interests: str
) -> list[Message]:
    """The summarize call: fixed instructions first, the untrusted paper inside <paper>."""
    return prompt.render(
        title=untrusted(" ".join(meta.title.split())),
        authors=untrusted(", ".join(meta.authors)) or "not stated",
        categories=", ".join(meta.categories) or "not stated",
        abstract=untrusted(meta.abstract),
        comments=untrusted(meta.comments or "none"),
        paper_text=untrusted(text),
        interests=interests,
    )


def notes_messages(
    meta: PaperMeta, chunk: Chunk, total: int, prompt: Prompt, *, interests: str
) -> list[Message]:
    return prompt.render(
        title=untrusted(" ".join(meta.title.split())),
        part=f"{chunk.index + 1} of {total}",
        section=untrusted(" > ".join(chunk.section_path)),
        paper_text=untrusted(chunk.text),
        interests=interests,
    )


def repair_text(unsupported: Sequence[str]) -> str:
    return REPAIR_TEMPLATE.format(numbers=", ".join(unsupported))


def fewer_chunks(chunks: Sequence[Chunk], share: float = LESS_INPUT_SHARE) -> list[Chunk]:
    """Drop the lowest-priority chunks until at most `share` of the tokens remain.

    First chunks of sections the chunk stage ranks lowest (related work, background), later
    ones first; then the continuation chunks of long sections, their tails first; then the
    opening chunks of the main sections, conclusion before results before method. The abstract's
    first chunk always stays.
    """
    keep = list(chunks)
    limit = share * sum(c.tokens for c in chunks)
    position: dict[int, int] = {}
    for c in chunks:
        same = [d for d in chunks if d.section_path == c.section_path and d.index < c.index]
        position[c.index] = len(same)

    def expendable(c: Chunk) -> tuple[bool, int, int, int]:
        rank = section_priority(c.section_path)
        return rank == OTHER, position[c.index], rank, c.index

    victims = sorted(keep, key=expendable, reverse=True)
    for chunk in victims[:-1]:
        if sum(c.tokens for c in keep) <= limit:
            break
        keep.remove(chunk)
    return keep


# --- accounting --------------------------------------------------------------------------


class NoteStore(Protocol):
    """Where each chunk's map-step notes are kept as soon as they arrive, so a run killed halfway
    through a long paper resumes with only the missing calls (`pipeline.tools.NoteCache`)."""

    def get(self, key: str) -> ChunkNotes | None: ...
    def put(self, key: str, notes: ChunkNotes) -> None: ...


def note_key(messages: Sequence[Message], prompt: Prompt) -> str:
    """A note is known by its exact request (prompt, paper, chunk, interests), the notes
    prompt's sampling and the reply schema (`Prompt.request_key`); the store adds the model's
    identity."""
    return prompt.request_key(messages, schema_digest())


async def _ask(
    llm: LLM,
    meter: Meter,
    stage: str,
    messages: list[Message],
    reply_model: type[R],
    *,
    temperature: float,
    max_tokens: int,
) -> R:
    task = {MAP: "notes", REDUCE: "summarize", REPAIR: "repair"}[stage]
    return await llm.structured(
        messages,
        reply_model,
        temperature=temperature,
        max_tokens=max_tokens,
        task=task,
        on_usage=lambda usage: meter(stage, usage),
    )


async def _with_room(
    call: Callable[[int], Awaitable[R]], max_tokens: int, cap: int, ceiling: int
) -> R:
    """Call with `max_tokens` (sized to the reply); once more if the reply was cut off, with
    twice the prompt's own `ceiling` (capped), as much room as before replies were sized."""
    try:
        return await call(max_tokens)
    except ReplyTooLongError:
        room = min(max(2 * ceiling, 2 * max_tokens), cap)
        if room <= max_tokens:
            raise
        return await call(room)


# --- the steps ---------------------------------------------------------------------------


@dataclass
class _Paper:
    """One paper's summarize job: what it reads, with which prompts, through which model."""

    meta: PaperMeta
    chunks: list[Chunk]
    prompts: Prompts
    llm: LLM
    interests: str
    cap: int
    run_meter: Meter = ignore_meter
    store: NoteStore | None = None
    ledger: Ledger = field(default_factory=Ledger)

    def meter(self, step: str, usage: Usage) -> None:
        """The paper's own account (its record's usage) and the run's, from one report."""
        self.ledger.add(step, usage)
        self.run_meter(step, usage)

    async def notes(self) -> dict[int, ChunkNotes]:
        """Map: notes on every chunk, concurrently."""
        prompt, total = self.prompts["notes"], len(self.chunks)

        async def one(chunk: Chunk) -> ChunkNotes:
            messages = notes_messages(self.meta, chunk, total, prompt, interests=self.interests)
            key = note_key(messages, prompt)
            if self.store is not None and (known := self.store.get(key)) is not None:
                return known
            note = await _with_room(
                lambda room: _ask(
                    self.llm,
                    self.meter,
                    MAP,
                    messages,
                    ChunkNotes,
                    temperature=prompt.temperature,
                    max_tokens=room,
                ),
                reply_room(ChunkNotes, prompt.max_tokens),
                self.cap,
                prompt.max_tokens,
            )
            if self.store is not None:
                self.store.put(key, note)
            return note

        found = await gather_keeping([one(chunk) for chunk in self.chunks])
        return {chunk.index: note for chunk, note in zip(self.chunks, found, strict=True)}

    async def summary(self, single: bool) -> tuple[PaperSummary, list[Message], int]:
        """Reduce (or the single call): more room after a cut-off reply, then less input."""
        notes = {} if single else await self.notes()

        def text(kept: Sequence[Chunk]) -> str:
            if single:
                return paper_text(kept)
            return notes_text([(c, notes[c.index]) for c in kept], len(self.chunks))

        prompt = self.prompts["summarize"]
        first = reply_room(PaperSummary, prompt.max_tokens)
        # as in _with_room: twice the prompt's ceiling, when the cap leaves more room
        room = max(min(2 * max(prompt.max_tokens, first), self.cap), first)
        attempts = [(self.chunks, first)]
        if room > first:
            attempts.append((self.chunks, room))
        attempts.append((fewer_chunks(self.chunks), room))
        for n, (kept, max_tokens) in enumerate(attempts):
            messages = summarize_messages(self.meta, text(kept), prompt, interests=self.interests)
            try:
                value = await _ask(
                    self.llm,
                    self.meter,
                    REDUCE,
                    messages,
                    PaperSummary,
                    temperature=prompt.temperature,
                    max_tokens=max_tokens,
                )
            except ReplyTooLongError:
                if n == len(attempts) - 1:
                    raise
                continue
            return value, messages, max_tokens
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def repaired(
        self, summary: PaperSummary, messages: list[Message], max_tokens: int, source: SourceIndex
    ) -> tuple[PaperSummary, FaithfulnessReport]:
        """One repair request for unsupported numbers; the better of the two summaries wins."""
        report = summary_faithfulness(summary, source)
        if not report.unsupported:
            return summary, report
        asked = [
            *messages,
            Message(role="assistant", content=summary.model_dump_json()),
            Message(role="user", content=repair_text(report.unsupported)),
        ]
        prompt = self.prompts["summarize"]
        try:
            fixed = await _ask(
                self.llm,
                self.meter,
                REPAIR,
                asked,
                PaperSummary,
                temperature=prompt.temperature,
                max_tokens=max_tokens,
            )
        except CallStopped:
            raise  # not a failed repair: the next run asks for it (the reduce reply is lost)
        except LLMError:
            return summary, report.model_copy(update={"repaired": True})  # keep, still flagged
        second = summary_faithfulness(fixed, source).model_copy(update={"repaired": True})
        if len(second.unsupported) <= len(report.unsupported):
            return fixed, second
        return summary, report.model_copy(update={"repaired": True})


def fits(chunks: Chunks, budget: int) -> bool:
    """Whether the selected text fits one call, by the chunks' own token counts."""
    return sum(chunk.tokens for chunk in chunks.chunks) <= budget


async def summary_record(
    meta: PaperMeta,
    chunks: Chunks,
    prompts: Prompts,
    llm: LLM,
    *,
    interests: str,
    single_call_budget: int = 12000,
    max_tokens_cap: int = MAX_TOKENS_CAP,
    meter: Meter = ignore_meter,
    store: NoteStore | None = None,
) -> SummaryRecord:
    """Summarize one paper (see the module docstring); raises `LLMError` for a failed paper."""
    source = source_index(source_text(meta, chunks.chunks))
    cap = max(max_tokens_cap, 1)
    job = _Paper(meta, chunks.chunks, prompts, llm, interests, cap, meter, store)
    try:
        summary, messages, room = await job.summary(fits(chunks, single_call_budget))
        summary, report = await job.repaired(summary, messages, room, source)
    except RefusalError as exc:
        refused = _refused(exc, meta)
        refused.spent = job.ledger.total()
        raise refused from exc
    except PaperError as exc:
        exc.spent = job.ledger.total()  # a failed paper's cost has its row in run.json too
        raise
    return summary_of(meta, summary, prompts, llm.name, llm.model, job.ledger, report)


def _refused(exc: RefusalError, meta: PaperMeta) -> RefusalError:
    text = str(exc)
    message = text if "refused" in text.lower() else f"the model refused to summarize: {text}"
    return RefusalError(message, paper_id=meta.id, stage="summarize")


def summary_of(
    meta: PaperMeta,
    summary: PaperSummary,
    prompts: Prompts,
    backend: str,
    model: str,
    ledger: Ledger,
    report: FaithfulnessReport,
) -> SummaryRecord:
    return SummaryRecord(
        paper_id=meta.id,
        summary=summary,
        backend=backend,
        model=model,
        prompt=prompts["summarize"].name,
        prompt_digest=prompts_digest(prompts),
        usage=ledger.total(),
        stage_usage=dict(ledger.by_stage),
        faithfulness=report,
        written=date.today(),
    )


# --- the stage object --------------------------------------------------------------------


class Summarize(Stage[Paper, SummaryRecord]):
    """Chunks + metadata → a checked `SummaryRecord`, through the configured summarizer."""

    name = "summarize"
    version = STAGE_VERSION
    scope = "paper"
    output = SummaryRecord
    uses = ("summarizer",)
    # A cached record only keys rank, whose output holds every ranked paper's record (Rank.apply
    # hands those back): a cached day reads one ranking, not 500 records.
    lazy = True

    def params(self, settings: Settings) -> dict[str, Any]:
        from pipeline.prompts import task_prompt

        return {
            "prompts": {task: task_prompt(settings, task) for task in ("summarize", "notes")},
            "repair": REPAIR_TEMPLATE,
            "schema": schema_digest(),
            "single_call_budget": settings.reading.single_call_budget,
            "interests": settings.reading.interests,
        }

    def inputs(self, paper: Paper) -> dict[str, Any]:
        assert paper.chunks is not None
        return {"meta": paper.meta.portable(), "chunks": paper.chunks}

    async def compute(
        self,
        *,
        meta: PaperMeta,
        chunks: Chunks,
        prompts: dict[str, Prompt],
        repair: str,
        schema: str,
        single_call_budget: int,
        interests: str,
        summarizer: Any,
    ) -> SummaryRecord:
        # `repair` and `schema` are this module's REPAIR_TEMPLATE and reply models: in the key
        # so that editing either recomputes the summaries.
        record: SummaryRecord = await summarizer.summarize(
            meta, chunks, prompts, interests=interests, single_call_budget=single_call_budget
        )
        # the report says what each summary was read from, whichever backend wrote it
        return record.model_copy(update={"read_from": chunks.read_from})

    def size(self, inputs: Mapping[str, Any]) -> int:
        """The tokens the paper's calls will read: the longest papers are summarized first."""
        chunks: Chunks = inputs["chunks"]
        return chunks.total_tokens  # a scalar a cached entry's reference answers without loading

    def apply(self, paper: Paper, output: SummaryRecord) -> None:
        paper.record = output

    def placement(self, tools: Any) -> Placement:
        return "process" if tools["summarizer"].cpu_bound else "async"
