"""Whole days run in-process: the runner with a scripted model, then run.json and the report.

What ran is read from the run's stage counts and events, so the cache is tested by what
executed. A few true CLI subprocess tests stay in test_cli_run.py and test_cli_llm.py.
"""

from __future__ import annotations

import asyncio
import fcntl
import inspect
import json
import os
import shutil
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from pipeline import executor, runner
from pipeline.cache import LOCK, Cache
from pipeline.errors import UsageError
from pipeline.executor import LocalExecutor, Plan
from pipeline.models import PaperMeta
from pipeline.observer import QuietObserver
from pipeline.paper import Day as DayState
from pipeline.paper import Paper
from pipeline.record import STAGES, RunRecord
from pipeline.runlog import RunLog
from pipeline.runner import stages_for
from pipeline.sources import Source
from pipeline.stage import Placement, Stage
from pipeline.tools import Tools
from tests.builders import encrypted_pdf
from tests.conftest import DAY
from tests.fakes.scripted_llm import Call
from tests.project import Project as Day
from tests.project import answer


def computed(record: RunRecord) -> dict[str, int]:
    return {stage: stats.misses for stage, stats in record.stages.items()}


@pytest.fixture
def day(tmp_path: Path, papers: Path) -> Day:
    return Day(tmp_path, papers)


def test_a_day_with_a_model_triages_reads_the_top_and_accounts_every_call(day: Day):
    record = day.run(**{"reading.top": 2})
    assert record.failed == [] and record.papers == 5 and record.read_in_full == 2
    assert day.llm.tasks().count("triage") == 1 and day.llm.tasks().count("summarize") == 2
    assert record.llm.backend == "scripted" and record.llm.calls == 3
    assert set(record.llm.by_stage) == {"triage", "summarize-reduce"}
    assert record.llm.cost_usd == pytest.approx(0.003)
    md = day.report()
    assert "## 2." in md and "## 3." not in md and "Also in the feed" in md
    saved = json.loads((day.folder() / "run.json").read_text())
    assert saved["llm"]["calls"] == 3 and saved["read_in_full"] == 2


def test_the_run_holds_the_cache_while_it_writes_its_outputs(
    day: Day, monkeypatch: pytest.MonkeyPatch
):
    # run.json, the reports and the edition read cache entries: a `cache clear` waiting on the
    # lock must not run between the last stage and those writes.
    held: list[bool] = []
    write = runner.write_outputs

    def writing(*args: Any, **kwargs: Any) -> Any:
        with (day.root / "cache" / LOCK).open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                held.append(True)
            else:
                held.append(False)
                fcntl.flock(handle, fcntl.LOCK_UN)
        return write(*args, **kwargs)

    monkeypatch.setattr(runner, "write_outputs", writing)
    day.run()
    assert held == [True]


def test_a_second_run_computes_nothing_and_calls_no_model(day: Day):
    first = day.run(**{"reading.top": 2})
    calls = len(day.llm.calls)
    report = day.report()
    again = day.run(**{"reading.top": 2})
    assert computed(again) == dict.fromkeys(STAGES, 0)
    assert len(day.llm.calls) == calls and again.llm.calls == 0
    assert day.report() == report and again.read_in_full == first.read_in_full


def test_a_prompt_edit_recomputes_exactly_summarize_rank_and_report(day: Day):
    day.run()
    prompt = day.prompts / "summarize" / "default.md"
    prompt.write_text(prompt.read_text().replace("research editor", "careful research editor"))
    record = day.run()
    assert computed(record) == {**dict.fromkeys(STAGES, 0), "summarize": 5, "rank": 1, "report": 1}


def test_a_triage_prompt_edit_reruns_triage_but_not_the_summaries(day: Day):
    day.run(**{"reading.top": 2})
    prompt = day.prompts / "triage" / "default.md"
    prompt.write_text(prompt.read_text() + "\nPrefer papers with released code.\n")
    record = day.run(**{"reading.top": 2})
    assert computed(record)["triage"] == 1 and computed(record)["summarize"] == 0
    assert record.stages["summarize"].hits == 2


def test_another_model_recomputes_the_summaries_not_the_reading(day: Day):
    day.run()
    day.llm.model = "another-model"
    record = day.run()
    assert computed(record) == {**dict.fromkeys(STAGES, 0), "summarize": 5, "rank": 1, "report": 1}


def test_force_recomputes_one_stage_and_reuses_identical_results(day: Day):
    day.run(scripted=False)
    record = day.run(force=frozenset({"extract"}), scripted=False)
    # extraction is deterministic: its fresh output has the same digest, so the rest is reused
    assert computed(record) == {**dict.fromkeys(STAGES, 0), "extract": 5}


def test_only_runs_one_stage_from_cached_inputs(day: Day):
    # nothing cached upstream yet: one usage error, not every paper "failed in extract" (a
    # folder's first stage: its feed reads the Document)
    with pytest.raises(UsageError, match=r"--only chunk: nothing is cached.*without --only"):
        day.run(only="chunk", scripted=False)
    day.run(scripted=False)
    record = day.run(only="summarize", force=frozenset({"summarize"}), scripted=False)
    assert computed(record) == {**dict.fromkeys(STAGES, 0), "summarize": 5}
    assert {e.stage for e in record.events} == {"feed", "extract", "chunk", "summarize"}


