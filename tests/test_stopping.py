"""Ctrl-C and SIGTERM stop a run gently: the calls on the wire are kept, nothing starts after.

A second signal stops at once; a SIGKILL is tests/test_crashes.py's and the kills bench's."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from datetime import date
from pathlib import Path

import pytest

from pipeline.errors import CallRefused, CallStopped, InvalidReplyError, LLMError, RunStopped
from pipeline.llm.base import Message, ignore_usage
from pipeline.llm.gathering import gather_keeping
from pipeline.llm.limiter import RateLimiter
from pipeline.llm.openai_backend import OpenAIBackend
from pipeline.models import ChunkNotes
from pipeline.observer import QuietObserver
from pipeline.runner import Runner, RunPlan
from pipeline.sources import Source
from pipeline.stopping import Stop
from tests.builders import distinct_copies
from tests.conftest import DAY
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.replies import schema_reply
from tests.processes import (
    descendants,
    fork_servers,
    ignores,
    reap,
    second_signal_stops_at_once,
    start_in_own_group,
    wait_for_calls,
)
from tests.project import Project
from tests.workspace import Workspace

# Every sample paper read by map-reduce in small chunks: a dozen calls a paper, so a stop
# lands with calls on the wire and more still to send.
MAP_REDUCE = {
    "PAPERBRIEF_READING__SINGLE_CALL_BUDGET": "500",
    "PAPERBRIEF_CHUNK__MAX_TOKENS": "150",
    "PAPERBRIEF_CHUNK__OVERLAP": "20",
}


def started(
    workspace: Workspace, server: FakeOpenAI, concurrency: int = 4
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        workspace.command("--concurrency", str(concurrency)),
        cwd=workspace.root,
        env={**workspace.env, **server.env(), **MAP_REDUCE},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(
    ("signum", "code", "said"), [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "Ctrl-C")]
)
def test_a_stopped_run_keeps_the_calls_on_the_wire_and_the_next_run_goes_on(
    workspace: Workspace, signum: int, code: int, said: str
):
    with FakeOpenAI(reply_for=schema_reply, latency=0.25) as server:
        run = started(workspace, server)
        wait_for_calls(server, 6, run)
        os.kill(run.pid, signum)
        _, err = run.communicate(timeout=60)
        first = len(server.chat_bodies)
        again = started(workspace, server, concurrency=16)
        _, err_again = again.communicate(timeout=120)
        bodies = [json.dumps(body["messages"], sort_keys=True) for body in server.chat_bodies]

    assert run.returncode == code, err
    assert f"stopping ({said})" in err
    assert "run the same command again to go on" in err.splitlines()[-1]
    assert first < len(bodies) / 2  # it stopped: most of the day was left to the next run
    assert again.returncode == 0, err_again
    assert workspace.record()["failed"] == []
    # Every reply of the stopped run was kept: no request went out twice.
    assert len(set(bodies)) == len(bodies)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_second_signal_stops_at_once(workspace: Workspace, signum: int, code: int):
    def start(server: FakeOpenAI) -> subprocess.Popen[str]:
        return started(workspace, server)

    second_signal_stops_at_once(start, signum, code, schema_reply, calls=4)


def test_a_queued_call_is_refused_at_the_stop_and_the_queue_woken():
    stop = Stop()
    limiter = RateLimiter(max_concurrency=1, stop=stop)

    async def day() -> tuple[BaseException | None, float]:
        held = await limiter.acquire(10)
        queued = asyncio.ensure_future(limiter.acquire(10))
        await asyncio.sleep(0.05)
        asked = time.monotonic()
        stop.request(signal.SIGTERM)
        try:
            await asyncio.wait_for(queued, 1)
        except BaseException as exc:
            return exc, time.monotonic() - asked
        finally:
            limiter.release(held)
        return None, time.monotonic() - asked

    refused, waited = asyncio.run(day())

    assert isinstance(refused, CallStopped)
    assert waited < 0.5  # woken by the stop, not by the slot the held call frees
    assert limiter.budget.in_flight == 0


async def sent(n: int, finished: list[int]) -> int:
    """A paper's call on the wire: its reply comes, and is kept, unless it is cancelled."""
    await asyncio.sleep(0.05)
    finished.append(n)
    return n


def test_a_refused_call_lets_a_papers_calls_on_the_wire_finish():
    finished: list[int] = []

    async def refused() -> int:
        raise CallStopped("not sent: the run is stopping (SIGTERM)")

    with pytest.raises(CallRefused):
        asyncio.run(gather_keeping([sent(1, finished), refused(), sent(2, finished)]))
    assert sorted(finished) == [1, 2]  # their notes are paid for: they were kept


