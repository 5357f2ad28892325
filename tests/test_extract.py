"""PDF -> Document on real PDFs: the sample papers, PDFs broken on purpose, the shared corpus."""

from __future__ import annotations

import gc
import itertools
import re
import sys
import time
from collections import Counter
from pathlib import Path

import pymupdf
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pipeline.errors import ExtractError
from pipeline.models import Document
from pipeline.samples import SAMPLE_PAPERS, SamplePaper, render
from pipeline.stages import extract
from pipeline.stages.extract import (
    Line,
    document,
    documents_in_processes,
    drop_footnotes,
    drop_running_text,
    mark_references,
    mend,
    reading_order,
    sections,
    table_like,
    vocabulary,
    word_counts,
)
from tests.builders import encrypted_pdf


def flat(text: str) -> str:
    return " ".join(text.split())


def unnumbered(heading: str) -> str:
    return re.sub(r"^(\d+(\.\d+)*\.?|[A-H])\s+", "", heading)


@pytest.fixture(scope="module")
def sample_pdfs(papers: Path) -> dict[str, Path]:
    return {p.stem: p for p in papers.glob("*.pdf")}


@pytest.fixture(scope="module")
def extracted(sample_pdfs: dict[str, Path]) -> dict[str, Document]:
    return {stem: document(path, stem) for stem, path in sample_pdfs.items()}


by_stem = pytest.mark.parametrize("paper", SAMPLE_PAPERS, ids=lambda p: p.stem)


# --- The sample papers ----------------------------------------------------------------


@by_stem
def test_title_and_abstract(extracted: dict[str, Document], paper: SamplePaper) -> None:
    doc = extracted[paper.stem]
    assert doc.title == paper.title
    assert doc.abstract == flat(paper.abstract)
    assert doc.sections[0].heading == "Abstract" and doc.sections[0].kind == "front"


@by_stem
def test_headings_in_order_with_levels(extracted: dict[str, Document], paper: SamplePaper) -> None:
    doc = extracted[paper.stem]
    written = [s.heading for s in paper.sections] + ["References"]
    written += [s.heading for s in paper.appendix]
    found = [(s.heading, s.level) for s in doc.sections if s.kind != "front"]
    assert found == [(unnumbered(h), 1 + h.split()[0].rstrip(".").count(".")) for h in written]


@by_stem
def test_every_paragraph_reads_in_order(extracted: dict[str, Document], paper: SamplePaper) -> None:
    # Each paragraph as written appears unbroken in its section: the columns were read in order
    # and no header, page number or caption landed inside it, even across column and page breaks.
    doc = extracted[paper.stem]
    text = {s.heading: flat(s.text) for s in doc.sections}
    for section in (*paper.sections, *paper.appendix):
        body = text[unnumbered(section.heading)]
        for paragraph in section.paragraphs:
            assert flat(paragraph) in body


@by_stem
def test_running_text_and_captions_kept_out(
    extracted: dict[str, Document], paper: SamplePaper
) -> None:
    doc = extracted[paper.stem]
    body = " ".join(s.text for s in doc.sections)
    assert paper.running_header not in body
    assert not any(re.fullmatch(r"\d+", line.strip()) for line in body.splitlines())
    written = [b.caption for s in paper.sections for b in s.blocks if not isinstance(b, str)]
    assert doc.captions == written
    assert not any(caption[:30] in body for caption in written)


@by_stem
def test_references_are_marked_and_kept_out_of_the_body(
    extracted: dict[str, Document], paper: SamplePaper
) -> None:
    doc = extracted[paper.stem]
    assert doc.has_references
    (refs,) = [s for s in doc.sections if s.kind == "references"]
    assert flat(paper.references[0]) in flat(refs.text)
    assert flat(paper.references[-1]) in flat(refs.text)
    body = " ".join(s.text for s in doc.body_sections())
    assert not any(ref[:40] in body for ref in paper.references)
    appendix = [s.heading for s in doc.sections if s.kind == "appendix"]
    assert appendix == [unnumbered(s.heading) for s in paper.appendix]


