"""Batch mode within the Batch API's limits: a round over them goes out as several batches,
each recorded as soon as it exists, so a run stopped between them resumes those and sends only
the rest; and a batch whose create reply was lost is found by paging through the account's
batches. The real openai client against the fake server's Batch API."""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from pipeline.llm.batch import BatchLimits, batches_of, input_file
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.replies import reply_kind, schema_reply
from tests.project import Project
from tests.test_batch import FAST_ENV, batch_flags, batch_inputs, half_price, polled, start
from tests.workspace import Workspace

ALL = {"reading.top": 15}  # five papers, all read: five summary requests in one round


@pytest.fixture
def project(tmp_path: Path, papers: Path) -> Project:
    return Project(tmp_path / "project", papers)


def requests(n: int, chars: int = 100) -> dict[str, dict[str, object]]:
    return {f"id-{i}": {"messages": [{"role": "user", "content": "x" * chars}]} for i in range(n)}


def test_batches_hold_no_more_requests_or_bytes_than_the_limits():
    parts, too_large = batches_of(requests(5), BatchLimits(requests=2))
    assert [sorted(p) for p in parts] == [["id-0", "id-1"], ["id-2", "id-3"], ["id-4"]]
    assert too_large == {}
    line = len(input_file(requests(1)))
    parts, _ = batches_of(requests(5), BatchLimits(bytes=3 * line))
    assert [len(p) for p in parts] == [3, 2]
    assert all(len(input_file(p)) <= 3 * line for p in parts)
    big = {**requests(2), "huge": {"messages": [{"role": "user", "content": "x" * 5000}]}}
    parts, too_large = batches_of(big, BatchLimits(bytes=2 * line))
    assert [sorted(p) for p in parts] == [["id-0", "id-1"]]
    assert list(too_large) == ["huge"] and "over the batch input file limit" in too_large["huge"]


def test_a_round_over_the_limit_goes_out_as_several_batches(project: Project):
    with FakeOpenAI(reply_for=schema_reply) as server:
        server.batches.max_requests = 2  # the provider's limit: a larger batch fails
        more = {**ALL, "llm.batch_max_requests": 2}
        record = project.run(scripted=False, **batch_flags(server, **more))
        rounds = batch_inputs(server)
        answered = server.batches.answered
    kinds = [{reply_kind(line["body"]) for line in r} for r in rounds]
    assert kinds == [{"PaperSummary"}] * 3  # every paper is read: no triage
    assert [len(r) for r in rounds] == [2, 2, 1]
    sent = [line["custom_id"] for r in rounds for line in r]
    assert len(sent) == len(set(sent)) == answered == record.llm.calls
    assert record.failed == [] and project.report().count("**Key insight") == 5


def test_a_run_stopped_between_a_rounds_batches_resumes_them_and_pays_once(
    workspace: Workspace,
):
    workspace.price("gpt-4o-mini", 0.15, 0.60)
    env = {**FAST_ENV, "PAPERBRIEF_LLM__BATCH_MAX_REQUESTS": "2", "PAPERBRIEF_READING__TOP": "15"}
    with FakeOpenAI(reply_for=schema_reply) as server:
        env |= server.env()
        server.batches.max_requests = 2
        server.batches.stall_creates_after = 1  # the first of the round's three batches
        first = start(workspace, env)
        deadline = time.monotonic() + 60
        while server.batches.created != ["batch_1"] and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # the third create is on its way and will never be answered
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
        assert server.batches.created == ["batch_1"]
        assert server.batches.answered == 0  # created and recorded, never polled
        server.batches.unstall()

        polls_before = len(polled(server))
        result = workspace.run("--batch", env=env)
        assert result.returncode == 0, result.stderr
        assert "/v1/batches/batch_1" in polled(server)[polls_before:]  # resumed, not sent again
        assert server.batches.created == ["batch_1", "batch_2", "batch_3"]
        rounds = batch_inputs(server)
        sent = [line["custom_id"] for r in rounds for line in r]
        assert [len(r) for r in rounds] == [2, 2, 1]
        assert len(sent) == len(set(sent)) == server.batches.answered  # nothing paid twice
    llm = workspace.record()["llm"]
    assert llm["calls"] == server.batches.answered
    assert llm["cost_usd"] == pytest.approx(half_price(llm), rel=1e-3)


def listings(server: FakeOpenAI) -> int:
    return sum(1 for r in server.requests if r.method == "GET" and r.path == "/v1/batches")


