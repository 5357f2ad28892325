"""A deep read within `reading.budget`, chosen by section role (issue 12), and `--depth full`.

The selection is checked on real corpus papers (skipped when the corpus is absent): what it
keeps, what it leaves out, the numbers of the abstract and the conclusion, the budget. Then a
long paper read both ways through the chunk stage and the real summarize code, the cache key,
the flag, and what the report says each summary was read from.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pipeline import evaluation, reading
from pipeline.cli import build_parser
from pipeline.commands.flags import settings_from
from pipeline.models import Chunks, Document, PaperMeta
from pipeline.prompts import default_prompts_dir, load_prompt
from pipeline.stages.chunk import Chunking, budgeted_chunks, role_parts
from pipeline.stages.extract import document
from pipeline.stages.summarize import paper_text, summary_record
from pipeline.tokens import Tokenizer, tokenizer_for
from tests.fakes.scripted_llm import ScriptedLLM
from tests.project import Project, answer

TOKENIZER = tokenizer_for("llama3")  # the bundled encoding: no network
CORPUS = evaluation.corpus_dir()
needs_corpus = pytest.mark.skipif(
    evaluation.ground_truth(CORPUS) is None, reason=f"no corpus at {CORPUS}"
)
# Six shapes: a short classic, related work and back matter at the end, a long paper with
# method and results under other top-level headings, a code-model report with many results
# sections, a systems paper, and an HCI paper with user studies and a limitations section.
PAPERS = (
    "1706.03762v7",
    "2005.11401_neurips",
    "2212.08073v1",
    "2405.04324v1",
    "2201.05281v2",
    "2302.07302v1",
)
# Papers whose conclusions state numbers of their own (a circuit's measured currents, a
# cosmological model's parameters), beside the abstracts of all of them.
STATING = ("2201.13352v1", "0807.3577_jcap", "1804.07821v1")
BUDGET = 4500


@pytest.fixture(scope="module")
def documents() -> dict[str, Document]:
    names = PAPERS + STATING
    return {name: document(CORPUS / "pdfs" / f"{name}.pdf", name) for name in names}


def read(doc: Document, budget: int = BUDGET) -> Chunks:
    return budgeted_chunks(doc, tokenizer=TOKENIZER, budget=budget)


@needs_corpus
@pytest.mark.parametrize("name", PAPERS)
def test_a_budgeted_read_fits_the_budget_and_keeps_what_a_summary_needs(
    documents: dict[str, Document], name: str
):
    doc = documents[name]
    selected = read(doc)
    # what the model is sent, section headings included, overlaps between chunks not
    assert TOKENIZER.count(paper_text(selected.chunks)) <= BUDGET
    roles = {reading.role_of(c.section_path) for c in selected.chunks}
    assert {reading.Role.ABSTRACT, reading.Role.INTRODUCTION} <= roles
    assert roles & {reading.Role.METHOD, reading.Role.RESULTS}
    assert roles & {reading.Role.CONCLUSION, reading.Role.DISCUSSION, reading.Role.LIMITATIONS}
    assert selected.read_from[0] == "Abstract"
    # these papers are longer than the budget: nothing of related work or back matter is read
    left_out = {reading.Role.RELATED, reading.Role.BACK, reading.Role.APPENDIX}
    assert not roles & left_out
    assert "References" not in paper_text(selected.chunks)


@needs_corpus
def test_the_rag_paper_is_read_from_its_contributions_method_results_and_discussion(
    documents: dict[str, Document],
):
    selected = read(documents["2005.11401_neurips"])
    assert selected.read_from[:3] == [
        "Abstract",
        "Introduction (contributions)",
        "Methods (overview)",
    ]
    assert "Discussion" in selected.read_from
    assert any(entry.startswith("Results") for entry in selected.read_from)
    assert {"Related Work", "Broader Impact", "Acknowledgments"} <= set(selected.omitted_sections)
    text = paper_text(selected.chunks)
    assert "We showed that our RAG models obtain state of the art results" in text  # its end
    assert "Table 1:" in text  # a table caption, with the results it reports


@needs_corpus
def test_the_numbers_of_the_abstract_and_conclusion_are_kept(documents: dict[str, Document]):
    kept = stated = 0
    for doc in documents.values():
        k, s = reading.numbers_kept(role_parts(doc), paper_text(read(doc).chunks))
        kept, stated = kept + k, stated + s
    assert stated >= 30 and kept >= 0.95 * stated


@needs_corpus
def test_a_short_budget_still_reads_the_abstract_and_the_conclusion_first(
    documents: dict[str, Document],
):
    selected = read(documents["1706.03762v7"], budget=600)
    assert TOKENIZER.count(paper_text(selected.chunks)) <= 600
    assert selected.read_from[0] == "Abstract"
    assert any(entry.startswith("Conclusion") for entry in selected.read_from)


@needs_corpus
def test_depth_full_reads_a_long_paper_by_map_reduce_and_budget_in_one_call(
    documents: dict[str, Document],
):
    doc = documents["2201.05281v2"]  # 17k tokens of body
    params = {"max_tokens": 1200, "overlap": 100, "paper_budget": 40000, "budget": BUDGET}
    prompts = {t: load_prompt(default_prompts_dir(), t) for t in ("summarize", "notes")}
    meta = PaperMeta(id=doc.paper_id, title=doc.title, abstract=doc.abstract)
    tasks = {}
    for depth in ("full", "budget"):
        chunks = Chunking().compute(document=doc, depth=depth, encoding=TOKENIZER.name, **params)
        llm = ScriptedLLM(answer)
        record = asyncio.run(summary_record(meta, chunks, prompts, llm, interests=""))
        tasks[depth] = [call.task for call in llm.calls]
        assert record.summary.summary
    assert tasks["budget"] == ["summarize"]
    assert tasks["full"].count("notes") > 5 and tasks["full"][-1] == "summarize"


def test_the_depth_flag_sets_the_reading_depth(tmp_path: Path):
    config = tmp_path / "paperbrief.toml"
    config.write_text('[reading]\ndepth = "budget"\n')
    parse = build_parser().parse_args
    assert settings_from(parse(["run", "--config", str(config)])).reading.depth == "budget"
    args = parse(["run", "--config", str(config), "--depth", "full"])
    assert settings_from(args).reading.depth == "full"


def test_the_budget_and_the_depth_are_in_the_chunk_key(tmp_path: Path, papers: Path):
    day = Project(tmp_path, papers)
    day.run()
    for flags in ({"reading.budget": 3000}, {"reading.depth": "full"}):
        record = day.run(**flags)
        assert record.stages["chunk"].misses == record.papers, flags
        assert record.stages["chunk"].misses > 0


def test_the_report_says_what_each_summary_was_read_from(tmp_path: Path, papers: Path):
    day = Project(tmp_path, papers)
    day.run(**{"reading.top": 2})
    data = json.loads((day.folder() / "summaries.json").read_text())
    read_from = [paper["read_from"] for paper in data["papers"]]
    assert len(read_from) == 2 and all(r and r[0] == "Abstract" for r in read_from)
    line = f"*Read from: {', '.join(read_from[0])}.*"
    assert line in day.report()
    html = (day.folder() / "summaries.html").read_text()
    assert "<dt>Read from</dt><dd>Abstract, " in html


def test_an_abstract_inside_unheaded_front_matter_is_read_first():
    # Title, authors and abstract in one front section headed by the title: the abstract is
    # still the first thing a tight budget keeps, not front matter read after the rest.
    from pipeline.models import Section

    abstract = "We study widgets. Our method improves accuracy by 12.5% on WidgetBench."
    filler = " ".join(["This sentence is filler text about widget methods."] * 40)
    sections = [
        Section(
            heading="A Study of Widgets",
            page_start=1,
            page_end=1,
            kind="front",
            text=f"A Study of Widgets\n\nAlice, Bob (MIT)\n\n{abstract}",
        ),
        *(
            Section(heading=h, page_start=1, page_end=1, text="\n\n".join([filler] * 4))
            for h in ("1 Introduction", "2 Method", "3 Experiments", "4 Conclusion")
        ),
    ]
    document = Document(
        paper_id="x",
        title="A Study of Widgets",
        abstract=abstract,
        sections=sections,
        pages=4,
        pages_read=4,
    )
    read = budgeted_chunks(document, tokenizer=TOKENIZER, budget=400)
    assert abstract in "\n".join(chunk.text for chunk in read.chunks)
    assert read.read_from[0] == "Abstract"


@dataclass(frozen=True)
class _CountingTokenizer(Tokenizer):
    """The real tokenizer, noting every text it encodes."""

    encoded: list[str] = field(default_factory=list)

    def encode(self, text: str) -> list[int]:
        self.encoded.append(text)
        return super().encode(text)


def _parts_with_related_work_and_an_appendix() -> list[reading.Part]:
    def part(heading: str, role: reading.Role, paragraphs: int, word: str) -> reading.Part:
        paragraph = " ".join([f"The {word} sentence says one thing about widgets."] * 12)
        return reading.Part(heading, [heading], role, [paragraph] * paragraphs)

    return [
        part("Abstract", reading.Role.ABSTRACT, 1, "abstract"),
        part("1 Introduction", reading.Role.INTRODUCTION, 3, "introduction"),
        part("2 Related Work", reading.Role.RELATED, 3, "related"),
        part("3 Method", reading.Role.METHOD, 3, "method"),
        part("4 Conclusion", reading.Role.CONCLUSION, 1, "conclusion"),
        part("A Proofs", reading.Role.APPENDIX, 2, "appendix"),
    ]


def test_related_work_and_appendices_are_not_counted_when_the_budget_ends_before_them():
    # They are read only when everything before them fitted: a paper whose budget ran out on
    # its method need not tokenize them (a fifth of what a paper's selection used to count).
    parts = _parts_with_related_work_and_an_appendix()
    tokenizer = _CountingTokenizer(TOKENIZER.name, TOKENIZER.fallback, TOKENIZER.requested)
    picked = reading.select(parts, tokenizer, 600)
    assert picked.omitted == [
        "1 Introduction (part)",
        "2 Related Work",
        "3 Method (part)",
        "A Proofs",
    ]
    assert picked.read_from == [
        "Abstract",
        "1 Introduction (contributions)",
        "3 Method (overview)",
        "4 Conclusion",
    ]
    assert tokenizer.encoded and not any(
        "related" in text or "appendix" in text for text in tokenizer.encoded
    )


def test_related_work_and_appendices_fill_a_budget_the_rest_fitted_into():
    parts = _parts_with_related_work_and_an_appendix()
    picked = reading.select(parts, TOKENIZER, 100_000)
    assert picked.omitted == []
    assert [path for path, _ in picked.sections] == [part.path for part in parts]
    assert picked.read_from == [part.heading for part in parts]
    # what the whole paper costs: its units, a join before each, each heading line once
    join = TOKENIZER.count(f"\n\n{reading.GAP}\n\n")
    headings = sum(TOKENIZER.count(f"\n## {part.heading}\n") + 1 for part in parts)
    whole = picked.tokens + join * sum(len(part.paragraphs) for part in parts) + headings
    assert reading.select(parts, TOKENIZER, whole).omitted == []
    smaller = reading.select(parts, TOKENIZER, whole - 10)  # the appendix's last unit left out
    assert smaller.omitted == ["A Proofs (part)"]
    assert smaller.read_from[-1] == "A Proofs (excerpts)"
