"""Extraction quality on the shared corpus: one row per paper, then each metric against its target.

    python scripts/eval_extract.py                   (make eval-extract)
    python scripts/eval_extract.py --without-layout  (as if PyMuPDF came without pymupdf-layout)

Metric definitions are in `pipeline/evaluation.py`. Always exits 0: it reports, the corpus test
(`tests/test_extract_corpus.py`) asserts. `--without-layout` makes `import pymupdf.layout` fail
before PyMuPDF is first imported, which is what installing `pymupdf-lite` instead of `pymupdf`
gives (issue 11: choose the distribution on evidence).
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import evaluation


class _NoLayout(importlib.abc.MetaPathFinder):
    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name == "pymupdf.layout" or name.startswith("pymupdf.layout."):
            raise ImportError(f"{name} blocked by --without-layout")
        return None


def pymupdf_line(without_layout: bool) -> str:
    """Import PyMuPDF (blocking its layout package when asked) and say what is in effect."""
    if without_layout:
        sys.meta_path.insert(0, _NoLayout())
    started = time.perf_counter()
    import pymupdf

    seconds = time.perf_counter() - started
    layout = "active" if "pymupdf.layout" in sys.modules else "blocked or not installed"
    return f"PyMuPDF {pymupdf.VersionBind}, layout package {layout}, import {seconds:.2f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--without-layout", action="store_true", help="block PyMuPDF's layout package"
    )
    args = parser.parse_args(argv)
    corpus = evaluation.corpus_dir()
    if evaluation.ground_truth(corpus) is None:
        print(f"no corpus at {corpus} (set PAPERBRIEF_SHARED); nothing to evaluate")
        return 0
    print(pymupdf_line(args.without_layout))
    from pipeline.stages.extract import document

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