def test_pages_and_page_spans(extracted: dict[str, Document]) -> None:
    doc = extracted["sample-rag-evaluation"]
    assert (doc.pages, doc.pages_read) == (3, 3)
    spans = {s.heading: (s.page_start, s.page_end) for s in doc.sections}
    assert spans["Introduction"] == (1, 1)
    assert spans["Results"] == (1, 2)
    assert spans["Prompt Template"] == (3, 3)


def test_page_cap_stops_early(sample_pdfs: dict[str, Path]) -> None:
    doc = document(sample_pdfs["sample-rag-evaluation"], "capped", max_pages=1)
    assert (doc.pages, doc.pages_read) == (3, 1)
    assert not doc.has_references
    assert all(s.page_end == 1 for s in doc.sections)


def test_two_column_paragraph_runs_from_left_to_right_column(
    extracted: dict[str, Document], sample_pdfs: dict[str, Path]
) -> None:
    with pymupdf.open(sample_pdfs["sample-draft-trees"]) as pdf:
        end_left = pdf[0].search_for("narrow tree is ideal; in")
        start_right = pdf[0].search_for("the middle of an open-ended answer")
        middle = pdf[0].rect.width / 2
    assert end_left[0].x1 < middle < start_right[0].x0
    assert end_left[0].y0 > start_right[0].y0  # bottom of the left column, top of the right
    text = flat(extracted["sample-draft-trees"].sections[1].text)
    assert "a deep, narrow tree is ideal; in the middle of an open-ended answer" in text


def test_line_end_hyphen_is_mended(extracted: dict[str, Document]) -> None:
    text = " ".join(s.text for s in extracted["sample-draft-trees"].sections)
    assert "cumulative acceptance probability estimated" in text
    assert "controller is cheap" in text
    assert "proba-" not in text and "control-" not in text


# --- Pure helpers -----------------------------------------------------------------------


def test_mend_ligatures_hyphens_and_compounds() -> None:
    assert mend("e\ufb03cient \ufb01ne-tuning") == "efficient fine-tuning"
    assert mend("a represen-\ntation of self-\nattention") == "a representation of self-attention"
    assert mend("Visually-\nRich and GPT-\n4") == "Visually-Rich and GPT-4"
    assert mend("Re-\ntrieval is automatically-\ndetected") == "Retrieval is automatically-detected"
    assert mend("first\nparagraph\n\nsecond") == "first paragraph\n\nsecond"


def test_reading_order_two_columns_with_full_width_blocks() -> None:
    boxes = [
        (50, 50, 560),  # 0 title, full width
        (320, 100, 560),  # 1 right column, top
        (50, 100, 300),  # 2 left column, top
        (50, 400, 300),  # 3 left column, bottom
        (320, 400, 560),  # 4 right column, bottom
        (50, 600, 560),  # 5 full-width figure caption
        (50, 650, 300),  # 6 left column below the figure
    ]
    assert reading_order(boxes, 612) == [0, 2, 3, 1, 4, 5, 6]


def test_reading_order_one_column_is_top_to_bottom() -> None:
    boxes = [(72, 300, 540), (72, 100, 200), (72, 120, 540), (300, 700, 312)]
    assert reading_order(boxes, 612) == [1, 2, 0, 3]


def line(page: int, y: float, text: str, **kw) -> Line:
    return Line(page, kw.pop("block", 0), 72, y, 300, y + 10, text, kw.pop("size", 10.0), **kw)


def test_repeated_margin_text_and_page_numbers_are_dropped() -> None:
    lines = [
        line(1, 20, "Preprint. Under review.", zone="top"),
        line(1, 100, "Preprint. Under review."),  # same words in the body stay
        line(1, 770, "1", zone="bottom"),
        line(2, 20, "Preprint. Under review.", zone="top"),
        line(2, 30, "A top line seen once", zone="top"),
        line(2, 770, "Page 2 of 9", zone="bottom"),
    ]
    kept = [(x.page, x.text) for x in drop_running_text(lines)]
    assert kept == [(1, "Preprint. Under review."), (2, "A top line seen once")]


