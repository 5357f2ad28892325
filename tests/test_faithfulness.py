"""The number check: which numbers are read, how forms are matched, what is flagged."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import faithfulness
from pipeline.faithfulness import check, numbers, share_of_supported, summary_faithfulness
from pipeline.models import FaithfulnessReport
from tests.builders import summary


def texts(text: str) -> list[str]:
    return [n.text for n in numbers(text)]


def supported(claim: str, source: str) -> bool:
    return check([claim], source).unsupported == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("reaches 0.94 vs 0.76", ["0.94", "0.76"]),
        ("a 128.6% gain, +7.7 points, ~60 steps vs 150+", ["128.6%", "7.7", "60", "150"]),
        ("2.5× faster and 3x cheaper", ["2.5×", "3x"]),
        ("1,000 runs and 12,345.5 tokens", ["1,000", "12,345.5"]),
        ("37 percent of cases", ["37%"]),
        ("90–100% ASR", ["90", "100%"]),
        ("63.3→70.0 on AIME25", ["63.3", "70.0"]),
        ("a 3.2-point gain", ["3.2"]),
        ("context of 2048 tokens", ["2048"]),
    ],
)
def test_numbers_that_are_read(text: str, expected: list[str]):
    assert texts(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Qwen3-0.6B and Llama-3.2-3B at 8K context on H100 with FP8",
        "GPT-4o, top-1, Leak@1, PPL2–PPL8, R1-Distill-Qwen2.5-7B, 3rd",
        "published at ICLR 2026 after a 2024 preprint",
        "see Table 3, Figure 2, Section 4.1, Eq. (5) and [12, 13]",
        "arXiv 2603.04359v2",
    ],
)
def test_names_years_and_references_are_not_checked(text: str):
    assert texts(text) == []


@pytest.mark.parametrize(
    ("claim", "source"),
    [
        ("94%", "accuracy of 0.94"),
        ("0.94", "accuracy of 94%"),
        ("94.0", "accuracy of 0.94"),
        ("2.8x", "a 2.8× speed-up"),
        ("2.8×", "speed-up of 2.8"),
        ("1000 runs", "1,000 runs"),
        ("1,000 runs", "1000 runs"),
        ("94.1%", "94.12%"),  # rounded to the summary's precision
        ("37 percent", "37.2%"),
        ("8 levels", "PPL2–PPL8"),  # the source side reads names generously
        ("-3.2", "drops by 3.2"),
    ],
)
def test_forms_that_match(claim: str, source: str):
    assert supported(claim, source)


@pytest.mark.parametrize(
    ("claim", "source"),
    [
        ("37%", "accuracy of 0.94"),
        ("94.12%", "94.1%"),  # more precise than the paper: invented digits
        ("2.5× faster", "converges in 60 steps vs 150"),  # a derived ratio, not stated
        ("95%", "93.1%"),
    ],
)
def test_forms_that_do_not_match(claim: str, source: str):
    assert not supported(claim, source)


def test_report_counts_distinct_numbers_and_keeps_their_spelling():
    report = check(["0.94 and 0.94 and 37%", "2.8x"], "0.94 and 2.8")
    assert report == FaithfulnessReport(checked=3, supported=2, unsupported=["37%"], share=0.6667)
    assert check(["no numbers here"], "").share == 1.0


def test_only_prose_fields_are_checked():
    s = summary(novelty=9).model_copy(
        update={"venue": "ICLR 2026", "code_url": "https://github.com/x/y-2", "tags": ["x 42"]}
    )
    report = summary_faithfulness(s, "Results paragraph: 94.1% vs 76.0%.")
    assert (report.checked, report.unsupported) == (2, [])


def test_share_over_a_run():
    reports = [check(["1 and 2"], "1"), None, check(["3"], "3")]
    assert share_of_supported(reports) == pytest.approx(2 / 3, abs=1e-4)
    assert share_of_supported([None]) == 1.0


# --- properties of the normaliser --------------------------------------------------------

fractions = st.integers(min_value=1, max_value=99).map(lambda n: Decimal(n) / 100)
decimals_ = st.decimals(min_value=0, max_value=10_000, places=2, allow_nan=False)
integers = st.integers(min_value=0, max_value=10**9)


@given(fractions)
def test_a_fraction_and_its_percentage_support_each_other(f: Decimal):
    percent = f"{f * 100:f}%"
    assert supported(f"{f:f}", f"score {percent}")
    assert supported(percent, f"score {f:f}")


@given(integers)
def test_thousands_separators_do_not_matter(n: int):
    assert supported(f"{n:,}", f"{n} items") and supported(f"{n}", f"{n:,} items")


@given(decimals_, st.sampled_from(["x", "×", " ×", ""]), st.sampled_from(["x", "×", ""]))
def test_multiplier_spellings_are_one_number(d: Decimal, a: str, b: str):
    assert supported(f"{d:f}{a}", f"speed-up {d:f}{b}")


@given(decimals_, st.sampled_from(["%", "x", ""]))
def test_any_number_is_supported_by_a_source_that_states_it(d: Decimal, unit: str):
    claim = f"{d:f}{unit}"
    assert supported(f"it is {claim}.", f"we measured {claim}, as reported")


@given(st.text(alphabet=st.characters(exclude_categories=["Nd"]), max_size=200), decimals_)
def test_nothing_is_supported_by_a_source_without_digits(source: str, d: Decimal):
    report = check([f"{d:f}%"], source)
    assert report.unsupported == [f"{d:f}%"]


@given(st.text(max_size=300))
def test_arbitrary_text_never_crashes(text: str):
    report = check([text], text)
    assert report.unsupported == [] and 0 <= report.share <= 1


# The cleaning as first written: one IGNORECASE pattern with a leading group, and "\b\d{4}".
_PLAIN_REFERENCE = re.compile(
    r"\b(?:Tables?|Tab\.|Figures?|Figs?\.|Sections?|Sec\.|§|Eqs?\.|Equations?|Appendix"
    r"|Algorithm|Theorem|Lemma|Step|Chapter|Line)\s*\(?[A-Z]?\d+(?:\.\d+)*\)?",
    re.IGNORECASE,
)
_PLAIN_ARXIV_ID = re.compile(r"\b\d{4}\.\d{4,5}(?:v\d+)?\b")
_REFERENCE_PIECES = st.sampled_from(
    ["Table", "TABLE", "tab.", "Fig.", "figs.", "Section", "SECTİON", "ſection", "§", "a§",
     "Eq.", "Lemma", "Line", "x", " ", "  ", "(", ")", "3", "12", "2a", "4.1", "B7", "2024",
     "1706.03762", "v7", "x1234.56789", "50", " percent", " PER CENT", "%", "×", "ı", "."]
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(_REFERENCE_PIECES, max_size=14).map("".join))
def test_property_the_source_is_cleaned_as_the_plain_patterns_clean_it(text: str) -> None:
    # The source's references and arXiv ids are removed by faster patterns (caseless, digit
    # first): the same text must remain, whatever the case or the characters lower() folds
    # otherwise than IGNORECASE.
    plain = _PLAIN_ARXIV_ID.sub(
        " ", faithfulness._CITATION.sub(" ", _PLAIN_REFERENCE.sub(" ", text))
    )
    plain = faithfulness._PERCENT_WORD.sub(r"\1%", plain)
    plain = faithfulness._SPACED_UNIT.sub(r"\1\2", faithfulness._LEADING_TIMES.sub(r"\1×", plain))
    assert faithfulness._cleaned(text) == plain


@settings(max_examples=500, deadline=None)
@given(st.text(st.sampled_from("a1٣ \t\n\u00a0\u2003\x1c.%-x"), max_size=30))
def test_property_digit_words_are_what_the_plain_pattern_finds(text: str) -> None:
    # Words with a digit (any script's), split at any whitespace `re` knows (no-break, em space).
    plain = re.findall(r"(?<!\S)[^\s\d]*\d\S*", text)
    assert faithfulness.digit_words(text) == plain
