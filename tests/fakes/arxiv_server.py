"""A small arXiv-like HTTP server for tests: the real `ArxivClient` talks to it.

    papers = [FakePaper("2602.00001v1", categories=["cs.LG"], submitted=...), ...]
    with FakeArxiv(papers, rss=papers) as server:
        settings = server.settings(delay=0.2)
        server.fail("/pdf/2602.00001", "503", times=2, retry_after=1)
        ...
        server.requests   # every request: method, path, query, headers, monotonic time

Routes, shaped like the real replies in ../shared/arxiv-responses (generated here, never copied):

    /api/query   Atom pages (2026 format): `search_query` with `cat:` terms and a
                 `submittedDate:[YYYYMMDDHHMM TO YYYYMMDDHHMM]` window (both ends inclusive),
                 or `id_list` (ids with or without version; unknown ids are left out, a
                 malformed one gets arXiv's HTTP 400 error entry); `start`, `max_results`,
                 `sortOrder`; opensearch totalResults/startIndex/itemsPerPage
    /rss/<cats>  RSS 2.0 with `arxiv:announce_type`: the `rss` items carrying any of the
                 `+`-joined categories, in the order given (duplicates kept, as a test may want)
    /pdf/<id>    a PDF made with PyMuPDF (title and abstract on page 1); unknown id → 404

Faults, per path prefix ("/api/query", "/rss/", "/pdf/2602.00001") or per paper id
("2602.00001", any version), each for the first `times` matching requests (None: always):

    "503", "429", "500"   that status, with `Retry-After: <retry_after>` when given
    "404"                 not found
    "301"                 a redirect to `location`
    "slow"                wait `delay` seconds, then answer normally
    "drop"                close the connection without a reply
    "truncated"           a PDF cut in half (no %%EOF marker)
    "html"                HTTP 200 with an HTML "not available" page
    "empty"               HTTP 200 with an empty body (PDF) or an Atom page without entries (API)
    "drip"                the normal reply, its body one byte every `delay` seconds
    "endless"             HTTP 200 without a Content-Length: a PDF header (PDF) or an Atom
                          page's start (API, RSS), then bytes for as long as the client reads
    "oversized"           HTTP 200 announcing a Content-Length of 10 GB, then as "endless"
    "mislabelled"         the real PDF served as `Content-Type: text/html`
    "circular"            API: every page is the first one (with `api_total_offset`: a total
                          that never runs out)
    "unasked"             API: an `id_list` query answered with every paper the server knows

`storm` (a `tests.fakes.http.Storm`) adds random 5xx, 429, replies cut off mid-body and hangs
on that share of all requests, on top of the faults above (a bench's fault storm).

Standard library only (plus PyMuPDF for the PDFs); one thread per connection.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import pymupdf

from pipeline.settings import ArxivSettings
from tests.fakes.http import LocalServer, QuietHandler, QuietServer, Storm, hang_up, send_cut

FaultKind = Literal[
    "503",
    "429",
    "500",
    "404",
    "301",
    "slow",
    "drop",
    "truncated",
    "html",
    "empty",
    "drip",
    "endless",
    "oversized",
    "mislabelled",
    "circular",
    "unasked",
]
ENDLESS_PART = b"0" * 65536
EASTERN = ZoneInfo("America/New_York")
STAMP = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # the feed's <updated>; fixed for repeatable bytes

_CAT = re.compile(r"cat:([\w.-]+)")
_WINDOW = re.compile(r"submittedDate:\[(\d{12})\s+TO\s+(\d{12})\]")
_ID = re.compile(r"^(\d{4}\.\d{4,5}|[a-z-]+(\.[A-Z]{2})?/\d{7})(v\d+)?$")
_VERSION = re.compile(r"v\d+$")


@dataclass
class FakePaper:
    """One paper the fake arXiv knows. The first category is the primary one."""

    id: str  # with version, e.g. "2602.00001v1"
    title: str = ""
    abstract: str = ""
    authors: list[str] = field(default_factory=lambda: ["Ada Lovelace", "Alan Turing"])
    categories: list[str] = field(default_factory=lambda: ["cs.LG"])
    submitted: datetime = STAMP
    announce_type: str = "new"
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None

    def __post_init__(self) -> None:
        self.title = self.title or f"Paper {self.id}"
        self.abstract = self.abstract or f"We study problem {self.id} and report gains."

    @property
    def base_id(self) -> str:
        return _VERSION.sub("", self.id)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float  # time.monotonic() when the request line arrived
    port: int  # the client's port: one value for many requests means one kept-alive connection


@dataclass
class Fault:
    kind: FaultKind
    times: int | None = None  # None: every time
    retry_after: float | str | None = None
    delay: float = 0.0
    location: str = ""


class FakeTime:
    """A clock and a sleep for `ArxivClient`: sleeping advances the clock and is recorded, so
    back-off and spacing are checked exactly and cost no real time."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_papers(
    count: int,
    *,
    categories: Iterable[str] = ("cs.LG",),
    start: datetime = STAMP,
    every: timedelta = timedelta(minutes=7),
    prefix: str = "2603",
) -> list[FakePaper]:
    """`count` papers submitted `every` apart from `start`, cycling through `categories`."""
    cats = list(categories)
    return [
        FakePaper(
            id=f"{prefix}.{i + 1:05d}v1",
            categories=[cats[i % len(cats)]],
            submitted=start + i * every,
        )
        for i in range(count)
    ]


