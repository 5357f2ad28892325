"""The polite arXiv client against the fake arXiv server: spacing, Retry-After, bounded retries."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from itertools import pairwise
from typing import Any

import pytest

from pipeline.arxiv.http import (
    ArxivClient,
    RefusedURL,
    ReplyTooLarge,
    RequestFailed,
    retry_after_seconds,
    user_agent,
)
from pipeline.stopping import Stop, on_signals
from tests.fakes.arxiv_server import FakeArxiv, FakePaper, FakeTime

PAPER = FakePaper("2603.00001v1")


@pytest.fixture
def server() -> Iterator[FakeArxiv]:
    with FakeArxiv([PAPER], rss=[PAPER]) as fake:
        yield fake


def client_for(
    server: FakeArxiv, fake_time: FakeTime | None = None, **settings: Any
) -> ArxivClient:
    if fake_time is None:
        return ArxivClient(server.settings(**settings))
    return ArxivClient(server.settings(**settings), sleep=fake_time.sleep, clock=fake_time.clock)


def pdf(server: FakeArxiv) -> str:
    return f"{server.base_url}/pdf/{PAPER.id}"


# --- politeness ---------------------------------------------------------------------------


def test_server_sees_requests_spaced_by_the_delay_on_one_connection(server: FakeArxiv) -> None:
    delay = 0.2
    with client_for(server, delay=delay) as client:
        settings = client.settings
        # Not measured: the first request also pays for opening the connection (and, first in
        # a suite, for imports), so it reaches the server late and the gap after it looks short.
        client.get(settings.api_url, {"id_list": PAPER.id}, kind="api")
        client.get(settings.api_url, {"id_list": PAPER.id}, kind="api")
        client.get(settings.rss_url + "cs.LG", kind="rss")
        client.get(pdf(server), kind="pdf")
        client.get(settings.api_url, {"id_list": PAPER.id}, kind="api")

    seen = server.requests
    assert len(seen) == 5
    gaps = [later.at - earlier.at for earlier, later in pairwise(seen[1:])]
    # The client spaces request starts exactly (checked with a fake clock below); what the
    # server sees also carries each request's own latency, so a loaded machine gets slack.
    assert min(gaps) >= delay * 0.8, gaps
    assert len({r.port for r in seen}) == 1  # one kept-alive connection, never two at once


def test_spacing_counts_retry_waits_and_never_sleeps_twice(server: FakeArxiv) -> None:
    clock = FakeTime()
    server.fail("/pdf/", "503", times=1, retry_after=1)
    with client_for(server, clock, delay=3.0) as client:
        client.get(pdf(server), kind="pdf")  # 503, waits 1 s, then 2 more s of spacing
        client.get(pdf(server), kind="pdf")  # 3 s after the retry started

    assert clock.sleeps == [1.0, 2.0, 3.0]


def test_user_agent_names_paperbrief_and_the_contact(server: FakeArxiv) -> None:
    with client_for(server, contact="ada@example.org") as client:
        client.get(pdf(server), kind="pdf")

    agent = server.requests[0].headers["user-agent"]
    assert agent.startswith("paperbrief/")
    assert agent.endswith("(+https://github.com/paperbrief/paperbrief; mailto:ada@example.org)")
    assert "mailto" not in user_agent("")


# --- retries ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["503", "429"])
def test_retry_after_in_seconds_is_honoured(server: FakeArxiv, status: Any) -> None:
    clock = FakeTime()
    server.fail("/pdf/", status, times=2, retry_after=7)
    with client_for(server, clock) as client:
        response = client.get(pdf(server), kind="pdf")

    assert response.status_code == 200
    assert clock.sleeps == [7.0, 7.0]
    assert client.stats["pdf"].model_dump() == {
        "requests": 3,
        "retries": 2,
        "bytes": len(response.content) + 2 * len(b"<html><body>HTTP 503</body></html>"),
        "failures": 0,
    }


def test_retry_after_as_http_date_is_honoured(server: FakeArxiv) -> None:
    clock = FakeTime()
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    server.fail("/pdf/", "429", times=1, retry_after=soon)
    with client_for(server, clock, max_backoff=60.0) as client:
        assert client.get(pdf(server), kind="pdf").status_code == 200

    (date_wait,) = clock.sleeps
    assert 27 <= date_wait <= 31


def test_a_retry_after_beyond_max_backoff_gives_up_instead_of_asking_early(
    server: FakeArxiv,
) -> None:
    clock = FakeTime()
    server.fail("/pdf/", "503", times=1, retry_after=3600)
    with client_for(server, clock, max_backoff=60.0) as client:
        assert client.get(pdf(server), kind="pdf").status_code == 503
        assert client.stats["pdf"].failures == 1
    assert clock.sleeps == [] and len(server.requests) == 1


def test_retry_after_parsing() -> None:
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: no wait
    assert retry_after_seconds("soon") is None


@pytest.mark.parametrize("status", ["404", "400"])
def test_other_4xx_are_not_retried(server: FakeArxiv, status: str) -> None:
    clock = FakeTime()
    if status == "404":
        server.fail("/pdf/", "404")
        url = pdf(server)
    else:
        url = f"{server.base_url}/api/query?id_list=abc"
    with client_for(server, clock) as client:
        kind: Any = "pdf" if status == "404" else "api"
        response = client.get(url, kind=kind)

    assert response.status_code == int(status)
    assert len(server.requests) == 1 and clock.sleeps == []
    assert client.stats[kind].failures == 1 and client.stats[kind].retries == 0


def test_5xx_retries_are_bounded(server: FakeArxiv) -> None:
    clock = FakeTime()
    server.fail("/pdf/", "500")
    with client_for(server, clock, max_retries=3) as client:
        response = client.get(pdf(server), kind="pdf")

    assert response.status_code == 500
    assert len(server.requests) == 4 and len(clock.sleeps) == 3
    stats = client.stats["pdf"]
    assert (stats.requests, stats.retries, stats.failures) == (4, 3, 1)


def test_dropped_connections_give_up_with_a_clear_message(server: FakeArxiv) -> None:
    server.fail("/pdf/", "drop")
    with (
        client_for(server, FakeTime(), max_retries=3) as client,
        pytest.raises(RequestFailed, match=r"^connection dropped after 3 retries$"),
    ):
        client.get(pdf(server), kind="pdf")

    assert len(server.requests) == 4


def test_a_dropped_connection_then_a_reply_recovers(server: FakeArxiv) -> None:
    server.fail("/pdf/", "drop", times=2)
    with client_for(server, FakeTime()) as client:
        assert client.get(pdf(server), kind="pdf").status_code == 200
        assert client.stats["pdf"].retries == 2


def test_a_timeout_is_retried(server: FakeArxiv) -> None:
    server.fail("/pdf/", "slow", times=1, delay=0.5)
    started = time.monotonic()
    with client_for(server, FakeTime(), timeout=0.1) as client:
        assert client.get(pdf(server), kind="pdf").status_code == 200

    assert client.stats["pdf"].retries == 1
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("draw", [0.0, 0.5, 0.999])
def test_backoff_is_exponential_with_bounded_jitter(server: FakeArxiv, draw: float) -> None:
    clock = FakeTime()
    server.fail("/pdf/", "500")
    settings = server.settings(max_retries=4, max_backoff=10.0)
    with ArxivClient(settings, sleep=clock.sleep, clock=clock.clock, rng=lambda: draw) as client:
        client.get(pdf(server), kind="pdf")

    for wait, backoff in zip(clock.sleeps, [2.0, 4.0, 8.0, 10.0], strict=True):
        assert backoff / 2 <= wait <= backoff  # jitter only ever shortens, by at most half
        assert wait == pytest.approx(backoff * (0.5 + 0.5 * draw))


# --- only arXiv ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("http://example.org/pdf/2603.00001v1", "pdf"),
        ("{base}/pdf/2603.00001v1", "api"),  # right server, wrong kind
        ("{base}/api/queryx", "api"),
        ("{base}/pdf/../api/query", "pdf"),
        ("{base}/pdf/%2e%2e/secret", "pdf"),
        ("http://user@{host}/pdf/2603.00001v1", "pdf"),
        ("ftp://{host}/pdf/2603.00001v1", "pdf"),
    ],
)
def test_urls_outside_the_configured_bases_are_refused(
    server: FakeArxiv, path: str, kind: Any
) -> None:
    url = path.format(base=server.base_url, host=server.base_url.removeprefix("http://"))
    with client_for(server) as client, pytest.raises(RefusedURL, match="refusing to fetch"):
        client.get(url, kind=kind)
    assert server.requests == []


def test_a_redirect_away_from_arxiv_is_not_followed(server: FakeArxiv) -> None:
    server.fail("/pdf/", "301", location="http://example.org/evil.pdf")
    with client_for(server) as client, pytest.raises(RefusedURL, match="refusing to fetch"):
        client.get(pdf(server), kind="pdf")
    assert len(server.requests) == 1


def test_a_redirect_within_arxiv_is_followed_and_spaced(server: FakeArxiv) -> None:
    clock = FakeTime()
    server.fail("/pdf/2603.00001", "301", times=1, location=f"/pdf/{PAPER.id}")
    with client_for(server, clock, delay=3.0) as client:
        response = client.get(f"{server.base_url}/pdf/2603.00001", kind="pdf")

    assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    assert clock.sleeps == [3.0]
    assert client.stats["pdf"].requests == 2


def test_closing_the_client_closes_its_connection(server: FakeArxiv) -> None:
    with client_for(server) as client:
        pass
    assert client._http.is_closed


def test_a_stop_during_a_retrys_wait_ends_it_and_makes_no_retry(server: FakeArxiv) -> None:
    clock, stop = FakeTime(), Stop()

    def sleep(seconds: float) -> None:  # the run's Ctrl-C comes during the first wait
        stop.request(signal.SIGINT)
        clock.sleep(seconds)

    server.fail("/pdf/", "503", times=2, retry_after=7)
    settings = server.settings()
    with (
        ArxivClient(settings, sleep=sleep, clock=clock.clock, stop=stop) as client,
        pytest.raises(RequestFailed, match="the run is stopping"),
    ):
        client.get(pdf(server), kind="pdf")

    assert len(server.requests) == 1  # not retried
    assert sum(clock.sleeps) < 1  # nor waited for


def test_after_the_stop_no_request_is_sent_and_a_503_is_not_the_answer(server: FakeArxiv) -> None:
    stop = Stop()
    stop.request(signal.SIGTERM)
    with (
        ArxivClient(server.settings(), stop=stop) as client,
        pytest.raises(RequestFailed, match="not sent: the run is stopping"),
    ):
        client.get(pdf(server), kind="pdf")
    assert server.requests == []

    clock, stop = FakeTime(), Stop()

    def answered() -> None:  # the stop comes while the 503 is on its way
        stop.request(signal.SIGTERM)

    server.fail("/pdf/", "503", times=1, retry_after=7)
    with ArxivClient(server.settings(), sleep=clock.sleep, clock=clock.clock, stop=stop) as client:
        client._http.event_hooks["response"].append(lambda response: answered())
        with pytest.raises(RequestFailed, match="the run is stopping"):
            client.get(pdf(server), kind="pdf")
    assert len(server.requests) == 1 and clock.sleeps == []


# --- what one reply may cost ------------------------------------------------------------


def test_a_pdf_announced_over_the_cap_is_refused_before_its_body_is_read(
    server: FakeArxiv,
) -> None:
    server.fail("/pdf/", "oversized")  # announces 10 GB, then sends for as long as it is read
    started = time.monotonic()
    with (
        client_for(server, max_pdf_mb=1) as client,
        pytest.raises(ReplyTooLarge) as raised,
    ):
        client.get(pdf(server), kind="pdf")

    assert str(raised.value) == (
        "the PDF reply is larger than arxiv.max_pdf_mb = 1 MB (10,000,000,000 bytes announced); "
        "raise arxiv.max_pdf_mb (paperbrief.toml [arxiv], or PAPERBRIEF_ARXIV__MAX_PDF_MB) if it "
        "is real"
    )
    assert client.stats["pdf"].bytes == 0 and len(server.requests) == 1  # not asked again
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("kind", ["api", "pdf"])
def test_a_reply_that_grows_past_its_cap_is_cut_there(server: FakeArxiv, kind: Any) -> None:
    server.fail("/", "endless")  # no Content-Length: only the bytes read can tell
    with client_for(server, max_feed_mb=0.5, max_pdf_mb=0.5) as client:
        url = client.settings.api_url if kind == "api" else pdf(server)
        with pytest.raises(ReplyTooLarge, match=r"than arxiv\.max_\w+_mb = 0\.5 MB \(cut at 5"):
            client.get(url, {"id_list": PAPER.id} if kind == "api" else None, kind=kind)
    assert len(server.requests) == 1


def test_a_drip_fails_at_the_deadline_however_often_a_byte_comes(server: FakeArxiv) -> None:
    server.fail("/pdf/", "drip", delay=0.05)  # a byte every 50 ms: no read ever times out
    started = time.monotonic()
    with (
        client_for(server, deadline=1.0, timeout=5.0, max_retries=2) as client,
        pytest.raises(RequestFailed, match=r"^timed out: no whole reply within arxiv\.deadline"),
    ):
        client.get(pdf(server), kind="pdf")

    assert 1.0 <= time.monotonic() - started < 3  # the deadline, not 5 s a read
    assert len(server.requests) == 1  # a drip is not asked again


def test_a_stop_abandons_the_request_on_the_wire_at_once(server: FakeArxiv) -> None:
    server.fail("/pdf/", "drip", delay=0.5)
    stop = Stop()
    threading.Timer(0.5, stop.request, (signal.SIGTERM,)).start()
    started = time.monotonic()
    with (
        ArxivClient(server.settings(deadline=60.0, timeout=30.0), stop=stop) as client,
        pytest.raises(RequestFailed, match=r"^abandoned: the run is stopping"),
    ):
        client.get(pdf(server), kind="pdf")
    assert time.monotonic() - started < 2


def test_a_stop_by_signal_abandons_a_read_that_waits_in_the_main_thread(
    server: FakeArxiv,
) -> None:
    server.fail("/pdf/", "drip", delay=30)  # one byte, then nothing for 30 s
    stop = Stop()
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
    started = time.monotonic()
    with (
        on_signals(stop, say=lambda line: None),
        ArxivClient(server.settings(deadline=60.0, timeout=30.0), stop=stop) as client,
        pytest.raises(RequestFailed, match=r"^abandoned: the run is stopping"),
    ):
        client.get(pdf(server), kind="pdf")
    assert stop.requested and time.monotonic() - started < 2
