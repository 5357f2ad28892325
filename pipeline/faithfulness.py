"""Is every number in a summary in the paper? A check of the summary's prose against the source.

What counts as a number
    Percentages (``37%``, ``37 percent``), decimals (``0.94``), integers (``480``, ``1,000``),
    multipliers (``2.8x``, ``3×``), scores and counts, with a leading ``+``, ``-``, ``~`` or
    ``≈`` dropped (``+7.7`` is the gain 7.7). A range ``90–100%`` gives ``90`` and ``100%``.

What is not checked, and why
    - Years (a bare 1900–2039): dates and citations, not results, and a summary's "ICLR 2026"
      comes from metadata the extracted text may lack. ``2048`` (a context length) is checked.
    - Numbers glued to letters, which name things rather than measure them: model names and
      sizes (``Qwen3-0.6B``, ``GPT-4o``, ``7B``), ``8K`` contexts, ``H100``, ``FP8``, ``top-1``,
      ``Leak@1``, ``PPL2``. A wrong digit there is a naming slip; a check would flag every
      rephrasing ("Qwen 3 0.6B") and waste a repair call.
    - Table, figure, section and equation numbers, bracketed citations and arXiv ids.
    - Runs of more than 20 digits (hashes, ids).
    - The rubric (scores and rationales are the model's judgement), tags, affiliations, venue
      and the code link: only the prose a reader takes as the paper's facts is checked
      (`summary`, `key_insight`, `key_takeaways`, `industry_impact`, `limitations`).

Matching
    Each number becomes a few candidate values: a percentage ``p%`` is both ``p`` and ``p/100``;
    a plain number up to 100 is also read as a percentage (``94`` ↔ ``0.94``) and a decimal in
    [0, 1] as a fraction (``0.94`` ↔ ``94``); a multiplier is its plain value (``2.8x`` ↔
    ``2.8×`` ↔ ``2.8``); thousands separators go (``1,000`` ↔ ``1000``); signs are ignored.
    A summary number is supported when one of its candidates equals a source candidate rounded
    to the summary's precision (``94.1`` is supported by ``94.12``, ``94`` by ``93.6``), and the
    source is at least as precise (``94.12`` is not supported by ``94.1``). Numbers the model
    derived (a ratio of two reported numbers) are flagged unless the paper states them too: a
    reader cannot check a computed number against the paper.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from pipeline.caseless import Caseless
from pipeline.models import FaithfulnessReport, PaperSummary

# A number inside a clean token: thousands groups or plain digits, an optional fraction, a unit.
_NUMBER = re.compile(
    r"(?<![\d.,])(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?![\d])"
    r"(?P<unit>\s?(?:%|×|x(?![a-z])|pp\b))?",
    re.IGNORECASE,
)
MAX_DIGITS = 20
_PERCENT_WORD = re.compile(r"(\d)\s*(?:percent|per cent)\b", re.IGNORECASE)
_ANY_PERCENT_WORD = Caseless(_PERCENT_WORD.pattern)  # where _PERCENT_WORD matches
_SPACED_UNIT = re.compile(r"(\d)\s+(%|×)")
_LEADING_TIMES = re.compile(r"×\s*(\d)")  # "×3" as written in some tables
# "Table 3", "Fig. 2a", "§4.1", any case: one alternative per word, each opening with its
# letter (`caseless.letter_first`), matched on the lower-cased text: a paper's whole text is
# cleaned of them, and IGNORECASE with a leading group made this the check's slowest step.
_REFERENCE_WORDS = (
    r"tables?|tab\.|figures?|figs?\.|sections?|sec\.|§|eqs?\.|equations?|appendix"
    r"|algorithm|theorem|lemma|step|chapter|line"
)
_REFERENCE = Caseless(
    "|".join(
        # "\b§" (a word character before it) as "§" then that look-behind, so that every
        # alternative opens with a character `re` can skip ahead to
        ("§(?<=\\w§)" if word == "§" else rf"\b{word}") + r"\s*\(?[a-z]?\d+(?:\.\d+)*\)?"
        for word in _REFERENCE_WORDS.split("|")
    )
)
_CITATION = re.compile(r"\[[\d,\s–-]+\]")
# "\b\d{4}..." written digit first, then the look-behind that is the boundary: `re` then skips
# to the digits instead of trying the boundary at every position.
_ARXIV_ID = re.compile(r"\d(?<!\w\d)\d{3}\.\d{4,5}(?:v\d+)?\b")
# A unit written right after the digits ("2.8x", "5pp") is not a letter of a name.
_UNIT_GLUE = re.compile(r"(?<=\d)(?:x|pp)(?![^\W\d_])", re.IGNORECASE)
# A letter glued to a digit, or joined to it by - _ . : @ ("Qwen3", "7B", "GPT-4", "Leak@1").
_GLUED = re.compile(r"[^\W\d_][-_.:@]?\d|\d[^\W\d_]")
_STRIP = "()[]{}\"'“”‘’.,;:!?~≈±<>≤≥+-−–—*"
_DIGIT = re.compile(r"\d")
_RANGE_SPLIT = re.compile(r"[–—/→]|(?<=\d)-(?=\d)|(?<=[%×x])-(?=\d)")


@dataclass(frozen=True)
class Number:
    """One number as written, with its value and how precisely it was written."""

    text: str
    value: Decimal
    decimals: int
    kind: str  # "plain", "percent" or "times"

    def candidates(self) -> list[tuple[Decimal, int]]:
        """Values this number may stand for, each with its precision in decimal places."""
        value, places = self.value, self.decimals
        if self.kind == "times":
            return [(value, places)]
        if self.kind == "percent":
            return [(value, places), (value / 100, places + 2)]
        found = [(value, places)]
        if value <= 100:
            found.append((value / 100, places + 2))
        if places > 0 and value <= 1:
            found.append((value * 100, max(places - 2, 0)))
        return found


def numbers(text: str, *, names_too: bool = False) -> list[Number]:
    """The numbers in `text` that a faithfulness check reads (see the module docstring).

    `names_too` also takes numbers glued to letters: the source side is read generously, so a
    summary's "8 levels" finds the paper's "PPL8".
    """
    text = _cleaned(text)
    found: list[Number] = []
    for word in digit_words(text):
        token = word.strip(_STRIP)
        if not token:
            continue
        if not names_too and _is_name(token):
            continue
        for piece in _RANGE_SPLIT.split(token):
            found.extend(_parse(piece.strip(_STRIP), names_too=names_too))
    return found


def digit_words(text: str) -> list[str]:
    r"""The whitespace-separated words of `text` with a digit in them, in order: what the
    pattern `(?<!\S)[^\s\d]*\d\S*` finds (`str.split` and `re` agree on whitespace), but
    a pattern that cannot skip ahead tried it at every position of a paper's text."""
    return [word for word in text.split() if _DIGIT.search(word)]


