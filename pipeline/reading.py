"""A paper's sections → the text a budgeted deep read sends the model, chosen by section role.

Issue 12: reading whole papers by map-reduce cost a median 9.9k input tokens a paper. A summary
needs the problem, the contribution, the method's gist, the results and the limits, which sit in
a few predictable places. So each section gets a role from its headings, each paragraph (or
~`UNIT_TOKENS` piece of a long one) a tier from its role and place, and the tiers are taken in
order while they fit `budget` tokens:

0. the abstract (cut short if it alone is over budget: it is never dropped);
1. the introduction's first paragraph and its contribution paragraphs ("our contributions",
   "we propose", "in this paper", and the bullets after them), the conclusion, stated
   limitations, and the first paragraph of each top-level method and results section;
2. table captions, results paragraphs that state numbers, the first paragraph of every method
   subsection, discussion and future work, and the front matter's opening (affiliations);
3. the rest of the introduction, the next two paragraphs of method and results sections,
   figure captions, and the opening of sections with no recognised role;
4. the rest of those sections and of the discussion;
5. related work, background and back matter (acknowledgements, contribution statements, broader
   impact); 6. appendices. These two only fill a budget that everything before them fitted
   into. References are never read.

Within a tier, earlier paragraphs of every section come before later ones (every results
subsection gets its opening before any gets its third paragraph), then document order. The kept
pieces are put back in document order; a gap inside a section is marked "[…]" so the model does
not read two distant paragraphs as one argument.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from pipeline.models import Section
from pipeline.tokens import Tokenizer

K = TypeVar("K")

FILL_ONLY = 5  # tiers read only when everything before them was: related work, back matter
UNIT_TOKENS = 300  # a longer paragraph is cut into pieces of this size, at sentence ends
GAP = "[…]"
CAPTIONS_HEADING = "Table and figure captions"


class Role(Enum):
    ABSTRACT = "abstract"
    FRONT = "front matter"
    INTRODUCTION = "introduction"
    METHOD = "method"
    RESULTS = "results"
    DISCUSSION = "discussion"
    LIMITATIONS = "limitations"
    CONCLUSION = "conclusion"
    RELATED = "related work"
    BACK = "back matter"
    APPENDIX = "appendix"
    CAPTIONS = "captions"
    OTHER = "other"


# A heading's role, by keywords at word starts, checked in this order ("Related models" is
# RELATED before "model" makes it METHOD; "Discussion and conclusion" is CONCLUSION).
_KEYWORDS: tuple[tuple[Role, tuple[str, ...]], ...] = (
    (Role.ABSTRACT, ("abstract",)),
    (Role.LIMITATIONS, ("limitation", "threats to validity")),
    (Role.BACK, ("acknowledg", "funding", "competing interest", "author contribution",
                 "contribution statement", "broader impact", "ethic", "impact statement")),
    (Role.RELATED, ("related work", "prior work", "previous work", "background", "preliminar",
                    "literature", "notation")),
    (Role.CONCLUSION, ("conclusion", "concluding")),
    (Role.DISCUSSION, ("discussion", "future work", "future direction", "outlook")),
    (Role.INTRODUCTION, ("introduction", "motivation")),
    (Role.RESULTS, ("result", "experiment", "evaluation", "empirical", "benchmark", "ablation",
                    "analys", "study", "studies")),
    (Role.METHOD, ("method", "approach", "model", "framework", "architecture", "algorithm",
                   "design", "system", "implementation", "proposed", "overview")),
)  # fmt: skip


def heading_classifier(table: Sequence[tuple[K, Sequence[str]]]) -> Callable[[str], K | None]:
    """The class a heading names: the first of `table` one of whose keywords starts a word of
    the lower-cased heading, or None. One pattern per class; cached, since a paper asks about
    the same few headings once per paragraph, and every paper about "Introduction"."""
    patterns = tuple(
        (kind, re.compile(r"\b(?:" + "|".join(keywords) + ")")) for kind, keywords in table
    )

    @functools.lru_cache(maxsize=4096)
    def classify(heading: str) -> K | None:
        lowered = heading.lower()
        return next((kind for kind, pattern in patterns if pattern.search(lowered)), None)

    return classify


_role = heading_classifier(_KEYWORDS)
# Roles a subsection's own heading keeps under any parent: "Limitations" under "Discussion",
# "Related Work" under "Introduction".
_OWN_ROLES = (Role.LIMITATIONS, Role.RELATED, Role.BACK)

_CONTRIBUTION = re.compile(
    r"\b(?:(?:our|main|key|the following) contributions?|contributions? (?:of|are)"
    r"|we (?:propose|present|introduce|develop|design|release|make the following)"
    r"|in this (?:paper|work|article|study)|this (?:paper|work) (?:proposes|presents|introduces))",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^(?:[•◦▪●·\-–*]|\(?\d{1,2}[.)]|\(?[a-z][.)]\s)\s*")
_HAS_NUMBER = re.compile(r"\d")


def role_of(path: Sequence[str], kind: str = "body") -> Role:
    """A section's role: its own heading's when that is one of `_OWN_ROLES`, else the top-most
    heading that says what it is ('4.1 Datasets' under '4 Experiments' is RESULTS)."""
    if kind == "appendix":
        return Role.APPENDIX
    if kind == "front" and path and path[-1] != "Abstract" and _role(path[-1]) is None:
        return Role.FRONT
    own = _role(path[-1]) if path else None
    if own in _OWN_ROLES:
        return own
    return next((r for r in map(_role, path) if r is not None), Role.OTHER)


@dataclass(frozen=True)
class Unit:
    """One paragraph, or a piece of a long one: what the budget takes or leaves."""

    section: int  # index into the sections read
    paragraph: int
    text: str
    tokens: int
    tier: int
    position: int  # the unit's place in its section
    after: str = "\n\n"  # what separates it from the unit before, when both are read


@dataclass(frozen=True)
class Part:
    """One section as the selection sees it."""

    heading: str
    path: list[str]
    role: Role
    paragraphs: list[str]


@dataclass(frozen=True)
class Selection:
    """The sections read, each with its kept text, and what a report says was read."""

    sections: list[tuple[list[str], str]]  # (heading path, kept text) in document order
    counts: list[int]  # each kept text's tokens, as `tokenizer.count` counts them
    read_from: list[str]
    omitted: list[str]
    tokens: int


def select(parts: Sequence[Part], tokenizer: Tokenizer, budget: int) -> Selection:
    """The pieces of `parts` a budgeted read keeps (see the module docstring)."""
    # Related work, back matter and appendices are read only when everything before them fitted
    # (`FILL_ONLY`), which few papers do: their paragraphs are cut and counted only then.
    counted: list[list[Unit] | None] = [
        None if part.role in _FILL_ONLY_ROLES else _units(i, part, tokenizer)
        for i, part in enumerate(parts)
    ]
    kept, fills_on = _fill([u for us in counted if us for u in us], parts, tokenizer, budget)
    if fills_on and None in counted:
        every = [
            _units(i, part, tokenizer) if us is None else us
            for i, (part, us) in enumerate(zip(parts, counted, strict=True))
        ]
        kept, _ = _fill([u for us in every for u in us], parts, tokenizer, budget)
        counted = list(every)
    # A part left uncounted had none of its units read: any positive number of them will do.
    sizes = [
        len(part.paragraphs) if us is None else len(us)
        for part, us in zip(parts, counted, strict=True)
    ]
    sections = _texts(parts, kept, tokenizer)
    return Selection(
        sections=[(parts[i].path, text) for i, text, _ in sections],
        counts=[tokens for _, _, tokens in sections],
        read_from=read_from(parts, sizes, kept),
        omitted=_omitted(parts, sizes, kept),
        tokens=sum(u.tokens for u in kept),
    )


def _units(i: int, part: Part, tokenizer: Tokenizer) -> list[Unit]:
    from pipeline.stages.chunk import split_text  # here: the chunk stage imports this module

    units: list[Unit] = []
    contribution = False
    for p, paragraph in enumerate(part.paragraphs):
        # only an introduction's tiers ask (a slow pattern, on every paragraph otherwise)
        contribution = part.role is Role.INTRODUCTION and (
            bool(_CONTRIBUTION.search(paragraph))
            or (contribution and bool(_BULLET.match(paragraph)))
        )
        end = 0
        for text, tokens in split_text(paragraph, tokenizer, UNIT_TOKENS):
            # pieces are slices of the paragraph, apart from the whitespace between them (none
            # where a word longer than a piece was cut)
            start = paragraph.index(text, end)
            after = paragraph[end:start] if end else "\n\n"
            end = start + len(text)
            position = len(units)
            tier = _tier(part, p, position, text, contribution)
            units.append(Unit(i, p, text, tokens, tier, position, after))
    return units


# The roles whose every unit is in a tier of FILL_ONLY or later (`_tier`).
_FILL_ONLY_ROLES = frozenset({Role.RELATED, Role.BACK, Role.APPENDIX})


def _tier(part: Part, paragraph: int, position: int, text: str, contribution: bool) -> int:
    role, sub = part.role, len(part.path) > 1
    first = position == 0
    if role is Role.ABSTRACT:
        return 0
    if role in (Role.CONCLUSION, Role.LIMITATIONS):
        return 1
    if role is Role.INTRODUCTION:
        return 1 if first or contribution else 3
    if role in (Role.METHOD, Role.RESULTS):
        if first:
            return 2 if sub else 1
        if role is Role.RESULTS and _HAS_NUMBER.search(text):
            return 2
        return 3 if paragraph < 3 else 4
    if role is Role.CAPTIONS:
        return 2 if text.lower().startswith("tab") else 3
    if role in (Role.DISCUSSION, Role.FRONT):
        return 2 if first else 4
    if role in _FILL_ONLY_ROLES:
        return 6 if role is Role.APPENDIX else 5
    return 3 if first else 4  # Role.OTHER


def _fill(
    units: list[Unit], parts: Sequence[Part], tokenizer: Tokenizer, budget: int
) -> tuple[list[Unit], bool]:
    """Take units tier by tier while they fit; a section's heading line costs its tokens once.

    A smaller unit of a later tier may fill the room a larger one left, but related work, back
    matter and appendices only when the rest of the paper was read whole: a leftover hundred
    tokens is better unused than spent on acknowledgements while results were cut. Returns the
    units kept and whether units of those tiers, had there been any, would have been tried."""
    order = sorted(units, key=lambda u: (u.tier, u.position, u.section))
    # what joins a unit to the one before it, at most: a gap mark between blank lines
    join = tokenizer.count(f"\n\n{GAP}\n\n")
    left = budget
    kept: list[Unit] = []
    opened: set[int] = set()
    cut_short = False  # a unit before the fill-only tiers did not fit
    for unit in order:
        cost = unit.tokens + join
        if unit.section not in opened:
            cost += tokenizer.count(f"\n## {' > '.join(parts[unit.section].path)}\n") + 1
        if unit.tier >= FILL_ONLY and cut_short:
            return kept, False
        if cost > left:
            if unit.tier == 0 and not kept:
                kept.append(_cut(unit, tokenizer, left - (cost - unit.tokens)))
                return kept, False
            cut_short = True
            continue
        kept.append(unit)
        opened.add(unit.section)
        left -= cost
    return kept, not cut_short


def _cut(unit: Unit, tokenizer: Tokenizer, room: int) -> Unit:
    text = tokenizer.head(unit.text, max(room, 1))
    return Unit(unit.section, unit.paragraph, text, tokenizer.count(text), 0, unit.position)


def _texts(
    parts: Sequence[Part], kept: list[Unit], tokenizer: Tokenizer
) -> list[tuple[int, str, int]]:
    """Each section's kept units in order, joined as in the paper (pieces of one paragraph as
    they were, paragraphs by a blank line), with `GAP` where something was left out; with its
    tokens, from the units' own counts (the chunk stage would otherwise encode it again)."""
    by_section: dict[int, list[Unit]] = {}
    for unit in sorted(kept, key=lambda u: (u.section, u.position)):
        by_section.setdefault(unit.section, []).append(unit)
    texts = []
    for i, units in sorted(by_section.items()):
        text, tokens = units[0].text, units[0].tokens
        for before, unit in itertools.pairwise(units):
            gap = unit.position != before.position + 1
            between = f"\n\n{GAP}\n\n" if gap else unit.after
            tokens = tokenizer.count_joined(text, tokens, between, unit.text, unit.tokens)
            text += between + unit.text
        texts.append((i, text, tokens))
    return texts


