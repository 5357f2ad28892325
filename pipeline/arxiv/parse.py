"""arXiv's replies → `PaperMeta` records. Pure functions over bytes, built on feedparser.

- `api_page`: one Atom page of the query API (`/api/query`), 2016 and 2026 formats alike
  (hard-wrapped or single-line text, `arxiv:` and `opensearch:` extensions).
- `rss_items`: the RSS 2.0 listing of `rss.arxiv.org` (2024+ format, `arxiv:announce_type`).

Neither follows or fetches any link it reads.
"""

from __future__ import annotations

import re
import time
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import feedparser
from pydantic import BaseModel

from pipeline.errors import FeedError
from pipeline.models import PaperMeta, base_id

_ABS_ID = re.compile(r"/abs/(.+?)/?$")
_OAI_ID = re.compile(r"^oai:arXiv\.org:(.+)$", re.IGNORECASE)
_DESCRIPTION = re.compile(
    r"^\s*arXiv:(?P<id>\S+)\s+Announce Type:\s*(?P<type>[\w-]+)\s*"
    r"(?:Abstract:\s*)?(?P<abstract>.*)$",
    re.DOTALL,
)
_API_ERROR = "/api/errors"


class ApiPage(BaseModel):
    """One page of an API reply: its papers and where the page sits in the whole result."""

    papers: list[PaperMeta]
    total: int
    start: int
    per_page: int


class RssFeed(BaseModel):
    """The papers of one RSS listing and the announcement day it is dated."""

    papers: list[PaperMeta]
    announce_day: date | None = None


def normalise(text: str | None) -> str:
    """Collapse every run of whitespace (arXiv's hard wraps included) into one space."""
    return " ".join((text or "").split())


def api_page(xml: bytes) -> ApiPage:
    """Parse one Atom page of arXiv's query API. An API error entry raises `FeedError`."""
    parsed = feedparser.parse(xml)
    feed: Any = parsed.feed
    if "opensearch_totalresults" not in feed:
        problem = parsed.get("bozo_exception") or "no opensearch:totalResults element"
        raise FeedError(f"arXiv API reply is not an Atom result page ({problem})")
    for entry in parsed.entries:
        if _API_ERROR in str(entry.get("id", "")):
            message = normalise(entry.get("summary")) or "unspecified error"
            raise FeedError(f"arXiv API error: {message}")
    return ApiPage(
        papers=[_api_paper(entry) for entry in parsed.entries],
        total=_int(feed.get("opensearch_totalresults")),
        start=_int(feed.get("opensearch_startindex")),
        per_page=_int(feed.get("opensearch_itemsperpage")),
    )


def rss_items(xml: bytes) -> RssFeed:
    """Parse arXiv's RSS 2.0 listing. Items come back in feed order, duplicates and all."""
    parsed = feedparser.parse(xml)
    feed: Any = parsed.feed
    found = parsed.get("version") or "not a feed"
    if found != "rss20":  # the RDF/RSS 1.0 listing arXiv retired in 2024 is refused, not guessed
        raise FeedError(f"arXiv RSS reply is not the RSS 2.0 listing format ({found})")
    return RssFeed(
        papers=[_rss_paper(entry) for entry in parsed.entries],
        announce_day=_rfc822_day(feed.get("published") or feed.get("updated")),
    )


# --- API entries --------------------------------------------------------------------------


def _api_paper(entry: Any) -> PaperMeta:
    paper_id = _id_from_url(str(entry.get("id", "")))
    categories = _terms(entry)
    primary = (entry.get("arxiv_primary_category") or {}).get("term")
    return PaperMeta(
        id=paper_id,
        title=normalise(entry.get("title")),
        abstract=normalise(entry.get("summary")),
        authors=[normalise(a.get("name")) for a in entry.get("authors", []) if a.get("name")],
        categories=categories,
        primary_category=primary or (categories[0] if categories else None),
        comments=normalise(entry.get("arxiv_comment")) or None,
        journal_ref=normalise(entry.get("arxiv_journal_ref")) or None,
        doi=normalise(entry.get("arxiv_doi")) or None,
        published=_struct_day(entry.get("published_parsed")),
        updated=_struct_day(entry.get("updated_parsed")),
        url=_link(entry, rel="alternate") or f"https://arxiv.org/abs/{paper_id}",
        pdf_url=_link(entry, title="pdf"),
    )


def _id_from_url(url: str) -> str:
    found = _ABS_ID.search(url)
    if not found:
        raise FeedError(f"arXiv API entry has an unexpected id {url!r}")
    return found.group(1)


def _terms(entry: Any) -> list[str]:
    terms = [str(tag.get("term")) for tag in entry.get("tags", []) if tag.get("term")]
    return list(dict.fromkeys(terms))


def _link(entry: Any, *, rel: str | None = None, title: str | None = None) -> str | None:
    for link in entry.get("links", []):
        wanted = rel in (None, link.get("rel")) and title in (None, link.get("title"))
        if wanted and link.get("href"):
            return str(link["href"])
    return None


def _struct_day(value: time.struct_time | None) -> date | None:
    return date(value.tm_year, value.tm_mon, value.tm_mday) if value else None


def _int(value: object) -> int:
    try:
        return int(str(value).strip())
    except ValueError as exc:
        raise FeedError(f"arXiv API reply has a non-numeric count {value!r}") from exc


# --- RSS items ----------------------------------------------------------------------------


def _rss_paper(entry: Any) -> PaperMeta:
    described = _DESCRIPTION.match(str(entry.get("summary", "")))
    paper_id = _rss_id(entry, described)
    categories = _terms(entry)
    announce = entry.get("arxiv_announce_type") or (described.group("type") if described else None)
    abstract = described.group("abstract") if described else str(entry.get("summary", ""))
    return PaperMeta(
        id=paper_id,
        title=normalise(entry.get("title")),
        abstract=normalise(abstract),
        authors=_creators(entry),
        categories=categories,
        # The feed does not mark the primary category; arXiv lists it first.
        primary_category=categories[0] if categories else None,
        journal_ref=normalise(entry.get("arxiv_journal_reference")) or None,
        doi=normalise(entry.get("arxiv_doi")) or None,
        published=_rfc822_day(entry.get("published")),
        url=f"https://arxiv.org/abs/{base_id(paper_id)}",
        pdf_url=f"https://arxiv.org/pdf/{paper_id}",
        announce_type=normalise(announce).lower() or None,
    )


def _rss_id(entry: Any, described: re.Match[str] | None) -> str:
    guid = _OAI_ID.match(str(entry.get("id", "")).strip())
    if guid:
        return guid.group(1)
    if described:
        return described.group("id")
    found = _ABS_ID.search(str(entry.get("link", "")))
    if found:
        return found.group(1)
    raise FeedError(f"arXiv RSS item without an arXiv id: {normalise(entry.get('title'))!r}")


def _creators(entry: Any) -> list[str]:
    # dc:creator holds every author in one string: "A. One, B. Two, C. Three" (sometimes "and").
    names: list[str] = []
    for author in entry.get("authors", []):
        text = normalise(author.get("name"))
        for part in re.split(r",\s*|\s+and\s+", text):
            if part.strip():
                names.append(part.strip())
    return names


def _rfc822_day(value: str | None) -> date | None:
    """The calendar day as written (`Thu, 24 Sep 2026 00:00:00 -0400` → 2026-09-24), not in UTC."""
    if not value:
        return None
    try:
        stamp: datetime = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return stamp.date()
