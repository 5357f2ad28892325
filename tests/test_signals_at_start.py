"""A signal to the process group at any moment of a run's start (its own imports, the fork
server's interpreter start, the workers' start) ends it with the shell's code and one line,
never a traceback; and a fork server that dies leaves no traceback either.

tests/test_stopping.py covers a stop once the run is under way."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.builders import distinct_copies
from tests.conftest import DAY
from tests.processes import (
    descendants,
    fork_servers,
    reap,
    signal_group_after,
    start_in_own_group,
)
from tests.workspace import Workspace

# Ten moments from the run's own imports (~0.35 s unloaded) through the fork server's start to
# the first workers', Ctrl-C and SIGTERM in turn. Not earlier: the first ~50 ms are the
# interpreter's own start, before any code of paperbrief's runs.
MOMENTS = [
    (round(0.1 + 0.07 * n, 2), signal.SIGINT if n % 2 == 0 else signal.SIGTERM) for n in range(10)
]


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory, papers: Path) -> Path:
    """40 PDFs: extract runs in the worker pool."""
    return distinct_copies(papers, tmp_path_factory.mktemp("signals") / "day", 8)


def started(workspace: Workspace) -> subprocess.Popen[str]:
    return start_in_own_group(workspace.command(), workspace.root, workspace.env)


def direct_children(pid: int) -> set[int]:
    try:
        return {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except OSError:
        return set()


@pytest.mark.parametrize(("delay", "signum"), MOMENTS)
def test_a_signal_to_the_group_as_the_run_starts_ends_it_in_one_line(
    tmp_path: Path, day: Path, delay: float, signum: int
):
    workspace = Workspace(tmp_path / "ws", "--source", str(day), "--date", DAY)
    run = started(workspace)
    children = signal_group_after(run, delay, signum)
    ends_in_one_line(run, signum, children)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGINT])
def test_a_signal_as_the_fork_server_starts_is_left_to_the_run(
    tmp_path: Path, day: Path, signum: int
):
    """The moment the fork server's interpreter starts (it imports `site`, before any code of
    paperbrief's runs in it): the signal waits, blocked, until it is ignored."""
    workspace = Workspace(tmp_path / "ws", "--source", str(day), "--date", DAY)
    run = started(workspace)
    children: set[int] = set()
    deadline = time.monotonic() + 60
    while not fork_servers(children) and time.monotonic() < deadline:
        children |= direct_children(run.pid)  # faster to read than every process's parent
    os.killpg(run.pid, signum)
    children |= descendants(run.pid)
    ends_in_one_line(run, signum, children)


def ends_in_one_line(run: subprocess.Popen[str], signum: int, children: set[int]) -> None:
    while run.poll() is None:
        children |= descendants(run.pid)
        time.sleep(0.01)
    _, err = run.communicate(timeout=60)
    left, _ = reap(children, within=10)

    assert run.returncode == 128 + signum, err
    assert "Traceback" not in err and "Fatal Python error" not in err, err
    last = err.splitlines()[-1]
    assert last.endswith("run the same command again to go on") or last == (
        "paperbrief: interrupted; everything finished is cached"
    ), err
    assert left == set()


SIGNALLED_AT_SPAWN = """
import os, signal, time
from pathlib import Path
from pipeline.executor import _start_fork_server

def children():
    me = os.getpid()
    return [int(c) for c in Path(f"/proc/{me}/task/{me}/children").read_text().split()]

for signum in (signal.SIGINT, signal.SIGTERM):
    signal.signal(signum, lambda *_: None)  # the run's handlers: a stop, not an exception
_start_fork_server()
server = max(children())  # spawned after the resource tracker
os.kill(server, signal.SIGINT)  # while its interpreter starts
os.kill(server, signal.SIGTERM)
time.sleep(1.5)
print(os.waitpid(server, os.WNOHANG) == (0, 0))
"""


def test_the_fork_server_outlives_a_signal_at_its_first_instant(tmp_path: Path):
    """The signals a terminal sends the group wait while its interpreter starts (blocked
    from the spawn on), and are then ignored."""
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    args = [sys.executable, "-c", SIGNALLED_AT_SPAWN]
    done = subprocess.run(args, env=env, cwd=repo, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True"], done.stderr
    assert done.stderr == ""


DYING = """
import json, sys
from pathlib import Path
from pipeline import executor
from tests.project import Project

executor.PRELOAD = ["tests.fakes.dying_forkserver", *executor.PRELOAD]
record = Project(Path(sys.argv[1]), Path(sys.argv[2])).run(pool_threshold=2)
print(json.dumps([failed.model_dump() for failed in record.failed]))
"""


def with_dying_fork_server(root: Path, papers: Path, **env: str) -> list[dict[str, str]]:
    """A run in a fresh process (the fork server is one per process and outlives a run in
    it) whose fork server dies as it forks a worker; the papers that failed."""
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo), **env}
    args = [sys.executable, "-c", DYING, str(root), str(papers)]
    done = subprocess.run(args, env=env, cwd=repo, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_a_fork_server_killed_as_it_starts_a_worker_costs_the_day_nothing(
    tmp_path: Path, papers: Path
):
    """As an OOM kill once: the papers it held go to fresh pools and a new fork server."""
    died = tmp_path / "died"
    assert with_dying_fork_server(tmp_path / "day", papers, PAPERBRIEF_TEST_DIED=str(died)) == []
    assert died.exists()


def test_a_fork_server_that_always_dies_fails_each_paper_in_one_line(tmp_path: Path, papers: Path):
    failed = with_dying_fork_server(tmp_path / "day", papers)
    assert [f["stage"] for f in failed] == ["extract"] * 5
    assert all("crashed its worker process" in f["error"] for f in failed)
