"""Chunks + paper metadata → `SummaryRecord`, through whichever backend is configured."""

from __future__ import annotations

import hashlib
import json

from pipeline.llm.base import Backend, SummaryRequest
from pipeline.models import Chunk, Chunks, PaperMeta, PaperSummary, SummaryRecord
from pipeline.prompts import Prompt

STAGE_VERSION = 1


def schema_digest() -> str:
    """Part of the cache key: a changed reply model must not be served old replies."""
    schema = json.dumps(PaperSummary.model_json_schema(), sort_keys=True)
    return hashlib.sha256(schema.encode()).hexdigest()[:16]


def paper_text(chunks: list[Chunk]) -> str:
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


def summary_request(meta: PaperMeta, chunks: Chunks, prompt: Prompt) -> SummaryRequest:
    messages = prompt.render(
        title=meta.title,
        authors=", ".join(meta.authors) or "not stated",
        categories=", ".join(meta.categories) or "not stated",
        abstract=meta.abstract,
        paper_text=paper_text(chunks.chunks),
    )
    return SummaryRequest(
        meta=meta,
        chunks=chunks.chunks,
        messages=messages,
        temperature=prompt.temperature,
        max_tokens=prompt.max_tokens,
    )


def summary_record(
    meta: PaperMeta, chunks: Chunks, prompt: Prompt, backend: Backend
) -> SummaryRecord:
    result = backend.summarize(summary_request(meta, chunks, prompt))
    return SummaryRecord(
        paper_id=meta.id,
        summary=result.summary,
        backend=backend.name,
        model=backend.model,
        prompt=prompt.name,
        prompt_digest=prompt.digest,
        usage=result.usage,
    )
