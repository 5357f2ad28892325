"""What a Ctrl-C or SIGTERM costs `compare --judge` and `report weekly --fill`: LLM calls over
the stopped run and the same command again, against a clean run's, at several points.

    python scripts/bench_stop_commands.py [--latency 0.2] [--concurrency 4]

Calls are counted at the fake server (FakeOpenAI, FakeArxiv on 127.0.0.1), so the machine's
load does not change them; the seconds from the signal to the exit are wall time (say the load).
Run it with PYTHONPATH at another tree to measure that tree (e.g. before a change).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pipeline
from pipeline.samples import write_sample_papers
from tests.fakes.arxiv_server import FakeArxiv
from tests.fakes.openai_server import FakeOpenAI
from tests.test_stopping_commands import compare_argv, reply_for, week_of_papers, weekly_argv
from tests.workspace import Workspace

Argv = Callable[[Workspace], list[str]]


def started(workspace: Workspace, argv: list[str], env: dict[str, str], concurrency: int):
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", *argv],
        cwd=workspace.root,
        env={**workspace.env, **env, "PAPERBRIEF_CONCURRENCY": str(concurrency)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def one_command(name: str, argv: Argv, env: dict[str, str], args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix=f"bench-stop-{name}-"))
    with FakeOpenAI(reply_for=reply_for, latency=args.latency) as server:
        every = {**env, **server.env()}
        clean = Workspace(root / "clean")
        done = started(clean, argv(clean), every, args.concurrency)
        done.communicate(timeout=300)
        calls = len(server.chat_bodies)
        print(f"{name}: a clean run makes {calls} LLM calls (exit {done.returncode})")
        print(
            "| signal after k calls | exit | signal to exit | calls: stopped + again | vs clean |"
        )
        print("| --- | --- | --- | --- | --- |")
        for n, k in enumerate(range(2, calls, max(calls // 5, 1))):
            signum = (signal.SIGINT, signal.SIGTERM)[n % 2]
            workspace = Workspace(root / f"k{k}")
            before = len(server.chat_bodies)
            run = started(workspace, argv(workspace), every, args.concurrency)
            while len(server.chat_bodies) - before < k and run.poll() is None:
                time.sleep(0.005)
            asked = time.monotonic()
            os.kill(run.pid, signum)
            run.communicate(timeout=120)
            took = time.monotonic() - asked
            again = started(workspace, argv(workspace), every, args.concurrency)
            again.communicate(timeout=300)
            bodies = [json.dumps(b, sort_keys=True) for b in server.chat_bodies[before:]]
            spent = len(bodies)
            twice = spent - len(set(bodies))
            print(
                f"| {k} ({signal.Signals(signum).name}) | {run.returncode} | {took:.2f} s "
                f"| {spent} ({twice} sent twice; again: exit {again.returncode}) "
                f"| {spent / calls:.2f}x |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per reply")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}; pipeline from {Path(pipeline.__file__).parent}")
    papers = Path(tempfile.mkdtemp(prefix="bench-stop-papers-"))
    write_sample_papers(papers)

    def comparing(workspace: Workspace) -> list[str]:
        return [*compare_argv(workspace, papers), "--judge", "gpt-test"]

    one_command("compare --judge", comparing, {}, args)
    with FakeArxiv(week_of_papers()) as arxiv:
        one_command("report weekly --fill", weekly_argv, arxiv.env(), args)
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
