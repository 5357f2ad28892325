"""`paperbrief run` against an arXiv-like server: listing, polite downloads, faults, re-runs."""

from __future__ import annotations

import itertools
import json
import os
import signal
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tests.fakes.arxiv_server import FakeArxiv, FakePaper
from tests.processes import start_in_own_group
from tests.workspace import Workspace

TODAY = date.today().isoformat()
TOPICS = [
    ("Sparse Attention for Long-Context Serving", "serving", "cs.LG"),
    ("Poisoned Adapters in Open Model Hubs", "security", "cs.CR"),
    ("Reward Models that Admit Uncertainty", "alignment", "cs.AI"),
    ("Diffusion Planners for Warehouse Robots", "robotics", "cs.RO"),
    ("Cheaper Retrieval with Learned Sketches", "retrieval", "cs.IR"),
]


def paper(i: int, announce_type: str = "new", submitted: datetime | None = None) -> FakePaper:
    title, topic, cross = TOPICS[i % len(TOPICS)]
    abstract = (
        f"We propose a method for {topic} in large language model systems. "
        f"Our approach reduces cost by {20 + i}% compared with the strongest baseline. "
        f"On three benchmarks it improves accuracy from 71.{i}% to 78.{i}%. "
        "We release code and discuss limitations of the evaluation."
    )
    return FakePaper(
        id=f"2603.{i + 1:05d}v1",
        title=title,
        abstract=abstract,
        categories=["cs.LG", cross],
        announce_type=announce_type,
        submitted=submitted or datetime(2026, 3, 2, 12, tzinfo=UTC),
    )


def arxiv_env(server: FakeArxiv, delay: float = 0.0) -> dict[str, str]:
    return {**server.env(delay), "PAPERBRIEF_CATEGORIES": "cs.LG,cs.AI"}


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws", day=TODAY)


def test_todays_announcements_are_listed_downloaded_and_briefed(workspace: Workspace):
    papers = [paper(0), paper(1), paper(2, "cross"), paper(3, "replace")]
    with FakeArxiv(papers, rss=papers) as server:
        result = workspace.run(env=arxiv_env(server, delay=0.2))
        seen = server.requests
    assert result.returncode == 0, result.stderr
    record = workspace.record()
    # new submissions and cross-lists, but not the replacement
    assert record["papers"] == 3 and record["succeeded"] == 3
    assert record["stages"]["download"]["misses"] == 3
    assert record["stages"]["download"]["requests"] == 3
    assert record["stages"]["download"]["bytes"] > 0
    assert record["stages"]["feed"]["requests"] >= 1
    assert not any("/pdf/2603.00004" in r.path for r in seen)
    # politeness: the server never saw two requests closer than the configured delay
    gaps = [b.at - a.at for a, b in itertools.pairwise(seen)]
    # (the server sees each request's own latency too, so allow a loaded machine some slack)
    assert min(gaps) >= 0.2 * 0.8
    assert "Sparse Attention for Long-Context Serving" in workspace.report()
    assert all("paperbrief/" in r.headers.get("user-agent", "") for r in seen)


def test_faults_fail_papers_alone_and_a_rerun_fetches_only_those(workspace: Workspace):
    papers = [paper(i) for i in range(5)]
    with FakeArxiv(papers, rss=papers) as server:
        server.fail("/pdf/2603.00002", "html")  # never available
        server.fail("/pdf/2603.00003", "503", times=2, retry_after=0)  # recovers on retry
        server.fail("/pdf/2603.00004", "truncated", times=1)  # recovers on the next run
        server.fail("/pdf/2603.00005", "drop", times=1)  # a dropped connection is retried
        env = arxiv_env(server)
        first = workspace.run(env=env)
        assert first.returncode == 1
        failed = {f["id"]: f for f in workspace.record()["failed"]}
        assert set(failed) == {"2603.00002v1", "2603.00004v1"}
        assert "HTML page instead of the PDF" in failed["2603.00002v1"]["error"]
        assert "truncated" in failed["2603.00004v1"]["error"]
        assert failed["2603.00004v1"]["stage"] == "download"
        assert workspace.record()["stages"]["download"]["retries"] >= 3

        before = len(server.requests_to("/pdf/"))
        second = workspace.run(env=env)
        pdf_requests = [r.path for r in server.requests_to("/pdf/")[before:]]
    assert second.returncode == 1  # the HTML one is still unavailable
    assert sorted(pdf_requests) == ["/pdf/2603.00002v1", "/pdf/2603.00004v1"]
    assert [f["id"] for f in workspace.record()["failed"]] == ["2603.00002v1"]
    assert workspace.record()["succeeded"] == 4


def test_papers_seen_on_an_earlier_day_are_not_read_again(workspace: Workspace):
    papers = [paper(0), paper(1)]
    workspace.cache.mkdir(parents=True)
    earlier = {"2603.00001": {"id": "2603.00001v1", "day": "2026-01-05"}}
    (workspace.cache / "seen.json").write_text(json.dumps(earlier))
    with FakeArxiv(papers, rss=papers) as server:
        assert workspace.run(env=arxiv_env(server)).returncode == 0
        assert workspace.record()["papers"] == 1
        assert "1 paper summarized on an earlier day" in workspace.report()
        assert workspace.run("--reread", "--force", "feed", env=arxiv_env(server)).returncode == 0
        assert workspace.record()["papers"] == 2


