"""The day's listings: RSS announcements, a date through the API, given ids, and their checks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pipeline.arxiv import listing
from pipeline.arxiv.http import ArxivClient
from pipeline.errors import FeedError, UsageError
from pipeline.models import PaperMeta
from pipeline.settings import ArxivSettings
from tests.fakes.arxiv_server import FakeArxiv, FakePaper, FakeTime, make_papers

CATS = ["cs.AI", "cs.LG"]
FRIDAY = date(2026, 2, 27)
# The listing dated Friday 2026-02-27: Wed 14:00 EST (19:00 UTC) to Thu 14:00 EST.
WED_CUTOFF = datetime(2026, 2, 25, 19, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


def client_for(server: FakeArxiv, clock: FakeTime, **settings: Any) -> ArxivClient:
    settings = {"categories": CATS, **settings}
    return ArxivClient(server.settings(**settings), sleep=clock.sleep, clock=clock.clock)


# --- the date window ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "start", "end"),
    [
        # Friday: Wednesday 14:00 to Thursday 14:00 Eastern (EST = UTC-5)
        (date(2026, 2, 27), datetime(2026, 2, 25, 19, 0), datetime(2026, 2, 26, 19, 0)),
        # Monday: Thursday 14:00 to Friday 14:00
        (date(2026, 3, 2), datetime(2026, 2, 26, 19, 0), datetime(2026, 2, 27, 19, 0)),
        # Tuesday: Friday 14:00 to Monday 14:00 (the weekend's submissions)
        (date(2026, 3, 3), datetime(2026, 2, 27, 19, 0), datetime(2026, 3, 2, 19, 0)),
        # Daylight saving starts Sunday 2026-03-08: Friday 14:00 EST to Monday 14:00 EDT
        (date(2026, 3, 10), datetime(2026, 3, 6, 19, 0), datetime(2026, 3, 9, 18, 0)),
        # Summer: both ends in EDT (UTC-4)
        (date(2026, 7, 15), datetime(2026, 7, 13, 18, 0), datetime(2026, 7, 14, 18, 0)),
        # Daylight saving ends Sunday 2026-11-01: Friday 14:00 EDT to Monday 14:00 EST
        (date(2026, 11, 3), datetime(2026, 10, 30, 18, 0), datetime(2026, 11, 2, 19, 0)),
    ],
)
def test_submission_window(day: date, start: datetime, end: datetime) -> None:
    assert listing.submission_window(day) == (start.replace(tzinfo=UTC), end.replace(tzinfo=UTC))


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_consecutive_listings_tile_time_without_gaps_or_overlaps(day: date) -> None:
    assume(day.weekday() < 5)
    start, end = listing.submission_window(day)
    following = day + timedelta(days=3 if day.weekday() == 4 else 1)
    assert listing.submission_window(following)[0] == end
    local = end.astimezone(listing.EASTERN)
    assert (local.hour, local.minute) == (14, 0) and local.date() == listing.previous_weekday(day)
    hours = (end - start) / timedelta(hours=1)
    assert hours in ((71, 72, 73) if day.weekday() == 1 else (23, 24, 25))


def test_search_query_uses_utc_minutes_with_an_inclusive_end() -> None:
    assert listing.search_query(CATS, FRIDAY) == (
        "(cat:cs.AI OR cat:cs.LG) AND submittedDate:[202602251900 TO 202602261859]"
    )


@pytest.mark.parametrize(
    ("day", "name"), [(date(2026, 3, 7), "Saturday"), (date(2026, 3, 8), "Sunday")]
)
def test_weekends_are_refused_with_the_previous_weekday(day: date, name: str) -> None:
    message = f"arXiv does not announce on weekends: {day} is a {name}; try --date 2026-03-06"
    with pytest.raises(UsageError) as raised:
        listing.submission_window(day)
    assert str(raised.value) == message


# --- a date through the API ---------------------------------------------------------------


def test_on_date_pages_through_the_window_only(clock: FakeTime) -> None:
    inside = make_papers(23, categories=CATS, start=WED_CUTOFF, every=timedelta(minutes=60))
    before = FakePaper(
        "2602.09999v1", categories=["cs.AI"], submitted=WED_CUTOFF - timedelta(minutes=1)
    )
    last_minute = FakePaper(
        "2602.09998v1",
        categories=["cs.LG"],
        submitted=WED_CUTOFF + timedelta(hours=23, minutes=59, seconds=30),
    )
    at_cutoff = FakePaper(
        "2602.09997v1", categories=["cs.LG"], submitted=WED_CUTOFF + timedelta(days=1)
    )
    other = FakePaper(
        "2602.09996v1", categories=["math.OC"], submitted=WED_CUTOFF + timedelta(hours=1)
    )
    cross = FakePaper("2602.09995v1", categories=["stat.ML", "cs.LG"], submitted=WED_CUTOFF)
    papers = [*inside, before, last_minute, at_cutoff, other, cross]
    with FakeArxiv(papers) as server, client_for(server, clock, page_size=10) as client:
        result = listing.on_date(client, client.settings, FRIDAY)
        pages = server.requests_to("/api/query")

    ids = {p.id for p in result.papers}
    assert ids == {p.id for p in inside} | {"2602.09998v1", "2602.09995v1"}
    assert len(result.papers) == 25 and not result.warnings
    assert [r.query["start"] for r in pages] == ["0", "10", "20"]
    assert all(r.query["max_results"] == "10" for r in pages)
    assert pages[0].query["sortBy"] == "submittedDate"
    assert result.counts == {"cs.AI": 12, "cs.LG": 13}
    assert next(p for p in result.papers if p.id == "2602.09995v1").announce_type == "cross"
    assert result.day == FRIDAY and "2026-02-27" in result.source


def test_an_api_that_keeps_answering_empty_pages_stops_with_a_warning(clock: FakeTime) -> None:
    papers = make_papers(5, categories=CATS, start=WED_CUTOFF)
    with (
        FakeArxiv(papers, api_total_offset=7) as server,
        client_for(server, clock, page_size=5) as client,
    ):
        result = listing.on_date(client, client.settings, FRIDAY)
        requests = len(server.requests)

    assert len(result.papers) == 5
    [warning] = result.warnings
    assert "empty pages at 5 of 12" in warning and "missing 7 papers" in warning
    assert requests == 1 + 1 + listing.EMPTY_PAGE_RETRIES  # bounded, not an endless loop


def test_a_server_that_pages_in_a_circle_ends_the_listing_with_a_warning(
    clock: FakeTime,
) -> None:
    papers = make_papers(5, categories=CATS, start=WED_CUTOFF)
    with (
        FakeArxiv(papers, api_total_offset=10**9) as server,
        client_for(server, clock, page_size=5) as client,
    ):
        server.fail("/api/query", "circular")  # every page is the first, the total never ends
        result = listing.on_date(client, client.settings, FRIDAY)
        requests = len(server.requests)

    assert [p.id for p in result.papers] == [p.id for p in papers]
    assert result.warnings == [
        "arXiv API sent a page at 5 of 1000000005 results holding only papers of earlier "
        "pages; the listing ends at 5 papers (try again later)"
    ]
    assert requests == 2


def test_a_total_past_what_the_api_pages_ends_the_listing_there(
    clock: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 30,000 papers of fresh ids would take a minute to serve: the same rule, at 10.
    monkeypatch.setattr(listing, "MAX_QUERY_RESULTS", 10)
    papers = make_papers(25, categories=CATS, start=WED_CUTOFF, every=timedelta(minutes=1))
    with FakeArxiv(papers) as server, client_for(server, clock, page_size=5) as client:
        result = listing.on_date(client, client.settings, FRIDAY)
        requests = len(server.requests)

    assert len(result.papers) == 10 and requests == 2
    assert result.warnings == [
        "arXiv API claims 25 results for one listing, more than its 10 per query and any "
        "day's; the listing ends at 10 papers"
    ]


def test_one_empty_page_is_asked_again(clock: FakeTime) -> None:
    papers = make_papers(8, categories=CATS, start=WED_CUTOFF)
    with FakeArxiv(papers) as server, client_for(server, clock, page_size=5) as client:
        server.fail("/api/query", "empty", times=1)
        result = listing.on_date(client, client.settings, FRIDAY)

    assert len(result.papers) == 8 and not result.warnings


def test_api_trouble_is_a_feed_error(clock: FakeTime) -> None:
    with FakeArxiv() as server, client_for(server, clock, max_retries=1) as client:
        server.fail("/api/query", "503", times=2, retry_after=1)
        with pytest.raises(FeedError, match="HTTP 503"):
            listing.on_date(client, client.settings, FRIDAY)
        server.fail("/api/query", "drop")
        with pytest.raises(FeedError, match="connection dropped after 1 retry"):
            listing.api_counts(client, client.settings, FRIDAY)


def test_api_counts_use_max_results_zero(clock: FakeTime) -> None:
    papers = make_papers(7, categories=CATS, start=WED_CUTOFF)
    with FakeArxiv(papers) as server, client_for(server, clock) as client:
        counts = listing.api_counts(client, client.settings, FRIDAY)
        queries = [r.query for r in server.requests]

    assert counts == {"cs.AI": 4, "cs.LG": 3}
    assert [q["max_results"] for q in queries] == ["0", "0"]
    assert queries[0]["search_query"].startswith("(cat:cs.AI) AND submittedDate:[")


# --- ids ----------------------------------------------------------------------------------


def test_by_ids_batches_and_reports_unknown_ids(clock: FakeTime) -> None:
    papers = [FakePaper("2603.00001v1"), FakePaper("2603.00002v2", categories=["cs.CL", "cs.LG"])]
    with FakeArxiv(papers) as server, client_for(server, clock, page_size=2) as client:
        wanted = ["arXiv:2603.00001", "2603.00002v2", "2603.99999", "2603.00001"]
        result = listing.by_ids(client, client.settings, wanted)
        id_lists = [r.query["id_list"] for r in server.requests]

    assert [p.id for p in result.papers] == ["2603.00001v1", "2603.00002v2"]
    assert result.warnings == ["2603.99999: arXiv has no paper with this id; skipped"]
    assert id_lists == ["2603.00001,2603.00002v2", "2603.99999"]
    assert result.counts == {"cs.CL": 1, "cs.LG": 2}


def test_by_ids_briefs_exactly_the_asked_papers_whatever_else_arxiv_sends(
    clock: FakeTime,
) -> None:
    papers = [FakePaper("2603.00001v1"), FakePaper("2603.00002v1"), FakePaper("2603.00003v2")]
    with FakeArxiv(papers) as server, client_for(server, clock) as client:
        server.fail("/api/query", "unasked")  # every id query answered with every paper
        result = listing.by_ids(client, client.settings, ["2603.00002", "2603.00003v2"])

    assert [p.id for p in result.papers] == ["2603.00002v1", "2603.00003v2"]
    assert result.warnings == [
        "2603.00001v1: arXiv sent this paper, which was not asked for; dropped"
    ]


def test_malformed_ids_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="not an arXiv id: 'abc'"):
        listing.canonical_id("abc")
    assert listing.canonical_id("hep-th/9901001v2") == "hep-th/9901001v2"
    assert listing.canonical_id(" math.GT/0309136 ") == "math.GT/0309136"


def test_arxivs_own_error_message_reaches_the_user(clock: FakeTime) -> None:
    with (
        FakeArxiv() as server,
        client_for(server, clock) as client,
        pytest.raises(FeedError, match="arXiv API error: incorrect id format for 12"),
    ):
        listing._api(client, client.settings, {"id_list": "12"})


# --- RSS ----------------------------------------------------------------------------------


def rss_day() -> list[FakePaper]:
    return [
        FakePaper("2603.00001v1", categories=["cs.AI"]),
        FakePaper("2603.00002v1", categories=["cs.LG", "cs.AI"]),
        FakePaper("2603.00002v1", categories=["cs.LG", "cs.AI"]),  # listed again, for cs.AI
        FakePaper("2602.00100v1", categories=["stat.ML", "cs.LG"], announce_type="cross"),
        FakePaper("2501.00007v3", categories=["cs.LG"], announce_type="replace"),
        FakePaper("2501.00008v2", categories=["math.OC", "cs.AI"], announce_type="replace-cross"),
        FakePaper("2603.00003v1", categories=["q-bio.NC"]),  # not in our categories
    ]


def test_announced_dedupes_and_skips_replacements(clock: FakeTime) -> None:
    with FakeArxiv(rss=rss_day()) as server, client_for(server, clock) as client:
        result = listing.announced(client, client.settings)
        [request] = server.requests

    assert request.path == "/rss/cs.AI+cs.LG"
    assert [(p.id, p.announce_type) for p in result.papers] == [
        ("2603.00001v1", "new"),
        ("2603.00002v1", "new"),
        ("2602.00100v1", "cross"),
    ]
    assert result.counts == {"cs.AI": 2, "cs.LG": 2}
    assert result.day == date(2026, 3, 2) and not result.warnings


def test_replacements_only_when_asked(clock: FakeTime) -> None:
    with (
        FakeArxiv(rss=rss_day()) as server,
        client_for(server, clock, include_replacements=True) as client,
    ):
        result = listing.announced(client, client.settings)

    types = [p.announce_type for p in result.papers]
    assert types == ["new", "new", "cross", "replace", "replace-cross"]


def test_an_empty_feed_says_why(clock: FakeTime) -> None:
    with FakeArxiv(rss=[], announce_day=None) as server, client_for(server, clock) as client:
        result = listing.announced(client, client.settings)

    assert result.papers == []
    [warning] = result.warnings
    assert "lists no papers" in warning and "weekends" in warning and "--date" in warning


def test_rss_url_joins_categories_with_plus() -> None:
    settings = ArxivSettings(rss_url="https://rss.arxiv.org/rss", categories=CATS)
    assert listing.rss_feed_url(settings) == "https://rss.arxiv.org/rss/cs.AI+cs.LG"


# --- cross-check and filters --------------------------------------------------------------


def test_rss_far_below_api_warns_with_both_numbers() -> None:
    warnings = listing.rss_vs_api_warnings(
        {"cs.AI": 80, "cs.LG": 12, "cs.CL": 0}, {"cs.AI": 100, "cs.LG": 230, "cs.CL": 0}
    )
    assert warnings == [
        "cs.LG: RSS listed 12 papers but the API has 230 for the same window; "
        "the feed may be stale or truncated"
    ]
    assert listing.rss_vs_api_warnings({}, {"cs.AI": 10}, ratio=0.5)[0].startswith(
        "cs.AI: RSS listed 0"
    )


def paper(pid: str, title: str, abstract: str = "") -> PaperMeta:
    return PaperMeta(id=pid, title=title, abstract=abstract)


def test_keyword_filter_includes_excludes_and_exclude_wins() -> None:
    papers = [
        paper("1", "Sparse ATTENTION at scale"),
        paper("2", "Protein folding", "with attention and a survey of methods"),
        paper("3", "Robot arms"),
    ]
    kept, dropped = listing.keyword_filter(papers, ["attention"], ["Survey"])
    assert ([p.id for p in kept], [p.id for p in dropped]) == (["1"], ["2", "3"])

    kept, dropped = listing.keyword_filter(papers, [], ["robot"])
    assert ([p.id for p in kept], [p.id for p in dropped]) == (["1", "2"], ["3"])
    assert listing.keyword_filter(papers, [], []) == (papers, [])


def test_dedupe_keeps_the_first_version_seen() -> None:
    papers = [paper("2603.00001v2", "a"), paper("2603.00001v1", "b"), paper("2603.00002v1", "c")]
    assert [p.title for p in listing.dedupe(papers)] == ["a", "c"]
