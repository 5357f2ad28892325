"""What a SIGKILL during triage costs: triage calls of a killed run and its re-run, against a
clean run's, with figures.

    python scripts/bench_triage_kill.py [--papers 100] [--batch 5] [--concurrency 4]
                                        [--kill-at 10]

A day of `--papers` copies of the sample papers (`--source DIR`, openai backend against
`tests/fakes` FakeOpenAI, `--batch` papers per triage call): a clean run counts its triage
calls; on a fresh cache a run is SIGKILLed once `--kill-at` triage calls have reached the
server (replies take 0.3 s, so `--concurrency` calls are on the wire), then run again. Target:
the two runs' triage calls are at most the clean run's plus the calls in flight.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.samples import write_sample_papers
from scripts.bench_reliability import kill_when
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.replies import reply_kind, schema_reply
from tests.workspace import Workspace

DAY = "2026-03-04"


def triage_calls(server: FakeOpenAI) -> int:
    return sum(1 for body in server.chat_bodies if reply_kind(body) == "TriageReply")


def day_folder(tmp: Path, papers: int) -> Path:
    originals = write_sample_papers(tmp / "originals")
    folder = tmp / "day"
    folder.mkdir()
    for n in range(papers):
        source = originals[n % len(originals)]
        shutil.copyfile(source, folder / f"{n:03d}-{source.name}")
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=100)
    parser.add_argument("--batch", type=int, default=5, help="papers per triage call")
    parser.add_argument("--concurrency", type=int, default=4, help="llm.concurrency")
    parser.add_argument("--kill-at", type=int, default=10, help="triage calls before the kill")
    args = parser.parse_args(argv)
    env = {"PAPERBRIEF_READING__TRIAGE_BATCH": str(args.batch)}
    flags = ("--top", "2", "--backend", "openai", "--concurrency", str(args.concurrency))
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        folder = day_folder(tmp, args.papers)
        clean = Workspace(tmp / "clean", "--source", str(folder), "--date", DAY)
        with FakeOpenAI(reply_for=schema_reply) as server:
            done = clean.run(*flags, env={**env, **server.env()})
            assert done.returncode == 0, done.stderr
            clean_calls = triage_calls(server)
        ws = Workspace(tmp / "killed", "--source", str(folder), "--date", DAY)
        with FakeOpenAI(reply_for=schema_reply, latency=0.3) as server:
            run = subprocess.Popen(
                ws.command(*flags),
                cwd=ws.root,
                env={**ws.env, **env, **server.env()},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            was_running, _, _ = kill_when(run, lambda: triage_calls(server) >= args.kill_at)
            if not was_running:
                raise SystemExit("the run ended before the kill; raise --papers")
            killed = triage_calls(server)
            again = ws.run(*flags, env={**env, **server.env()})
            assert again.returncode == 0, again.stderr
            total = triage_calls(server)
    lost = total - clean_calls
    ok = lost <= args.concurrency
    print(
        f"{args.papers} papers, {clean_calls} triage calls in a clean run, concurrency "
        f"{args.concurrency}: killed after {killed} calls reached the server; kill + re-run "
        f"{total} calls = clean + {lost} lost (target <= {args.concurrency}): "
        f"{'ok' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
