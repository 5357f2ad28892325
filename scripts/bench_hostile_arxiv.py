"""What one hostile arXiv reply costs a run: peak memory, CPU seconds, wall time, the exit.

    python scripts/bench_hostile_arxiv.py [--tree DIR] [--cap SECONDS]

Each case is `paperbrief run --ids ... --backend extractive` against FakeArxiv (127.0.0.1) with
one fault, under `/usr/bin/time -v`, killed after `--cap` seconds if it has not ended:

    endless feed   the API reply never ends (no Content-Length)
    enormous PDF   the PDF announces 10 GB and streams for as long as it is read
    endless PDF    the PDF has no Content-Length and never ends
    drip           the PDF comes a byte every 0.5 s (a 20 s deadline where the tree has one)
    drip + Ctrl-C  the same, with a SIGINT 3 s in: seconds from the signal to the exit

`--tree` is the paperbrief tree whose `pipeline` runs (default: this one), so an older
checkout is measured against the same fakes. CPU seconds and peak RSS do not depend on the
machine's load; wall seconds do.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.arxiv_server import FakeArxiv, FakePaper  # noqa: E402

PAPER = FakePaper("2603.00001v1", categories=["cs.LG"])
CASES = [
    ("endless feed", "/api/query", "endless", 0.0, None),
    ("enormous PDF", "/pdf/", "oversized", 0.0, None),
    ("endless PDF", "/pdf/", "endless", 0.0, None),
    ("drip", "/pdf/", "drip", 0.5, None),
    ("drip + Ctrl-C", "/pdf/", "drip", 0.5, 3.0),
]


def has_setting(tree: Path, name: str) -> bool:
    return f"    {name}:" in (tree / "pipeline" / "settings.py").read_text()


def one(tree: Path, case: tuple[str, str, str, float, float | None], cap: float) -> str:
    label, where, fault, delay, signal_at = case
    with FakeArxiv([PAPER]) as server, tempfile.TemporaryDirectory() as folder:
        server.fail(where, fault, delay=delay)  # type: ignore[arg-type]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PAPERBRIEF_"))}
        env.update(server.env(0.0), PYTHONPATH=str(tree), PAPERBRIEF_ARXIV__MAX_RETRIES="0")
        if fault == "drip" and has_setting(tree, "deadline"):
            env["PAPERBRIEF_ARXIV__DEADLINE"] = "20"
        timing = Path(folder) / "time.txt"
        command = ["/usr/bin/time", "-v", "-o", str(timing), sys.executable, "-m", "pipeline"]
        command += ["run", "--ids", PAPER.id, "--backend", "extractive"]
        run = subprocess.Popen(
            command,
            cwd=folder,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        started = time.monotonic()
        signalled = None
        if signal_at is not None:
            time.sleep(signal_at)
            os.kill(next(iter(children(run.pid)), run.pid), signal.SIGINT)
            signalled = time.monotonic()
        try:
            _, stderr = run.communicate(timeout=cap - (time.monotonic() - started))
            ended = f"exit {run.returncode}"
        except subprocess.TimeoutExpired:
            for pid in children(run.pid):  # the run, not /usr/bin/time: it reports the kill
                os.kill(pid, signal.SIGKILL)
            _, stderr = run.communicate()
            ended = f"killed at {cap:.0f} s"
        wall = time.monotonic() - (signalled or started)
        figures = timing.read_text() if timing.exists() else ""
    rss = _field(figures, "Maximum resident set size")
    cpu = _field(figures, "User time") + _field(figures, "System time")
    last = next((ln for ln in reversed(stderr.splitlines()) if ln.strip()), "")
    last = last if len(last) < 150 else last[:147] + "..."
    after = "from the signal" if signalled else "in all"
    return (
        f"{label:14} {ended:15} peak {rss / 1024:8.0f} MiB  CPU {cpu:6.2f} s  "
        f"wall {wall:6.1f} s {after}\n{'':15}{last}"
    )


def children(pid: int) -> list[int]:
    """The run under /usr/bin/time (its one child)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _field(text: str, name: str) -> float:
    match = re.search(rf"{re.escape(name)}[^:]*: ([\d.]+)", text)
    return float(match.group(1)) if match else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=ROOT)
    parser.add_argument("--cap", type=float, default=30.0, help="kill a case after this long")
    args = parser.parse_args()
    print(f"tree {args.tree}; load {os.getloadavg()[0]:.2f}")
    for case in CASES:
        print(one(args.tree.resolve(), case, args.cap), flush=True)
    print(f"load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
