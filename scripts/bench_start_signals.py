"""A Ctrl-C or SIGTERM to the process group while a run starts: how often it ends as promised.

    python scripts/bench_start_signals.py [--rounds 2] [--python PYTHON] [--tree DIR]

`paperbrief run --backend extractive` over `<shared>/corpus/pdfs` (20 PDFs: extract uses the
worker pool) in a fresh project, its own process group, as a terminal's job; the group is sent
SIGINT and SIGTERM in turn at 12 delays from 0.1 to 1.2 s (the run's imports, the fork
server's start, the first workers), `--rounds` times. `--tree` is the source tree run (default
this one; another worktree to compare). Prints, per delay, the exit statuses, and the counts of
runs that ended with a traceback or "Fatal Python error", or left a live process. Target: every
status 130 (SIGINT) or 143 (SIGTERM), no traceback, nothing left.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.evaluation import corpus_dir
from tests.processes import descendants, reap, signal_group_after, start_in_own_group

DELAYS = [round(0.10 + 0.1 * n, 2) for n in range(12)]


def one(tree: Path, python: str, pdfs: Path, delay: float, signum: int) -> tuple[int, bool, int]:
    """The run's status, whether stderr held a traceback, and how many processes were left."""
    with tempfile.TemporaryDirectory() as root:
        env = {**os.environ, "PYTHONPATH": str(tree)}
        args = [python, "-m", "pipeline", "run", "--source", str(pdfs), "--backend", "extractive"]
        run = start_in_own_group(args, Path(root), env, stdout=subprocess.DEVNULL)
        children = signal_group_after(run, delay, signum)
        while run.poll() is None:
            children |= descendants(run.pid)
            time.sleep(0.01)
        _, err = run.communicate()
        left, _ = reap(children, within=5)
        return run.returncode, "Traceback" in err or "Fatal Python error" in err, len(left)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()
    pdfs = corpus_dir() / "pdfs"
    if not pdfs.is_dir():
        sys.exit(f"no corpus at {pdfs} (set PAPERBRIEF_SHARED)")
    shutil.rmtree(Path(tempfile.gettempdir()) / "bench-start-signals", ignore_errors=True)
    tracebacks = left = 0
    statuses: Counter[int] = Counter()
    print(f"{args.tree}: load {os.getloadavg()[0]:.2f}")
    for n, delay in enumerate(DELAYS):
        codes = []
        for _ in range(args.rounds):
            signum = signal.SIGINT if n % 2 == 0 else signal.SIGTERM
            code, traceback, stayed = one(args.tree, args.python, pdfs, delay, signum)
            codes.append(code)
            statuses[code] += 1
            tracebacks += traceback
            left += stayed
        print(f"  {delay:.2f} s {signal.Signals(signum).name:7} statuses {codes}")
    runs = len(DELAYS) * args.rounds
    print(f"  {runs} runs: statuses {dict(statuses)}; with a traceback {tracebacks}; left {left}")


if __name__ == "__main__":
    main()
