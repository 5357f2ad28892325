"""Document -> Chunks: section-aware chunks under a token limit, and a per-paper budget.

A chunk never spans two sections. Inside a section, chunks end at a paragraph end when that keeps
them at least half full, else at a sentence end, else at a word end, and only a single word longer
than the limit is cut between tokens. Consecutive chunks of one section overlap: the next chunk
starts with the last ~`overlap` tokens of the previous one, beginning at a sentence or word start.

Every chunk's text is an exact slice of its section's text with whitespace normalised (paragraphs
joined by one blank line, other whitespace runs made one space), so the chunks of a section, their
overlaps removed, spell out the section exactly.

References and appendices are never chunked (`Document.body_sections()`), and they are not listed
in `omitted_sections`, which names only what the budget left out.

That is the `full` depth (`reading.depth`), read by map-reduce. The default `budget` depth first
picks what to read by section role (`pipeline.reading`) within `reading.budget` tokens, then
chunks only that: a section's chunks spell out its kept paragraphs, gaps marked "[…]".
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from pipeline import reading
from pipeline.models import Chunk, Chunks, Document, Section
from pipeline.paper import Paper
from pipeline.stage import Placement, Stage
from pipeline.tokens import Tokenizer

if TYPE_CHECKING:
    from pipeline.settings import Settings

STAGE_VERSION = 2

Depth = Literal["budget", "full"]

# Any character is at most 4 UTF-8 bytes, so at most 4 tokens: 8 leaves room to always progress.
MIN_MAX_TOKENS = 8

ABSTRACT, INTRODUCTION, METHOD, RESULTS, CONCLUSION, OTHER = range(6)

# Checked in order, at word starts: "Related models" is OTHER before "model" makes it METHOD.
_HEADING_KEYWORDS = (
    (OTHER, ("related work", "prior work", "background", "preliminar", "acknowledg", "notation")),
    (ABSTRACT, ("abstract",)),
    (INTRODUCTION, ("introduction", "motivation")),
    (METHOD, ("method", "approach", "model", "framework", "architecture", "algorithm")),
    (RESULTS, ("result", "experiment", "evaluation", "empirical", "benchmark")),
    (CONCLUSION, ("conclusion", "concluding", "discussion", "limitation", "future work")),
)
_heading_rank = reading.heading_classifier(_HEADING_KEYWORDS)

_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
# A line ending in sentence punctuation ends its paragraph; any other line break is a wrap.
# The mark is matched, not looked behind at, so that `re` looks only where one is (twice as
# fast): no match ends in a mark, so none takes one another needed.
_LINE_END_AFTER_SENTENCE = re.compile(r"([.!?:])[ \t\r\f\v]*\n")
# ". " followed by a capital starts a new sentence; "e.g. the" and "Fig. 3" do not.
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*(?= [\"'(\[]?[A-Z])")
_WORD = re.compile(r"\S+")
# Characters a token is first assumed to span at most, when looking for where a chunk ends.
_WINDOW = 8


@dataclass(frozen=True)
class _Part:
    """One section's chunks, before the budget picks which to keep."""

    heading: str
    path: list[str]
    rank: int
    texts: list[str]
    tokens: list[int]


class _Boundaries(NamedTuple):
    """Sorted character positions in a normalised section text."""

    paragraph_ends: list[int]
    sentence_ends: list[int]
    word_ends: list[int]
    sentence_starts: list[int]
    word_starts: list[int]


def chunks(
    document: Document,
    *,
    tokenizer: Tokenizer,
    max_tokens: int = 1200,
    overlap: int = 100,
    paper_budget: int = 12000,
) -> Chunks:
    """Split the paper's front and body into chunks of at most `max_tokens` tokens each, keeping
    at most `paper_budget` tokens in all (overlaps counted twice, as a model reads them), the
    important sections first."""
    _check_arguments(max_tokens, overlap, paper_budget)
    parts = [
        _part(section, path, tokenizer, max_tokens, overlap)
        for section, path in _sections_with_paths(document)
    ]
    kept, omitted = _select(parts, paper_budget)
    return _chunks(document, tokenizer, kept, omitted, _read_from(parts, kept))


