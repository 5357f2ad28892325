"""Triage keeps each batch's items as they arrive: a run stopped, killed or failed halfway
through triage asks the next time only for the batches never answered."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from pipeline.cache import Cache
from pipeline.models import PaperMeta, TriageReply
from pipeline.prompts import Prompt, default_prompts_dir, load_prompt
from pipeline.stages.triage import batch_key, triage_messages
from pipeline.tools import TriageCache
from tests.fakes.openai_server import FakeOpenAI, error_body
from tests.fakes.replies import paper_ids, reply_kind, schema_reply, triage_reply
from tests.workspace import Workspace, paperbrief

# One paper per triage call: five batches for the five sample papers, two of them read.
ONE_PER_BATCH = {"PAPERBRIEF_READING__TRIAGE_BATCH": "1"}


def triage_requests(server: FakeOpenAI) -> list[str]:
    return [
        json.dumps(body["messages"], sort_keys=True)
        for body in server.chat_bodies
        if reply_kind(body) == "TriageReply"
    ]


def test_a_batch_that_fell_back_is_asked_again_by_the_next_run_and_no_other(
    workspace: Workspace,
):
    healthy = False

    def replies(body: dict[str, Any]) -> str:
        # The ToolGuard sample paper's batch is answered about an id it was not asked about
        # (re-asked once, then it falls back to heuristics) until the server is healthy.
        ids = paper_ids(body)
        if not healthy and reply_kind(body) == "TriageReply" and any("toolguard" in i for i in ids):
            return json.dumps(triage_reply(["2401.99999"]))
        return schema_reply(body)

    with FakeOpenAI(reply_for=replies) as server:
        env = {**server.env(), **ONE_PER_BATCH}
        failed = workspace.run("--top", "2", env=env)
        asked_first = triage_requests(server)
        warned = workspace.record()["warnings"]
        rebuilt = workspace.run("--top", "2", "--only", "report", env=env)
        record = workspace.record()
        healthy = True
        again = workspace.run("--top", "2", env=env)
        asked_again = triage_requests(server)[len(asked_first) :]
    assert failed.returncode == 0, failed.stderr
    assert len(asked_first) == 6  # five batches, the wrong one re-asked once
    assert any("fell back to heuristics" in w for w in warned)
    # --only report reads the day's triage as it was, fallback and all
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert record["failed"] == [] and record["read_in_full"] == 2
    assert not any("triage failed" in w for w in record["warnings"])
    assert again.returncode == 0, again.stderr
    assert len(asked_again) == 1  # the batch that fell back; the other four came from the cache
    assert "toolguard" in asked_again[0]
    assert not any("fell back" in w for w in workspace.record()["warnings"])


def test_a_run_stopped_during_triage_asks_only_the_batches_never_answered(workspace: Workspace):
    with FakeOpenAI(reply_for=schema_reply, latency=0.5) as server:
        env = {**workspace.env, **server.env(), **ONE_PER_BATCH}
        run = subprocess.Popen(
            workspace.command("--top", "2", "--concurrency", "2"),
            cwd=workspace.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while len(triage_requests(server)) < 3:  # two answered, the next two on the wire
            assert run.poll() is None and time.monotonic() < deadline, run.communicate()
            time.sleep(0.01)
        os.kill(run.pid, signal.SIGTERM)
        _, err = run.communicate(timeout=60)
        stopped = triage_requests(server)
        again = workspace.run("--top", "2", env={**server.env(), **ONE_PER_BATCH})
        everything = triage_requests(server)
    assert run.returncode == 143, err
    assert "fell back" not in err and "triage failed" not in err  # no heuristic stood in
    assert len(stopped) < 5
    assert again.returncode == 0, again.stderr
    assert len(everything) == len(set(everything)) == 5  # none asked twice, none skipped


def test_a_batch_is_known_by_its_papers_prompt_interests_and_the_triage_model(tmp_path: Path):
    prompt: Prompt = load_prompt(default_prompts_dir(), "triage", "default")
    a, b = PaperMeta(id="2401.00001v1", title="A"), PaperMeta(id="2401.00002v1", title="B")

    def key(papers: list[PaperMeta], interests: str = "agents", p: Prompt = prompt) -> str:
        return batch_key(triage_messages(papers, p, interests=interests), p)

    assert key([a]) == key([a])
    assert len({key([a]), key([b]), key([a, b]), key([a], "robotics")}) == 4
    edited = prompt.model_copy(update={"user": prompt.user + "\nBe strict."})
    hotter = prompt.model_copy(update={"temperature": prompt.temperature + 0.5})
    assert len({key([a]), key([a], p=edited), key([a], p=hotter)}) == 3

    cache = Cache(tmp_path / "cache")
    reply = TriageReply.model_validate(triage_reply(["2401.00001v1"]))
    small = TriageCache(cache, PaperMeta(id="model", title="gpt-4o-mini"))
    other = TriageCache(cache, PaperMeta(id="model", title="gpt-4o"))
    small.put(key([a]), reply)
    assert small.get(key([a])) == reply
    assert other.get(key([a])) is None  # another triage model asks again


class FailingBatch(FakeOpenAI):
    """Answers the ToolGuard sample paper's triage batch with 500s until made healthy."""

    healthy = False

    def _chat_reply(self, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        if (
            not self.healthy
            and reply_kind(body) == "TriageReply"
            and any("toolguard" in i for i in paper_ids(body))
        ):
            return 500, {}, error_body(500)
        return super()._chat_reply(body)


def triaged(workspace: Workspace) -> dict[str, Any]:
    """The day's kept triage: every score and the selection (not the usage: this run's)."""
    (kept,) = [p for p in (workspace.cache / "triage").rglob("*.json") if ".meta" not in p.name]
    output = json.loads(kept.read_text())
    return {"selected": output["selected"], "scores": output["scores"]}


def test_a_batch_answered_with_500s_is_the_only_call_of_the_next_run_which_equals_a_clean_one(
    workspace: Workspace, tmp_path: Path, papers: Path
):
    env = {**ONE_PER_BATCH, "PAPERBRIEF_LLM__MAX_RETRIES": "1"}
    with FailingBatch(reply_for=schema_reply) as server:
        failed = workspace.run("--top", "2", env={**env, **server.env()})
        asked_first = triage_requests(server)
        warned = workspace.record()["warnings"]
        server.healthy = True
        again = workspace.run("--top", "2", env={**env, **server.env()})
        asked_again = triage_requests(server)[len(asked_first) :]
    assert failed.returncode in (0, 1), failed.stderr
    assert len(set(asked_first)) == 5 and len(asked_first) == 6  # the failing one retried once
    assert any("fell back to heuristics" in w for w in warned)
    assert again.returncode == 0, again.stderr
    assert len(asked_again) == 1 and "toolguard" in asked_again[0]

    clean = Workspace(tmp_path / "clean", "--source", str(papers), "--date", workspace.day)
    with FakeOpenAI(reply_for=schema_reply) as server:
        assert clean.run("--top", "2", env={**env, **server.env()}).returncode == 0
    assert triaged(workspace) == triaged(clean)


def test_a_run_killed_during_triage_loses_at_most_the_calls_in_flight(workspace: Workspace):
    concurrency = 2
    with FakeOpenAI(reply_for=schema_reply, latency=0.5) as server:
        env = {**workspace.env, **server.env(), **ONE_PER_BATCH}
        run = subprocess.Popen(
            workspace.command("--top", "2", "--concurrency", str(concurrency)),
            cwd=workspace.root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while len(triage_requests(server)) < 3:  # at least one answered, two on the wire
            assert run.poll() is None and time.monotonic() < deadline, "the run ended early"
            time.sleep(0.01)
        os.kill(run.pid, signal.SIGKILL)
        run.wait()
        killed = triage_requests(server)
        again = workspace.run("--top", "2", env={**server.env(), **ONE_PER_BATCH})
        everything = triage_requests(server)
    assert run.returncode == -signal.SIGKILL
    assert len(killed) < 5
    assert again.returncode == 0, again.stderr
    assert len(set(everything)) == 5
    assert len(everything) <= 5 + concurrency  # a clean run's calls plus those in flight


def test_cache_stats_and_clear_know_triages_batches_as_they_know_the_notes(workspace: Workspace):
    with FakeOpenAI(reply_for=schema_reply) as server:
        assert workspace.run("--top", "2", env={**server.env(), **ONE_PER_BATCH}).returncode == 0
    where = ("--cache-dir", str(workspace.cache))
    stats = paperbrief("cache", "stats", "--stage", "triage-batches", *where, cwd=workspace.root)
    assert stats.returncode == 0, stats.stderr
    (row,) = [
        line for line in stats.stdout.splitlines() if "triage-batches" in line and "│" in line
    ]
    assert row.split("│")[2].strip() == "5"  # one entry per batch
    cleared = paperbrief("cache", "clear", "--stage", "triage-batches", *where, cwd=workspace.root)
    assert cleared.returncode == 0, cleared.stderr
    assert "removed 10 files" in cleared.stdout  # each entry and its .meta.json
    assert (
        not (workspace.cache / "triage-batches").exists() and (workspace.cache / "triage").is_dir()
    )


def test_force_triage_asks_every_batch_again(workspace: Workspace):
    with FakeOpenAI(reply_for=schema_reply) as server:
        env = {**server.env(), **ONE_PER_BATCH}
        first = workspace.run("--top", "2", env=env)
        cached = workspace.run("--top", "2", env=env)
        before = len(triage_requests(server))
        forced = workspace.run("--top", "2", "--force", "triage", env=env)
        asked = len(triage_requests(server)) - before
    assert first.returncode == cached.returncode == forced.returncode == 0, forced.stderr
    assert before == 5  # the cached re-run asked nothing
    assert asked == 5  # --force triage: every batch, not the batches' entries
