"""A cold offline day of many papers, end to end, with the time each stage took.

    python scripts/bench_day.py [--papers 200] [--corpus]   (make bench-day)

Writes `--papers` PDFs (copies of the five sample papers under distinct names, or of the
shared corpus with `--corpus`) into a temporary folder, runs `paperbrief run --source` on them
with the extractive backend into an empty cache, then again fully cached, and prints the wall
time of both runs and each stage's seconds from run.json. Run it before and after a change to the
executor: with worker processes, the CPU stages (feed's front matter, extract, chunk, the
extractive summarizer) should use both cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.evaluation import corpus_dir
from pipeline.samples import write_sample_papers

DAY = "2026-03-04"


def papers(folder: Path, count: int, corpus: bool) -> None:
    if corpus:
        originals = sorted((corpus_dir() / "pdfs").glob("*.pdf"))
    else:
        originals = write_sample_papers(folder / "originals")
    for n in range(count):
        source = originals[n % len(originals)]
        shutil.copyfile(source, folder / f"paper-{n:04d}-{source.name}")
    if not corpus:
        shutil.rmtree(folder / "originals")


def run(folder: Path, work: Path, top: int) -> tuple[float, dict[str, float]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PAPERBRIEF_"))}
    command = [sys.executable, "-m", "pipeline", "run", "--source", str(folder), "--date", DAY]
    command += ["--cache-dir", str(work / "cache"), "--out", str(work / "out"), "--top", str(top)]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"paperbrief run failed ({done.returncode}): {done.stderr[-2000:]}")
    [run_json] = (work / "out" / DAY).glob("*/run.json")  # the one edition of this run
    record = json.loads(run_json.read_text())
    return wall, {stage: stats["seconds"] for stage, stats in record["stages"].items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=200)
    parser.add_argument("--corpus", action="store_true", help="copies of the shared corpus")
    parser.add_argument("--top", type=int, help="papers read in full (default: all of them)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        folder = work / "papers"
        folder.mkdir()
        papers(folder, args.papers, args.corpus)
        top = args.top or args.papers
        cold, stages = run(folder, work, top)
        warm, _ = run(folder, work, top)
    kind = "corpus" if args.corpus else "sample"
    print(f"papers: {args.papers} ({kind} copies), {args.top or args.papers} read in full")
    print(f"cold run: {cold:.1f} s wall   fully cached re-run: {warm:.1f} s wall")
    for stage, seconds in stages.items():
        print(f"  {stage:<10} {seconds:7.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
