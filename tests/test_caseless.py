"""Caseless patterns answer exactly as the same pattern compiled with IGNORECASE would."""

from __future__ import annotations

import re
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import caseless
from pipeline.caseless import UNFOLDABLE, Caseless, case_free
from pipeline.llm import extractive


def _caseless_patterns() -> list[Caseless]:
    found = [v for v in vars(extractive).values() if isinstance(v, Caseless)]
    for cues in (extractive._DEPLOYMENT, extractive._SECURITY, extractive._NOVELTY):
        found += [pattern for _, pattern in cues] + [extractive._any_cue(cues)]
    found += [pattern for _, pattern in extractive._EVIDENCE]
    for _, then, pattern in extractive._READER_CASELESS:
        found += [pattern, *([then] if then else [])]
    return found


PATTERNS = _caseless_patterns()


def test_the_summarizers_patterns_are_caseless() -> None:
    assert [p.pattern for p in PATTERNS if case_free(p.pattern)] == []


# What the patterns look for, in any case, among words, digits, marks and the characters that
# lower-case unlike IGNORECASE compares them ("İ", "ı", "ſ") or to another length.
WORDS = sorted({w for p in PATTERNS for w in re.findall(r"[a-z]{2,}", p.pattern)})
PIECES = st.one_of(
    st.sampled_from(WORDS).map(lambda w: w.upper() if len(w) % 3 == 0 else w.capitalize()),
    st.sampled_from(WORDS),
    st.sampled_from([" ", " ", ", ", ". ", "-", "(3)", "12%", "4.5×", "§2", "’s ", "Table 2"]),
    st.sampled_from([*UNFOLDABLE, "K", "Σ", "ß", "Ö", "é", "µ", "\u212a", "ﬁ"]),
    st.text(max_size=3),
)
TEXTS = st.lists(PIECES, max_size=14).map("".join)


def test_every_unicode_character_lower_cases_as_ignorecase_compares_it_but_three() -> None:
    """The premise: a character lower-cases to one character that a case-free pattern's
    letters, digits, words and spaces match exactly when IGNORECASE would match the original,
    except "İ", "ı" and "ſ"."""
    atoms = [*"abcdefghijklmnopqrstuvwxyz", r"\w", r"\W", r"\d", r"\s", r"[a-z]", r"[^\W\d_]"]
    pairs = [(re.compile(a, re.I).fullmatch, re.compile(a).fullmatch) for a in atoms]
    differ = set()
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        lower = char.lower()
        if lower == char and char.upper() == char and char.casefold() == char:
            continue  # no case: lower-casing leaves it as it is, and IGNORECASE has no other
        if len(lower) != 1 or any((a(char) is None) != (b(lower) is None) for a, b in pairs):
            differ.add(char)
    assert differ == set(UNFOLDABLE)
    # and no character without case is the lower case of another: a literal "×" stays exact
    chars = map(chr, range(sys.maxunicode + 1))
    assert [c for c in chars if c.lower() != c and c.lower().upper() == c.lower()] == []


@settings(max_examples=400, deadline=None)
@given(TEXTS)
def test_each_pattern_answers_as_ignorecase_would(text: str) -> None:
    for pattern in PATTERNS:
        expected = re.compile(pattern.pattern, re.I)
        assert pattern.search(text) == (expected.search(text) is not None), pattern.pattern
        assert pattern.match(text) == (expected.match(text) is not None), pattern.pattern
        assert pattern.count(text) == len(expected.findall(text)), pattern.pattern
        assert pattern.sub(" ", text) == expected.sub(" ", text), pattern.pattern
        # the text lower-cased once for several patterns answers the same
        ready = caseless.folded(text)
        assert pattern.search(ready) == (expected.search(text) is not None), pattern.pattern
        assert pattern.count(ready) == len(expected.findall(text)), pattern.pattern


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        (r"\bTable \d", "the character 'T'"),
        (r"[A-Z0-9]", "the range A-Z"),
        (r"\d\s*µs", "the character 'µ'"),
        (r"\bſome", "the character 'ſ'"),
        (r"(?-i:SYSTEM):", "an inline flag"),
        (r"(\w)\1", "a back-reference"),
    ],
)
def test_a_pattern_that_would_match_otherwise_is_refused(source: str, problem: str) -> None:
    assert case_free(source) == problem
    with pytest.raises(ValueError, match="not a caseless pattern"):
        Caseless(source).search("any text")


def test_the_text_around_a_replaced_match_keeps_its_case() -> None:
    references = Caseless(r"\b(?:tables?|fig\.)\s*\d+")
    shown = references.sub(" ", "As TABLE 3 and Fig. 2 show, BERT wins")
    assert shown == "As   and   show, BERT wins"
    assert references.sub(" ", "Und Tabelle İ: Table 4 zeigt") == "Und Tabelle İ:   zeigt"
    assert references.count("table 1, Tables 2") == 2
    assert caseless._foldable("naïve Σ") and not caseless._foldable("ſtate")


def test_table_numbers_are_found_in_any_case() -> None:
    text = "TABLE 2 and Tab. 3, then table 2 again; Ϊ table 4"
    assert sorted(extractive._TABLE.findall(text)) == ["2", "2", "3", "4"]
    assert extractive._TABLE.findall("ſee Table 5") == ["5"]


def test_a_text_without_the_words_a_match_begins_with_is_not_searched() -> None:
    assert Caseless(r"\bmisuse\w*|\bmalicious\b").starts == ("misuse", "malicious")
    assert Caseless(r"^\W*(?:however|thus)\b").starts == ("however", "thus")
    assert Caseless(r"\d\s*(?:%|x\b)").starts is None  # no word of two letters to look for
    assert Caseless(r"\bsafe(?:ty|ly)?\b").count("Safety first; SAFELY safe") == 3


def test_an_alternative_that_opens_with_a_word_boundary_opens_with_its_letter() -> None:
    # `re` then skips to the letter instead of trying the boundary at every position.
    assert caseless.letter_first(r"\bsecur\w*|\bmalicious\b") == (
        r"s(?<!\w.)ecur\w*|m(?<!\w.)alicious\b"
    )
    # inside a group, class or escape, after a quantified letter, or before a non-letter: kept
    for source in (r"(?:\bab|\bcd)", r"[|]\bab", r"\|\bab", r"\ba?b", r"\b(?:ab)", r"\b\d"):
        assert caseless.letter_first(source) == source


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(["ab", "abc", "b", "x", " ", "-", "_", "é", "1", "\n", "|"]), max_size=8
    )
)
def test_property_letter_first_finds_what_the_word_boundary_form_finds(parts: list[str]) -> None:
    text = "".join(parts)
    for source in (r"\bab\w*|\bb\b", r"[|]|\bab|(?:x|\bb)", r"\babc?|\b_b", r"x\bab"):
        for flags in (0, re.IGNORECASE):
            plain, fast = (
                re.compile(source, flags),
                re.compile(caseless.letter_first(source), flags),
            )
            assert [m.span() for m in fast.finditer(text)] == [
                m.span() for m in plain.finditer(text)
            ]