def test_keyword_filters_apply_before_reading_and_are_in_the_header(workspace: Workspace):
    papers = [paper(i) for i in range(5)]
    with FakeArxiv(papers, rss=papers) as server:
        filters = ("--include", "security,serving", "--exclude", "Sparse")
        result = workspace.run(*filters, env=arxiv_env(server))
        pdfs = {r.path for r in server.requests_to("/pdf/")}
    assert result.returncode == 0, result.stderr
    assert pdfs == {"/pdf/2603.00002v1"}
    header = workspace.report().split("## 1.")[0]
    assert "security, serving" in header and "Sparse" in header


def test_a_stale_rss_feed_is_flagged(workspace: Workspace):
    # the Monday 2026-03-02 listing holds Thu 14:00 – Fri 14:00 US Eastern submissions
    window_start = datetime(2026, 2, 26, 20, tzinfo=UTC)
    in_window = [paper(i, submitted=window_start + timedelta(minutes=9 * i)) for i in range(5)]
    with FakeArxiv(in_window, rss=in_window[:1]) as server:
        result = workspace.run(env=arxiv_env(server))
    assert result.returncode == 0, result.stderr
    warnings = " ".join(workspace.record()["warnings"])
    assert "cs.LG: RSS listed 1 paper but the API has 5" in warnings
    assert "RSS listed 1" in workspace.report()


def test_a_weekend_briefs_the_last_listing_and_says_so(tmp_path: Path):
    # Friday 2026-03-06's listing: submitted Wednesday 14:00 to Thursday 14:00 US Eastern
    thursday_noon = datetime(2026, 3, 5, 17, tzinfo=UTC)
    papers = [paper(i, submitted=thursday_noon - timedelta(hours=i)) for i in range(2)]
    workspace = Workspace(tmp_path / "ws", day="2026-03-07")
    with FakeArxiv(papers) as server:
        result = workspace.run("--date", "2026-03-07", env=arxiv_env(server))
    assert result.returncode == 0, result.stderr
    assert workspace.record()["papers"] == 2
    header = workspace.report().split("## 1.")[0]
    assert "arXiv listing of 2026-03-06" in header
    assert "is a Saturday and arXiv does not announce on weekends" in header
    assert "the most recent listing, Friday 2026-03-06" in header


def test_a_date_lists_that_days_papers_through_the_api(tmp_path: Path):
    window_start = datetime(2026, 2, 26, 20, tzinfo=UTC)  # listing dated Mon 2026-03-02
    inside = [paper(i, submitted=window_start + timedelta(hours=i)) for i in range(3)]
    outside = [paper(3, submitted=window_start - timedelta(hours=3))]
    workspace = Workspace(tmp_path / "ws", day="2026-03-02")
    with FakeArxiv(inside + outside) as server:
        result = workspace.run("--date", "2026-03-02", env=arxiv_env(server))
        api = server.requests_to("/api/query")
    assert result.returncode == 0, result.stderr
    assert workspace.record()["papers"] == 3
    assert api and "submittedDate" in api[0].query.get("search_query", "")


def test_ids_fetch_exactly_those_papers(tmp_path: Path):
    papers = [paper(i) for i in range(4)]
    workspace = Workspace(tmp_path / "ws", day=TODAY)
    with FakeArxiv(papers) as server:
        result = workspace.run("--ids", "2603.00002,2603.00004v1", env=arxiv_env(server))
        pdfs = sorted(r.path for r in server.requests_to("/pdf/"))
    assert result.returncode == 0, result.stderr
    assert pdfs == ["/pdf/2603.00002v1", "/pdf/2603.00004v1"]
    assert workspace.record()["papers"] == 2


def test_a_hostile_pdf_server_fails_each_paper_alone_in_one_line(workspace: Workspace):
    papers = [paper(i) for i in range(4)]
    with FakeArxiv(papers, rss=papers) as server:
        server.fail("/pdf/2603.00001", "drip", delay=0.05)  # a byte every 50 ms, for ever
        server.fail("/pdf/2603.00002", "oversized")  # announces 10 GB
        server.fail("/pdf/2603.00003", "mislabelled")  # a good PDF called text/html
        env = {
            **arxiv_env(server),
            "PAPERBRIEF_ARXIV__DEADLINE": "2",
            "PAPERBRIEF_ARXIV__MAX_PDF_MB": "5",
        }
        result = workspace.run(env=env)

    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    failed = {f["id"]: f["error"] for f in workspace.record()["failed"]}
    assert set(failed) == {"2603.00001v1", "2603.00002v1"}
    assert "timed out: no whole reply within arxiv.deadline = 2 s" in failed["2603.00001v1"]
    assert (
        "larger than arxiv.max_pdf_mb = 5 MB (10,000,000,000 bytes announced)"
        in (failed["2603.00002v1"])
    )
    assert workspace.record()["succeeded"] == 2


def test_a_ctrl_c_does_not_wait_on_a_download(workspace: Workspace):
    papers = [paper(i) for i in range(2)]
    with FakeArxiv(papers, rss=papers) as server:
        server.fail("/pdf/", "drip", delay=30)  # one byte, then nothing for 30 s
        run = start_in_own_group(
            workspace.command(), workspace.root, {**workspace.env, **arxiv_env(server)}
        )
        deadline = time.monotonic() + 60
        while not server.requests_to("/pdf/") and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # the byte is in, the read waits
        os.killpg(run.pid, signal.SIGINT)
        asked = time.monotonic()
        try:
            _, stderr = run.communicate(timeout=60)
        finally:
            if run.poll() is None:  # the old behaviour: still waiting on the byte
                os.killpg(run.pid, signal.SIGKILL)
        took = time.monotonic() - asked

    assert run.returncode == 130, stderr
    assert took < 5 and "Traceback" not in stderr
    assert len(server.requests_to("/pdf/")) == 1  # abandoned, and nothing more started
