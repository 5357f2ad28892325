"""How many bytes of drawing instructions a PDF page holds, counted before MuPDF reads its text.

Reading a page's text (`get_textpage`) makes MuPDF keep a record of every character it draws,
~90 bytes each, plus the blocks and lines around them: a page of 1M text operators (5 MB on
disk) took 55 s and 7 GB. Nothing can stop MuPDF once it reads the page, so the page is
weighed first: its content streams and the form XObjects it draws, decompressed (a character
drawn costs at least one byte of instructions, so the bytes bound the characters). A real
paper's densest page holds well under 1 MB (the shared corpus: 0.6 MB, a page of vector plot).

A stream is inflated with its output capped at what is left of the budget, so a decompression
bomb (1.5 GB of spaces in 1.5 MB) costs the budget, not its size. Streams in another filter
than Flate (rare in content streams) are decoded by MuPDF whole.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, NamedTuple

from pipeline.pdflib import pymupdf as quiet_pymupdf

if TYPE_CHECKING:
    import pymupdf

MIB = 1024 * 1024
# Deflate inflates at most ~1032 times: a page whose streams could not reach the limit even so
# (nearly every page: a page's text is ~20 KB of Flate) is known small without inflating.
_MOST_INFLATED = 1032
_SLICE = 256 * 1024


class _Stream(NamedTuple):
    xref: int
    length: int  # its bytes in the file, filtered
    flate: bool  # else unfiltered, when `other` is False
    other: bool  # another filter (chain): decoded by MuPDF to be weighed


class Scales:
    """Weighs the pages of one document, remembering the streams and the form lists it has
    met: pages share forms and, often, one resources dictionary naming them all (one paper's
    2,581 forms would otherwise be listed again for each of its pages)."""

    def __init__(self, doc: pymupdf.Document, limit: int) -> None:
        self.doc, self.limit = doc, limit
        self._streams: dict[int, _Stream] = {}
        self._forms: dict[str, list[int]] = {}  # by the page's resources, when a reference
        self._errors = _errors()

    def over(self, page: pymupdf.Page) -> bool:
        """Whether the page holds more than `limit` bytes of decompressed instructions."""
        try:
            streams = [self._stream(xref) for xref in dict.fromkeys(self._drawn(page))]
        except self._errors:
            return False  # unreadable contents or resources: MuPDF draws nothing from them
        if not any(s.other for s in streams):
            most = sum(s.length * (_MOST_INFLATED if s.flate else 1) for s in streams)
            if most <= self.limit:
                return False
        return self._decoded(streams) > self.limit

    def _drawn(self, page: pymupdf.Page) -> list[int]:
        """The page's content streams and the form XObjects it may draw, nested ones too
        (images are no instructions). A page whose own resources name no XObject (most pages
        of text) is not scanned for forms: that costs a third of a millisecond a page."""
        contents = list(page.get_contents())
        kind, resources = self.doc.xref_get_key(page.xref, "Resources")
        if kind == "dict" and self.doc.xref_get_key(page.xref, "Resources/XObject")[0] == "null":
            return contents
        shared = resources if kind == "xref" else ""  # else inline, or inherited: not shared
        if shared not in self._forms:
            forms = [xref for xref, *_ in page.get_xobjects() if xref > 0]
            if not shared:
                return contents + forms
            self._forms[shared] = forms
        return contents + self._forms[shared]

    def _stream(self, xref: int) -> _Stream:
        if xref not in self._streams:
            kind, value = self.doc.xref_get_key(xref, "Filter")
            flate = kind != "null" and value.strip("[] ") == "/FlateDecode"
            # What MuPDF reads of it, not its /Length, which a hostile file may understate.
            size = len(self.doc.xref_stream_raw(xref) or b"")
            self._streams[xref] = _Stream(xref, size, flate, kind != "null" and not flate)
        return self._streams[xref]

    def _decoded(self, streams: list[_Stream]) -> int:
        """The streams' decompressed bytes, counted up to just past the limit."""
        total = 0
        for stream in streams:
            total += _decoded_bytes(self.doc, stream, self.limit - total + 1, self._errors)
            if total > self.limit:
                break
        return total


def _errors() -> tuple[type[Exception], ...]:
    return (RuntimeError, ValueError, quiet_pymupdf().mupdf.FzErrorBase)


def _decoded_bytes(
    doc: pymupdf.Document, stream: _Stream, cap: int, errors: tuple[type[Exception], ...]
) -> int:
    """The stream's decoded length, at most `cap`; 0 when it cannot be read."""
    try:
        if stream.flate:
            return _inflated_bytes(doc.xref_stream_raw(stream.xref) or b"", cap)
        if not stream.other:
            return min(len(doc.xref_stream_raw(stream.xref) or b""), cap)
        return min(len(doc.xref_stream(stream.xref) or b""), cap)
    except errors:
        return 0  # a stream MuPDF cannot decode costs it nothing to skip


def _inflated_bytes(raw: bytes, cap: int) -> int:
    """Fed in slices, so a stream damaged part way counts what inflates before the damage
    (what MuPDF reads of it too)."""
    inflate, total = zlib.decompressobj(), 0
    for at in range(0, len(raw), _SLICE):
        try:
            total += len(inflate.decompress(raw[at : at + _SLICE], cap - total))
        except zlib.error:
            break
        if total >= cap or inflate.unconsumed_tail or inflate.eof:
            break
    return min(total, cap)
