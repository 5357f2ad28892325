"""CPU per paper of the stages a cold extractive day runs in its workers, and their outputs.

    python scripts/bench_cpu.py [--repeat 3] [--save FILE | --compare FILE] [--profile STAGE]

For each shared-corpus PDF: `extract.document`, the chunk stage at the default settings (the
reading budget) and `extractive_summary`, each timed in process CPU seconds (best of
`--repeat`). `--save` writes every paper's outputs (Document, Chunks, PaperSummary as JSON) to
FILE, outside the project; `--compare` checks this tree's outputs equal those of FILE, paper by
paper, so a speed change can be shown to change nothing. `--profile extract|chunk|summarize`
prints cProfile's top functions for that stage over the corpus.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.evaluation import corpus_dir
from pipeline.llm.extractive import ExtractiveBackend, extractive_summary
from pipeline.models import Chunks, Document, PaperMeta
from pipeline.settings import Settings
from pipeline.stages import chunk, extract
from pipeline.tokens import tokenizer_for


def chunked(document: Document, settings: Settings) -> Chunks:
    """The chunk stage's compute at these settings (depth budget by default)."""
    stage = chunk.Chunking()
    params = stage.params(settings)
    return stage.compute(document=document, **params)


def cpu(repeat: int, work: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.process_time()
        result = work()
        best = min(best, time.process_time() - started)
    return best, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds per timing (best kept)")
    parser.add_argument("--save", type=Path, help="write every paper's outputs to this file")
    parser.add_argument("--compare", type=Path, help="check outputs equal this saved file's")
    parser.add_argument("--profile", choices=("extract", "chunk", "summarize"))
    args = parser.parse_args(argv)
    paths = sorted((corpus_dir() / "pdfs").glob("*.pdf"))
    if not paths:
        print(f"no corpus at {corpus_dir()} (set PAPERBRIEF_SHARED); nothing to measure")
        return 0
    settings = Settings()
    settings.llm.backend = "extractive"
    tokenizer_for(ExtractiveBackend.model, settings.chunk.encoding).count("warm up")
    totals = {"extract": 0.0, "chunk": 0.0, "summarize": 0.0}
    outputs: dict[str, dict[str, str]] = {}
    profiler = cProfile.Profile() if args.profile else None
    for path in paths:
        t_doc, doc = cpu(args.repeat, lambda p=path: extract.document(p, p.stem))
        t_chunks, parts = cpu(args.repeat, lambda d=doc: chunked(d, settings))
        meta = PaperMeta(id=path.stem, title=doc.title or path.stem, abstract=doc.abstract)
        t_sum, summary = cpu(args.repeat, lambda m=meta, c=parts: extractive_summary(m, c.chunks))
        if profiler:
            work = {
                "extract": lambda p=path: extract.document(p, p.stem),
                "chunk": lambda d=doc: chunked(d, settings),
                "summarize": lambda m=meta, c=parts: extractive_summary(m, c.chunks),
            }[args.profile]
            profiler.runcall(work)
        totals["extract"] += t_doc
        totals["chunk"] += t_chunks
        totals["summarize"] += t_sum
        print(
            f"{path.stem:28} pages {doc.pages_read:3}  extract {t_doc * 1000:6.0f} ms  "
            f"chunk {t_chunks * 1000:5.0f} ms  summarize {t_sum * 1000:5.0f} ms"
        )
        outputs[path.name] = {
            "document": doc.model_dump_json(),
            "chunks": parts.model_dump_json(),
            "summary": summary.model_dump_json(),
        }
    n = len(paths)
    per = {stage: 1000 * seconds / n for stage, seconds in totals.items()}
    print(
        f"mean CPU per paper, best of {args.repeat}: extract {per['extract']:.0f} ms, "
        f"chunk {per['chunk']:.0f} ms, summarize {per['summarize']:.0f} ms, "
        f"all {sum(per.values()):.0f} ms"
    )
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    if args.save:
        args.save.write_text(json.dumps(outputs))
    if args.compare:
        saved = json.loads(args.compare.read_text())
        differ = [
            f"{name} {kind}"
            for name, kinds in saved.items()
            for kind, text in kinds.items()
            if outputs.get(name, {}).get(kind) != text
        ]
        verdict = "yes" if not differ else "NO: " + ", ".join(differ)
        print(f"outputs equal to {args.compare}: {verdict}")
        return 1 if differ else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
