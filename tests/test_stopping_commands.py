"""`compare` and `report weekly --fill` stop as `run` does (tests/test_stopping.py): the first
Ctrl-C or SIGTERM keeps the calls on the wire and starts none, a second one stops at once; and
a Ctrl-C at compare's question about the cost still ends it there, as it always did."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.llm.base import Message
from pipeline.stages.digest import DigestReply
from tests.conftest import DAY
from tests.fakes.arxiv_server import FakeArxiv, FakePaper, make_papers
from tests.fakes.openai_server import FakeOpenAI, default_summary, request_title
from tests.fakes.scripted_llm import Call
from tests.processes import second_signal_stops_at_once, wait_for_calls
from tests.project import PAPER_REF, digest_reply
from tests.workspace import Workspace

MONDAY, TUESDAY = "2026-03-02", "2026-03-03"
Start = Callable[[FakeOpenAI], subprocess.Popen[str]]


def popen(workspace: Workspace, argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", *argv],
        cwd=workspace.root,
        env={**workspace.env, **env, "PAPERBRIEF_CONCURRENCY": "2"},
        stdin=subprocess.DEVNULL,  # no terminal: compare asks no question
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def compare_argv(workspace: Workspace, papers: Path) -> list[str]:
    return [
        "compare",
        "--prompt",
        "summarize=default,terse",
        "--model",
        "gpt-test",
        "--source",
        str(papers),
        "--date",
        DAY,
        "--cache-dir",
        str(workspace.cache),
        "--out",
        str(workspace.out),
    ]


def weekly_argv(workspace: Workspace) -> list[str]:
    """The week Monday to Tuesday, both days run first (--fill) from the fake arXiv."""
    return [
        "report",
        "weekly",
        "--from",
        MONDAY,
        "--to",
        TUESDAY,
        "--fill",
        "--model",
        "gpt-test",
        "--cache-dir",
        str(workspace.cache),
        "--out",
        str(workspace.out),
    ]


def week_of_papers() -> list[FakePaper]:
    """Three papers listed on Monday and three on Tuesday: 6 summaries and 1 synthesis."""
    friday = datetime(2026, 2, 27, 12, tzinfo=UTC)  # listed Monday
    monday = datetime(2026, 3, 2, 12, tzinfo=UTC)  # listed Tuesday
    return [*make_papers(3, start=friday), *make_papers(3, start=monday, prefix="2604")]


def reply_for(body: dict[str, Any]) -> str:
    """A summary, a judge's verdict, or for the week's synthesis a digest citing its papers."""
    if "You judge briefings" in body["messages"][0]["content"]:
        return json.dumps({"better": "A", "reason": "The first one is better."})
    user = [Message(**m) for m in body["messages"] if m["role"] == "user"]
    if not PAPER_REF.search(user[0].content):
        summary = default_summary(request_title(body))
        if "short, faithful briefings" in body["messages"][0]["content"]:  # the terse prompt
            summary["key_insight"] = "Short."  # so the judge sees two summaries
        return json.dumps(summary)
    return digest_reply(
        Call(user, DigestReply, body.get("max_tokens", 0), "digest")
    ).model_dump_json()


def stopped_then_again(start: Start, clean: Start, calls: int) -> None:
    """SIGTERM once `calls` requests were sent, the same command again, and a clean run on a
    cache of its own: together the first two send what the clean run sends, each once."""
    with FakeOpenAI(reply_for=reply_for, latency=0.4) as server:
        run = start(server)
        wait_for_calls(server, calls, run)
        os.kill(run.pid, signal.SIGTERM)
        _, err = run.communicate(timeout=60)
        first = len(server.chat_bodies)
        again = start(server)
        _, err_again = again.communicate(timeout=120)
        bodies = [json.dumps(body, sort_keys=True) for body in server.chat_bodies]
        server.latency = 0.0
        before = len(server.chat_bodies)
        whole = clean(server)
        _, err_whole = whole.communicate(timeout=120)
        cleanly = len(server.chat_bodies) - before

    assert run.returncode == 143, err
    assert "Traceback" not in err
    assert "stopping (SIGTERM)" in err
    assert err.splitlines()[-1] == (
        "paperbrief: stopped (SIGTERM); everything finished is cached: run the same command "
        "again to go on"
    )
    assert first < cleanly  # it stopped with work left for the next run
    assert again.returncode == 0, err_again
    assert whole.returncode == 0, err_whole
    assert len(bodies) == cleanly  # the calls on the wire were kept:
    assert len(set(bodies)) == len(bodies)  # none was sent again


# --- compare ----------------------------------------------------------------------------


def comparing(tmp_path: Path, papers: Path, name: str, *more: str) -> Start:
    workspace = Workspace(tmp_path / name)
    argv = [*compare_argv(workspace, papers), *more]
    return lambda server: popen(workspace, argv, server.env())


def test_a_stopped_compare_keeps_the_calls_on_the_wire_and_the_next_goes_on(
    tmp_path: Path, papers: Path
):
    # 5 papers x 2 variants, 2 calls at a time: stopped in the first variant's summaries
    start, clean = comparing(tmp_path, papers, "ws"), comparing(tmp_path, papers, "clean")
    stopped_then_again(start, clean, calls=3)


def test_a_compare_stopped_in_its_judge_keeps_the_verdicts_on_the_wire(
    tmp_path: Path, papers: Path
):
    # 10 summaries, then 10 verdicts (one pair of variants, 5 papers, both orders)
    judged = ("--judge", "gpt-test")
    start = comparing(tmp_path, papers, "ws", *judged)
    clean = comparing(tmp_path, papers, "clean", *judged)
    stopped_then_again(start, clean, calls=13)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_second_signal_stops_a_compare_at_once(
    tmp_path: Path, papers: Path, signum: int, code: int
):
    second_signal_stops_at_once(comparing(tmp_path, papers, "ws"), signum, code, reply_for, 2)


def test_a_ctrl_c_at_the_question_about_the_cost_ends_compare_there(tmp_path: Path, papers: Path):
    """Asked on a terminal before spending over compare.confirm_above: a Ctrl-C is the answer
    no, given at once; it is not a stop that waits for work which never started."""
    workspace = Workspace(tmp_path / "ws")
    workspace.price("gpt-test", 1.0, 2.0)
    terminal, its_end = pty.openpty()
    with FakeOpenAI() as server:
        run = subprocess.Popen(
            [sys.executable, "-m", "pipeline", *compare_argv(workspace, papers)],
            cwd=workspace.root,
            env={**workspace.env, **server.env(), "PAPERBRIEF_COMPARE__CONFIRM_ABOVE": "0"},
            stdin=its_end,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        os.close(its_end)
        assert run.stdout is not None
        try:
            shown, deadline = b"", time.monotonic() + 60
            while b"[y/N]" not in shown:
                assert time.monotonic() < deadline and run.poll() is None, shown
                if select.select([run.stdout], [], [], 0.1)[0]:
                    shown += os.read(run.stdout.fileno(), 4096)
            time.sleep(0.2)  # at the prompt, waiting
            os.kill(run.pid, signal.SIGINT)
            _, err = run.communicate(timeout=10)
        finally:
            run.kill()  # nothing once it ended; a prompt deaf to Ctrl-C would wait for ever
            os.close(terminal)
        sent = len(server.chat_bodies)

    assert run.returncode == 130, err
    said = err.decode()
    assert said.splitlines()[-1] == "paperbrief: interrupted; everything finished is cached"
    assert "Traceback" not in said
    assert "stopping" not in said  # no stop announced for work that never started
    assert sent == 0
    assert not list(workspace.out.glob("compare-*"))


# --- report weekly --fill -------------------------------------------------------------------


def filling(tmp_path: Path, arxiv: FakeArxiv, name: str) -> Start:
    workspace = Workspace(tmp_path / name)
    return lambda server: popen(workspace, weekly_argv(workspace), {**arxiv.env(), **server.env()})


def test_a_stopped_weekly_fill_keeps_the_calls_on_the_wire_and_the_next_goes_on(tmp_path: Path):
    with FakeArxiv(week_of_papers()) as arxiv:
        start, clean = filling(tmp_path, arxiv, "ws"), filling(tmp_path, arxiv, "clean")
        stopped_then_again(start, clean, calls=1)  # in Monday's summaries


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_second_signal_stops_a_weekly_fill_at_once(tmp_path: Path, signum: int, code: int):
    with FakeArxiv(week_of_papers()) as arxiv:
        second_signal_stops_at_once(filling(tmp_path, arxiv, "ws"), signum, code, reply_for, 2)


def test_a_stop_during_the_weekly_synthesis_keeps_its_reply(tmp_path: Path, papers: Path):
    """The week's days are briefed; the one synthesis call is on the wire when SIGTERM comes:
    it finishes and is cached, so the same command again makes no call."""
    workspace = Workspace(tmp_path / "ws")
    with FakeArxiv(week_of_papers()) as arxiv, FakeOpenAI(reply_for=reply_for) as server:
        env = {**arxiv.env(), **server.env()}
        argv = weekly_argv(workspace)
        days = [a for a in argv if a != "--fill"]
        for day in (MONDAY, TUESDAY):
            briefed = popen(workspace, ["run", "--date", day, *days[days.index("--model") :]], env)
            assert briefed.wait(timeout=120) == 0, briefed.communicate()
        briefs = len(server.chat_bodies)
        server.latency = 1.0
        run = popen(workspace, argv, env)
        wait_for_calls(server, briefs + 1, run)
        os.kill(run.pid, signal.SIGTERM)
        _, err = run.communicate(timeout=60)
        again = popen(workspace, argv, env)
        out, err_again = again.communicate(timeout=60)
        sent = len(server.chat_bodies) - briefs

    assert run.returncode == 143, err
    assert "Traceback" not in err
    assert "run the same command again to go on" in err.splitlines()[-1]
    assert again.returncode == 0, err_again
    assert "6 papers from 2 days" in out
    assert sent == 1  # the synthesis, once: its reply was kept