class FakeArxiv(LocalServer):
    """An arXiv-like server on 127.0.0.1, started and stopped as a context manager."""

    def __init__(
        self,
        papers: Iterable[FakePaper] = (),
        *,
        rss: Iterable[FakePaper] = (),
        announce_day: date | None = date(2026, 3, 2),
        api_total_offset: int = 0,
        storm: Storm | None = None,
    ) -> None:
        self.storm = storm
        self.papers = list(papers)
        self.rss = list(rss)
        self.announce_day = announce_day
        # arXiv sometimes reports more results than it will page through; this inflates the total.
        self.api_total_offset = api_total_offset
        self._lock = threading.Lock()
        self._faults: list[tuple[str, Fault]] = []
        self._requests: list[RecordedRequest] = []
        self._pdfs: dict[str, bytes] = {}
        super().__init__()

    # --- lifecycle --------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self.origin + ""

    def env(self, delay: float = 0.0) -> dict[str, str]:
        """The environment that points a `paperbrief run` subprocess at this server."""
        return {
            "PAPERBRIEF_ARXIV_API_URL": f"{self.base_url}/api/query",
            "PAPERBRIEF_ARXIV_RSS_URL": f"{self.base_url}/rss/",
            "PAPERBRIEF_ARXIV_PDF_URL": f"{self.base_url}/pdf/",
            "PAPERBRIEF_ARXIV_DELAY": str(delay),
        }

    def settings(self, **overrides: Any) -> ArxivSettings:
        """ArxivSettings pointing at this server (fast delays unless overridden)."""
        values: dict[str, Any] = {
            "api_url": f"{self.base_url}/api/query",
            "rss_url": f"{self.base_url}/rss/",
            "pdf_url": f"{self.base_url}/pdf/",
            "delay": 0.0,
            "timeout": 5.0,
            **overrides,
        }
        return ArxivSettings(**values)

    # --- faults and inspection --------------------------------------------------------

    def fail(
        self,
        where: str,
        kind: FaultKind,
        *,
        times: int | None = None,
        retry_after: float | str | None = None,
        delay: float = 0.0,
        location: str = "",
    ) -> None:
        """Inject a fault for a path prefix ("/pdf/2603.00001") or a paper id ("2603.00001")."""
        with self._lock:
            self._faults.append((where, Fault(kind, times, retry_after, delay, location)))

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, prefix: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.startswith(prefix)]

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _take_fault(self, path: str) -> Fault | None:
        """The first matching fault still active, using up one of its `times`."""
        with self._lock:
            for where, fault in self._faults:
                if _matches(where, path) and (fault.times is None or fault.times > 0):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    # --- content ----------------------------------------------------------------------

    def find(self, paper_id: str) -> FakePaper | None:
        for paper in self.papers + self.rss:
            if paper_id in (paper.id, paper.base_id):
                return paper
        return None

    def pdf_bytes(self, paper: FakePaper) -> bytes:
        with self._lock:
            if paper.id not in self._pdfs:
                self._pdfs[paper.id] = make_pdf(paper.title, paper.abstract)
            return self._pdfs[paper.id]

    def api_reply(
        self, query: dict[str, str], *, empty: bool = False, unasked: bool = False
    ) -> tuple[int, str]:
        """Status and Atom text; `empty` leaves the entries out but keeps the counts, `unasked`
        answers an id query with every paper known."""
        ids = [i.strip() for i in query.get("id_list", "").split(",") if i.strip()]
        bad = next((i for i in ids if not _ID.match(i)), None)
        if bad is not None:
            return 400, api_error_feed(f"incorrect id format for {bad}")
        if ids and unasked:
            matches = list(self.papers)
        elif ids:
            matches = [p for i in ids if (p := self.find(i)) is not None]
        else:
            matches = self._search(query.get("search_query", ""))
            matches.sort(key=lambda p: p.submitted, reverse=query.get("sortOrder") != "ascending")
        start = int(query.get("start", 0))
        size = len(matches) if unasked else int(query.get("max_results", 10))
        total = len(matches) + (0 if ids else self.api_total_offset)
        shown = [] if empty else matches[start : start + size]
        return 200, atom_feed(shown, query, total, start, size)

    def _search(self, search_query: str) -> list[FakePaper]:
        cats = set(_CAT.findall(search_query))
        window = _WINDOW.search(search_query)
        found = []
        for paper in self.papers:
            if cats and not cats.intersection(paper.categories):
                continue
            if window:
                minute = paper.submitted.astimezone(UTC).strftime("%Y%m%d%H%M")
                if not window.group(1) <= minute <= window.group(2):
                    continue
            found.append(paper)
        return found

    def rss_reply(self, cats: list[str]) -> str:
        items = [p for p in self.rss if set(cats).intersection(p.categories)]
        return rss_feed(items, cats, self.announce_day)