def test_sections_from_numbered_bold_headings() -> None:
    lines = [
        line(1, 100, "1 Introduction", bold=True, block=1),
        line(1, 112, "Some text.", block=2),
        line(1, 130, "2.1 Setup", bold=True, block=3),
        line(2, 100, "More text.", block=4),
        line(2, 120, "References", bold=True, block=5),
        line(2, 132, "[1] A. Author. A paper. 2020.", block=6),
        line(2, 150, "A Proofs", bold=True, block=7),
        line(2, 162, "Proof text.", block=8),
    ]
    found = [(s.heading, s.level, s.kind, s.page_start, s.page_end) for s in sections(lines, 10)]
    assert found == [
        ("Introduction", 1, "body", 1, 1),
        ("Setup", 2, "body", 1, 2),
        ("References", 1, "references", 2, 2),
        ("Proofs", 1, "appendix", 2, 2),
    ]


def test_line_end_hyphens_follow_the_documents_own_vocabulary() -> None:
    words = vocabulary([line(1, 100, "a representation of state-of-the-art Open-source models")])
    text = "represen-\ntation, state-of-the-\nart and Open-\nsource"
    assert mend(text, words) == "representation, state-of-the-art and Open-source"
    # Without evidence, a compound prefix keeps its hyphen and any other word is joined.
    assert mend("self-\nattention and Atten-\ntion") == "self-attention and Attention"
    # The joined form wins when the document uses it more often.
    words = vocabulary([line(1, 100, "pretraining pretraining pre-training")])
    assert mend("pre-\ntraining", words) == "pretraining"


def _word_counts_by_regex(text: str) -> Counter[str]:
    """What `word_counts` counts, the slow way: every `_WORD` match, then the pairs inside
    compounds of three words or more."""
    words = Counter(extract._WORD.findall(text.lower()))
    for compound, count in list(words.items()):
        parts = compound.split("-")
        for first, second in itertools.pairwise(parts):
            if len(parts) > 2 and first and second:
                words[f"{first}-{second}"] += count
    return words


_TOKEN = st.sampled_from(
    [
        "model",
        "Model,",
        "(see",
        "state-of-the-art",
        "(state-of-the-art)",
        "English-to-German,",
        "a-b",
        "x2",
        "GPT-4",
        "—",
        "“quoted”",
        "e.g.",
        "don't",
        "ﬁne",
        "self-",
        "-\n",
        "\n",
    ]
)


@settings(max_examples=300, deadline=None)
@given(tokens=st.lists(_TOKEN, max_size=12))
def test_property_word_counts_are_the_regexs_words(tokens: list[str]) -> None:
    # `word_counts` reads each distinct token once and most without the regex; the counts
    # must stay those of the regex over the whole text.
    text = " ".join(tokens)
    assert word_counts(text) == _word_counts_by_regex(text)


def test_wrapped_heading_is_read_whole() -> None:
    lines = [
        line(2, 180, "II. SELF-CONSISTENT ACTION IN THE", bold=True, block=7),
        line(2, 191, "LARGE z LIMIT", bold=True, block=8),
        line(2, 210, "Body text follows here.", block=9),
        line(3, 100, "3.1 Dilated Convolutions for Multicolumn Net-", bold=True, block=1),
        line(3, 111, "works", bold=True, block=1),
        line(3, 130, "More body text.", block=2),
    ]
    found = [(s.heading, s.text) for s in sections(lines, 10)]
    assert found == [
        ("SELF-CONSISTENT ACTION IN THE LARGE z LIMIT", "Body text follows here."),
        ("Dilated Convolutions for Multicolumn Networks", "More body text."),
    ]


def test_table_like_blocks() -> None:
    rows = ["Method Chat Code", "Baseline 3.1 3.4", "AdaTree (ours) 4.6 5.2"]
    assert table_like([line(1, 100 + 10 * i, row) for i, row in enumerate(rows)])
    assert table_like([line(1, 100, "81.2")])
    assert not table_like([line(1, 100, "We train for 3 epochs on 8 GPUs with batch size 64.")])
    assert not table_like([line(1, 100, "published in"), line(1, 110, "2019.")])