def test_a_lost_create_is_found_behind_more_than_a_page_of_newer_batches(project: Project):
    with FakeOpenAI(reply_for=schema_reply) as server:
        server.batches.lose_create_reply = True  # created at the endpoint, the run never hears
        first = project.run(scripted=False, **batch_flags(server, **ALL))
        assert len(first.failed) == 5 and server.batches.created == ["batch_1"]
        server.batches.others(150)  # other work on the account since: ours is on page two
        asked = listings(server)
        second = project.run(scripted=False, **batch_flags(server, **ALL))
        assert server.batches.created == ["batch_1"]  # found by its metadata, polled, read
        assert listings(server) - asked == 2
        assert server.batches.answered == 5
    assert second.failed == [] and second.llm.calls == 5


def test_the_lookup_stops_at_batches_older_than_the_first_attempt(project: Project):
    with FakeOpenAI(reply_for=schema_reply) as server:
        server.batches.others(250, age=2 * 86400)  # the account's batches of two days ago
        server.batches.drop_creates = 1  # the create never reached the provider
        first = project.run(scripted=False, **batch_flags(server, **ALL))
        assert len(first.failed) == 5 and server.batches.created == []
        server.batches.others(150)  # and since: the first page is all newer than the attempt
        asked = listings(server)
        second = project.run(scripted=False, **batch_flags(server, **ALL))
        assert listings(server) - asked == 2  # the second page reached two days ago: stop
        assert len(server.batches.created) == 1 and server.batches.answered == 5
    assert second.failed == []


def test_a_lost_create_is_found_when_the_rerun_groups_its_requests_otherwise(project: Project):
    # Five requests, two a batch: the first batch is made, the second's create goes unanswered
    # (made all the same), the third is never sent. One of the two made then fails an item, so
    # the next run's round holds other requests than the lost create's: it must find that
    # batch by its own key, not send its two requests again.
    with FakeOpenAI(reply_for=schema_reply) as server:
        server.batches.max_requests = 2
        server.batches.lose_reply_to = "batch_2"
        more = {**ALL, "llm.batch_max_requests": 2}
        first = project.run(scripted=False, **batch_flags(server, **more))
        assert len(first.failed) == 5 and server.batches.created == ["batch_1", "batch_2"]
        server.batches.expire_after = 1  # the next batch run: its second request expires
        second = project.run(scripted=False, **batch_flags(server, **more))
        rounds = batch_inputs(server)
    assert second.failed == []
    sent = [[line["custom_id"] for line in r] for r in rounds]
    assert len(sent) == 3  # batch_1, the lost batch_2 (found), then one batch for the rest
    counts = Counter(i for batch in sent for i in batch)
    [again] = [i for i, n in counts.items() if n > 1]  # only the expired request went out again
    assert len(counts) == 5 and counts[again] == 2
    assert again in sent[2] and again in (sent[0][1], sent[1][1])  # each batch's second expires


def test_a_server_that_ignores_the_cursor_does_not_keep_the_lookup_listing(project: Project):
    with FakeOpenAI(reply_for=schema_reply) as server:
        server.batches.lose_create_reply = True
        first = project.run(scripted=False, **batch_flags(server, **ALL))
        assert len(first.failed) == 5
        server.batches.others(150)  # ours is on page two, which this server never lists
        server.batches.ignore_after = True
        asked = listings(server)
        second = project.run(scripted=False, **batch_flags(server, **ALL))
        assert listings(server) - asked == 2  # the page came round again: not found, stop
    assert second.failed == []  # sent again: all a run can do when the list cannot be read


def test_a_mark_of_a_create_never_made_is_dropped_once_its_requests_are_sent(project: Project):
    # The first create never reaches the provider; the next run groups the requests otherwise
    # (a new limit), finds no batch for the mark, and sends them all. A forced re-run is then
    # answered from the stored batches without reading the account's list for that mark.
    with FakeOpenAI(reply_for=schema_reply) as server:
        server.batches.drop_creates = 1
        first = project.run(
            scripted=False, **batch_flags(server, **ALL, **{"llm.batch_max_requests": 2})
        )
        assert len(first.failed) == 5 and server.batches.created == []
        second = project.run(
            scripted=False, **batch_flags(server, **ALL, **{"llm.batch_max_requests": 3})
        )
        assert second.failed == [] and len(server.batches.created) == 2
        asked, answered = listings(server), server.batches.answered
        third = project.run(
            scripted=False, force=frozenset({"summarize"}), **batch_flags(server, **ALL)
        )
        assert listings(server) == asked and server.batches.answered == answered
    assert third.failed == [] and project.report().count("**Key insight") == 5
