"""Escaping and quoting take time linear in the text, whatever the text is made of.

A paper's title, abstract or sentences reach the report's escaping (`pipeline/markup.py`) and the
extractive backend's patterns; a pattern tried from every position that reads to the text's end
each time costs the square of the length (a 120,000-letter title once took 150 s to render).
Each function is timed in CPU seconds on long adversarial texts: it must stay well under a
second, and 8 times the text must cost less than 16 times the time (quadratic would be 64).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import markup, weekly
from pipeline.llm import extractive
from pipeline.models import Chunk, PaperMeta
from tests.hostile import SHAPES

MARKUP: dict[str, Callable[[str], object]] = {
    name: getattr(markup, name)
    for name in (
        "clean",
        "md_text",
        "md_cell",
        "md_code",
        "plain_url",
        "shown_url",
        "html_text",
        "html_code",
        "html_plain_url",
    )
}
QUOTING: dict[str, Callable[[str], object]] = {
    "split_sentences": extractive.split_sentences,
    "addresses_reader": extractive.addresses_reader,
    "is_fragment": extractive.is_fragment,
    "uncited": extractive.uncited,
    "names_something": extractive.names_something,
    "venue_in": weekly.venue_in,  # the weekly report's venue, from arXiv's comment
}


def cpu_seconds(function: Callable[[str], object], text: str) -> float:
    started = time.process_time()
    function(text)
    return time.process_time() - started


def assert_linear(function: Callable[[str], object], shape: Callable[[int], str]) -> None:
    # the short text first, so a quadratic function fails in seconds rather than minutes
    short = cpu_seconds(function, shape(25_000))
    assert short < 0.5
    long = cpu_seconds(function, shape(200_000))
    assert long < 2.0
    assert long < 0.05 or long / max(short, 1e-3) < 16


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", [*MARKUP, *QUOTING])
def test_each_function_takes_linear_time_on_each_shape(name: str, shape: str) -> None:
    assert_linear({**MARKUP, **QUOTING}[name], SHAPES[shape])


@pytest.mark.parametrize("shape", ["brackets", "letters then www.", "letter-dot runs"])
def test_a_whole_paper_of_such_text_is_summarized_and_triaged_in_linear_time(shape: str):
    def summarize_and_triage(text: str) -> None:
        meta = PaperMeta(id="2603.00001v1", title=text, abstract=text)
        claim = "We propose a method that improves accuracy by 5% over the baseline."
        chunk = Chunk(paper_id=meta.id, index=0, section_path=["2 Results"], text=text, tokens=1)
        extractive.extractive_summary(
            meta, [chunk.model_copy(update={"text": f"{claim}\n\n{text}"})]
        )
        extractive.triage_rubric(meta, "serving latency")

    assert_linear(summarize_and_triage, SHAPES[shape])


# The linear scans must find what the patterns they replace found, so no output changes.
URL_PIECES = ["a", "w", "W", ".", "+", "-", "_", "@", ":", "/", "é", "1", " ", "www.", "://"]
URL_PIECES += ["http://", "a@b.co", ")", ",", "!", "ı", "\u212a"]
CITATION_PIECES = ["[", "]", "(", ")", "2020", "1999a", "a", " ", "[1]", "(Smith, 2020)", "9"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(URL_PIECES), max_size=30))
def test_property_urls_are_found_where_the_pattern_finds_them(pieces: list[str]) -> None:
    text = "".join(pieces)
    spans = [found.span() for found in markup._urls(text)]
    assert spans == [found.span() for found in markup._URL.finditer(text)]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(CITATION_PIECES), max_size=20))
def test_property_citations_are_removed_as_the_pattern_removes_them(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert extractive.uncited(text) == extractive._CITATION.sub(" ", text)


VENUE_PIECES = ["ICML", "ICLR", " ", "2026", "2019", "a", ",", ".", "(", "USENIX Security"]
VENUE_PIECES += ["USENIX", "Security", "x2026", "20266", "CCS", "_", "é"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(VENUE_PIECES), max_size=14))
def test_property_the_venue_is_found_as_the_pattern_finds_it(pieces: list[str]) -> None:
    text = "".join(pieces)
    found = weekly.VENUE.search(text)
    assert weekly.venue_in(text) == (f"{found.group(1)} {found.group(2)}" if found else None)


def test_random_texts_find_the_same_urls():
    # a wider sweep than hypothesis makes in its budget, seeded so a failure repeats
    rng = random.Random(7)
    for _ in range(20_000):
        text = "".join(rng.choice(URL_PIECES) for _ in range(rng.randint(0, 24)))
        assert [m.span() for m in markup._urls(text)] == [
            m.span() for m in markup._URL.finditer(text)
        ], text


def test_the_url_pattern_is_still_what_the_module_says():
    # `_urls` relies on every match starting with a character of `_RUN`
    assert markup._RUN.pattern == re.compile(r"[\w.+-]++").pattern