def budgeted_chunks(
    document: Document,
    *,
    tokenizer: Tokenizer,
    budget: int = 4500,
    max_tokens: int = 1200,
    overlap: int = 100,
) -> Chunks:
    """The paper's text chosen by section role within `budget` tokens (`pipeline.reading`; the
    budget counts the text the model reads, section heading lines included, overlaps not), in
    chunks of at most `max_tokens` tokens."""
    _check_arguments(max_tokens, overlap, max_tokens)
    picked = reading.select(role_parts(document), tokenizer, budget)
    parts = [
        _part_of_text(path[-1], path, text, tokenizer, max_tokens, overlap, tokens)
        for (path, text), tokens in zip(picked.sections, picked.counts, strict=True)
    ]
    return _chunks(document, tokenizer, parts, picked.omitted, picked.read_from)


def read_at_depth(
    document: Document,
    *,
    tokenizer: Tokenizer,
    depth: Depth,
    budget: int,
    max_tokens: int,
    overlap: int,
    paper_budget: int,
) -> Chunks:
    """What the summarizer reads at `depth`: the budgeted selection by section role, or the
    whole paper (up to `paper_budget` tokens) for map-reduce."""
    if depth == "budget":
        return budgeted_chunks(
            document, tokenizer=tokenizer, budget=budget, max_tokens=max_tokens, overlap=overlap
        )
    return chunks(
        document,
        tokenizer=tokenizer,
        max_tokens=max_tokens,
        overlap=overlap,
        paper_budget=paper_budget,
    )


def role_parts(document: Document) -> list[reading.Part]:
    """What the budgeted read chooses from: sections, appendices and captions, with roles."""
    sections = _sections_with_paths(document, appendices=True)
    return reading.parts_of(sections, document.captions, document.abstract)


def _chunks(
    document: Document,
    tokenizer: Tokenizer,
    kept: list[_Part],
    omitted: list[str],
    read_from: list[str],
) -> Chunks:
    pieces = [(p.path, text, n) for p in kept for text, n in zip(p.texts, p.tokens, strict=True)]
    return Chunks(
        paper_id=document.paper_id,
        encoding=tokenizer.name,
        chunks=[
            Chunk(paper_id=document.paper_id, index=i, section_path=path, text=text, tokens=n)
            for i, (path, text, n) in enumerate(pieces)
        ],
        total_tokens=sum(n for _, _, n in pieces),
        omitted_sections=omitted,
        read_from=read_from,
    )


def _read_from(parts: list[_Part], kept: list[_Part]) -> list[str]:
    """Top-level sections read, in document order; '(excerpts)' when the budget cut some of it."""
    kept_tokens = {tuple(p.path): sum(p.tokens) for p in kept}
    read: dict[str, bool] = {}  # top-level heading -> some part of it was read
    whole: dict[str, bool] = {}  # top-level heading -> every part of it was read whole
    for part in parts:
        top = part.path[0]
        tokens = kept_tokens.get(tuple(part.path))
        read[top] = read.get(top, False) or tokens is not None
        whole[top] = whole.get(top, True) and tokens == sum(part.tokens)
    return [top if whole[top] else f"{top} (excerpts)" for top in whole if read[top]]


def _check_arguments(max_tokens: int, overlap: int, paper_budget: int) -> None:
    if max_tokens < MIN_MAX_TOKENS:
        raise ValueError(f"max_tokens must be at least {MIN_MAX_TOKENS}, got {max_tokens}")
    if not 0 <= overlap < max_tokens:
        raise ValueError(
            f"overlap must be at least 0 and less than max_tokens ({max_tokens}), got {overlap}"
        )
    if paper_budget < max_tokens:
        # Below one chunk even the abstract could not be kept.
        raise ValueError(
            f"paper_budget must be at least max_tokens ({max_tokens}), got {paper_budget}"
        )


# --- Sections ----------------------------------------------------------------------------


