"""Which processes a run started and which are still alive, read from /proc (Linux)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tests.fakes.openai_server import FakeOpenAI


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc (parents of each)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    """The processes of `pids` still running (zombies waiting for their parent count as gone)."""
    out = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            out.add(pid)
    return out


def reap(pids: set[int], within: float) -> tuple[set[int], float]:
    """Wait up to `within` seconds for `pids` to go; SIGKILL those still there. Returns those
    that were left and the seconds waited."""
    started = time.monotonic()
    while alive(pids) and time.monotonic() - started < within:
        time.sleep(0.05)
    waited = time.monotonic() - started
    left = alive(pids)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return left, waited


def ignores(pid: int) -> set[int]:
    """The signals a process ignores, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            mask = int(line.split()[1], 16)
            return {n for n in range(1, 65) if mask >> (n - 1) & 1}
    return set()


def fork_servers(pids: set[int]) -> set[int]:
    """The processes of `pids` that are multiprocessing's fork server (by their command line)."""
    found = set()
    for pid in pids:
        try:
            if b"forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.add(pid)
        except OSError:
            pass
    return found


def start_in_own_group(
    command: Sequence[str], cwd: Path, env: dict[str, str], stdout: int = subprocess.PIPE
) -> subprocess.Popen[str]:
    """`command` in a process group of its own, as a terminal starts a job: `os.killpg(run.pid,
    ...)` then reaches the run and every process it made, as a terminal's Ctrl-C does."""
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def signal_group_after(run: subprocess.Popen[str], delay: float, signum: int) -> set[int]:
    """Send `signum` to `run`'s process group `delay` seconds after now, watching the
    processes it makes meanwhile (returned, for `reap`)."""
    children: set[int] = set()
    signalled = time.monotonic() + delay
    while time.monotonic() < signalled:
        children |= descendants(run.pid)
        time.sleep(0.005)
    os.killpg(run.pid, signum)
    return children


def wait_for_calls(server: FakeOpenAI, count: int, run: subprocess.Popen[str]) -> None:
    """Wait until `server` was sent `count` chat requests by `run`, which must not end first."""
    deadline = time.monotonic() + 60
    while len(server.chat_bodies) < count:
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline, "the command never reached its LLM calls"
        time.sleep(0.01)


def second_signal_stops_at_once(
    start: Callable[[FakeOpenAI], subprocess.Popen[str]],
    signum: int,
    code: int,
    reply_for: Callable[[dict[str, Any]], str],
    calls: int,
) -> None:
    """A command `start`ed against 2-second replies, signalled once `calls` are on the wire:
    the first signal waits for them, a second one ends it at once, with `code` and one line."""
    with FakeOpenAI(reply_for=reply_for, latency=2.0) as server:
        run = start(server)
        wait_for_calls(server, calls, run)
        os.kill(run.pid, signum)
        time.sleep(0.3)
        assert run.poll() is None  # the first one waits for the calls on the wire
        asked = time.monotonic()
        os.kill(run.pid, signum)
        _, err = run.communicate(timeout=60)
        took = time.monotonic() - asked

    assert run.returncode == code, err
    assert "Traceback" not in err
    assert "paperbrief: interrupted" in err
    assert took < 1.5  # not after the 2-second replies
