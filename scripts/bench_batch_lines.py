"""What reading a batch's results line by line costs: `results_of` over a full batch's output
file (`--requests` chat completions, OpenAI's 50,000 by default), clean and with bad lines.

    python scripts/bench_batch_lines.py [--requests 50000]

Each line holds a chat completion of about 1 KiB (a summary's JSON reply and its usage), as the
Batch API writes them. Read once per batch (its results are then stored), so this is the whole
cost a day pays for checking every line. CPU times are process CPU (load on a shared machine
inflates wall time, not these).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.llm.batch import results_of

REPLY = json.dumps({"summary": ["A paragraph about the method and its results. " * 12]})


def line(n: int) -> str:
    body = {
        "id": f"chatcmpl-{n}",
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY}}],
        "usage": {"prompt_tokens": 6000, "completion_tokens": 300, "total_tokens": 6300},
    }
    response = {"status_code": 200, "request_id": f"req_{n}", "body": body}
    return json.dumps({"id": f"batch_req_{n}", "custom_id": f"c{n}", "response": response})


def timed(ids: list[str], output: str) -> str:
    """The best of three reads' CPU seconds, and how many replies were kept."""
    best, kept = float("inf"), 0
    for _ in range(3):
        start = time.process_time()
        try:
            results = results_of(ids, output, "", "batch_1", "completed")
        except Exception as exc:  # the code before bad lines were read one by one
            return f"raised {type(exc).__name__}: every reply lost"
        best = min(best, time.process_time() - start)
        kept = sum(r.body is not None for r in results.values())
    return f"{best:.2f} s CPU (best of 3), {kept:,} replies kept"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=50_000)
    args = parser.parse_args()
    ids = [f"c{n}" for n in range(args.requests)]
    lines = [line(n) for n in range(args.requests)]
    clean = "\n".join(lines) + "\n"
    spoiled = "\n".join(lines[:-1]) + "\n<html>502</html>\n[1]\n" + lines[-1][:-40]
    print(f"{args.requests:,} lines, {len(clean) / 1e6:.1f} MB")
    for name, text in (("clean", clean), ("2 bad lines + the last cut off", spoiled)):
        print(f"  {name}: {timed(ids, text)}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
