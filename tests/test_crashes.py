"""Runs that overlap or die: nothing paid twice, nothing left running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from pipeline.settings import LLMSettings
from tests.builders import distinct_copies
from tests.conftest import DAY
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.replies import schema_reply
from tests.processes import descendants, reap, wait_for_calls
from tests.workspace import Workspace

# Every sample paper read by map-reduce in small chunks: a dozen notes a paper.
MAP_REDUCE = {
    "PAPERBRIEF_READING__SINGLE_CALL_BUDGET": "500",
    "PAPERBRIEF_CHUNK__MAX_TOKENS": "150",
    "PAPERBRIEF_CHUNK__OVERLAP": "20",
}


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


def test_a_run_killed_while_reading_loses_only_the_default_calls_in_flight(workspace: Workspace):
    """A SIGKILL cannot be caught: the replies on the wire are lost, and nothing else. With the
    default settings that is at most 6 calls, which keeps the kills bench's ten kills, each at
    the worst moment, of a 326-call day under its 1.2x line (BENCHMARKS.md)."""
    assert LLMSettings().concurrency == 6
    with FakeOpenAI(reply_for=schema_reply, latency=0.3) as server:
        env = {**workspace.env, **server.env(), **MAP_REDUCE}
        run = subprocess.Popen(
            workspace.command(), cwd=workspace.root, env=env, stderr=subprocess.PIPE, text=True
        )
        # Calls go out in waves of `concurrency`: killed 0.1 s after the second wave began, the
        # run has a whole wave on the wire and no reply of it back.
        wait_for_calls(server, 8, run)
        time.sleep(0.1)
        os.kill(run.pid, signal.SIGKILL)
        run.wait()
        killed = len(server.chat_bodies)
        again = workspace.run(env=env)
        bodies = [json.dumps(body["messages"], sort_keys=True) for body in server.chat_bodies]

    assert again.returncode == 0, again.stderr
    assert workspace.record()["failed"] == []
    assert len(bodies) > 2 * killed  # the kill came early: most of the day was left to do
    asked_twice = len(bodies) - len(set(bodies))
    assert 1 <= asked_twice <= 6
