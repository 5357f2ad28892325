"""Runs that overlap or die: nothing paid twice, nothing left running."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.builders import distinct_copies
from tests.conftest import DAY
from tests.fakes.openai_server import FakeOpenAI
from tests.processes import descendants, reap
from tests.workspace import Workspace


def test_two_runs_on_one_cache_pay_once_and_agree(workspace: Workspace):
    with FakeOpenAI(latency=0.3) as server:
        env = {**workspace.env, **server.env()}
        first, second = (
            subprocess.Popen(
                workspace.command("--concurrency", "2"),
                cwd=workspace.root,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        )
        outputs = [run.communicate(timeout=300) for run in (first, second)]
        requests = len(server.chat_bodies)
    assert first.returncode == second.returncode == 0, outputs
    assert requests == 5  # one summary per paper, made by whichever run held the cache
    assert any("waiting for run pid" in err for _, err in outputs)
    record = workspace.record()
    assert record["stages"]["summarize"]["misses"] in (0, 5)


def test_no_worker_outlives_a_killed_run(tmp_path: Path, papers: Path):
    folder = distinct_copies(papers, tmp_path / "many", 40)  # every CPU stage uses the pool
    workspace = Workspace(tmp_path / "ws", "--source", str(folder), "--date", DAY)
    run = subprocess.Popen(
        workspace.command(),
        cwd=workspace.root,
        env=workspace.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    children: set[int] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(children) < 3:  # fork server and two workers
        children |= descendants(run.pid)
        time.sleep(0.05)
    assert len(children) >= 3, "the run never started its worker processes"
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    left, _ = reap(children, within=10)
    assert left == set()