def test_any_other_failure_still_cancels_the_papers_other_calls():
    finished: list[int] = []

    async def invalid() -> int:
        raise InvalidReplyError("no valid notes", last_reply="{}")

    with pytest.raises(InvalidReplyError):
        asyncio.run(gather_keeping([sent(1, finished), invalid(), sent(2, finished)]))
    assert finished == []


class StopAfterFirst(QuietObserver):
    """Asks the stop once the first paper of `stage` is done, as a Ctrl-C would then."""

    def __init__(self, stop: Stop, stage: str) -> None:
        self.stop, self.stage = stop, stage

    def advanced(self, stage: str) -> None:
        if stage == self.stage:
            self.stop.request(signal.SIGINT)


def test_a_stop_in_a_cpu_stage_keeps_the_papers_started_and_remembers_no_failure(
    tmp_path: Path, papers: Path
):
    folder = distinct_copies(papers, tmp_path / "day", 6)  # 30 PDFs
    project = Project(tmp_path, folder)
    source = Source(kind="folder", day=date.fromisoformat(DAY), folder=folder)
    stop = Stop()
    runner = Runner(
        project.settings(),
        RunPlan(source=source),
        StopAfterFirst(stop, "extract"),
        pool_threshold=2,
        stop=stop,
    )
    with pytest.raises(RunStopped) as stopped:
        runner.run()
    assert stopped.value.exit_code == 130
    extracted = runner.log.stats["extract"]
    # the papers started finish (those a worker had queued too); the rest wait for the next run
    assert 1 <= extracted.misses <= 10
    assert list((project.root / "cache").glob("extract/*/*.failed.json")) == []

    record = project.run(scripted=False, pool_threshold=2)
    assert record.failed == []
    assert record.stages["extract"].misses == 30 - extracted.misses


def test_a_ctrl_c_to_the_process_group_while_the_workers_start_stops_the_run_cleanly(
    tmp_path: Path, papers: Path
):
    """A terminal's Ctrl-C reaches every process of the group: the fork server, still making
    its imports, and the workers must leave it to the run."""
    folder = distinct_copies(papers, tmp_path / "day", 8)  # 40 PDFs: extract uses the pool
    workspace = Workspace(tmp_path / "ws", "--source", str(folder), "--date", DAY)
    run = start_in_own_group(workspace.command(), workspace.root, workspace.env)
    children: set[int] = set()
    deadline = time.monotonic() + 60
    while len(children) < 2 and time.monotonic() < deadline:  # tracker and fork server
        children |= descendants(run.pid)
        time.sleep(0.01)
    time.sleep(0.2)  # the fork server is making its imports
    children |= descendants(run.pid)
    servers = fork_servers(children)
    ignored = {pid: ignores(pid) for pid in servers}
    os.killpg(run.pid, signal.SIGINT)
    _, err = run.communicate(timeout=60)
    left, _ = reap(children, within=10)

    assert run.returncode == 130, err
    assert "Traceback" not in err
    assert "stopped (Ctrl-C)" in err
    assert left == set()
    assert servers  # the fork server, caught while it makes its imports, ignores both
    assert all({signal.SIGINT, signal.SIGTERM} <= found for found in ignored.values())


def test_a_back_off_after_the_stop_ends_at_once_in_a_refusal():
    """A 503 asks to wait 5 s; the stop comes meanwhile: the call ends now, refused (so a
    paper's other calls on the wire finish), not after the wait nor as the 503's failure."""
    stop = Stop()
    with FakeOpenAI() as server:
        server.script([{"status": 503, "retry_after": 5}])
        llm = OpenAIBackend("gpt-test", api_key="k", base_url=server.base_url, stop=stop)

        async def call() -> tuple[BaseException | None, float]:
            asyncio.get_running_loop().call_later(0.3, stop.request, signal.SIGTERM)
            started = time.monotonic()
            try:
                await llm.structured(
                    [Message(role="user", content="Notes on this part, please.")],
                    ChunkNotes,
                    temperature=0.0,
                    max_tokens=50,
                    task="summarize-map",
                    on_usage=ignore_usage,
                )
            except LLMError as exc:
                return exc, time.monotonic() - started
            finally:
                await llm.aclose()
            return None, time.monotonic() - started

        refused, took = asyncio.run(call())
        sent = len(server.chat_bodies)

    assert isinstance(refused, CallStopped)
    assert took < 1.5
    assert sent == 1
