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
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.replies import paper_ids, reply_kind, schema_reply, triage_reply
from tests.workspace import Workspace

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
        healthy = True
        again = workspace.run("--top", "2", env=env)
        asked_again = triage_requests(server)[len(asked_first) :]
    assert failed.returncode in (0, 1), failed.stderr
    assert len(asked_first) == 6  # five batches, the wrong one re-asked once
    assert any("fell back to heuristics" in w for w in warned)
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
        return batch_key(triage_messages(papers, p, interests=interests))

    assert key([a]) == key([a])
    assert len({key([a]), key([b]), key([a, b]), key([a], "robotics")}) == 4
    edited = prompt.model_copy(update={"user": prompt.user + "\nBe strict."})
    assert key([a], p=edited) != key([a])

    cache = Cache(tmp_path / "cache")
    reply = TriageReply.model_validate(triage_reply(["2401.00001v1"]))
    small = TriageCache(cache, PaperMeta(id="model", title="gpt-4o-mini"))
    other = TriageCache(cache, PaperMeta(id="model", title="gpt-4o"))
    small.put(key([a]), reply)
    assert small.get(key([a])) == reply
    assert other.get(key([a])) is None  # another triage model asks again
