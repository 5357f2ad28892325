"""Case-insensitive patterns that match several times faster.

Python's `re` is slow with IGNORECASE: every character is case-folded as it is compared, and
the engine cannot skip ahead to where a match could start. Lower-casing the text instead and
matching case-sensitively finds the same matches at the same places, provided that

- the pattern names no upper-case letter and no other cased character (`case_free`, checked
  when the pattern is made), and
- the text has none of the three characters that lower-case differently from how IGNORECASE
  compares them: "İ" (two characters once lower-cased), "ı" and "ſ" (which IGNORECASE takes
  for "i" and "s"). Every other character lower-cases to one character of the same kind
  (word, digit, space), which IGNORECASE would have taken for it (`tests/test_caseless.py`
  checks all of Unicode).

Text with one of the three is matched with IGNORECASE, as before. The extractive summarizer asks
a dozen such patterns about each sentence of a paper.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser  # type: ignore[attr-defined]
from typing import Any

# The characters whose lower case is not what IGNORECASE compares them as (see above).
UNFOLDABLE = "\u0130\u0131\u017f"
_UNFOLDABLE = re.compile(f"[{UNFOLDABLE}]")


@dataclass(frozen=True)
class Folded:
    """A text made ready once for several patterns (`folded`): lower-cased when that matches as
    IGNORECASE would, else as it is. `Caseless` lower-cases the text it is given at each call,
    which for a paper's whole text asked a dozen cues costs more than the matching."""

    text: str
    lowered: bool


def folded(text: str) -> Folded:
    foldable = _foldable(text)
    return Folded(text.lower() if foldable else text, foldable)


class Caseless:
    """A pattern matched without regard to case: case-sensitively on the lower-cased text, or
    with IGNORECASE when the text has a character that lower-cases otherwise. Matches are in
    the lower-cased text (at the same places): callers ask whether or how often it matches, or
    replace the matches, never for the matched characters."""

    def __init__(self, source: str) -> None:
        self.pattern = source

    # Compiled on first use: the summarizer's module holds fifty of these, and a run that
    # never summarizes (a cached day) should not pay for compiling them when importing it.
    @functools.cached_property
    def lower(self) -> re.Pattern[str]:
        problem = case_free(self.pattern)
        if problem:
            raise ValueError(f"not a caseless pattern ({problem}): {self.pattern!r}")
        return re.compile(letter_first(self.pattern))

    @functools.cached_property
    def anycase(self) -> re.Pattern[str]:
        return re.compile(letter_first(self.pattern), re.IGNORECASE)

    @functools.cached_property
    def starts(self) -> tuple[str, ...] | None:
        """Texts one of which every match contains ("secur" for a word starting so), or None."""
        return _starts(_parser.parse(self.pattern).data)

    def _for(self, text: str | Folded) -> tuple[re.Pattern[str], str]:
        lower = self.lower  # checks the pattern, whatever the text
        if isinstance(text, Folded):
            return (lower if text.lowered else self.anycase), text.text
        if _foldable(text):
            return lower, text.lower()
        return self.anycase, text

    def _absent(self, pattern: re.Pattern[str], text: str) -> bool:
        """Whether the lower-cased text lacks every word a match begins with: a few substring
        searches instead of the regex trying each position of a whole paper's text."""
        starts = self.starts
        if pattern is not self.lower or starts is None:
            return False
        # A loop, not all(...): a generator per call costs more than the substring tests, and
        # this runs for every cue of every sentence.
        for start in starts:  # noqa: SIM110
            if start in text:
                return False
        return True

    def search(self, text: str | Folded) -> bool:
        pattern, text = self._for(text)
        return not self._absent(pattern, text) and pattern.search(text) is not None

    def match(self, text: str | Folded) -> bool:
        pattern, text = self._for(text)
        return pattern.match(text) is not None

    def count(self, text: str | Folded) -> int:
        """How many times it matches, as `len(findall)`."""
        pattern, text = self._for(text)
        return 0 if self._absent(pattern, text) else len(pattern.findall(text))

    def findall(self, text: str | Folded) -> list[Any]:
        """`re.findall`, of the lower-cased text where it was lower-cased: for matches whose
        case does not matter (digits, counts)."""
        pattern, text = self._for(text)
        return pattern.findall(text)

    def sub(self, replacement: str, text: str) -> str:
        """`text` with every match replaced by the plain string `replacement`; the text around
        the matches keeps its case."""
        pattern, lowered = self._for(text)
        if pattern is self.anycase:
            return pattern.sub(lambda _: replacement, text)
        parts, end = [], 0
        for found in pattern.finditer(lowered):
            parts += [text[end : found.start()], replacement]
            end = found.end()
        return "".join(parts) + text[end:] if parts else text