def _sections_with_paths(
    document: Document, *, appendices: bool = False
) -> list[tuple[Section, list[str]]]:
    """Front and body sections (and appendices, when asked) with their heading paths, the
    abstract first and named 'Abstract'."""
    sections = _with_abstract(document)
    if appendices:
        sections += [s for s in document.sections if s.kind == "appendix"]
    result: list[tuple[Section, list[str]]] = []
    open_headings: list[Section] = []  # the current section's ancestors, lowest level first
    for section in sections:
        open_headings = [s for s in open_headings if s.level < section.level] + [section]
        path = [s.heading for s in open_headings]
        result.append((section, ["Abstract"] if section_priority(path) == ABSTRACT else path))
    return result


def _with_abstract(document: Document) -> list[Section]:
    """Body sections, plus `document.abstract` as a section when no front section holds it."""
    sections = document.body_sections()
    abstract = _normalise(document.abstract)
    held = any(section_priority([s.heading]) == ABSTRACT for s in sections) or any(
        abstract in _normalise(s.text) for s in sections if s.kind == "front"
    )
    if not abstract or held:
        return sections
    page = sections[0].page_start if sections else 1
    front = Section(heading="Abstract", page_start=page, page_end=page, text=abstract, kind="front")
    return [front, *sections]


def section_priority(path: list[str]) -> int:
    """Priority of a section: its top-most heading that says what it is decides, so
    '4.1 Datasets' under '4 Experiments' is RESULTS."""
    for heading in path:
        rank = _heading_rank(heading)
        if rank is not None:
            return rank
    return OTHER


def _part(
    section: Section, path: list[str], tokenizer: Tokenizer, max_tokens: int, overlap: int
) -> _Part:
    return _part_of_text(section.heading, path, section.text, tokenizer, max_tokens, overlap)


def _part_of_text(
    heading: str,
    path: list[str],
    text: str,
    tokenizer: Tokenizer,
    max_tokens: int,
    overlap: int,
    known: int | None = None,
) -> _Part:
    """`known`: the text's count when the caller has it (the budgeted read's selection)."""
    normal = _normalise(text)
    pieces = _split(normal, tokenizer, max_tokens, overlap, known if normal == text else None)
    texts, tokens = [text for text, _ in pieces], [count for _, count in pieces]
    return _Part(heading, path, section_priority(path), texts, tokens)


# --- Budget ------------------------------------------------------------------------------


def _select(parts: list[_Part], budget: int) -> tuple[list[_Part], list[str]]:
    """Keep sections in priority order (document order within a rank) while they fit.

    Passes: the abstract (cut short if it must be: it is never dropped); the other high-priority
    sections whole; those that did not fit, cut to the chunks that still do (so one long method
    section cannot push the short conclusion out); the rest whole while they fit; last, what is
    left of the budget goes to the first chunks of the rest (a paper whose headings say nothing,
    or whose extraction found one big section, still gets read). Returns the kept parts and the
    headings left out or cut short, both in document order.
    """
    order = sorted(range(len(parts)), key=lambda i: parts[i].rank)
    high = [i for i in order if ABSTRACT < parts[i].rank < OTHER]
    low = [i for i in order if parts[i].rank == OTHER]
    abstract = [i for i in order if parts[i].rank == ABSTRACT]
    passes = [(abstract, True), (high, False), (high, True), (low, False), (low, True)]
    left = budget
    keep: dict[int, int] = {}  # part index -> number of its first chunks kept
    for indices, partial in passes:
        for i in (i for i in indices if i not in keep):
            n = _fitting_prefix(parts[i].tokens, left)
            if n == len(parts[i].tokens) or (n > 0 and partial):
                keep[i] = n
                left -= sum(parts[i].tokens[:n])
    return _apply(parts, keep)


def _apply(parts: list[_Part], keep: dict[int, int]) -> tuple[list[_Part], list[str]]:
    kept, omitted = [], []
    for i, part in enumerate(parts):
        n = keep.get(i, 0)
        if n:
            kept.append(replace(part, texts=part.texts[:n], tokens=part.tokens[:n]))
        if n < len(part.tokens):
            omitted.append(part.heading if n == 0 else f"{part.heading} (truncated)")
    return kept, omitted


def _fitting_prefix(tokens: list[int], budget: int) -> int:
    total = 0
    for n, count in enumerate(tokens):
        total += count
        if total > budget:
            return n
    return len(tokens)


# --- Splitting one section ---------------------------------------------------------------