def read_from(parts: Sequence[Part], sizes: Sequence[int], kept: list[Unit]) -> list[str]:
    """One entry per top-level section read, in document order, saying how much of it was:
    'Introduction (contributions)', 'Method (overview)', 'Results (excerpts)', 'Conclusion'.
    `sizes` holds each part's number of units."""
    tops = _top_sections(parts)
    groups: dict[int, tuple[Role, int, int]] = {}  # top section -> (role, units, units kept)
    read_in = Counter(unit.section for unit in kept)
    for i, size in enumerate(sizes):
        if not size:
            continue
        top = tops[i]
        part = parts[top]
        role, total, read = groups.get(top, (role_of(part.path[:1]), 0, 0))
        if part.role is Role.CAPTIONS:
            role = Role.CAPTIONS
        groups[top] = (role, total + size, read + read_in[i])
    return [
        _label(parts[top].path[0], role, total, read)
        for top, (role, total, read) in groups.items()
        if read
    ]


def _top_sections(parts: Sequence[Part]) -> list[int]:
    """For each part, the index of the top-level section it belongs to (two sections headed
    alike, such as a paper's two 'Method' parts, stay two entries)."""
    tops: list[int] = []
    for i, part in enumerate(parts):
        same = i > 0 and len(part.path) > 1 and parts[i - 1].path[:1] == part.path[:1]
        tops.append(tops[-1] if same else i)
    return tops


