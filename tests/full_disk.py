"""A disk that fills while a command writes its output files, without a small filesystem.

The Nth output file written (`at(n)`), or the first of a name (`at(name=...)`), meets a full
disk: when its temporary file is opened for writing, the descriptor is pointed at /dev/full,
whose write(2) fails with ENOSPC. The code under test makes, writes and cleans up its files as
ever; cache entries and other files are not counted. `tests/test_output_sets.py` also fills a
real 600 KB tmpfs where mounting one is permitted.
"""

from __future__ import annotations

import os
import re
from typing import Any

import pytest

FULL = "/dev/full"
OUTPUT_NAMES = (
    "summaries.md",
    "summaries.json",
    "summaries.html",
    "run.json",
    "report.md",
    "report.json",
    "report.html",
    "compare.json",
    "compare.md",
    "compare.html",
)
# an output file's temporary name beside it: ".<name>.<random>.tmp"
_TEMPORARY = re.compile(r"/\.(" + "|".join(map(re.escape, OUTPUT_NAMES)) + r")\.[^/]+\.tmp$")


class FullDisk:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        if not (os.path.exists(FULL) and os.path.isdir("/proc/self/fd")):
            pytest.skip("needs Linux's /dev/full and /proc")
        self.nth: int | None = None
        self.name: str | None = None
        self.opened = 0
        real = os.fdopen

        def fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
            try:
                found = _TEMPORARY.search(os.readlink(f"/proc/self/fd/{fd}"))
            except OSError:  # not an open descriptor: os.fdopen says so itself
                found = None
            if found:
                self.opened += 1
                if self.opened == self.nth or found.group(1) == self.name:
                    full = os.open(FULL, os.O_WRONLY)
                    os.dup2(full, fd)
                    os.close(full)
            return real(fd, *args, **kwargs)

        monkeypatch.setattr(os, "fdopen", fdopen)

    def at(self, nth: int | None = None, *, name: str | None = None) -> None:
        """From now on, the `nth` output file, or the first called `name`, fails; none: none."""
        self.nth, self.name, self.opened = nth, name, 0
