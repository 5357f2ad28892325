"""The day's papers from arXiv: today's announcements (RSS), a past day (API), or given ids (API).

Which papers "--date D" means
-----------------------------
`--date D` lists the papers arXiv announced in its listing dated D. arXiv closes each day's
submissions at 14:00 US Eastern time and dates the listing by the next weekday, so the listing
dated D holds the new submissions received from 14:00 Eastern on the weekday before the weekday
before D, up to (not including) 14:00 Eastern on the weekday before D:

- D = Friday    → Wednesday 14:00 to Thursday 14:00 Eastern
- D = Monday    → Thursday 14:00 to Friday 14:00 Eastern
- D = Tuesday   → Friday 14:00 to Monday 14:00 Eastern (the weekend's submissions)

Eastern time follows daylight saving (America/New_York), so the window is 18:00–18:00 UTC in
summer and 19:00–19:00 UTC in winter. arXiv's holidays are ignored: on the day after a holiday
the listing may hold two days of submissions, which this window does not model. arXiv does not
announce on Saturdays or Sundays; such a date is refused with the previous weekday to try. The
API is asked for papers *submitted* in the window in the configured categories (primary or
cross-listed), so a replacement or a later cross-list of an older paper is not included, and
the result can differ slightly from the announcement (papers put on hold, moderation delays).

Without `--date`, today's RSS feed is read: new submissions and cross-lists, replacements only
when asked. `--ids` fetches exactly the given papers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from pipeline.arxiv.http import ArxivClient, Kind, Params, ReplyTooLarge, RequestFailed
from pipeline.arxiv.parse import ApiPage, api_page, rss_items
from pipeline.errors import FeedError, UsageError
from pipeline.models import PaperMeta
from pipeline.settings import ArxivSettings
from pipeline.wording import plural

T = TypeVar("T")

EASTERN = ZoneInfo("America/New_York")
CUTOFF = time(14, 0)  # arXiv's daily submission deadline, US Eastern
ANNOUNCED = ("new", "cross")
REPLACED = ("replace", "replace-cross")
EMPTY_PAGE_RETRIES = 2  # arXiv's API sometimes answers an empty page that is full when re-asked
# arXiv's API pages through at most 30,000 results of one query (in pages of at most 2,000); a
# day's listing is a few thousand at most, so a total beyond this is not a day's.
MAX_QUERY_RESULTS = 30_000

NEW_STYLE_ID = re.compile(r"^\d{4}\.\d{4,5}(v\d+)?$")
_OLD_ID = re.compile(r"^[a-z]+(-[a-z]+)*(\.[A-Z]{2})?/\d{7}(v\d+)?$")


class Listing(BaseModel):
    """Papers from one source, with what went oddly and how many papers each category had."""

    papers: list[PaperMeta]
    source: str = Field(description="where the papers came from, for the report header")
    warnings: list[str] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict, description="papers per category")
    day: date | None = Field(default=None, description="the announcement day listed, if known")


# --- today's announcements (RSS) ----------------------------------------------------------


def rss_feed_url(settings: ArxivSettings) -> str:
    """`rss_url` + categories joined by `+` (`https://rss.arxiv.org/rss/cs.AI+cs.LG`)."""
    base = settings.rss_url if settings.rss_url.endswith("/") else settings.rss_url + "/"
    return base + "+".join(settings.categories)


def announced(client: ArxivClient, settings: ArxivSettings) -> Listing:
    """Today's RSS announcements: new and cross-listed papers (plus replacements when asked),
    one entry per paper however many of the categories list it."""
    url = rss_feed_url(settings)
    feed = _read(client, rss_items, _fetch(client, url, None, kind="rss", what="RSS feed"))
    wanted = ANNOUNCED + (REPLACED if settings.include_replacements else ())
    papers = dedupe(p for p in feed.papers if (p.announce_type or "new") in wanted)
    warnings = []
    if not feed.papers:
        day = feed.announce_day.isoformat() if feed.announce_day else "today"
        warnings.append(
            f"the RSS feed {url} lists no papers for {day}; arXiv does not announce on weekends "
            "and holidays (use --date for an earlier announcement day)"
        )
    day_note = f", announced {feed.announce_day.isoformat()}" if feed.announce_day else ""
    return Listing(
        papers=papers,
        source=f"arXiv RSS {'+'.join(settings.categories)}{day_note}",
        warnings=warnings,
        counts=category_counts(papers, settings.categories),
        day=feed.announce_day,
    )


# --- one day through the API --------------------------------------------------------------


def previous_weekday(day: date) -> date:
    day -= timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def submission_window(day: date) -> tuple[datetime, datetime]:
    """The UTC window [start, end) of submissions in arXiv's listing dated `day` (see above)."""
    if day.weekday() >= 5:
        raise UsageError(
            f"arXiv does not announce on weekends: {day.isoformat()} is a {day:%A}; "
            f"try --date {previous_weekday(day).isoformat()}"
        )
    closes = previous_weekday(day)
    opens = previous_weekday(closes)
    return _cutoff_utc(opens), _cutoff_utc(closes)