def _label(heading: str, role: Role, total: int, read: int) -> str:
    if read == total:
        return heading
    if role is Role.CAPTIONS:
        return f"{heading} (some)"
    part = {Role.INTRODUCTION: "contributions", Role.METHOD: "overview"}.get(role, "excerpts")
    return f"{heading} ({part})"


def _omitted(parts: Sequence[Part], sizes: Sequence[int], kept: list[Unit]) -> list[str]:
    """Headings of the sections left out, or cut ('… (part)'), in document order."""
    read = Counter(unit.section for unit in kept)
    return [
        parts[i].heading if read[i] == 0 else f"{parts[i].heading} (part)"
        for i in range(len(parts))
        if sizes[i] and read[i] < sizes[i] and parts[i].role is not Role.CAPTIONS
    ]


def parts_of(
    sections: Sequence[tuple[Section, list[str]]], captions: Sequence[str], abstract: str = ""
) -> list[Part]:
    """Sections (with heading paths) and the paper's captions as the selection's parts; the
    captions are one part at the end of the body, before any appendix. An `abstract` held in
    unheaded front matter (title, authors, abstract in one section) is a part of its own, read
    first like any abstract, not as front matter."""
    from pipeline.stages.chunk import normalise  # here: the chunk stage imports this module

    parts: list[Part] = []
    for s, path in sections:
        part = Part(s.heading, path, role_of(path, s.kind), _paragraphs(normalise(s.text)))
        front = s.kind == "front" and part.role is not Role.ABSTRACT
        parts += _abstract_apart(part, " ".join(abstract.split())) if front else [part]
    if captions:
        at = next((i for i, p in enumerate(parts) if p.role is Role.APPENDIX), len(parts))
        texts = [" ".join(c.split()) for c in captions if c.strip()]
        parts.insert(at, Part(CAPTIONS_HEADING, [CAPTIONS_HEADING], Role.CAPTIONS, texts))
    return parts