# --- documents, shaped like arXiv's -----------------------------------------------------


def atom_feed(
    papers: list[FakePaper], query: dict[str, str], total: int, start: int, size: int
) -> str:
    title = "&amp;".join(
        f"{k}={escape(query.get(k, ''))}"
        for k in ("search_query", "id_list", "start", "max_results")
    )
    entries = "".join(_atom_entry(p) for p in papers)
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">\n'
        "  <id>https://arxiv.org/api/fake</id>\n"
        f"  <title>arXiv Query: {title}</title>\n"
        f"  <updated>{STAMP:%Y-%m-%dT%H:%M:%SZ}</updated>\n"
        f"  <opensearch:itemsPerPage>{size}</opensearch:itemsPerPage>\n"
        f"  <opensearch:totalResults>{total}</opensearch:totalResults>\n"
        f"  <opensearch:startIndex>{start}</opensearch:startIndex>\n"
        f"{entries}</feed>\n"
    )


def _atom_entry(p: FakePaper) -> str:
    when = f"{p.submitted.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"
    cats = "".join(
        f'    <category term="{c}" scheme="http://arxiv.org/schemas/atom"/>\n' for c in p.categories
    )
    authors = "".join(
        f"    <author>\n      <name>{escape(a)}</name>\n    </author>\n" for a in p.authors
    )
    optional = "".join(
        f"    <arxiv:{tag}>{escape(value)}</arxiv:{tag}>\n"
        for tag, value in (("comment", p.comment), ("journal_ref", p.journal_ref), ("doi", p.doi))
        if value
    )
    return (
        "  <entry>\n"
        f"    <id>http://arxiv.org/abs/{p.id}</id>\n"
        f"    <title>{escape(p.title)}</title>\n"
        f"    <updated>{when}</updated>\n"
        f'    <link href="https://arxiv.org/abs/{p.id}" rel="alternate" type="text/html"/>\n'
        f'    <link href="https://arxiv.org/pdf/{p.id}" rel="related" '
        'type="application/pdf" title="pdf"/>\n'
        f"    <summary>{escape(p.abstract)}</summary>\n"
        f"{cats}"
        f"    <published>{when}</published>\n"
        f"{optional}"
        f'    <arxiv:primary_category term="{p.categories[0]}"/>\n'
        f"{authors}"
        "  </entry>\n"
    )


def api_error_feed(message: str) -> str:
    anchor = "https://arxiv.org/api/errors#" + re.sub(r"\W+", "_", message)
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">\n'
        "  <id>https://arxiv.org/</id>\n  <title>arXiv Search Results</title>\n"
        f"  <updated>{STAMP:%Y-%m-%dT%H:%M:%SZ}</updated>\n"
        "  <opensearch:itemsPerPage>1</opensearch:itemsPerPage>\n"
        "  <opensearch:totalResults>1</opensearch:totalResults>\n"
        "  <opensearch:startIndex>0</opensearch:startIndex>\n"
        f"  <entry>\n    <id>{anchor}</id>\n    <title>Error</title>\n"
        f"    <summary>{escape(message)}</summary>\n"
        "    <author>\n      <name>arXiv api core</name>\n    </author>\n  </entry>\n</feed>\n"
    )