def _cutoff_utc(day: date) -> datetime:
    return datetime.combine(day, CUTOFF, tzinfo=EASTERN).astimezone(UTC)


def search_query(categories: Iterable[str], day: date) -> str:
    """`(cat:A OR cat:B) AND submittedDate:[start TO end]`, minutes in UTC, both ends inclusive
    (so the end is the minute before the cut-off)."""
    start, end = submission_window(day)
    last = end - timedelta(minutes=1)
    cats = " OR ".join(f"cat:{c}" for c in categories)
    return f"({cats}) AND submittedDate:[{start:%Y%m%d%H%M} TO {last:%Y%m%d%H%M}]"


def on_date(client: ArxivClient, settings: ArxivSettings, day: date) -> Listing:
    """Papers of arXiv's listing dated `day`, through the API, page by page."""
    query = search_query(settings.categories, day)
    listed, warnings = _all_pages(client, settings, query)
    papers = dedupe(listed)
    for paper in papers:
        primary = paper.primary_category in settings.categories
        paper.announce_type = paper.announce_type or ("new" if primary else "cross")
    start, end = submission_window(day)
    window = f"submitted {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"
    return Listing(
        papers=papers,
        source=f"arXiv API {', '.join(settings.categories)}, listing of {day} ({window})",
        warnings=warnings,
        counts=category_counts(papers, settings.categories),
        day=day,
    )


def _all_pages(
    client: ArxivClient, settings: ArxivSettings, query: str
) -> tuple[list[PaperMeta], list[str]]:
    papers: list[PaperMeta] = []
    seen: set[str] = set()
    start, total, empties = 0, None, 0
    while total is None or start < min(total, MAX_QUERY_RESULTS):
        params: Params = {
            "search_query": query,
            "start": start,
            "max_results": settings.page_size,
            "sortBy": "submittedDate",
            "sortOrder": "ascending",
        }
        page = _api(client, settings, params)
        total = page.total
        if page.papers:
            new = [p for p in page.papers if p.base_id not in seen]
            if not new:  # a server that pages in a circle would be asked for ever
                return papers, [
                    f"arXiv API sent a page at {start} of {total} results holding only papers "
                    f"of earlier pages; the listing ends at {plural(len(papers), 'paper')} "
                    "(try again later)"
                ]
            seen.update(p.base_id for p in new)
            papers.extend(page.papers)
            start, empties = start + len(page.papers), 0
        elif start < total:
            empties += 1
            if empties > EMPTY_PAGE_RETRIES:
                return papers, [
                    f"arXiv API kept returning empty pages at {start} of {total} results; "
                    f"the listing may be missing {total - start} papers (try again later)"
                ]
    if total is not None and total > MAX_QUERY_RESULTS:
        return papers, [
            f"arXiv API claims {total:,} results for one listing, more than its "
            f"{MAX_QUERY_RESULTS:,} per query and any day's; the listing ends at "
            f"{plural(len(papers), 'paper')}"
        ]
    return papers, []


def api_counts(client: ArxivClient, settings: ArxivSettings, day: date) -> dict[str, int]:
    """Per category, how many papers the API has for the listing dated `day` (one cheap
    `max_results=0` request each), to cross-check an RSS listing."""
    counts: dict[str, int] = {}
    for category in settings.categories:
        query = search_query([category], day)
        params: Params = {"search_query": query, "start": 0, "max_results": 0}
        counts[category] = _api(client, settings, params).total
    return counts


def rss_vs_api_warnings(
    rss_counts: dict[str, int], api_counts: dict[str, int], ratio: float = 0.5
) -> list[str]:
    """A warning for each category whose RSS count is below `ratio` × the API's count."""
    warnings = []
    for category, expected in api_counts.items():
        listed = rss_counts.get(category, 0)
        if expected > 0 and listed < ratio * expected:
            warnings.append(
                f"{category}: RSS listed {plural(listed, 'paper')} but the API has {expected} "
                "for the same window; the feed may be stale or truncated"
            )
    return warnings


# --- given ids ----------------------------------------------------------------------------


def canonical_id(raw: str) -> str:
    """`arXiv:2603.03371v2` or `2603.03371` as arXiv spells it; `UsageError` if not an id."""
    text = raw.strip()
    text = re.sub(r"^arxiv:", "", text, flags=re.IGNORECASE)
    if not (NEW_STYLE_ID.match(text) or _OLD_ID.match(text)):
        raise UsageError(
            f"not an arXiv id: {raw!r} (expected e.g. 2603.03371, 2603.03371v2 or hep-th/9901001)"
        )
    return text