_CELLS = st.sampled_from(["81.2", "(3)", "-0.5%", "12,000", "±0.3", "2.8x", "BERT", "ours", "٣"])
_ROW_WORDS = st.one_of(_CELLS, st.text(st.characters(codec="utf-8"), min_size=1, max_size=5))


@settings(max_examples=300, deadline=None)
@given(words=st.lists(_ROW_WORDS, max_size=8))
def test_property_a_row_of_numbers_is_judged_by_its_words(words: list[str]) -> None:
    # `_number_row` rejects a line without two digit-bearing words before looking at each word;
    # the answer must stay the rule's: at least two numbers, and half the words or more.
    text = " ".join(" ".join(words).split())
    numbers = sum(1 for word in text.split() if extract._NUMBER.match(word))
    assert extract._number_row(text) == (numbers >= 2 and 2 * numbers >= len(text.split()))


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.lists(_ROW_WORDS, min_size=1, max_size=6), min_size=1, max_size=6))
def test_property_a_table_block_is_judged_by_all_its_lines(rows: list[list[str]]) -> None:
    # `table_like` stops reading a block once its answer is settled; the answer must stay the
    # rule's: every word a number, or at least two lines and half of them rows of numbers.
    texts = [" ".join(" ".join(words).split()) or "x" for words in rows]
    block = [line(1, 100 + 10 * i, text) for i, text in enumerate(texts)]
    numbers = all(extract._NUMBER.match(word) for text in texts for word in text.split())
    rows_of_numbers = sum(extract._number_row(text) for text in texts)
    expected = numbers or (len(block) >= 2 and 2 * rows_of_numbers >= len(block))
    assert table_like(block) == expected


def _spans_joined_one_by_one(spans: list[dict]) -> str:
    """How spans were joined before `_styled_text` read them in one pass: blank spans dropped,
    then a space at each visible gap."""
    spans = [span for span in spans if span["text"] and not span["text"].isspace()]
    text = ""
    for prev, span in zip([None, *spans], spans, strict=False):
        gap = span["bbox"][0] - prev["bbox"][2] if prev else 0
        if prev and gap > 0.15 * span["size"] and not text.endswith(" "):
            text += " "
        text += span["text"]
    return " ".join(text.split())


_SPAN = st.builds(
    lambda text, x0, width, size: {
        "text": text,
        "bbox": (x0, 0.0, x0 + width, 10.0),
        "size": size,
        "flags": 0,
        "font": "Times-Roman",
    },
    st.sampled_from(["word", "word ", " word", "a b", "x", "—", "ﬁ", " ", "", "\u2003"]),
    st.floats(0, 500),
    st.floats(0, 60),
    st.sampled_from([6.0, 9.5, 10.0, 14.0]),
)


@settings(max_examples=300, deadline=None)
@given(spans=st.lists(_SPAN, max_size=6))
def test_property_spans_join_with_a_space_at_each_visible_gap(spans: list[dict]) -> None:
    assert extract._styled_text(spans)[0] == _spans_joined_one_by_one(spans)


def _styled_text_tallied(spans: list[dict]) -> tuple[str, float, bool]:
    """What `_styled_text` gives, the plain way: every span's characters tallied by size and
    weight, whether or not the line has one style throughout."""
    kept = [span for span in spans if span["text"].strip()]
    if not kept:
        return "", 0.0, False
    chars: Counter[float] = Counter()
    for span in kept:
        chars[round(span["size"] * 2) / 2] += len(span["text"].strip())
    bold = sum(
        len(span["text"].strip())
        for span in kept
        if span["flags"] & 16
        or re.search(r"bold|black|heavy|semibold|medi|demi|\.b$", span["font"], re.I)
    )
    size = max(chars, key=chars.__getitem__)  # the first to reach the most, as before
    return _spans_joined_one_by_one(spans), size, bold >= 0.8 * chars.total()