def _cleaned(text: str) -> str:
    text = _REFERENCE.sub(" ", text)
    text = _CITATION.sub(" ", text)
    text = _ARXIV_ID.sub(" ", text)
    if _ANY_PERCENT_WORD.search(text):  # rare: the substitution's IGNORECASE scan only then
        text = _PERCENT_WORD.sub(r"\1%", text)
    text = _LEADING_TIMES.sub(r"\1×", text)
    return _SPACED_UNIT.sub(r"\1\2", text)


def _is_name(token: str) -> bool:
    """A letter glued to a digit names a thing ("Qwen3-0.6B"); "3.2-point" is a measure."""
    return bool(_GLUED.search(_UNIT_GLUE.sub("", token)))


def _parse(piece: str, *, names_too: bool) -> list[Number]:
    result = []
    for match in _NUMBER.finditer(piece):
        raw = match.group("num")
        digits = raw.replace(",", "")
        if len(digits) > MAX_DIGITS:
            continue  # a hash or an id, not a measurement (and past exact Decimal arithmetic)
        value = Decimal(digits)
        decimals = len(digits.partition(".")[2])
        unit = (match.group("unit") or "").strip().lower()
        if not names_too and not unit and decimals == 0 and "," not in raw and _is_year(value):
            continue
        kind = "percent" if unit in ("%", "pp") else "times" if unit in ("x", "×") else "plain"
        result.append(Number(match.group(0).strip(), value, decimals, kind))
    return result


def _is_year(value: Decimal) -> bool:
    return 1900 <= value <= 2039


class SourceIndex:
    """The source's candidate values, sorted, so each lookup is a binary search."""

    def __init__(self, source: str) -> None:
        pairs = sorted(
            {pair for number in numbers(source, names_too=True) for pair in number.candidates()}
        )
        self._values = [value for value, _ in pairs]
        self._places = [places for _, places in pairs]

    def supports(self, number: Number) -> bool:
        return any(self._has(value, places) for value, places in number.candidates())

    def _has(self, value: Decimal, places: int) -> bool:
        half = Decimal(5) * Decimal(10) ** -(places + 1)
        low = bisect.bisect_left(self._values, value - half)
        high = bisect.bisect_right(self._values, value + half)
        return any(self._places[i] >= places or self._values[i] == value for i in range(low, high))


@functools.lru_cache(maxsize=64)
def source_index(source: str) -> SourceIndex:
    """`SourceIndex(source)`, built once per text: a paper read again (another prompt or model
    in a compare run, a forced rerun, the extractive summarizer after the LLM) reuses it.
    Building one takes 5-25 ms of a paper's 40-80k characters, on the event loop's thread."""
    return SourceIndex(source)


def prose(summary: PaperSummary) -> list[str]:
    """The fields whose numbers are checked: what a reader takes as the paper's facts."""
    return [
        *summary.summary,
        summary.key_insight,
        *summary.key_takeaways,
        summary.industry_impact,
        *summary.limitations,
    ]


def check(texts: Iterable[str], source: str | SourceIndex) -> FaithfulnessReport:
    """Look up every distinct number of `texts` in `source`."""
    index = source if isinstance(source, SourceIndex) else SourceIndex(source)
    seen: dict[str, Number] = {}
    for text in texts:
        for number in numbers(text):
            seen.setdefault(number.text, number)
    unsupported = [text for text, number in seen.items() if not index.supports(number)]
    checked = len(seen)
    supported = checked - len(unsupported)
    share = round(supported / checked, 4) if checked else 1.0
    return FaithfulnessReport(
        checked=checked, supported=supported, unsupported=unsupported, share=share
    )


def summary_faithfulness(summary: PaperSummary, source: str | SourceIndex) -> FaithfulnessReport:
    return check(prose(summary), source)


def share_of_supported(reports: Iterable[FaithfulnessReport | None]) -> float:
    """Over a run: supported numbers / checked numbers (1.0 when nothing was checked)."""
    present = [r for r in reports if r is not None]
    checked = sum(r.checked for r in present)
    return round(sum(r.supported for r in present) / checked, 4) if checked else 1.0
