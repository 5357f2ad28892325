"""Tables made of words stay out of the running text, keep their captions and are counted."""

from __future__ import annotations

from pathlib import Path

from pipeline.stages.extract import document
from pipeline.tables import Block, found
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


def test_table_blocks_are_stacked_next_to_the_caption() -> None:
    blocks = [
        Block(72, 100, 540, 160, "text"),  # 0 prose above
        Block(72, 170, 540, 180, "caption"),  # 1 "Table 2: ..."
        Block(72, 190, 540, 230, "grid"),  # 2 the table under its caption
        Block(72, 235, 110, 245, "label"),  # 3 a row label inside the table
        Block(120, 235, 540, 260, "numbers"),  # 4 more of the table
        Block(72, 280, 540, 400, "text"),  # 5 prose under the table
        Block(72, 410, 540, 440, "grid"),  # 6 a grid far from any caption
    ]
    assert found(blocks) == ({2, 3, 4}, 1)
    assert found([b for b in blocks if b.kind != "caption"]) == (set(), 0)