_STYLED_SPAN = st.builds(
    lambda text, x0, size, flags, font: {
        "text": text,
        "bbox": (x0, 0.0, x0 + 20, 10.0),
        "size": size,
        "flags": flags,
        "font": font,
    },
    st.sampled_from(["word", "wide word", "x", " ", "", "ﬁ"]),
    st.floats(0, 100),
    st.sampled_from([6.9738, 9.9177, 9.9626, 10.0, 14.3462]),
    st.sampled_from([0, 4, 6, 16, 20]),
    st.sampled_from(["NimbusRomNo9L-Regu", "NimbusRomNo9L-Medi", "CMMI10", "Times-Bold"]),
)


@settings(max_examples=400, deadline=None)
@given(spans=st.lists(_STYLED_SPAN, max_size=7))
@example(spans=[{"text": "a", "bbox": (0, 0, 20, 10), "size": 10.0, "flags": 4, "font": "X"}] * 3)
def test_property_a_lines_size_and_weight_are_those_most_of_its_characters_have(
    spans: list[dict],
) -> None:
    # `_styled_text` tallies characters only on a line whose spans differ in size or font
    # (a third of them); the answer must stay the tally's.
    assert extract._styled_text(spans) == _styled_text_tallied(spans)


def test_lines_built_in_c_are_the_lines_the_constructor_builds() -> None:
    # `_line` and `merge_same_baseline` build each `Line` as a plain tuple of all its fields,
    # skipping the NamedTuple's Python `__new__`; what they build must be what it builds.
    span = {"text": "Results", "bbox": (72, 90, 120, 100), "size": 9.96, "flags": 16, "font": "T"}
    raw = {"spans": [span], "bbox": (72.0, 90.0, 120.0, 100.0)}
    built = extract._line(raw, 3, 2, 792.0)
    assert built == Line(3, 2, 72.0, 90.0, 120.0, 100.0, "Results", 10.0, True, "", 792.0)
    assert type(built) is Line and built.outline is None
    right = Line(3, 2, 130.0, 89.0, 200.0, 100.0, "and more", 9.0, False, "", 792.0)
    merged = extract.merge_same_baseline([built, right])
    assert merged == [built._replace(x1=200.0, y0=89.0, text="Results and more", bold=False)]
    assert type(merged[0]) is Line


def test_footnotes_dropped_before_the_references_only() -> None:
    note = {"size": 8.0, "block": 5}
    lines = [
        line(1, 100, "Body text with a mark.1", block=1),
        line(1, 700, "1Code is at https://example.org/code.", **note),
        line(1, 712, "and mirrored elsewhere.", **note),
        line(1, 300, "2 Small print high on the page is kept.", size=8.0, block=2),
        line(2, 100, "References", bold=True, block=1),
        line(2, 700, "1 A. Author. A paper. 2020.", size=8.0, block=2),
    ]
    kept = [x.text for x in drop_footnotes(lines, 10)]
    assert kept == [lines[0].text, lines[3].text, "References", lines[5].text]


def test_reference_list_without_a_heading_gets_one() -> None:
    small = {"size": 9.0, "block": 4}
    lines = [
        line(8, 100, "V. DISCUSSION", bold=True, size=9.0, block=1),
        line(8, 120, "We have presented a treatment.", block=2),
        line(8, 500, "1 D. C. Johnston, Adv. Phys. 59, 803 (2010).", **small),
        line(8, 510, "2 D. Jerome and H. J. Schulz, Adv. Phys. 31, 299 (1982).", **small),
        line(8, 60, "right column: the discussion goes on.", block=5),
    ]
    found = [(s.heading, s.kind, s.text) for s in sections(mark_references(lines, 10), 10)]
    assert found == [
        (
            "DISCUSSION",
            "body",
            "We have presented a treatment.\n\nright column: the discussion goes on.",
        ),
        ("References", "references", f"{lines[2].text} {lines[3].text}"),
    ]


# --- Broken PDFs --------------------------------------------------------------------------


def encrypted(path: Path) -> Path:
    return encrypted_pdf(path)


