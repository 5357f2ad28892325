"""How many bytes of drawing instructions a PDF page holds, counted before MuPDF reads its text.

Reading a page's text (`get_textpage`) makes MuPDF keep a record of every character it draws,
~90 bytes each, plus the blocks and lines around them: a page of 1M text operators (5 MB on
disk) took 55 s and 7 GB. Nothing can stop MuPDF once it reads the page, so the page is
weighed first: its content streams, decompressed, and each form XObject as often as the page
(or a form) draws it ("/Fm0 Do"): a 0.3 MB form drawn a thousand times is 300 MB of
instructions to MuPDF (a character drawn costs at least one byte of them). A real paper's
densest page holds well under 1 MB (the shared corpus: 0.6 MB, a page of vector plot).

A stream is inflated with its output capped at the budget, so a decompression bomb (1.5 GB of
spaces in 1.5 MB) costs the budget, not its size. Streams in another filter than Flate (rare
in content streams) are decoded by MuPDF whole.
"""

from __future__ import annotations

import re
import zlib
from typing import TYPE_CHECKING, NamedTuple

from pipeline.pdflib import pdf_errors

if TYPE_CHECKING:
    import pymupdf

MIB = 1024 * 1024
# Deflate inflates at most ~1032 times: a page whose streams could not reach the limit even so
# (nearly every page of text: its text is ~20 KB of Flate) is known small without inflating.
_MOST_INFLATED = 1032
_SLICE = 256 * 1024
_DRAW = re.compile(rb"/([^\s/\[\]()<>{}%]+)\s*Do(?![^\s/\[\]()<>{}%])")
_DEEPEST = 64  # forms drawing forms: deeper is hostile (and over any budget)


class _Stream(NamedTuple):
    xref: int
    raw: bytes  # as in the file, filtered: what MuPDF reads, whatever its /Length says
    flate: bool  # else unfiltered, when `other` is False
    other: bool  # another filter (chain): decoded by MuPDF to be weighed


class _Weighed(NamedTuple):
    size: int  # decoded bytes, at most the limit + 1
    draws: list[str]  # the names it draws ("/Fm0 Do"), in order


class Scales:
    """Weighs the pages of one document, remembering each stream it has met (pages share
    forms: one paper's 2,581 forms are drawn from three pages)."""

    def __init__(self, doc: pymupdf.Document, limit: int) -> None:
        self.doc, self.limit = doc, limit
        self._streams: dict[int, _Stream] = {}
        self._weighed: dict[int, _Weighed] = {}
        self._errors = pdf_errors()

    def over(self, page: pymupdf.Page) -> bool:
        """Whether the page holds more than `limit` bytes of decompressed instructions."""
        try:
            contents = list(page.get_contents())
            forms = self._forms(page)
            streams = [self._stream(xref) for xref in contents]
        except self._errors:
            return False  # unreadable contents or resources: MuPDF draws nothing from them
        if not forms and not any(s.other for s in streams):
            most = sum(len(s.raw) * (_MOST_INFLATED if s.flate else 1) for s in streams)
            if most <= self.limit:
                return False
        return self._drawn_bytes(contents, forms) > self.limit

    def _forms(self, page: pymupdf.Page) -> dict[tuple[int, str], int]:
        """The form XObjects the page may draw, nested ones too, by (the xref of the form that
        names it, 0 for the page; its name). A page whose own resources name no XObject (most
        pages of text) is not scanned: that costs a third of a millisecond a page."""
        own = self.doc.xref_get_key(page.xref, "Resources")[0] != "null"  # else inherited
        if own and self.doc.xref_get_key(page.xref, "Resources/XObject")[0] == "null":
            return {}
        return {(inv, name): xref for xref, name, inv, _ in page.get_xobjects() if xref > 0}

    def _drawn_bytes(self, contents: list[int], forms: dict[tuple[int, str], int]) -> int:
        """The bytes MuPDF interprets to draw the page: its contents, and each form as many
        times as it is drawn; counted up to just past the limit."""
        totals: dict[int, int] = {}  # a form's bytes with all it draws, once worked out

        def drawn(xref: int, invoker: int, depth: int) -> int:
            if depth > _DEEPEST:
                return self.limit + 1
            weighed = self._weigh(xref)
            total = weighed.size
            for name in weighed.draws:
                if total > self.limit:
                    break
                form = forms.get((invoker, name))
                if form is None or form == xref:  # an image, or a form drawing itself
                    continue
                if form not in totals:
                    totals[form] = 0  # while worked out: a cycle costs nothing (MuPDF stops)
                    totals[form] = drawn(form, form, depth + 1)
                total += totals[form]
            return total

        total = 0
        for xref in dict.fromkeys(contents):
            total += drawn(xref, 0, 0)
            if total > self.limit:
                break
        return total

    def _stream(self, xref: int) -> _Stream:
        if xref not in self._streams:
            kind, value = self.doc.xref_get_key(xref, "Filter")
            flate = kind != "null" and value.strip("[] ") == "/FlateDecode"
            raw = self.doc.xref_stream_raw(xref) or b""
            self._streams[xref] = _Stream(xref, raw, flate, kind != "null" and not flate)
        return self._streams[xref]

    def _weigh(self, xref: int) -> _Weighed:
        if xref not in self._weighed:
            data = _decoded(self.doc, self._stream(xref), self.limit + 1, self._errors)
            draws = (
                [name.decode("latin-1") for name in _DRAW.findall(data)] if b"Do" in data else []
            )
            self._weighed[xref] = _Weighed(len(data), draws)
        return self._weighed[xref]


def _decoded(
    doc: pymupdf.Document, stream: _Stream, cap: int, errors: tuple[type[Exception], ...]
) -> bytes:
    """The stream decoded, its first `cap` bytes at most; b"" when it cannot be read."""
    try:
        if stream.flate:
            return _inflated(stream.raw, cap)
        if not stream.other:
            return stream.raw[:cap]
        return (doc.xref_stream(stream.xref) or b"")[:cap]
    except errors:
        return b""  # a stream MuPDF cannot decode costs it nothing to skip


def _inflated(raw: bytes, cap: int) -> bytes:
    """Fed in slices, so a stream damaged part way gives what inflates before the damage
    (what MuPDF reads of it too)."""
    inflate, parts, total = zlib.decompressobj(), [], 0
    for at in range(0, len(raw), _SLICE):
        try:
            part = inflate.decompress(raw[at : at + _SLICE], cap - total)
        except zlib.error:
            break
        parts.append(part)
        total += len(part)
        if total >= cap or inflate.unconsumed_tail or inflate.eof:
            break
    return b"".join(parts)
