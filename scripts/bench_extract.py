"""Extraction and chunking speed over the shared corpus, beside PyMuPDF's plain text, in one run.

    python scripts/bench_extract.py        (make bench-extract)

Prints milliseconds per page (wall clock) for plain `page.get_text()`, for our structured
extraction (`extract.document`) and for chunking its result; the extraction/plain ratio
(target: within 2.5x) in CPU time, paper by paper, as `evaluation.speed_ratio` defines it;
and the wall time of extracting the whole corpus in 1 and in 2 worker processes. Each timing is the
best of `--repeat` rounds, so a busy machine disturbs it less. The target (issue 13) is
`evaluation.SPEED_TARGET`; `tests/test_extract_corpus.py` checks it too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.evaluation import SPEED_TARGET, best_of, corpus_dir, plain_text, speed_ratio
from pipeline.models import Document
from pipeline.settings import ChunkSettings
from pipeline.stages import chunk, extract
from pipeline.tokens import tokenizer_for


def structured(paths: list[Path], max_pages: int) -> list[Document]:
    return [extract.document(path, path.stem, max_pages=max_pages) for path in paths]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds per timing (best kept)")
    parser.add_argument("--max-pages", type=int, default=1000, help="page cap per paper")
    args = parser.parse_args(argv)
    paths = sorted((corpus_dir() / "pdfs").glob("*.pdf"))
    if not paths:
        print(f"no corpus at {corpus_dir()} (set PAPERBRIEF_SHARED); nothing to measure")
        return 0
    docs = structured(paths, args.max_pages)  # also warms the file cache
    pages = sum(d.pages_read for d in docs)
    cfg = ChunkSettings()
    tokenizer = tokenizer_for("gpt-4o-mini", cfg.encoding)

    def chunk_all() -> None:
        for doc in docs:
            chunk.chunks(
                doc,
                tokenizer=tokenizer,
                max_tokens=cfg.max_tokens,
                overlap=cfg.overlap,
                paper_budget=cfg.paper_budget,
            )

    plain = best_of(args.repeat, lambda: plain_text(paths, args.max_pages))
    ours = best_of(args.repeat, lambda: structured(paths, args.max_pages))
    chunking = best_of(args.repeat, chunk_all)
    one = best_of(
        args.repeat, lambda: extract.documents_in_processes(paths, args.max_pages, workers=1)
    )
    two = best_of(
        args.repeat, lambda: extract.documents_in_processes(paths, args.max_pages, workers=2)
    )

    ratio = speed_ratio(
        paths,
        lambda path, paper_id: extract.document(path, paper_id, max_pages=args.max_pages),
        args.repeat,
        args.max_pages,
    )
    print(f"{len(paths)} papers, {pages} pages, best of {args.repeat}")
    print(f"plain page.get_text()      {1000 * plain / pages:7.2f} ms/page")
    print(f"structured extraction      {1000 * ours / pages:7.2f} ms/page")
    print(f"chunking ({tokenizer.name:12})   {1000 * chunking / pages:7.2f} ms/page")
    verdict = "met" if ratio <= SPEED_TARGET else "BELOW TARGET"
    print(f"extraction / plain (CPU)   {ratio:7.2f}x   target <= {SPEED_TARGET}x  {verdict}")
    speedup = f"{one / two:.2f}x"
    print(f"corpus in processes        1 worker {one:.2f} s, 2 workers {two:.2f} s ({speedup})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