def _normalise(text: str) -> str:
    """Paragraphs joined by one blank line; whitespace inside a paragraph made single spaces."""
    paragraphs = _BLANK_LINE.split(_LINE_END_AFTER_SENTENCE.sub(r"\1\n\n", text))
    return "\n\n".join(p for p in (" ".join(p.split()) for p in paragraphs) if p)


def normalise(text: str) -> str:
    """`_normalise`, for the role-based selection: its paragraphs are the chunks' paragraphs."""
    return _normalise(text)


def split_text(text: str, tokenizer: Tokenizer, max_tokens: int) -> list[tuple[str, int]]:
    """Pieces of a normalised text of at most `max_tokens` tokens each, without overlap."""
    return _split(text, tokenizer, max_tokens, 0)


def _split(
    text: str, tokenizer: Tokenizer, max_tokens: int, overlap: int, tokens: int | None = None
) -> list[tuple[str, int]]:
    """Chunks of a normalised section text with their token counts, each at most `max_tokens`;
    `tokens` is the text's count when the caller knows it."""
    if len(text) <= _WINDOW * max_tokens:
        # Most paragraphs fit whole: the loop below would find the same single piece after
        # encoding the text twice and finding every boundary in it; one encode says so.
        tokens = tokenizer.count(text) if tokens is None else tokens
        if tokens <= max_tokens:
            return [(text, tokens)] if text else []
    return _split_at_boundaries(text, tokenizer, max_tokens, overlap)


def _split_at_boundaries(
    text: str, tokenizer: Tokenizer, max_tokens: int, overlap: int
) -> list[tuple[str, int]]:
    """`_split` the long way: chunk after chunk, each ended at the best boundary in reach."""
    bounds = _boundaries(text)
    pieces: list[tuple[str, int]] = []
    start = new = 0  # where the chunk starts; where its new (not overlapping) text starts
    while new < len(text):
        found = _chunk_end(text, bounds, start, new, tokenizer, max_tokens)
        if found is None and start < new:
            start = new  # the overlap left no room for new text: drop it this once
            found = _chunk_end(text, bounds, start, new, tokenizer, max_tokens)
        if found is None:
            raise RuntimeError(f"no text fits in {max_tokens} tokens")  # one character always does
        end, tokens = found
        pieces.append((text[start:end], tokens))
        new = _next_start(text, bounds, end)
        start = _overlap_start(text, bounds, start, end, tokenizer, overlap) if overlap else new
    return pieces


def _boundaries(text: str) -> _Boundaries:
    words = list(_WORD.finditer(text))
    paragraph_ends = [m.start() for m in re.finditer("\n\n", text)]
    sentence_ends = sorted({m.end() for m in _SENTENCE_END.finditer(text)} | set(paragraph_ends))
    return _Boundaries(
        paragraph_ends=paragraph_ends,
        sentence_ends=sentence_ends,
        word_ends=[m.end() for m in words],
        # normalised text has exactly one whitespace run (" " or "\n\n") after each end
        sentence_starts=[0] + [e + (2 if text[e] == "\n" else 1) for e in sentence_ends],
        word_starts=[m.start() for m in words],
    )


def _chunk_end(
    text: str, bounds: _Boundaries, start: int, new: int, tokenizer: Tokenizer, max_tokens: int
) -> tuple[int, int] | None:
    """Where the chunk starting at `start` ends, past `new`, with at most `max_tokens` tokens,
    and its token count (counted here once, on the final text).

    Token counts are not additive, so the end is checked on the final text; when the check fails
    (a rare re-tokenisation at the cut), the reach is shortened by the excess and tried again.
    """
    budget = max_tokens
    while budget > 0:
        end = _best_end(bounds, new, _reach(text, start, tokenizer, budget), len(text))
        if end is None:
            return None
        tokens = tokenizer.count(text[start:end])
        if tokens <= max_tokens:
            return end, tokens
        budget -= tokens - max_tokens
    return None


