"""Tables made of words stay out of the running text, keep their captions and are counted."""

from __future__ import annotations

from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from pipeline.stages.extract import document
from pipeline.tables import WORDS, Block, found
from tests.builders import PaperWriter

ROWS = [
    ["Dataset", "Domain", "Notes"],
    ["PubLayNet", "Science", "Layouts of modern scientific documents"],
    ["PRImA", "Magazines", "Layouts of scanned magazines and reports"],
    ["Newspaper", "History", "Layouts of scanned historical newspapers"],
    ["TableBank", "Office", "Table regions of office documents"],
]
COLUMNS = [72.0, 170.0, 270.0]
CAPTION = "Table 1: Current layout detection models in the model zoo."


def paper(path: Path, caption: bool = True) -> Path:
    w = PaperWriter()
    w.line([("Layout Models Without Tears", "tibo", 18)])
    w.line([("Abstract", "tibo", 11)], gap=12)
    w.prose()
    w.line([("1 Introduction", "tibo", 12)], gap=12)
    w.prose()
    if caption:
        w.line([(CAPTION, "tiro", 9)], gap=10)
    for k, cells in enumerate(ROWS):
        w.row(cells, COLUMNS, gap=6 if k == 0 else 0)
    w.prose(gap=14)
    w.line([("2 Method", "tibo", 12)], gap=12)
    w.prose()
    return w.save(path)


def test_word_table_next_to_its_caption_is_kept_out_of_the_text(tmp_path: Path) -> None:
    doc = document(paper(tmp_path / "table.pdf"), "table")
    text = "\n".join(s.text for s in doc.sections)
    for cells in ROWS:
        for cell in cells:
            assert cell not in text
    assert doc.captions == [CAPTION]
    assert doc.tables == 1
    assert [s.heading for s in doc.sections] == ["Abstract", "Introduction", "Method"]
    intro = doc.sections[1].text
    assert intro.count("Retrieval augmented generation grounds") == 2  # prose around it stays


def test_words_in_columns_without_a_table_caption_stay(tmp_path: Path) -> None:
    doc = document(paper(tmp_path / "plain.pdf", caption=False), "plain")
    assert "Layouts of scanned magazines" in doc.sections[1].text
    assert doc.tables == 0


STACKED = [
    Block(72, 100, 540, 160, "text"),  # 0 prose above
    Block(72, 170, 540, 180, "caption"),  # 1 "Table 2: ..."
    Block(72, 190, 540, 230, "grid"),  # 2 the table under its caption
    Block(72, 235, 110, 245, "label"),  # 3 a row label inside the table
    Block(120, 235, 540, 260, "numbers"),  # 4 more of the table
    Block(72, 280, 540, 400, "text"),  # 5 prose under the table
    Block(72, 410, 540, 440, "grid"),  # 6 a grid far from any caption
]


def test_table_blocks_are_stacked_next_to_the_caption() -> None:
    blocks = STACKED
    assert found(blocks) == ({2, 3, 4}, 1)
    assert found([b for b in blocks if b.kind != "caption"]) == (set(), 0)


_KINDS = st.sampled_from(["caption", "numbers", "grid", "label", "text"])
_BLOCK = st.builds(
    lambda x0, y0, width, height, kind: Block(x0, y0, x0 + width, y0 + height, kind),
    st.sampled_from([72.0, 110.0, 310.0]),
    st.floats(0, 700),
    st.sampled_from([20.0, 230.0, 470.0]),
    st.floats(8, 60),
    _KINDS,
)


@settings(max_examples=300, deadline=None)
@given(blocks=st.lists(_BLOCK, max_size=12))
@example(blocks=STACKED)
def test_property_blocks_of_words_told_apart_only_when_reached_find_the_same_tables(
    blocks: list[Block],
) -> None:
    # `found` asks a block of words for its layout (grid, label, text) only when a table's
    # search reaches it; the tables must be those found knowing every block's kind.
    words = [b._replace(kind=WORDS) if b.kind in ("grid", "label", "text") else b for b in blocks]
    asked: list[int] = []

    def layout(i: int) -> str:
        asked.append(i)
        return blocks[i].kind

    assert found(words, layout) == found(blocks)
    assert len(asked) == len(set(asked))  # each block told apart once at most
    if not any(b.kind == "caption" for b in blocks):
        assert asked == []
