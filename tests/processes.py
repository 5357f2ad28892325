"""Which processes a run started and which are still alive, read from /proc (Linux)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


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
