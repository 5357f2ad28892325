"""PyMuPDF, imported with MuPDF's messages kept off the terminal.

PyMuPDF prints every MuPDF error ("MuPDF error: unsupported error: cannot create appearance
stream for Foo annotations") and its own notices to stdout, through a C callback: `paperbrief
extract` then printed them before its JSON, a run's table carried thousands of them (some not
UTF-8), and a closed pipe (`extract F | head -1`) raised BrokenPipeError inside that callback,
printed by SWIG as a "Director exception" block per message. The messages say nothing a
reader of the briefing can act on: a PDF that cannot be read fails with its own error. PyMuPDF
still collects them (`TOOLS.mupdf_warnings()`, emptied after each paper by `memory.release`);
its own notices go to the `pymupdf` logger at DEBUG, shown by nothing unless logging is set up.

Each process sets this for itself (the run, and each worker on its first PDF): the switches
are module globals of PyMuPDF, so every import goes through `pymupdf()`.
"""

from __future__ import annotations

import functools
from types import ModuleType


@functools.cache
def pymupdf() -> ModuleType:
    import logging

    import pymupdf

    pymupdf.TOOLS.mupdf_display_errors(False)
    pymupdf.TOOLS.mupdf_display_warnings(False)
    pymupdf.set_messages(pylogging=True, pylogging_name="pymupdf", pylogging_level=logging.DEBUG)
    return pymupdf


def pdf_errors(*also: type[Exception]) -> tuple[type[Exception], ...]:
    """What PyMuPDF raises on a damaged PDF (with `also`), for an `except` clause. PyMuPDF is
    imported where a PDF is opened, not with a module that names this: a cached run never
    opens one, and the import costs ~0.1 s and ~37 MiB."""
    return (*also, RuntimeError, ValueError, pymupdf().mupdf.FzErrorBase)