def _reach(text: str, start: int, tokenizer: Tokenizer, budget: int) -> int:
    """The character position `budget` tokens after `start` (or the end of the text)."""
    window = _WINDOW * budget  # characters; grown when `budget` tokens span more of them
    while True:
        piece = text[start : start + window]
        head = tokenizer.head(piece, budget)
        if len(head) < len(piece) or start + window >= len(text):
            return start + len(head)
        window *= 4


def _best_end(bounds: _Boundaries, new: int, reach: int, length: int) -> int | None:
    """A paragraph end, else a sentence end, in the second half of (new, reach]; else the last
    word end; else `reach` itself (a word longer than a chunk is cut between tokens)."""
    if reach >= length:
        return length
    if reach <= new:
        return None
    half = new + (reach - new) // 2
    for ends in (bounds.paragraph_ends, bounds.sentence_ends):
        end = _last_between(ends, half, reach)
        if end is not None:
            return end
    word_end = _last_between(bounds.word_ends, new, reach)
    return reach if word_end is None else word_end


def _last_between(positions: list[int], low: int, high: int) -> int | None:
    """The largest position p with low < p <= high."""
    i = bisect_right(positions, high) - 1
    return positions[i] if i >= 0 and positions[i] > low else None


def _next_start(text: str, bounds: _Boundaries, end: int) -> int:
    """Where the text after a chunk ending at `end` resumes."""
    if end < len(text) and not text[end].isspace():
        return end  # the chunk was cut inside a word: carry on from the cut
    i = bisect_left(bounds.word_starts, end)
    return bounds.word_starts[i] if i < len(bounds.word_starts) else len(text)


def _overlap_start(
    text: str, bounds: _Boundaries, start: int, end: int, tokenizer: Tokenizer, overlap: int
) -> int:
    """Where the next chunk starts: the earliest word start in (start, end) whose tail of the
    chunk has at most `overlap` tokens, moved to a sentence start if that keeps half of it."""
    words = bounds.word_starts
    candidates = words[bisect_right(words, start) : bisect_left(words, end)]
    i = bisect_left(candidates, True, key=lambda b: tokenizer.count(text[b:end]) <= overlap)
    if i == len(candidates):
        return _next_start(text, bounds, end)  # no whole word fits: no overlap
    word = candidates[i]
    sentences = bounds.sentence_starts
    j = bisect_left(sentences, word)
    sentence = sentences[j] if j < len(sentences) and sentences[j] < end else None
    if sentence is not None and 2 * tokenizer.count(text[sentence:end]) >= overlap:
        return sentence
    return word


class Chunking(Stage[Paper, Chunks]):
    """A paper's `Document` → its chunks, counted with the run's tokenizer."""

    name = "chunk"
    version = STAGE_VERSION
    scope = "paper"
    output = Chunks
    remember_failures = True
    lazy = True  # the summarizer reads the chunks, nothing else does

    def params(self, settings: Settings) -> dict[str, Any]:
        from pipeline.llm.backends import backend_for
        from pipeline.tokens import tokenizer_for

        cfg = settings.chunk
        model = backend_for(settings.llm).model
        return {
            "max_tokens": cfg.max_tokens,
            "overlap": cfg.overlap,
            "paper_budget": cfg.paper_budget,
            "depth": settings.reading.depth,
            "budget": settings.reading.budget,
            "encoding": tokenizer_for(model, cfg.encoding).name,
        }

    def inputs(self, paper: Paper) -> dict[str, Any]:
        assert paper.document is not None
        return {"document": paper.document}

    def compute(
        self,
        *,
        document: Document,
        max_tokens: int,
        overlap: int,
        paper_budget: int,
        depth: Depth,
        budget: int,
        encoding: str,
    ) -> Chunks:
        from pipeline.tokens import tokenizer_named

        return read_at_depth(
            document,
            tokenizer=tokenizer_named(encoding),
            depth=depth,
            budget=budget,
            max_tokens=max_tokens,
            overlap=overlap,
            paper_budget=paper_budget,
        )

    def size(self, inputs: Mapping[str, Any]) -> int:
        """The pages read: a scalar a stored Document answers without being loaded."""
        document: Document = inputs["document"]
        return document.pages_read

    def apply(self, paper: Paper, output: Chunks) -> None:
        paper.chunks = output

    def placement(self, tools: Any) -> Placement:
        return "process"