@pytest.mark.parametrize("stage", ["feed", "extract"])
def test_a_folders_first_stages_alone_need_the_cache_too(day: Day, stage: str):
    # A folder runs extract before its feed; `--only feed` still needs the cached Documents,
    # and `--only extract` the cached feed, or the day would be every paper failed (or named
    # by its file) in a run.json written over the real one.
    with pytest.raises(UsageError, match=rf"--only {stage}: nothing is cached.*without --only"):
        day.run(only=stage, scripted=False)
    day.run(scripted=False)
    record = day.run(only=stage, force=frozenset({stage}), scripted=False)
    assert computed(record) == {**dict.fromkeys(STAGES, 0), stage: 5}
    assert record.failed == []
    titles = {paper.meta.title for paper in day.runner.day.papers}
    assert "Draft Trees with Adaptive Depth for Faster Speculative Decoding" in titles, titles


def test_a_paper_whose_call_fails_drops_out_alone_and_its_cost_is_counted(day: Day):
    def refuse_one(call: Call) -> Any:
        if call.task == "summarize" and "ToolGuard" in call.user:
            from pipeline.errors import RefusalError

            return RefusalError("I can't help with that")
        return answer(call)

    day.llm.answer = refuse_one
    record = day.run()
    [failed] = record.failed
    assert failed.id == "sample-toolguard" and failed.stage == "summarize"
    assert "refused" in failed.error
    assert record.succeeded == 4 and record.llm.calls == 5  # the refused call was paid for
    assert "## Not summarized" in day.report()
    # a model failure is not remembered: the next run asks again, and only for that paper
    day.llm.answer = answer
    again = day.run()
    assert again.failed == [] and computed(again)["summarize"] == 1


def test_a_long_papers_notes_survive_a_failed_summary_and_are_not_asked_again(day: Day):
    def reduce_fails(call: Call) -> Any:
        if call.task == "summarize":
            from pipeline.errors import LLMError

            return LLMError("endpoint answered 500: overloaded")
        return answer(call)

    day.llm.answer = reduce_fails
    first = day.run(**{"reading.single_call_budget": 500, "chunk.max_tokens": 300})
    assert len(first.failed) == 5
    mapped = day.llm.tasks().count("notes")
    assert mapped > 5  # every paper went through map-reduce
    day.llm.answer = answer
    day.llm.calls.clear()
    again = day.run(**{"reading.single_call_budget": 500, "chunk.max_tokens": 300})
    assert again.failed == []
    assert day.llm.tasks() == ["summarize"] * 5  # the notes came from the cache


def test_force_summarize_and_a_hotter_notes_prompt_each_ask_every_note_again(day: Day):
    long = {"reading.single_call_budget": 500, "chunk.max_tokens": 300}
    day.run(**long)
    mapped = day.llm.tasks().count("notes")
    assert mapped > 5

    def notes_asked(**run: Any) -> int:
        day.llm.calls.clear()
        record = day.run(**run, **long)
        assert record.failed == []
        return day.llm.tasks().count("notes")

    assert notes_asked() == 0  # kept by chunk
    assert notes_asked(force=frozenset({"summarize"})) == mapped  # --force is fresh work
    prompt = day.prompts / "notes" / "default.md"
    prompt.write_text(prompt.read_text().replace("temperature: 0.1", "temperature: 0.7", 1))
    assert notes_asked() == mapped  # not the colder variant's notes
    assert notes_asked() == 0


def test_broken_pdfs_fail_alone_in_the_process_pool_and_are_remembered(
    tmp_path: Path, papers: Path
):
    folder = tmp_path / "mixed"
    shutil.copytree(papers, folder)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n this is not a PDF body")
    encrypted_pdf(folder / "locked.pdf")
    day = Day(tmp_path / "ws", folder)
    record = day.run(scripted=False, pool_threshold=1)
    assert {f.id for f in record.failed} == {"broken", "locked"}
    assert record.succeeded == 5
    again = day.run(scripted=False, pool_threshold=1)
    assert computed(again) == dict.fromkeys(STAGES, 0)
    assert {f.id for f in again.failed} == {"broken", "locked"}


def test_compute_receives_exactly_what_each_stage_hashes(day: Day):
    """The executor hashes inputs, params and the identity of each tool, then calls
    compute(**inputs, **params, **tools): compute must name exactly those keywords, so it cannot
    read an ingredient the key does not have."""
    day.run(**{"reading.top": 6})
    runner = day.runner
    # a full run lets go of each paper's chunks once summarized: read a day prepared up to
    # the report instead, which keeps them
    prepared = runner.run_stages(until="report")
    listing = stages_for(Source(kind="rss", day=date.fromisoformat(DAY)))[0]
    for stage in [*runner.stages, listing]:
        target = prepared if stage.scope == "day" else prepared.papers[0]
        given = {
            *stage.inputs(target),
            *stage.params(runner.settings),
            *stage.uses,
        }
        assert set(inspect.signature(stage.compute).parameters) == given, stage.name