def image_only(path: Path) -> Path:
    doc = pymupdf.open()
    page = doc.new_page()
    page.draw_rect(pymupdf.Rect(72, 72, 300, 300), color=(0, 0, 0), fill=(0.5, 0.5, 0.5))
    pixmap = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 20, 20), False)
    page.insert_image(pymupdf.Rect(320, 72, 420, 172), pixmap=pixmap)
    doc.save(path)
    return path


def truncated(path: Path) -> Path:
    path.write_bytes(render(SAMPLE_PAPERS[0])[:600])
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b"") and p, "empty file (0 bytes); download the paper again"),
        (lambda p: p.write_text("just text") and p, "not a PDF (starts with b'just text')"),
        (lambda p: p.write_text("<html>Not available</html>") and p, "not a PDF (starts with"),
        (truncated, "not a PDF or corrupt; download the paper again"),
        (encrypted, "encrypted, a password is needed; save a copy without a password"),
        (image_only, "no extractable text (image-only PDF?); run OCR first"),
    ],
    ids=["zero-bytes", "text-file", "html-page", "truncated", "encrypted", "image-only"],
)
def test_unreadable_pdfs_raise_one_clear_error(tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "broken.pdf"
    make(path)
    with pytest.raises(ExtractError) as info:
        document(path, "2401.00001v1")
    error = info.value
    assert str(error) == f"{path}: {message}" or str(error).startswith(f"{path}: {message}")
    assert "\n" not in str(error)
    assert (error.paper_id, error.stage) == ("2401.00001v1", "extract")


def test_missing_file_is_an_extract_error(tmp_path: Path) -> None:
    with pytest.raises(ExtractError, match="file not found"):
        document(tmp_path / "gone.pdf", "gone")


def test_a_paper_is_read_with_the_cycle_collector_paused(
    sample_pdfs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Reading a paper makes tens of thousands of objects in no cycle, and the collector would
    # keep rescanning them; it is paused for the paper and on again after, error or not.
    collecting: list[bool] = []
    read_lines = extract.read_lines

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        collecting.append(gc.isenabled())
        return read_lines(*args, **kwargs)

    monkeypatch.setattr(extract, "read_lines", spy)
    path = next(iter(sample_pdfs.values()))
    assert document(path, "paper").sections
    assert collecting == [False] and gc.isenabled()
    with pytest.raises(ExtractError):
        document(tmp_path / "gone.pdf", "gone")
    assert gc.isenabled()
    gc.disable()  # a caller that paused it itself keeps it paused
    try:
        document(path, "paper")
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_500_page_pdf_is_read_up_to_the_page_cap(tmp_path: Path) -> None:
    pdf = pymupdf.open()
    for number in range(500):
        page = pdf.new_page()
        page.insert_text((72, 72), f"{number + 1} Chapter {number + 1}", fontsize=14)
        page.insert_text((72, 100), "Some text of a very long document. " * 2, fontsize=10)
    pdf.save(tmp_path / "long.pdf")
    started = time.perf_counter()
    doc = document(tmp_path / "long.pdf", "long", max_pages=60)
    assert (doc.pages, doc.pages_read) == (500, 60)
    assert max(s.page_end for s in doc.sections) == 60
    assert time.perf_counter() - started < 5  # about 0.1 s: pages past the cap are never read


def test_documents_in_processes_keep_order_and_errors(
    sample_pdfs: dict[str, Path], tmp_path: Path
) -> None:
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    paths = [sample_pdfs["sample-draft-trees"], empty, sample_pdfs["sample-rag-evaluation"]]
    first, broken, last = documents_in_processes(paths, max_pages=60, workers=2)
    assert isinstance(first, Document) and first.paper_id == "sample-draft-trees"
    assert isinstance(broken, ExtractError) and "empty file" in str(broken)
    assert (broken.paper_id, broken.stage) == ("empty", "extract")
    named = documents_in_processes(paths[:1], 1, workers=1, ids=["2401.00001v1"])
    assert [d.paper_id for d in named if isinstance(d, Document)] == ["2401.00001v1"]
    assert isinstance(last, Document) and last.pages == 3


def test_an_unexpected_error_fails_only_that_paper(tmp_path: Path, monkeypatch) -> None:
    from concurrent.futures import Future

    from pipeline.stages import extract

    def broken(path: Path, paper_id: str, **settings: object) -> None:
        raise IndexError("list index out of range")

    monkeypatch.setattr(extract, "document", broken)
    error = extract._document_or_error(tmp_path / "odd.pdf", "odd", 60, 16.0, local=False)
    assert isinstance(error, ExtractError) and error.paper_id == "odd"
    assert "extraction failed (IndexError" in str(error)

    died: Future = Future()
    died.set_exception(RuntimeError("A process in the process pool was terminated abruptly"))
    lost = extract._result(died, tmp_path / "odd.pdf", "odd")
    assert isinstance(lost, ExtractError) and "extraction crashed" in str(lost)


def test_a_line_end_hyphen_is_kept_when_the_paper_writes_the_longer_compound() -> None:
    from collections import Counter

    from pipeline.stages.extract import mend, word_counts

    words = word_counts("On the English-to-German and English-to-French tasks.")
    assert (
        mend("the WMT 2014 English-\nto-German task", words)
        == "the WMT 2014 English-to-German task"
    )
    assert mend("a new represen-\ntation", Counter({"representation": 1})) == "a new representation"


def test_lab_names_and_banners_are_not_taken_for_authors() -> None:
    from pipeline.stages.extract import _is_name

    assert _is_name("Ashish Vaswani") and _is_name("Madhu S. Advani")
    assert not _is_name("Google Brain") and not _is_name("A PREPRINT")


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.sampled_from(["a", "B", "é", "1", "_", "-", "\n", " ", "\t", ".", "-\n"]), max_size=16
    )
)
@example(["a", "-\n", "a", "-", "a", "-\n", "a"])  # a compound after a joined hyphen
@example(["a", "-\n", "B", "-\n", "a"])  # a capital after the first "-\n": the second joins
def test_property_line_end_hyphens_are_judged_where_the_whole_text_regex_finds_them(
    parts: list[str],
) -> None:
    # `_join_line_end_hyphens` tries `_LINE_END_HYPHEN` only around each "-\n"; it must make the
    # text `re.sub` over the whole text makes.
    text = "".join(parts)
    words = Counter({"a-a": 2, "aa": 1, "é-b": 1})

    def judged(match: re.Match[str]) -> str:
        return extract._join_hyphen(match, words)

    got = extract._join_line_end_hyphens(text, words)
    assert got == extract._LINE_END_HYPHEN.sub(judged, text)