def letter_first(source: str) -> str:
    r"""`source` with each top-level alternative that opens with `\b` and a letter written to
    open with the letter, then look behind: `\bsecur\w*` as `s(?<!\w.)ecur\w*`.

    The same matches: a word boundary before a letter is a position whose previous character,
    if any, is not a word character, which is what the lookbehind checks once the letter is
    read (at the text's start it has no room and so holds). But `re` tries a pattern that opens
    with `\b` at every position of the text, and skips to the letter in one that opens with it:
    10-20 times faster on a paper's whole text, 3-5 on a sentence.
    """
    return "|".join(map(_opened_by_letter, _alternatives(source)))


def _opened_by_letter(alternative: str) -> str:
    letter, after = alternative[2:3], alternative[3:4]
    quantified = after in ("?", "*", "+", "{")  # then the letter may be absent
    if alternative.startswith("\\b") and letter.isascii() and letter.isalpha() and not quantified:
        return f"{letter}(?<!\\w.){alternative[3:]}"
    return alternative


def _alternatives(source: str) -> list[str]:
    """`source` split at its top-level "|" (not inside a group, a class or an escape)."""
    pieces, depth, start, i, in_class = [], 0, 0, 0, False
    while i < len(source):
        char = source[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            i += 1 + (source[i + 1 : i + 2] == "^")
            i += source[i : i + 1] == "]"  # a "]" first in a class is one of its characters
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            pieces.append(source[start:i])
            start = i + 1
        i += 1
    return [*pieces, source[start:]]


def _foldable(text: str) -> bool:
    return text.isascii() or _UNFOLDABLE.search(text) is None


def case_free(source: str) -> str:
    """Why `source` may match differently with IGNORECASE than case-sensitively on lower-cased
    text, or "" when it cannot: an upper-case ASCII letter (a literal or in a range), a cased
    character outside ASCII ("µ" is also "μ" and "Μ" to IGNORECASE), a back-reference or an
    inline case flag."""
    return _problem(_parser.parse(source).data)


def _problem(items: Any) -> str:
    for op, av in items:
        if op in (sre.LITERAL, sre.NOT_LITERAL) and not _case_free_char(chr(av)):
            return f"the character {chr(av)!r}"
        if op is sre.RANGE and any(_upper_ascii(c) for c in range(av[0], av[1] + 1)):
            return f"the range {chr(av[0])}-{chr(av[1])}"
        if op in (sre.GROUPREF, sre.GROUPREF_EXISTS):
            return "a back-reference"
        if op is sre.SUBPATTERN and (av[1] or av[2]):
            return "an inline flag"
        for part in _parts(op, av):
            if problem := _problem(part):
                return problem
    return ""


def _starts(items: Any) -> tuple[str, ...] | None:
    """Texts of two characters or more one of which every match contains, or None: each part of
    the pattern's top-level sequence is in every match, so the first one that begins with
    literal text in each of its alternatives ("secur", "misuse" or "malicious") will do."""
    items = list(items)
    for i in range(len(items)):
        found = _begins(items[i:])
        if found is not None and min(map(len, found)) >= 2:
            return found
    return None


def _begins(items: Any) -> tuple[str, ...] | None:
    """Texts one of which every match of the parsed sequence `items` begins with, or None."""
    word = ""
    for op, av in items:
        if op is sre.LITERAL:
            word += chr(av)
            continue
        if op is sre.SUBPATTERN:
            group = _begins(av[3].data)
        elif op is sre.BRANCH:
            each = [_begins(alternative.data) for alternative in av[1]]
            group = None if None in each else tuple(t for found in each if found for t in found)
        else:
            break
        return None if group is None else tuple(dict.fromkeys(word + g for g in group))
    return (word,) if word else None


def _parts(op: Any, av: Any) -> list[Any]:
    """The sub-patterns of one parsed item."""
    if op is sre.IN:
        return [av]
    if op is sre.BRANCH:
        return list(av[1])
    if op is sre.SUBPATTERN:
        return [av[3]]
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
        return [av[2]]
    if op in (sre.ASSERT, sre.ASSERT_NOT):
        return [av[1]]
    if op is sre.ATOMIC_GROUP:
        return [av]
    return []


def _case_free_char(char: str) -> bool:
    if char.isascii():
        return not char.isupper()
    return char.lower() == char.upper() == char.casefold() == char  # "×", "§", "—"


def _upper_ascii(code: int) -> bool:
    return 65 <= code <= 90
