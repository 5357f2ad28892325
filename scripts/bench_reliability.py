"""Prove that runs survive kills, overlap, a fault storm and damaged PDFs, with figures.

    python scripts/bench_reliability.py [--papers 16] [--kills 10] [--storm-papers 24]
                                        [--fuzz 200] [--seed 0] [--only kills,...]
                                                                  (make bench-reliability)

Four parts, each against the project's own local servers (`tests/fakes`), never the internet:

kills    a day of `--papers` corpus PDFs (`--source DIR`) read in full by map-reduce (openai
         backend, FakeOpenAI): a clean run counts the LLM calls a day costs; then, on a fresh
         cache, `--kills` runs each SIGKILLed at a random moment and re-run, and a last run
         finishes. Targets: every paper done, 0 corrupt cache entries (each artifact validates
         and matches its .meta.json), <= 1.2x the clean run's LLM calls, no process of a killed
         run (fork server, workers, resource tracker) alive 5 s after the kill.
overlap  two runs started together on one cache (each its own out folder): <= 1.05x the clean
         run's calls, and both reports equal a later fully cached re-run's (summaries, ranks).
storm    an arXiv day (`--date`, FakeArxiv) of `--storm-papers` papers with 10 % 5xx, 5 % 429,
         5 % replies cut off mid-body and 1 % hangs on both servers, plus one truncated and one
         HTML-page PDF for good: every paper done or failed with a one-line reason, and a second
         run converges to all done but the two broken PDFs.
fuzz     `--fuzz` damaged corpus PDFs through extraction (`scripts/fuzz_extract.py`): 0
         tracebacks.
stops    the kills' day again, on a fresh cache, with `--stops` runs each stopped by a Ctrl-C
         (SIGINT) or a SIGTERM, in turn, right after a random LLM call while others are on the
         wire, and a last run: every paper done, the clean run's report, exit 130/143, and
         exactly the clean run's LLM calls (a stop lets the calls on the wire finish and keeps
         them; nothing is paid twice).

Prints a table of figures against targets; exits 1 when a target is missed. Without the shared
corpus, kills and overlap use copies of the sample papers and fuzz is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import BaseModel, ValidationError

from pipeline.cache import digest
from pipeline.editions import Edition
from pipeline.evaluation import corpus_dir
from pipeline.models import ChunkNotes
from pipeline.samples import write_sample_papers
from pipeline.settings import LLMSettings
from pipeline.stages import chunk, download, extract, feed, rank, report, summarize, triage
from pipeline.stages.digest import Digest
from scripts.fuzz_extract import fuzz
from tests.fakes.arxiv_server import FakeArxiv, FakePaper, make_papers
from tests.fakes.http import Storm
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.replies import schema_reply
from tests.processes import descendants, reap
from tests.workspace import Workspace

DAY = "2026-03-04"
# The limiter is not under test here (scripts/bench_llm.py measures it): limits far above what
# the fake server is asked, so no run waits for a rate-limit minute.
UNLIMITED = {"PAPERBRIEF_LLM__RPM": "1000000", "PAPERBRIEF_LLM__TPM": "1000000000"}
# Every paper is read in full and by map-reduce, so the map step's notes are what a kill loses.
MAP_REDUCE = {**UNLIMITED, "PAPERBRIEF_READING__SINGLE_CALL_BUDGET": "2000"}
LINGER = 5.0  # seconds a killed run's processes may take to go
STOP_TAKES = 5.0  # seconds a stopped run may take to end (its calls on the wire: 50 ms each)
IN_FLIGHT = LLMSettings().concurrency  # the calls a kill may cut off (the runs use the default)
# The bench's shorter patience: a hung request is abandoned after a few seconds, not minutes.
# Small chunks, so each paper's one page is read by map-reduce (about 6 calls) and the storm
# hits the map step's notes too.
STORM_ENV = {
    **UNLIMITED,
    "PAPERBRIEF_LLM__TIMEOUT": "3",
    "PAPERBRIEF_ARXIV__TIMEOUT": "3",
    "PAPERBRIEF_ARXIV__MAX_BACKOFF": "1",
    "PAPERBRIEF_CHUNK__MAX_TOKENS": "150",
    "PAPERBRIEF_CHUNK__OVERLAP": "20",
    "PAPERBRIEF_READING__SINGLE_CALL_BUDGET": "500",
}
ABSTRACT = (
    "We study how {topic} behaves under load. Our method batches requests, caches partial "
    "results and retries what failed; on three benchmarks it cuts latency by 31 percent and "
    "cost by 18 percent against the strongest baseline. "
)


@dataclass
class Figure:
    part: str
    what: str
    value: str
    target: str
    ok: bool


# --- a day of papers ----------------------------------------------------------------------


def papers_folder(folder: Path, count: int) -> str:
    """`count` PDFs in `folder` (the corpus's, repeated under new names if needed); says which."""
    originals = sorted((corpus_dir() / "pdfs").glob("*.pdf"))
    kind = "corpus"
    if not originals:
        originals, kind = write_sample_papers(folder.parent / "originals"), "sample"
    folder.mkdir(parents=True)
    for n in range(count):
        source = originals[n % len(originals)]
        shutil.copyfile(source, folder / f"{n:03d}-{source.name}")
    return kind


def workspace(root: Path, folder: Path, server: FakeOpenAI, papers: int) -> Workspace:
    ws = Workspace(root, "--source", str(folder), "--date", DAY)
    ws.env.update({**server.env(), **MAP_REDUCE})
    ws.source_args += ["--top", str(papers), "--backend", "openai"]
    return ws


def finish(ws: Workspace) -> dict[str, Any]:
    """Run to the end; the run's record. A run that wrote no report is an error."""
    done = ws.run()
    if done.returncode not in (0, 1):
        raise SystemExit(f"paperbrief run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return ws.record()


def chat_calls(server: FakeOpenAI) -> int:
    return len(server.chat_bodies)


def distinct_calls(server: FakeOpenAI) -> int:
    """The different requests the server was asked: a request asked again counts once."""
    return len({json.dumps(body, sort_keys=True) for body in server.chat_bodies})


# --- the cache, checked entry by entry ----------------------------------------------------


def artifact_models() -> dict[str, list[type[BaseModel]]]:
    """What each cache folder holds. Both feeds write under "feed"."""
    stages: list[Any] = [
        feed.FolderFeed,
        feed.ArxivListing,
        triage.Triage,
        download.Download,
        extract.Extract,
        chunk.Chunking,
        summarize.Summarize,
        rank.Rank,
        report.DailyReport,
        Digest,
    ]
    models: dict[str, list[type[BaseModel]]] = {"notes": [ChunkNotes]}
    for stage in stages:
        models.setdefault(stage.name, []).append(stage.output)
    return models


def cache_problems(root: Path) -> tuple[int, list[str], str]:
    """(entries checked, what is wrong, harmless leftovers): every artifact validates against
    its stage's model and matches its .meta.json (key and content digest), every PDF is whole.
    A kill mid-write may leave a temporary file or metadata whose artifact never came: nothing
    reads them and the next write of that entry replaces them, so they are only counted."""
    models = artifact_models()
    problems: list[str] = []
    checked = temporaries = lone_meta = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root)
        name = path.name
        if name.endswith(".tmp"):
            temporaries += 1
        elif rel.parts[0] == "pdf":
            checked += 1
            if (why := download.pdf_problem(path.read_bytes())) is not None:
                problems.append(f"{rel}: {why}")
        elif rel.parts[0] == "days":
            checked += 1
            problems += _invalid(rel, path, [Edition])
        elif name.endswith(".failed.json"):
            checked += 1
            try:
                json.loads(path.read_bytes())["error"]
            except (ValueError, KeyError, TypeError) as exc:
                problems.append(f"{rel}: unreadable failure record ({exc})")
        elif name.endswith(".meta.json"):
            lone_meta += not path.with_name(name.replace(".meta.json", ".json")).is_file()
        elif name.endswith(".json") and rel.parts[0] in models:
            checked += 1
            problems += _entry(rel, path, models[rel.parts[0]])
    return checked, problems, f"{temporaries} temporary files, {lone_meta} lone .meta.json"


def _invalid(rel: Path, path: Path, kinds: list[type[BaseModel]]) -> list[str]:
    return [] if _load(path, kinds) is not None else [f"{rel}: does not validate"]


def _load(path: Path, kinds: list[type[BaseModel]]) -> BaseModel | None:
    for kind in kinds:
        try:
            return kind.model_validate_json(path.read_bytes())
        except (ValidationError, ValueError):
            continue
    return None


def _entry(rel: Path, path: Path, kinds: list[type[BaseModel]]) -> list[str]:
    value = _load(path, kinds)
    if value is None:
        return [f"{rel}: does not validate"]
    try:
        meta = json.loads(path.with_name(path.name[: -len(".json")] + ".meta.json").read_bytes())
    except (OSError, ValueError):
        return [f"{rel}: no readable .meta.json"]
    if meta.get("key") != path.name[: -len(".json")] or meta.get("digest") != digest(value):
        return [f"{rel}: does not match its .meta.json"]
    return []


# --- processes ----------------------------------------------------------------------------


def kill_when(
    run: subprocess.Popen[bytes], due: Callable[[], bool], signum: int = signal.SIGKILL
) -> tuple[bool, set[int], float]:
    """Send `signum` to the run once `due()`, watching which processes it made meanwhile,
    and wait for it to end; (whether it was still running to be signalled, its processes,
    seconds from the signal to its end)."""
    children: set[int] = set()
    while not due() and run.poll() is None:
        children |= descendants(run.pid)
        time.sleep(0.01)
    if run.poll() is not None:
        return False, children, 0.0
    children |= descendants(run.pid)
    run.send_signal(signum)
    sent = time.monotonic()
    run.wait()
    return True, children, time.monotonic() - sent


def linger(children: set[int]) -> float:
    """Seconds until every process of `children` is gone; over LINGER, the rest are killed."""
    return reap(children, within=LINGER * 2)[1]


def start_run(ws: Workspace) -> subprocess.Popen[bytes]:
    """A run of the workspace's day, its output not watched (only its calls, exit and processes)."""
    return subprocess.Popen(
        ws.command(), cwd=ws.root, env=ws.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def resumed(part: str, record: dict[str, Any], papers: int, same: bool) -> list[Figure]:
    """What the last run of an interrupted day must show: every paper done, a clean report."""
    done = papers - len(record["failed"])
    return [
        Figure(part, "papers done after the last run", f"{done}/{papers}", "all", done == papers),
        Figure(
            part,
            "its report = the clean run's (ranks, summaries)",
            "yes" if same else "no",
            "yes",
            same,
        ),
    ]


# --- the parts ----------------------------------------------------------------------------


@dataclass
class Clean:
    """A clean day: what it costs and how long it takes."""

    calls: int  # LLM requests
    wall: float  # seconds, cold
    cached: float  # seconds, fully cached re-run
    cpu: float  # seconds of the CPU stages (feed, extract, chunk)
    report: dict[str, Any]  # `summaries` of its report


def clean_day(tmp: Path, folder: Path, papers: int) -> Clean:
    with FakeOpenAI(reply_for=schema_reply, latency=0.05) as server:
        ws = workspace(tmp / "clean", folder, server, papers)
        started = time.perf_counter()
        record = finish(ws)
        wall = time.perf_counter() - started
        calls = chat_calls(server)
        started = time.perf_counter()
        finish(ws)
        cached = time.perf_counter() - started
    if record["failed"]:
        raise SystemExit(f"the clean run failed papers: {record['failed']}")
    cpu = sum(record["stages"][name]["seconds"] for name in ("feed", "extract", "chunk"))
    return Clean(calls, wall, cached, cpu, summaries(ws))


def summaries(ws: Workspace, out: Path | None = None) -> dict[str, Any]:
    """What a report says of each paper: rank, summary, takeaways, scores; and who failed."""
    folder = ws.folder() if out is None else next((out / DAY).glob("*/summaries.json")).parent
    data = json.loads((folder / "summaries.json").read_text())
    kept = ("rank", "summary", "key_insight", "key_takeaways", "rubric", "impact_score")
    return {
        "papers": {p["id"]: {k: p[k] for k in kept} for p in data["papers"]},
        "failed": sorted(f["id"] for f in data["failed"]),
    }


def kill_moment(
    attempt: int, count: int, clean: Clean, paid: int, server: FakeOpenAI, rng: random.Random
) -> tuple[Callable[[], bool], str]:
    """When to kill the next run, and how to say it. The first quarter of the kills land at
    random times in start-up and the CPU stages (about twice a run's share of them each), or
    at the run's first LLM call if it gets there first; the rest right after a random number
    of the LLM calls still to make (about twice a run's share, never past the day's end),
    while other calls are in flight: the moment a kill costs the most. (Aimed by time alone,
    or past the end, a kill once let a run finish the day, and no later run could be killed.)"""
    cpu_kills = max(count // 4, 1)
    if attempt < cpu_kills:
        delay = rng.uniform(0.3 * clean.cached, clean.cached + 2 * clean.cpu / cpu_kills)
        deadline = time.monotonic() + delay
        return (
            lambda: time.monotonic() >= deadline or chat_calls(server) > paid
        ), f"after {delay:.1f} s or at its first LLM call"
    # The calls the day still needs, at most: those whose replies a kill cut off were asked
    # but are asked again. Kept within it, so no kill is aimed past the day's end (a run that
    # finishes the day leaves nothing for the kills after it).
    left = max(clean.calls - distinct_calls(server), 1)
    target = paid + rng.randint(1, max(1, min(2 * left // max(count - attempt, 1), left)))
    return (lambda: chat_calls(server) >= target), f"at LLM call {target}"


def kills(
    tmp: Path, folder: Path, papers: int, count: int, clean: Clean, rng: random.Random
) -> list[Figure]:
    calls = clean.calls
    with FakeOpenAI(reply_for=schema_reply, latency=0.05) as server:
        ws = workspace(tmp / "kills", folder, server, papers)
        killed, finished_early, slowest, outlived = 0, 0, 0.0, 0
        at_calls = 0  # kills of a run that had started LLM calls (which it may have cut off)
        for attempt in range(count * 3):
            if killed >= count:
                break
            due, when = kill_moment(attempt, count, clean, chat_calls(server), server, rng)
            run = start_run(ws)
            before, started = chat_calls(server), time.monotonic()
            was_running, children, _ = kill_when(run, due)
            if not was_running:
                finished_early += 1
                print(f"  run {attempt + 1} ended before its kill ({when})")
                continue
            killed += 1
            at_calls += chat_calls(server) > before
            waited = linger(children)
            slowest = max(slowest, waited)
            outlived += waited > LINGER
            print(
                f"  kill {killed:2} ({when}) at {time.monotonic() - started:4.1f} s: "
                f"{chat_calls(server) - before:3} LLM calls, {len(children)} processes, "
                f"gone {waited:.1f} s after"
            )
        record = finish(ws)
        paid = chat_calls(server)
        same = summaries(ws) == clean.report
    checked, problems, leftovers = cache_problems(ws.cache)
    figures = [
        Figure(
            "kills",
            "runs SIGKILLed",
            f"{killed} ({finished_early} ended first)",
            ">= 10",
            killed >= 10,
        ),
        *resumed("kills", record, papers, same),
        Figure(
            "kills",
            "corrupt cache entries",
            f"{len(problems)} of {checked} (left: {leftovers})",
            "0",
            not problems,
        ),
        Figure(
            "kills",
            "LLM calls vs a clean run",
            f"{paid}/{calls} = {paid / calls:.2f}x",
            "<= 1.2x",
            paid <= 1.2 * calls,
        ),
        Figure(
            # what a kill may cost: the calls in flight, whose replies never reached the cache
            "kills",
            "LLM calls lost per kill of a run calling",
            f"{(paid - calls) / max(at_calls, 1):.1f} ({at_calls} such kills)",
            f"<= {IN_FLIGHT} in flight",
            paid - calls <= IN_FLIGHT * at_calls,
        ),
        Figure(
            "kills",
            "slowest exit of a killed run's processes",
            f"{slowest:.1f} s ({outlived} over {LINGER:.0f} s)",
            f"<= {LINGER:.0f} s",
            outlived == 0,
        ),
    ]
    for problem in problems[:10]:
        print(f"  corrupt: {problem}")
    return figures


def stops(
    tmp: Path, folder: Path, papers: int, count: int, clean: Clean, rng: random.Random
) -> list[Figure]:
    calls = clean.calls
    with FakeOpenAI(reply_for=schema_reply, latency=0.05) as server:
        ws = workspace(tmp / "stops", folder, server, papers)
        stopped, finished_early, slowest, wrong_codes, outlived = 0, 0, 0.0, 0, 0
        for attempt in range(count * 3):
            if stopped >= count:
                break
            signum = (signal.SIGINT, signal.SIGTERM)[attempt % 2]
            paid = chat_calls(server)
            left = max(clean.calls - paid, 1)
            # at most a fair share of the calls left (a stop loses none of them, so the calls
            # left shrink by each share): every stop lands before the day's last call
            share = max(1, left // (count - stopped + 1))
            target = min(paid + rng.randint(1, share), clean.calls - 1)
            run = start_run(ws)
            before = chat_calls(server)
            was_running, children, took = kill_when(
                run, lambda target=target: chat_calls(server) >= target, signum
            )
            if not was_running:
                finished_early += 1
                print(f"  run {attempt + 1} ended before its stop (at LLM call {target})")
                continue
            stopped += 1
            slowest = max(slowest, took)
            waited = linger(children)  # its workers, fork server and tracker too
            outlived += waited > LINGER
            wrong_codes += run.returncode != 128 + signum
            print(
                f"  stop {stopped:2} ({signal.Signals(signum).name} at LLM call {target}): "
                f"{chat_calls(server) - before:3} LLM calls, exit {run.returncode} "
                f"{took:.2f} s after"
            )
        record = finish(ws)
        paid = chat_calls(server)
        same = summaries(ws) == clean.report
    return [
        Figure(
            "stops",
            "runs stopped by Ctrl-C / SIGTERM",
            f"{stopped} ({finished_early} ended first)",
            f">= {count}",
            stopped >= count,
        ),
        Figure(
            "stops",
            "their exit codes 130 / 143",
            f"{stopped - wrong_codes} of {stopped}",
            "all",
            wrong_codes == 0,
        ),
        *resumed("stops", record, papers, same),
        Figure(
            "stops",
            "LLM calls vs a clean run",
            f"{paid}/{calls} = {paid / calls:.2f}x",
            "1.00x",
            paid == calls,
        ),
        Figure(
            "stops",
            "slowest stop (signal to exit)",
            f"{slowest:.2f} s ({outlived} runs left processes over {LINGER:.0f} s)",
            f"<= {STOP_TAKES:.0f} s, none left",
            slowest <= STOP_TAKES and outlived == 0,
        ),
    ]


def overlap(tmp: Path, folder: Path, papers: int, clean: Clean) -> list[Figure]:
    calls = clean.calls
    with FakeOpenAI(reply_for=schema_reply, latency=0.05) as server:
        ws = workspace(tmp / "overlap", folder, server, papers)
        outs = [ws.root / "out-a", ws.root / "out-b"]
        runs = [
            subprocess.Popen(
                [*ws.command()[:-2], "--out", str(out)],  # the workspace's --out replaced
                cwd=ws.root,
                env=ws.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for out in outs
        ]
        for run in runs:
            _, err = run.communicate(timeout=900)
            if run.returncode not in (0, 1):
                raise SystemExit(f"an overlapping run failed ({run.returncode}):\n{err[-3000:]}")
        paid = chat_calls(server)
        both = [summaries(ws, out) for out in outs]
        finish(ws)
        later = summaries(ws)
        repaid = chat_calls(server) - paid
    agree = all(report == later for report in both)
    return [
        Figure(
            "overlap",
            "LLM calls of two runs at once vs one",
            f"{paid}/{calls} = {paid / calls:.2f}x",
            "<= 1.05x",
            paid <= 1.05 * calls,
        ),
        Figure(
            "overlap",
            "both reports = a cached re-run's",
            f"{'yes' if agree else 'no'} ({repaid} calls in the re-run)",
            "yes, 0 calls",
            agree and repaid == 0,
        ),
    ]


def storm(tmp: Path, count: int, retries: int, seed: int) -> list[Figure]:
    listed = [
        FakePaper(
            p.id,
            title=f"Storm paper {n}",
            abstract=ABSTRACT.format(topic=f"system {n}") * 12,  # a page: ~600 tokens
            submitted=p.submitted,
        )
        for n, p in enumerate(make_papers(count, start=_window_start()))
    ]
    broken = {listed[0].base_id: "truncated", listed[1].base_id: "html"}
    faults, llm_faults = issue_storm(seed), issue_storm(seed + 1)
    with (
        FakeArxiv(listed, storm=faults) as arxiv,
        FakeOpenAI(reply_for=schema_reply, storm=llm_faults) as llm,
    ):
        for paper_id, kind in broken.items():
            arxiv.fail(paper_id, kind)  # type: ignore[arg-type]
        ws = Workspace(tmp / "storm", "--date", DAY)
        ws.env.update({**llm.env(), **arxiv.env(), **STORM_ENV})
        # Fewer retries than the default 4, so some papers do fail for a passing fault and the
        # second run has something to converge on.
        ws.env["PAPERBRIEF_LLM__MAX_RETRIES"] = ws.env["PAPERBRIEF_ARXIV__MAX_RETRIES"] = str(
            retries
        )
        ws.source_args += ["--top", str(count), "--backend", "openai", "--categories", "cs.LG"]
        first = ws.run()
        one = _outcome(ws, first, count)
        second = ws.run()
        two = _outcome(ws, second, count)
        dealt = faults.drawn + llm_faults.drawn
        asked = f"{len(arxiv.requests)} arXiv and {len(llm.requests)} LLM requests"
    print(f"  storm: {asked}, faults dealt {dict(dealt)}")
    for line in one["lines"][:5]:
        print(f"  first run, failed: {line}")
    wanted = sorted(broken)
    return [
        Figure(
            "storm",
            "first run: done / failed with one line",
            f"{one['done']} / {one['failed']} of {count} (exit {first.returncode})",
            "all accounted",
            one["accounted"],
        ),
        Figure(
            "storm",
            "second run: done / failed",
            f"{two['done']} / {two['failed']} ({', '.join(two['failed_ids']) or '-'})",
            f"{count - 2} / the 2 broken PDFs",
            two["accounted"] and two["failed_ids"] == wanted,
        ),
    ]


def issue_storm(seed: int) -> Storm:
    """The issue's storm: 10% 5xx, 5% 429, 5% cut off mid-body, 1% hangs (longer than the
    bench's 3 s timeouts)."""
    return Storm(error=0.10, throttle=0.05, cut=0.05, hang=0.01, hang_seconds=6.0, seed=seed)


def _window_start() -> datetime:
    """15:00 US Eastern on the Monday before DAY: inside the window arXiv announces under DAY."""
    return datetime(2026, 3, 2, 20, 0, tzinfo=UTC)


def _outcome(ws: Workspace, done: subprocess.CompletedProcess[str], count: int) -> dict[str, Any]:
    if done.returncode not in (0, 1):
        return {
            "done": 0,
            "failed": 0,
            "accounted": False,
            "failed_ids": [],
            "lines": [done.stderr[-500:]],
        }
    record = ws.record()
    failures = record["failed"]
    lines = [f"{f['id']} [{f['stage']}] {f['error']}" for f in failures]
    done_papers = len(json.loads((ws.folder() / "summaries.json").read_text())["papers"])
    one_line = all("\n" not in f["error"] and f["error"].strip() for f in failures)
    return {
        "done": done_papers,
        "failed": len(failures),
        "accounted": done_papers + len(failures) == count and one_line,
        "failed_ids": sorted(f["id"].split("v")[0] for f in failures),
        "lines": lines,
    }


def fuzzing(count: int, seed: int) -> list[Figure]:
    import pymupdf

    pymupdf.TOOLS.mupdf_display_errors(False)  # MuPDF's own complaints about the damage
    result = fuzz(count, seed)
    if result is None:
        return [
            Figure(
                "fuzz",
                "damaged PDFs extracted",
                "skipped: no corpus",
                f"{count}, 0 tracebacks",
                True,
            )
        ]
    _, tracebacks = result
    for line in tracebacks[:10]:
        print(f"  traceback: {line}")
    return [
        Figure(
            "fuzz",
            "damaged PDFs: tracebacks",
            f"{len(tracebacks)} of {count}",
            "0 (>= 200 PDFs)",
            not tracebacks and count >= 200,
        )
    ]


# --- the table ----------------------------------------------------------------------------


def table(figures: list[Figure]) -> str:
    rows = [("part", "figure", "measured", "target", "")]
    rows += [(f.part, f.what, f.value, f.target, "ok" if f.ok else "MISSED") for f in figures]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


PARTS = ("kills", "overlap", "storm", "fuzz", "stops")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=20, help="papers of the kills/overlap day")
    parser.add_argument("--kills", type=int, default=10, help="runs to SIGKILL")
    parser.add_argument("--stops", type=int, default=10, help="runs to stop by Ctrl-C/SIGTERM")
    parser.add_argument("--storm-papers", type=int, default=40, help="papers of the storm day")
    parser.add_argument("--storm-retries", type=int, default=2, help="retries per request")
    parser.add_argument("--fuzz", type=int, default=200, help="damaged PDFs to extract")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default=",".join(PARTS), help=f"some of {','.join(PARTS)}")
    args = parser.parse_args(argv)
    parts = set(args.only.split(","))
    rng = random.Random(args.seed)
    figures: list[Figure] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-reliability-") as scratch:
        tmp = Path(scratch)
        folder = tmp / "papers"
        kind = papers_folder(folder, args.papers)
        if parts & {"kills", "overlap", "stops"}:
            clean = clean_day(tmp, folder, args.papers)
            print(
                f"clean day: {args.papers} {kind} papers, {clean.calls} LLM calls, "
                f"{clean.wall:.1f} s (CPU stages {clean.cpu:.1f} s); "
                f"fully cached re-run {clean.cached:.1f} s"
            )
        steps: list[tuple[str, Callable[[], list[Figure]]]] = [
            ("kills", lambda: kills(tmp, folder, args.papers, args.kills, clean, rng)),
            ("overlap", lambda: overlap(tmp, folder, args.papers, clean)),
            ("storm", lambda: storm(tmp, args.storm_papers, args.storm_retries, args.seed)),
            ("fuzz", lambda: fuzzing(args.fuzz, args.seed)),
            ("stops", lambda: stops(tmp, folder, args.papers, args.stops, clean, rng)),
        ]
        for name, step in steps:
            if name in parts:
                part_started = time.perf_counter()
                figures += step()
                print(f"{name}: {time.perf_counter() - part_started:.0f} s")
    print(table(figures))
    load, took = os.getloadavg()[0], time.perf_counter() - started
    print(f"load average {load:.1f} on {os.cpu_count()} cores; {took:.0f} s in all")
    return 0 if all(f.ok for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
