"""Damage real PDFs on purpose and count the extractions that end in anything but one clear error.

    python scripts/fuzz_extract.py [--count 200] [--seed 0]

Each of `--count` cases takes a corpus PDF (round robin) and damages it one of the ways in
`tests/builders.DAMAGE` (truncated, bytes flipped, cross-reference table dropped, a wrong page
count, an object overwritten), then runs `extract.document` and `extract.front_matter` on it. A
case passes when each gives a `Document`/`FrontMatter` or an `ExtractError` with a one-line
message; any other exception is a traceback a user would have seen. Prints the count per kind of
damage and the tracebacks (target: 0). Exits 1 when there is any.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.errors import ExtractError
from pipeline.evaluation import corpus_dir
from pipeline.stages import extract
from tests.builders import DAMAGE, damaged


def outcome(path: Path) -> str:
    """ "ok", "error" (a clear ExtractError) or the traceback's last line."""
    try:
        extract.front_matter(path, path.stem)
        extract.document(path, path.stem)
    except ExtractError as error:
        return "error" if "\n" not in str(error) else f"multi-line ExtractError: {error!r}"
    except Exception:  # what this script is here to count
        return traceback.format_exc().strip().splitlines()[-1]
    return "ok"


def fuzz(count: int, seed: int) -> tuple[Counter[tuple[str, str]], list[str]] | None:
    """(cases per kind of damage and outcome, the tracebacks), or None without the corpus."""
    sources = sorted((corpus_dir() / "pdfs").glob("*.pdf"))
    if not sources:
        return None
    kinds = sorted(DAMAGE)
    tally: Counter[tuple[str, str]] = Counter()
    tracebacks: list[str] = []
    with tempfile.TemporaryDirectory(prefix="fuzz-extract-") as scratch:
        for case in range(count):
            source = sources[case % len(sources)]
            how = kinds[(case // len(sources)) % len(kinds)]
            path = Path(scratch) / f"{source.stem}-{how}-{case}.pdf"
            path.write_bytes(damaged(source.read_bytes(), how, seed + case))
            result = outcome(path)
            tally[how, result if result in ("ok", "error") else "traceback"] += 1
            if result not in ("ok", "error"):
                tracebacks.append(f"{source.name} {how} seed {seed + case}: {result}")
            path.unlink()
    return tally, tracebacks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="damaged PDFs to try")
    parser.add_argument("--seed", type=int, default=0, help="first random seed")
    args = parser.parse_args(argv)
    result = fuzz(args.count, args.seed)
    if result is None:
        print(f"no corpus at {corpus_dir()} (set PAPERBRIEF_SHARED); nothing to fuzz")
        return 0
    tally, tracebacks = result
    for how in sorted(DAMAGE):
        counts = ", ".join(f"{tally[how, r]} {r}" for r in ("ok", "error", "traceback"))
        print(f"{how:14} {counts}")
    print("\n".join(tracebacks))
    print(f"{args.count} damaged PDFs, {len(tracebacks)} tracebacks (target 0)")
    return 1 if tracebacks else 0


if __name__ == "__main__":
    raise SystemExit(main())
