"""What the cost and batch gaps of issue 12 cost to close: the token estimate for a reply
without `usage`, and splitting a large round into batches within the Batch API's limits.

    python scripts/bench_cost_gaps.py [--requests 60000] [--kb 4]

1. A summarize request as big as the corpus's (each shared-corpus paper's plain text, cut to
   the reading budget's ~6,000 tokens, in the default prompt): CPU per `estimated_tokens`, and
   its prompt-token estimate against chars/4. Falls back to a generated text without the corpus.
2. `batches_of` over `--requests` requests of `--kb` KiB each at OpenAI's limits (50,000
   requests, 200 MB): the batches made, CPU seconds and peak RSS, and the same for writing every
   batch's input file (`input_file`), which a round over the limits used to build whole.

CPU times are process CPU (load on a shared machine inflates wall time, not these).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.evaluation import corpus_dir
from pipeline.llm.batch import BatchLimits, batches_of, input_file
from pipeline.llm.unreported import estimated_tokens
from pipeline.models import PaperMeta
from pipeline.prompts import task_prompt
from pipeline.settings import Settings
from pipeline.stages.summarize import summarize_messages

BUDGET_CHARS = 24_000  # about the reading budget's 6,000 tokens


def texts() -> list[str]:
    folder = corpus_dir()
    if not (folder / "pdfs").is_dir():
        return [("A sentence about a method and its results, 12.5% better. " * 500)[:BUDGET_CHARS]]
    import pymupdf

    found = []
    for pdf in sorted((folder / "pdfs").glob("*.pdf")):
        with pymupdf.open(pdf) as doc:
            found.append("".join(page.get_text() for page in doc)[:BUDGET_CHARS])
    return found


def estimate_bench() -> None:
    prompt = task_prompt(Settings(), "summarize")
    reply = '{"summary": ["' + "A finding of the paper. " * 40 + '"]}'
    meta = PaperMeta(id="bench", title="A paper", abstract="What it does.")
    requests = [
        [m.model_dump() for m in summarize_messages(meta, text, prompt, interests="")]
        for text in texts()
    ]
    estimated_tokens("gpt-4o-mini", requests[0], reply)  # the vocabulary, once
    started = time.process_time()
    counts = [estimated_tokens("gpt-4o-mini", r, reply) for r in requests]
    cpu = time.process_time() - started
    ratios = [
        prompt / (sum(len(t["content"]) for t in r) / 4)
        for (prompt, _), r in zip(counts, requests, strict=True)
    ]
    print(
        f"estimate: {len(requests)} requests, {1000 * cpu / len(requests):.2f} ms CPU each; "
        f"prompt tokens / (chars/4): min {min(ratios):.2f}, max {max(ratios):.2f}"
    )


def split_bench(n: int, kb: int) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x" * (kb * 1024)}]}
    requests = {f"{i:040x}-0": body for i in range(n)}
    started = time.process_time()
    parts, too_large = batches_of(requests, BatchLimits())
    split = time.process_time() - started
    started = time.process_time()
    biggest = max(len(input_file(part)) for part in parts)
    files = time.process_time() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"split: {n:,} requests of {kb} KiB → {len(parts)} batches "
        f"({', '.join(f'{len(p):,}' for p in parts)} requests; largest file "
        f"{biggest / 1e6:.1f} MB; {len(too_large)} too large); batches_of {split:.2f} s CPU, "
        f"input files {files:.2f} s CPU; peak RSS {rss:.0f} MiB"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=60_000)
    parser.add_argument("--kb", type=int, default=4)
    args = parser.parse_args()
    estimate_bench()
    split_bench(args.requests, args.kb)
    return 0


if __name__ == "__main__":
    sys.exit(main())
