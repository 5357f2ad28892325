"""Python's cycle collector, paused where a process makes many objects and no cycles.

The collector runs whenever allocations outnumber frees by a threshold, and each run walks the
objects still alive in the generations it collects. Reading a paper allocates hundreds of
thousands of short-lived objects (PyMuPDF's dicts, lines, sentences, pydantic models), none of
them in a cycle, and start-up builds tens of thousands that live as long as the process: in both
the collector finds nothing and costs CPU (a tenth of a cold day's, in its workers).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused(*, freeze: bool = False) -> Iterator[None]:
    """The collector off inside, then as it was; whatever cycles were made inside are collected
    by its next run. `freeze`: what is alive at the end is left out of every later collection
    (objects that live as long as the process)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if enabled:
            gc.enable()