def rss_feed(items: list[FakePaper], cats: list[str], day: date | None) -> str:
    joined = "+".join(cats)
    when = day or STAMP.date()
    pub = format_datetime(datetime(when.year, when.month, when.day, tzinfo=EASTERN))
    body = "".join(_rss_item(p, pub) for p in items)
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<rss xmlns:arxiv="http://arxiv.org/schemas/atom" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" version="2.0">\n'
        "  <channel>\n"
        f"    <title>{escape(', '.join(cats))} updates on arXiv.org</title>\n"
        f"    <link>http://rss.arxiv.org/rss/{joined}</link>\n"
        f"    <description>{escape(', '.join(cats))} updates on the arXiv.org e-print "
        "archive.</description>\n"
        "    <language>en-us</language>\n"
        f"    <lastBuildDate>{format_datetime(STAMP)}</lastBuildDate>\n"
        "    <managingEditor>rss-help@arxiv.org</managingEditor>\n"
        + (f"    <pubDate>{pub}</pubDate>\n" if day else "")
        + "    <skipDays>\n      <day>Sunday</day>\n      <day>Saturday</day>\n    </skipDays>\n"
        f"{body}  </channel>\n</rss>\n"
    )


def _rss_item(p: FakePaper, pub: str) -> str:
    cats = "".join(f"      <category>{c}</category>\n" for c in p.categories)
    description = f"arXiv:{p.id} Announce Type: {p.announce_type} \nAbstract: {p.abstract}"
    doi = f"      <arxiv:DOI>{escape(p.doi)}</arxiv:DOI>\n" if p.doi else ""
    return (
        "    <item>\n"
        f"      <title>{escape(p.title)}</title>\n"
        f"      <link>https://arxiv.org/abs/{p.base_id}</link>\n"
        f"      <description>{escape(description)}</description>\n"
        f'      <guid isPermaLink="false">oai:arXiv.org:{p.id}</guid>\n'
        f"{cats}"
        f"      <pubDate>{pub}</pubDate>\n"
        f"      <arxiv:announce_type>{p.announce_type}</arxiv:announce_type>\n"
        "      <dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>\n"
        f"{doi}"
        f"      <dc:creator>{escape(', '.join(p.authors))}</dc:creator>\n"
        "    </item>\n"
    )


def make_pdf(title: str, abstract: str, pages: int = 1) -> bytes:
    doc = pymupdf.open()
    for n in range(pages):
        page = doc.new_page()
        text = f"{title}\n\nAbstract\n{abstract}" if n == 0 else f"Section {n}"
        page.insert_textbox(pymupdf.Rect(72, 72, 540, 720), text, fontsize=11)
    data: bytes = doc.tobytes()
    doc.close()
    return data


NOT_AVAILABLE_HTML = (
    b"<!DOCTYPE html>\n<html><head><title>PDF not available</title></head>"
    b"<body><h1>PDF unavailable</h1><p>The PDF for this paper is being generated; "
    b"please try again later.</p></body></html>\n"
)


def _matches(where: str, path: str) -> bool:
    if where.startswith("/"):
        return path.startswith(where)
    if not path.startswith("/pdf/"):
        return False
    requested = path[len("/pdf/") :]
    return where in (requested, _VERSION.sub("", requested))


# --- the HTTP plumbing ------------------------------------------------------------------


