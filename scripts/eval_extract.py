"""Extraction quality on the shared corpus: one row per paper, then each metric against its target.

    python scripts/eval_extract.py        (make eval-extract)

Metric definitions are in `pipeline/evaluation.py`. Always exits 0: it reports, the corpus test
(`tests/test_extract_corpus.py`) asserts.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import evaluation
from pipeline.stages.extract import document


def main() -> int:
    corpus = evaluation.corpus_dir()
    if evaluation.ground_truth(corpus) is None:
        print(f"no corpus at {corpus} (set PAPERBRIEF_SHARED); nothing to evaluate")
        return 0
    scores = evaluation.score_corpus(corpus, document, evaluation.page_texts)
    print(
        f"{'file':32} {'layout':8} {'title':5} {'abs F1':>6} {'heads':>6} {'prec':>6}"
        f" {'leak %':>7} {'ms':>7}"
    )
    for s in scores:
        leak = f"{100 * s.leakage:.1f}" if s.leakage is not None else "n/a"
        title = "ok" if s.title_ok else "MISS"
        row = f"{s.file:32} {s.layout:8} {title:5} {s.abstract_f1:6.3f} {s.heading_recall:6.2f}"
        row += f" {s.heading_precision:6.2f}"
        print(f"{row} {leak:>7} {s.ms:7.0f}" + (f"  ERROR {s.error}" if s.error else ""))
    print()
    for t in evaluation.targets(scores):
        value = f"{t.value:.2%}" if "%" in t.target else f"{t.value:.3f}"
        print(f"{t.metric:22} {value:>8}  target {t.target:22} {'met' if t.met else 'BELOW'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