def test_no_whitespace_but_the_space_is_printable() -> None:
    # `_single_spaced` relies on it: a printable text holds no tab, newline or wide space.
    chars = map(chr, range(sys.maxunicode + 1))
    assert [c for c in chars if c.isspace() and c.isprintable()] == [" "]


_SPACES = "ab \n\t\r\x0b\x1c\x85\u00a0\u2003\u2028\u3000\ue000\u00ad"


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from(_SPACES), max_size=12))
@example("a b\nb")  # single-spaced: the shortcut
@example("a ")
@example("\na")
def test_property_paragraph_text_is_single_spaced_as_split_and_join_make_it(text: str) -> None:
    assert extract._single_spaced(text) == " ".join(text.split())


@given(
    st.text(st.sampled_from("af \n\u00e9\ufb00\ufb01\ufb02\ufb03\ufb04\ufb05\ufb06"), max_size=20)
)
def test_property_ligatures_are_spelled_as_the_table_says(text: str) -> None:
    assert extract._spell_ligatures(text) == text.translate(extract.LIGATURES)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "é", "1", "_", "-", "\n", " ", ".", "-\n"]), max_size=12))
def test_property_a_line_end_hyphen_between_word_characters_is_kept_joined(parts: list[str]):
    # `_HYPHEN_BREAK` is the plain "(?<=\w)-\n(?=\w)" written to start with its "-" (faster)
    text = "".join(parts)
    assert extract._HYPHEN_BREAK.sub("-", text) == re.sub(r"(?<=\w)-\n(?=\w)", "-", text)