def by_ids(client: ArxivClient, settings: ArxivSettings, ids: list[str]) -> Listing:
    """Exactly these papers (latest version unless one is given). Unknown ids become warnings."""
    wanted = list(dict.fromkeys(canonical_id(i) for i in ids))
    papers: list[PaperMeta] = []
    for at in range(0, len(wanted), settings.page_size):
        batch = wanted[at : at + settings.page_size]
        params: Params = {"id_list": ",".join(batch), "start": 0, "max_results": len(batch)}
        papers.extend(_api(client, settings, params).papers)
    papers, unasked = _asked(papers, wanted)
    found = {p.id for p in papers} | {p.base_id for p in papers}
    missing = [i for i in wanted if i not in found]
    warnings = [f"{p.id}: arXiv sent this paper, which was not asked for; dropped" for p in unasked]
    warnings += [f"{i}: arXiv has no paper with this id; skipped" for i in missing]
    papers = dedupe(papers)
    primaries = sorted({p.primary_category for p in papers if p.primary_category})
    return Listing(
        papers=papers,
        source=f"arXiv API ids {', '.join(wanted)}",
        warnings=warnings,
        counts=category_counts(papers, primaries),
    )


def _asked(papers: list[PaperMeta], wanted: list[str]) -> tuple[list[PaperMeta], list[PaperMeta]]:
    """(asked, not asked): an id given with a version asks for that version, one without for
    any; a reply's other papers are not briefed as if they had been asked for."""
    asked: list[PaperMeta] = []
    unasked: list[PaperMeta] = []
    for paper in papers:
        ok = paper.base_id in wanted or paper.id in wanted
        (asked if ok else unasked).append(paper)
    return asked, unasked


# --- shared helpers -----------------------------------------------------------------------


def dedupe(papers: Iterable[PaperMeta]) -> list[PaperMeta]:
    """One entry per paper (by id without version), the first one seen kept."""
    seen: dict[str, PaperMeta] = {}
    for paper in papers:
        seen.setdefault(paper.base_id, paper)
    return list(seen.values())


def category_counts(papers: Iterable[PaperMeta], categories: Iterable[str]) -> dict[str, int]:
    """For each category, how many of `papers` carry it (primary or cross-listed)."""
    listed = list(papers)
    return {c: sum(c in p.categories for p in listed) for c in categories}


def keyword_filter(
    papers: Iterable[PaperMeta], include: Iterable[str], exclude: Iterable[str]
) -> tuple[list[PaperMeta], list[PaperMeta]]:
    """(kept, dropped) by case-insensitive substrings of title + abstract. No `include` keeps
    everything; a paper matching any `exclude` is dropped even when it matches an `include`."""
    wanted = [k.casefold() for k in include if k.strip()]
    unwanted = [k.casefold() for k in exclude if k.strip()]
    kept: list[PaperMeta] = []
    dropped: list[PaperMeta] = []
    for paper in papers:
        text = f"{paper.title}\n{paper.abstract}".casefold()
        ok = (not wanted or any(k in text for k in wanted)) and not any(k in text for k in unwanted)
        (kept if ok else dropped).append(paper)
    return kept, dropped


def _api(client: ArxivClient, settings: ArxivSettings, params: Params) -> ApiPage:
    return _read(client, api_page, _fetch(client, settings.api_url, params, kind="api", what="API"))


def _read(client: ArxivClient, parse: Callable[[bytes], T], body: bytes) -> T:
    """`parse(body)`; its `FeedError` quotes the reply, which may echo the credentials sent with
    the request (`ArxivClient.masked`). Not chained: the original's text would show in --debug."""
    try:
        return parse(body)
    except FeedError as exc:
        raise FeedError(client.masked(str(exc))) from None


def _fetch(client: ArxivClient, url: str, params: Params | None, *, kind: Kind, what: str) -> bytes:
    """The body of a 200 reply; anything else is a `FeedError` naming the problem."""
    try:
        response = client.get(url, params, kind=kind)
    except ReplyTooLarge as exc:  # its own advice: a bigger cap, not a later try
        raise FeedError(f"arXiv {what} at {exc.url}: {exc}") from exc
    except RequestFailed as exc:
        raise FeedError(client.masked(f"arXiv {what} at {url}: {exc}; try again later")) from exc
    if response.status_code == 400 and kind == "api":
        # arXiv explains a bad query in an error entry; raise that
        _read(client, api_page, response.content)
    if response.status_code != 200:
        raise FeedError(
            client.masked(
                f"arXiv {what} answered HTTP {response.status_code} for {response.url}; "
                "try again later"
            )
        )
    return response.content