def _abstract_apart(part: Part, abstract: str) -> list[Part]:
    if len(abstract) < 40:
        return [part]

    def held(paragraph: str) -> bool:
        return len(paragraph) >= 40 and (paragraph in abstract or abstract in paragraph)

    ours = [p for p in part.paragraphs if held(p)]
    if not ours:
        return [part]
    rest = [p for p in part.paragraphs if not held(p)]
    found = Part("Abstract", ["Abstract"], Role.ABSTRACT, ours)
    return [found, Part(part.heading, part.path, part.role, rest)] if rest else [found]


def _paragraphs(text: str) -> list[str]:
    return [p for p in text.split("\n\n") if p]


def numbers_kept(parts: Sequence[Part], read: str) -> tuple[int, int]:
    """Of the distinct numbers the abstract and the conclusion state, how many the text `read`
    still has (as the faithfulness check would find them): (kept, stated). The figure issue 12
    holds the selection to: a summary cannot quote a headline number it was not shown."""
    from pipeline.faithfulness import SourceIndex, numbers

    stated = "\n".join(
        p
        for part in parts
        if part.role in (Role.ABSTRACT, Role.CONCLUSION)
        for p in part.paragraphs
    )
    distinct = {n.text: n for n in numbers(stated)}
    source = SourceIndex(read)
    return sum(source.supports(n) for n in distinct.values()), len(distinct)
