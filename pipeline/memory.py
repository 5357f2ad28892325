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


def release() -> None:
    """After each paper a worker computes: return freed heap pages to the system, and drop the
    warnings PyMuPDF collects from every document it opens (a list it never empties itself)."""
    pymupdf = sys.modules.get("pymupdf")
    if pymupdf is not None:
        pymupdf.TOOLS.reset_mupdf_warnings()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, or None where the C library has none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None).malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # musl, or a C library that cannot be loaded
        return None
