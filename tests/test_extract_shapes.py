"""Paper shapes extraction must hold on without having seen them (issue 13), as PDFs drawn here:
headings in the body font, outlines that are partial or one page off, an unlabelled abstract on
page 2, a title whose short name is set in another font."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from pipeline.models import Document
from pipeline.numbering import follows, parts
from pipeline.stages.extract import Line, abstract_span, document, front_matter, sections
from tests.builders import PROSE, PaperWriter, small_caps

TITLE = "Retrieval-Augmented Generation for Large Language Models: A Survey"
SURVEY = ["I. Introduction", "II. Overview of RAG", "III. Retrieval", "IV. Generation"]
SUBSECTIONS = ["A. Naive RAG", "B. Advanced RAG"]


def headings(doc: Document) -> list[tuple[str, int]]:
    return [(s.heading, s.level) for s in doc.sections if s.kind != "front"]


def front(w: PaperWriter, title: str = TITLE) -> None:
    w.line([(title[:45], "tiro", 20)])
    w.line([(title[45:], "tiro", 20)])
    w.line("Ada Lovelace, Alan Turing and Grace Hopper", gap=10)
    w.line("Department of Computing, University of Somewhere", gap=2)
    w.line(
        [("Abstract.", "tibo", 9), ("Large language models are strong yet hallucinate.", "tiro", 9)]
    )
    w.prose(PROSE[:240], width=110)


def survey(path: Path, toc: bool = False, stray: str = "") -> Path:
    """IEEE style: headings in small capitals in the body font, one word per span."""
    w = PaperWriter()
    front(w)
    entries = []
    for heading in SURVEY:
        page = w.line(small_caps(heading), gap=10)
        entries.append([1, heading, page])
        for _ in range(2):
            w.prose()
        if heading == SURVEY[1]:  # IEEE subsections: a letter, italic, in the body size
            for sub in SUBSECTIONS:
                page = w.line([(sub, "tiit", 10)], gap=8)
                entries.append([2, sub, page])
                w.prose()
        if stray and heading == SURVEY[1]:
            w.line(small_caps(stray), gap=10)  # capitals, numbered, out of sequence
            w.prose()
    w.line(small_caps("References"), gap=10)
    w.line("[1] A. Author, A paper about retrieval. In Proceedings, 2020.", gap=4)
    return w.save(path, toc=entries if toc else None)


@pytest.mark.parametrize("toc", [False, True], ids=["layout", "outline"])
def test_small_caps_roman_headings_in_the_body_font(tmp_path: Path, toc: bool) -> None:
    doc = document(survey(tmp_path / "survey.pdf", toc=toc), "survey")
    want = [(h, 1) for h in ["INTRODUCTION", "OVERVIEW OF RAG", "RETRIEVAL", "GENERATION"]]
    if toc:  # only the outline knows the italic subsections
        want[2:2] = [("Naive RAG", 2), ("Advanced RAG", 2)]
    assert headings(doc) == [*want, ("REFERENCES", 1)]
    overview = next(s for s in doc.sections if s.heading == "OVERVIEW OF RAG")
    assert overview.text.startswith("Retrieval augmented generation grounds")
    assert [s.kind for s in doc.sections[1:]] == ["body"] * len(want) + ["references"]


def test_body_font_capitals_out_of_sequence_are_not_headings(tmp_path: Path) -> None:
    doc = document(survey(tmp_path / "survey.pdf", stray="VII. Note on scope"), "survey")
    assert [h for h, _ in headings(doc)] == [
        "INTRODUCTION",
        "OVERVIEW OF RAG",
        "RETRIEVAL",
        "GENERATION",
        "REFERENCES",
    ]
    assert "VII. NOTE ON SCOPE" in next(
        s.text for s in doc.sections if s.heading == "OVERVIEW OF RAG"
    )


PLAIN = ["Introduction", "Method Overview", "Experimental Results", "Closing Remarks"]


def plain_headings(path: Path, offset: int = 0, levels: bool = False) -> Path:
    """Headings the layout cannot tell from body text (same font and size, mixed case, on a
    line of their own); only the outline names them, its pages `offset` off."""
    w = PaperWriter()
    front(w, "Outline Driven Sections in a Plain Manuscript")
    entries = []
    for k, heading in enumerate(PLAIN):
        if k:
            w.new_page()
        page = w.line(heading, gap=12)
        entries.append([1, heading, max(1, page + offset)])
        w.prose()
        if levels:
            page = w.line(f"{k + 1}.1 Details of {heading.lower()}", gap=12)
            entries.append([2, f"Details of {heading.lower()}", page])
        w.prose()
    return w.save(path, toc=entries)


@pytest.mark.parametrize("offset", [0, 1, -1], ids=["exact", "one-late", "one-early"])
def test_outline_entries_are_found_even_one_page_off(tmp_path: Path, offset: int) -> None:
    doc = document(plain_headings(tmp_path / "plain.pdf", offset), "plain")
    assert headings(doc) == [(h, 1) for h in PLAIN]
    assert [s.page_start for s in doc.sections if s.kind == "body"] == [1, 2, 3, 4]


def test_outline_levels_give_the_hierarchy(tmp_path: Path) -> None:
    doc = document(plain_headings(tmp_path / "plain.pdf", levels=True), "plain")
    want = [(h, 1) for h in PLAIN]
    for k, h in enumerate(PLAIN):
        want.insert(2 * k + 1, (f"Details of {h.lower()}", 2))
    assert headings(doc) == want


def test_without_an_outline_plain_headings_stay_text(tmp_path: Path) -> None:
    # The layout alone has no reason to call these lines headings; the outline is what did.
    path = plain_headings(tmp_path / "plain.pdf")
    with pymupdf.open(path) as pdf:
        pdf.set_toc([])
        pdf.save(tmp_path / "bare.pdf")
    assert headings(document(tmp_path / "bare.pdf", "bare")) == []


def top_level_outline(path: Path) -> Path:
    """Bold numbered headings and subheadings; the outline lists only the top level and one
    entry it cannot be matched to."""
    w = PaperWriter()
    front(w, "A Paper Whose Outline Lists Only Its Sections")
    entries = []
    for k, heading in enumerate(["Introduction", "Approach", "Evaluation"], start=1):
        page = w.line([(f"{k} {heading}", "tibo", 12)], gap=12)
        entries.append([1, heading, page])
        w.prose()
        w.line([(f"{k}.1 First part of {heading.lower()}", "tibo", 10)], gap=8)
        w.prose()
        w.line([(f"{k}.2 Second part", "tibo", 10)], gap=8)
        w.prose()
    entries.append([1, "An entry printed nowhere", 1])
    return w.save(path, toc=entries)


def test_outline_of_the_top_level_only_keeps_numbered_subsections(tmp_path: Path) -> None:
    doc = document(top_level_outline(tmp_path / "top.pdf"), "top")
    assert headings(doc) == [
        ("Introduction", 1),
        ("First part of introduction", 2),
        ("Second part", 2),
        ("Approach", 1),
        ("First part of approach", 2),
        ("Second part", 2),
        ("Evaluation", 1),
        ("First part of evaluation", 2),
        ("Second part", 2),
    ]


def test_numbering_sequence() -> None:
    assert parts("IV") == ("roman", (4,)) and parts("B.2") == ("letter", (2, 2))
    assert parts("3.1") == ("arabic", (3, 1)) and parts("") is None
    assert follows(None, (1,)) and follows(None, (1, 1))
    assert not follows(None, (7,))
    assert follows((1,), (2,)) and follows((2,), (2, 1)) and follows((2, 4), (3,))
    assert not follows((2,), (4,)) and not follows((2,), (2, 2)) and not follows((2, 1), (2,))


MANUSCRIPT_ABSTRACT = (
    "Journal manuscripts are often double spaced and put the abstract alone on the second "
    "page, with no label above it. We describe how such a paragraph can still be read as the "
    "abstract: it is the first substantial paragraph after the title, the authors and their "
    "affiliations. The same paper also shows why an author line is never a section heading, "
    "even when it is set larger than the body text of the paper."
)


def manuscript(path: Path) -> Path:
    """Page 1: title, authors set larger than the body, affiliations; page 2: the abstract,
    double spaced and unlabelled, then the sections."""
    w = PaperWriter(leading=2.0)
    w.line([("Reading Double Spaced Manuscripts", "tibo", 16)], gap=120)
    w.line([("Maria Garcia and John Smith", "tiro", 13)], gap=20)
    w.line([("Department of Physics, University of Somewhere, Springfield", "tiit", 10)])
    w.line([("Corresponding author: maria.garcia@example.org", "tiro", 10)], gap=6)
    w.new_page()
    w.prose(MANUSCRIPT_ABSTRACT, width=90)
    w.line("Keywords: manuscripts; abstracts; layout", gap=12)
    for heading in ["1. Introduction", "2. Methods", "3. Results"]:
        w.line([(heading, "tibo", 10)], gap=14)
        w.prose()
    return w.save(path, title="Microsoft Word - draft3.docx")


def test_unlabelled_abstract_on_page_2_and_no_author_heading(tmp_path: Path) -> None:
    doc = document(manuscript(tmp_path / "manuscript.pdf"), "manuscript")
    assert doc.title == "Reading Double Spaced Manuscripts"
    assert doc.abstract == MANUSCRIPT_ABSTRACT
    assert doc.sections[0].heading == "Abstract" and doc.sections[0].page_start == 2
    assert headings(doc) == [("Introduction", 1), ("Methods", 1), ("Results", 1)]


def test_an_author_above_an_affiliation_is_not_a_heading() -> None:
    def line(y: float, text: str, size: float = 10.0, block: int = 1) -> Line:
        return Line(1, block, 320, y, 540, y + size, text, size)

    lines = [
        line(100, "Jonathan Ventura", 12.0),
        line(114, "University of Colorado Colorado Springs", 12.0),
        line(140, "Counting objects in images is a common problem in vision.", block=2),
        line(170, "Related Research", 12.0, block=3),
        line(184, "Earlier counting methods regress a density map.", block=4),
    ]
    assert [s.heading for s in sections(lines, 10.0)] == ["Front matter", "Related Research"]


PASA = "PaSa: An LLM Agent for Comprehensive Academic Paper Search"
TITLES = {
    # the short name in a larger sans-serif font, on the title's first line
    "name-beside": [
        [("PaSa: ", "hebo", 20), ("An LLM Agent for Comprehensive Academic", "tibo", 17)],
        [("Paper Search", "tibo", 17)],
    ],
    # the name alone on a line in much larger type, the title under it
    "name-above": [[("PaSa:", "hebo", 24)], [(PASA[6:], "tibo", 16)]],
    # a line break in another size
    "smaller-last-line": [[(PASA[:36], "tibo", 17)], [(PASA[37:], "tibo", 14)]],
}


def titled(path: Path, title_lines: list, metadata: str = "Microsoft Word - draft3.docx") -> Path:
    w = PaperWriter()
    for pieces in title_lines:
        w.line(pieces)
    w.line("Yichen He, Guanhua Huang and Peiyuan Feng", gap=10)
    w.line([("Abstract", "tibo", 12)], gap=12)
    w.prose()
    w.line([("1 Introduction", "tibo", 12)], gap=12)
    w.prose()
    return w.save(path, title=metadata)


@pytest.mark.parametrize("shape", sorted(TITLES))
def test_title_across_fonts_and_sizes(tmp_path: Path, shape: str) -> None:
    doc = document(titled(tmp_path / "t.pdf", TITLES[shape]), "t")
    assert doc.title == PASA
    assert doc.abstract.startswith("Retrieval augmented generation")
    assert headings(doc) == [("Introduction", 1)]


def test_metadata_title_confirms_but_is_never_taken_on_trust(tmp_path: Path) -> None:
    # The second line is set so much smaller that the layout alone stops after the first.
    lines = [[("Long Titles Sometimes Shrink", "tibo", 20)], [("on Their Last Line", "tibo", 13)]]
    alone = document(titled(tmp_path / "a.pdf", lines, metadata=""), "a")
    assert alone.title == "Long Titles Sometimes Shrink"
    full = "Long Titles Sometimes Shrink on Their Last Line"
    assert document(titled(tmp_path / "b.pdf", lines, metadata=full), "b").title == full
    # A metadata title that page 1 does not print is ignored.
    wrong = document(titled(tmp_path / "c.pdf", lines, metadata="A Different Paper Entirely"), "c")
    assert wrong.title == "Long Titles Sometimes Shrink"


def test_outline_prefers_the_line_set_apart_as_a_heading(tmp_path: Path) -> None:
    # On the page the outline names, "Results." also ends a wrapped sentence of the text.
    w = PaperWriter()
    front(w, "Where the Outline Points")
    w.line([("Introduction", "tibo", 11)], gap=12)
    w.line("Before the numbers we describe the setting, and after that the", gap=4)
    w.line("Results.")
    w.prose()
    w.line([("Results", "tibo", 11)], gap=12)
    w.prose()
    w.line([("Conclusion", "tibo", 11)], gap=12)
    w.prose()
    toc = [[1, "Introduction", 1], [1, "Results", 1], [1, "Conclusion", 1]]
    doc = document(w.save(tmp_path / "apart.pdf", toc=toc), "apart")
    assert headings(doc) == [("Introduction", 1), ("Results", 1), ("Conclusion", 1)]
    assert doc.sections[1].text.startswith("Before the numbers")
    assert "and after that the Results." in doc.sections[1].text


def test_an_outline_of_the_appendix_only_leaves_the_body_headings_alone(tmp_path: Path) -> None:
    w = PaperWriter()
    front(w, "An Outline That Lists Only the Appendix")
    for heading in ["Introduction", "Approach", "Evaluation", "References"]:
        w.line([(heading, "tibo", 12)], gap=12)
        w.prose()
    toc = []
    for heading in ["A Proofs", "B Extra Results", "C Prompts"]:
        toc.append([1, heading, w.line([(heading, "tibo", 12)], gap=12)])
        w.prose()
    doc = document(w.save(tmp_path / "appendix.pdf", toc=toc), "appendix")
    assert [(s.heading, s.kind) for s in doc.sections if s.kind != "front"] == [
        ("Introduction", "body"),
        ("Approach", "body"),
        ("Evaluation", "body"),
        ("References", "references"),
        ("Proofs", "appendix"),
        ("Extra Results", "appendix"),
        ("Prompts", "appendix"),
    ]


def test_the_feed_reads_the_same_title_and_abstract(tmp_path: Path) -> None:
    # `front_matter` (the feed's cheap read of the first pages) agrees with `document`.
    papers = [
        manuscript(tmp_path / "manuscript.pdf"),
        titled(tmp_path / "pasa.pdf", TITLES["name-above"]),
        survey(tmp_path / "survey.pdf", toc=True),
    ]
    for path in papers:
        doc, front_page = document(path, "p"), front_matter(path, "p")
        assert (front_page.title, front_page.abstract) == (doc.title, doc.abstract)
        assert front_page.abstract
    assert front_matter(papers[0], "p").authors == ["Maria Garcia", "John Smith"]


def springer(path: Path) -> Path:
    """LNCS style: numbered affiliations in small print under the authors; the reference list,
    with its heading, on a later page."""
    w = PaperWriter()
    w.line([("A Toolkit for Document Image Analysis", "tibo", 14)])
    w.line("Zejiang Shen, Ruochen Zhang and Melissa Dell", gap=8)
    for k, place in enumerate(["Allen Institute for AI", "Brown University", "Harvard"], 1):
        w.line([(f"{k} {place}", "tiro", 9)])
    w.line([("Abstract.", "tibo", 9), (" Recent advances in document image analysis.", "tiro", 9)])
    w.line([("1 Introduction", "tibo", 12)], gap=12)
    w.prose()
    w.new_page()
    w.line([("References", "tibo", 12)], gap=12)
    w.line([("1. A. Author: A paper about layouts. In: Proceedings (2020)", "tiro", 9)])
    return w.save(path)


def test_numbered_affiliations_are_not_a_reference_list(tmp_path: Path) -> None:
    # With the page cap short of the references, the affiliations "1 Allen Institute for AI",
    # "2 Brown University" once passed for a reference list without a heading, and the whole
    # paper became references.
    doc = document(springer(tmp_path / "lncs.pdf"), "lncs", max_pages=1)
    assert [(s.heading, s.kind) for s in doc.sections] == [
        ("Abstract", "front"),
        ("Introduction", "body"),
    ]
    assert not doc.has_references


def test_a_caption_is_never_the_unlabelled_abstract() -> None:
    def line(y: float, text: str, size: float = 10.0, block: int = 1) -> Line:
        return Line(1, block, 72, y, 540, y + size, text, size)

    caption = "Table 1. Results of every model on every benchmark we ran, " * 5
    abstract = "We study how retrieval and generation interact in large corpora today. " * 5
    lines = [
        line(80, "A Paper Without an Abstract Label", 16.0, block=0),
        line(120, caption.strip(), block=1),
        line(160, abstract.strip(), block=2),
    ]
    start, end, text = abstract_span(lines, 10.0, [0])
    assert (start, end, text) == (2, 3, abstract.strip())