class _Handler(QuietHandler):
    server: QuietServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart
    _cut = False  # a storm's "cut" for this request: `_send` sends half the reply and hangs up

    def do_GET(self) -> None:
        fake = self.server.fake
        split = urlsplit(self.path)
        path = unquote(split.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in self.headers.items()}
        port = int(self.client_address[1])
        fake._record(RecordedRequest("GET", path, query, headers, time.monotonic(), port))
        fault = fake._take_fault(path)
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)
            fault = None
        if fault is not None and self._faulted(fault, path):
            return
        if fake.storm is not None and self._stormed(*fake.storm.draw()):
            return
        if path == "/api/query":
            status, text = fake.api_reply(query)
            self._send(status, text.encode(), "application/atom+xml; charset=utf-8")
        elif path.startswith("/rss/"):
            cats = [c for c in path[len("/rss/") :].split("+") if c]
            self._send(200, fake.rss_reply(cats).encode(), "application/rss+xml; charset=utf-8")
        elif path.startswith("/pdf/") and (paper := fake.find(path[len("/pdf/") :])):
            self._send(200, fake.pdf_bytes(paper), "application/pdf")
        else:
            self._send(404, b"<html><body>Not found</body></html>", "text/html")

    def _stormed(self, kind: str | None, status: int) -> bool:
        storm = self.server.fake.storm
        if kind == "hang":
            hang_up(self, storm.hang_seconds)
        elif kind in ("5xx", "429"):
            status = 429 if kind == "429" else status
            extra = {"Retry-After": str(storm.retry_after)} if kind == "429" else {}
            self._send(
                status, f"<html><body>HTTP {status}</body></html>".encode(), "text/html", extra
            )
        elif kind == "cut":
            self._cut = True
        return kind in ("hang", "5xx", "429")

    def _faulted(self, fault: Fault, path: str) -> bool:
        """Answer with the fault; False when the fault only changes the normal reply's body."""
        kind = fault.kind
        if kind == "drop":
            self.close_connection = True
            return True
        if kind in ("503", "429", "500", "404"):
            extra = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            page = f"<html><body>HTTP {kind}</body></html>".encode()
            self._send(int(kind), page, "text/html", extra)
            return True
        if kind == "301":
            self._send(301, b"", "text/html", {"Location": fault.location})
            return True
        if kind == "html":
            self._send(200, NOT_AVAILABLE_HTML, "text/html; charset=utf-8")
            return True
        query = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        if kind in ("empty", "circular", "unasked") and path.startswith("/api/"):
            if kind == "circular":
                query["start"] = "0"
            status, text = self.server.fake.api_reply(
                query, empty=kind == "empty", unasked=kind == "unasked"
            )
            self._send(status, text.encode(), "application/atom+xml; charset=utf-8")
            return True
        if kind in ("endless", "oversized"):
            self._endless(path, announce=10**10 if kind == "oversized" else None)
            return True
        if kind == "drip":
            self._drip(path, fault.delay)
            return True
        if kind == "mislabelled":
            paper = self.server.fake.find(path[len("/pdf/") :])
            whole = self.server.fake.pdf_bytes(paper) if paper else make_pdf("x", "y")
            self._send(200, whole, "text/html; charset=utf-8")
            return True
        if kind == "empty":
            self._send(200, b"", "application/pdf")
            return True
        if kind == "truncated":
            paper = self.server.fake.find(path[len("/pdf/") :])
            whole = self.server.fake.pdf_bytes(paper) if paper else make_pdf("x", "y")
            self._send(200, whole[: len(whole) // 2], "application/pdf")
            return True
        return False

    def _endless(self, path: str, announce: int | None) -> None:
        """Bytes for as long as the client reads them (the connection is not kept)."""
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/pdf")
        if announce is not None:
            self.send_header("Content-Length", str(announce))
        self.end_headers()
        if path.startswith("/pdf/"):
            start = b"%PDF-1.7\n%"
        else:
            start = atom_feed([], {}, 10**9, 0, 10).encode().removesuffix(b"</feed>\n")
        try:
            self.wfile.write(start)
            while True:
                self.wfile.write(ENDLESS_PART)
        except OSError:
            return  # the client hung up: what it was meant to do

    def _drip(self, path: str, every: float) -> None:
        """The normal reply, its body a byte at a time, `every` seconds apart."""
        fake = self.server.fake
        if path.startswith("/pdf/"):
            paper = fake.find(path[len("/pdf/") :])
            body = fake.pdf_bytes(paper) if paper else make_pdf("x", "y")
        else:
            query = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
            body = fake.api_reply(query)[1].encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/pdf")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for at in range(len(body)):
                self.wfile.write(body[at : at + 1])
                self.wfile.flush()
                time.sleep(every)
        except OSError:
            return

    def _send(
        self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        if self._cut:
            self._cut = False
            send_cut(self, status, {"Content-Type": content_type, **(headers or {})}, data)
            return
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


FakeArxiv.handler = _Handler
