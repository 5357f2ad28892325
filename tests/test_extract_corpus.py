"""Extraction quality on the shared corpus of real arXiv papers, against the issue's targets.

Skipped when the corpus is absent. `scripts/eval_extract.py` prints the same scores per paper and
`scripts/bench_extract.py` the same speed ratio; a regression on any target fails here.
"""

from __future__ import annotations

import pytest

from pipeline import evaluation
from pipeline.errors import ExtractError
from pipeline.evaluation import PaperScore
from pipeline.stages.extract import document

CORPUS = evaluation.corpus_dir()
needs_corpus = pytest.mark.skipif(
    evaluation.ground_truth(CORPUS) is None, reason=f"no corpus at {CORPUS}"
)
METRICS = ["title exact", "abstract F1", "heading recall", "heading precision", "refs leakage"]


@pytest.fixture(scope="module")
def scores() -> list[PaperScore]:
    return evaluation.score_corpus(CORPUS, document, evaluation.page_texts)


@needs_corpus
def test_every_corpus_paper_extracts(scores: list[PaperScore]) -> None:
    assert len(scores) == 20
    assert [s.file for s in scores if s.error] == []


@needs_corpus
@pytest.mark.parametrize("metric", METRICS)
def test_corpus_meets_target(scores: list[PaperScore], metric: str) -> None:
    (target,) = [t for t in evaluation.targets(scores) if t.metric.startswith(metric)]
    assert target.met, f"{target.metric} {target.value:.3f}, target {target.target}"


@needs_corpus
def test_no_paper_leaks_its_reference_list(scores: list[PaperScore]) -> None:
    # The corpus-wide share could hide one paper whose whole list sits in the body.
    leaky = [(s.file, s.leakage) for s in scores if s.leakage and s.leakage > 0.05]
    assert leaky == []
    assert sum(s.reference_shingles > 0 for s in scores) == 19  # one paper has no references


@needs_corpus
def test_no_paper_invents_many_headings(scores: list[PaperScore]) -> None:
    # The mean could hide one paper whose headings are mostly not headings.
    assert [(s.file, s.heading_precision) for s in scores if s.heading_precision < 0.6] == []


@needs_corpus
def test_extraction_stays_within_its_speed_target() -> None:
    # Both timings are CPU time, best of three per paper, so a busy machine shifts both; a
    # saturated one still inflates ours a little more (2.2x quiet, 2.4x with the suite running
    # beside it), so a ratio over the target is measured once more before it fails.
    paths = sorted((CORPUS / "pdfs").glob("*.pdf"))
    ratio = evaluation.speed_ratio(paths, document)
    if ratio > evaluation.SPEED_TARGET:
        ratio = min(ratio, evaluation.speed_ratio(paths, document))
    assert ratio <= evaluation.SPEED_TARGET, f"{ratio:.2f}x plain get_text"


@needs_corpus
def test_encrypted_excerpt_fails_clearly() -> None:
    with pytest.raises(ExtractError, match="encrypted, a password is needed"):
        document(CORPUS / "edge" / "2206.01062_page3_ENCRYPTED.pdf", "2206.01062")


@needs_corpus
def test_excerpts_extract() -> None:
    for path in sorted((CORPUS / "edge").glob("*.pdf")):
        if "ENCRYPTED" not in path.name:
            doc = document(path, path.stem)
            assert doc.sections and doc.pages_read == doc.pages
