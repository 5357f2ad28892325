"""Handing a long-lived worker process's freed memory back to the system.

A worker reads hundreds of papers in turn. Each one's PyMuPDF pages and Python objects are freed
when it is done, but glibc keeps the freed heap (fragmented among what is still live) mapped to
the process, so a worker's resident size ratchets up to its largest paper's and stays there.
`malloc_trim` returns those pages; elsewhere (macOS, musl) there is nothing to call and nothing
is done.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable
from typing import Any

# Freed heap a worker may keep rather than return. Returning it is not free: the next paper
# faults the pages back in (a chunk or summarize worker frees 0-2 MiB a paper, and trimming it
# cost ~0.7 ms of system CPU a paper and stage); a PDF's pages free far more, and are returned.
KEEP_FREE = 4 * 2**20


class Heap:
    """This process's freed heap, returned to the system once enough of it is new.

    glibc still counts trimmed pages as free (`malloc_trim` unmaps them, the chunks stay in its
    bins), so what was free after the last trim is the baseline: a worker that once held more
    than `keep_free` would otherwise trim after every later paper, however little it freed."""

    def __init__(self) -> None:
        self._after_trim = 0

    def release(self, keep_free: int = KEEP_FREE) -> None:
        trim = _malloc_trim()
        if trim is None:
            return
        free = _free_heap()
        if free is None:  # unknown (glibc before 2.33): trim after every paper
            trim(0)
            return
        self._after_trim = min(self._after_trim, free)  # reused since: freeing it again counts
        if free - self._after_trim > keep_free:
            trim(0)
            self._after_trim = _free_heap() or 0


# One per process: it describes the process's own C heap, which every paper a worker computes
# shares.
_HEAP = Heap()


def release() -> None:
    """After each paper a worker computes: return freed heap pages to the system once more than
    `KEEP_FREE` bytes were freed since the last return, and drop the warnings PyMuPDF collects
    from every document it opens (a list it never empties itself)."""
    pymupdf = sys.modules.get("pymupdf")
    if pymupdf is not None:
        pymupdf.TOOLS.reset_mupdf_warnings()
    _HEAP.release()


class _Mallinfo2(ctypes.Structure):
    """glibc's `struct mallinfo2`: ten size_t fields, in this order."""

    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                     "uordblks", "fordblks", "keepcost")
    ]  # fmt: skip


def _free_heap() -> int | None:
    """Bytes of freed heap glibc holds (`mallinfo2`'s fordblks, over every arena), or None where
    there is no `mallinfo2` (glibc before 2.33)."""
    mallinfo2 = _mallinfo2()
    return None if mallinfo2 is None else int(mallinfo2().fordblks)


@functools.cache
def _mallinfo2() -> Callable[[], _Mallinfo2] | None:
    function = _glibc("mallinfo2")
    if function is not None:
        function.restype = _Mallinfo2
    return function


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, or None where the C library has none."""
    return _glibc("malloc_trim")


def _glibc(name: str) -> Any:
    """The C library's function `name`, or None: not Linux, musl, or a library without it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None