class Reading(Stage[Paper, PaperMeta]):
    """An LLM-like stage: async compute, each paper's size the length of its title."""

    name = "summarize"
    version = 1
    scope = "paper"
    output = PaperMeta

    def __init__(self) -> None:
        self.started: list[str] = []

    def inputs(self, paper: Paper) -> dict[str, Any]:
        return {"meta": paper.meta}

    def size(self, inputs: Any) -> int:
        return len(inputs["meta"].title)

    async def compute(self, *, meta: PaperMeta) -> PaperMeta:
        self.started.append(meta.id)
        await asyncio.sleep(0)
        return meta

    def apply(self, paper: Paper, output: PaperMeta) -> None:
        paper.meta = output

    def placement(self, tools: Any) -> Placement:
        return "async"


def run_stage(
    day: Day,
    stage: Stage[Any, Any],
    papers: list[Paper],
    pool_threshold: int = executor.POOL_THRESHOLD,
    **flags: Any,
) -> RunLog:
    """One stage over `papers` through a run's executor, outside a run; its log."""
    settings = day.settings(**flags)
    log, cache = RunLog(), Cache(settings.cache_dir)
    source = Source(kind="folder", day=date.fromisoformat(DAY), folder=day.papers)
    with asyncio.Runner() as loop:
        tools = Tools(settings, cache, log)
        local = LocalExecutor(
            settings, cache, log, tools, Plan(), QuietObserver(), loop, pool_threshold
        )
        try:
            local.run(stage, DayState(source=source, log=log, papers=papers))
        finally:
            local.close()
    return log


def test_concurrent_jobs_start_with_the_largest_paper(day: Day):
    # A day that ends on its longest paper waits for it alone: it goes first instead.
    titles = {"short": "x", "longest": "x" * 30, "middle": "x" * 10, "tie": "x" * 10}
    papers = [Paper(meta=PaperMeta(id=i, title=t)) for i, t in titles.items()]
    stage = Reading()
    run_stage(day, stage, papers, **{"llm.concurrency": 1})
    assert stage.started == ["longest", "middle", "tie", "short"]


class Crashy(Stage[Paper, PaperMeta]):
    """A CPU stage whose worker dies outright on one paper, as a PyMuPDF segfault would."""

    name = "extract"
    version = 1
    scope = "paper"
    output = PaperMeta
    remember_failures = True

    def inputs(self, paper: Paper) -> dict[str, Any]:
        return {"meta": paper.meta}

    def compute(self, *, meta: PaperMeta) -> PaperMeta:
        if meta.id == "doomed":
            os._exit(1)
        return meta.model_copy(update={"title": meta.title.upper()})

    def apply(self, paper: Paper, output: PaperMeta) -> None:
        paper.meta = output

    def placement(self, tools: Any) -> Placement:
        return "process"


def test_a_worker_that_dies_takes_only_its_own_paper_down(day: Day):
    papers = [Paper(meta=PaperMeta(id=i, title=f"paper {i}")) for i in ("a", "b", "doomed", "c")]
    log = run_stage(day, Crashy(), papers, pool_threshold=1)
    assert [p.meta.title for p in papers if p.failure is None] == ["PAPER A", "PAPER B", "PAPER C"]
    [failed] = log.failures
    assert failed.id == "doomed" and "crashed its worker process" in failed.error


class Clocked(Stage[Paper, PaperMeta]):
    """A CPU stage that notes when each paper's compute began; a paper's size is its title's."""

    name = "extract"
    version = 1
    scope = "paper"
    output = PaperMeta

    def inputs(self, paper: Paper) -> dict[str, Any]:
        return {"meta": paper.meta}

    def size(self, inputs: Any) -> int:
        return len(inputs["meta"].title)

    def compute(self, *, meta: PaperMeta) -> PaperMeta:
        return meta.model_copy(update={"abstract": str(time.monotonic_ns())})

    def apply(self, paper: Paper, output: PaperMeta) -> None:
        paper.meta = output

    def placement(self, tools: Any) -> Placement:
        return "process"


def test_worker_processes_start_with_the_largest_paper(day: Day, monkeypatch: pytest.MonkeyPatch):
    # A stage that ends on its longest paper keeps one core idle while the other reads it.
    monkeypatch.setattr(executor, "WORKERS", 1)  # one worker starts them in the order given
    titles = {"short": "x", "longest": "x" * 30, "middle": "x" * 10, "tie": "x" * 10}
    papers = [Paper(meta=PaperMeta(id=i, title=t)) for i, t in titles.items()]
    run_stage(day, Clocked(), papers, pool_threshold=1)
    started = sorted(papers, key=lambda p: int(p.meta.abstract))
    assert [p.meta.id for p in started] == ["longest", "middle", "tie", "short"]
