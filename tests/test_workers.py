"""Worker processes stay small (issue 11): each CPU stage has workers of its own, only a worker
that opens a PDF loads PyMuPDF, and a worker lets go of what a paper left behind before the next.

`make bench` measures the memory (the process tree's summed RSS); these tests pin the behaviour.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import pymupdf
import pytest

from pipeline import memory
from pipeline.cache import Cache
from pipeline.executor import LocalExecutor, Plan, _compute_in_worker
from pipeline.models import Document, PaperMeta, PdfFile
from pipeline.observer import QuietObserver
from pipeline.paper import Day, Paper
from pipeline.runlog import RunLog
from pipeline.sources import Source
from pipeline.stage import Placement, Stage
from pipeline.stages.extract import Extract, library
from pipeline.tools import Tools
from tests.builders import without_xref
from tests.conftest import DAY
from tests.project import Project
from tests.where import Where


def in_workers(tmp_path: Path, papers: Path, *stages: Stage[Any, Any]) -> list[set[str]]:
    """Each stage over three papers of its own through one executor, as a run's stages go
    (each CPU stage in a pool of its own): the titles each stage's outputs carry."""
    settings = Project(tmp_path, papers).settings()
    log, cache = RunLog(), Cache(settings.cache_dir)
    source = Source(kind="folder", day=date.fromisoformat(DAY), folder=papers)
    titles = []
    with asyncio.Runner() as loop:
        tools = Tools(settings, cache, log)
        executor = LocalExecutor(
            settings, cache, log, tools, Plan(), QuietObserver(), loop, pool_threshold=1
        )
        try:
            for stage in stages:
                metas = [PaperMeta(id=f"p{n}", title="") for n in range(3)]
                day = Day(source=source, log=log, papers=[Paper(meta=m) for m in metas])
                executor.run(stage, day)
                titles.append({p.meta.title for p in day.papers})
        finally:
            executor.close()
    return titles


def test_each_cpu_stage_has_workers_of_its_own_and_only_a_pdf_reader_loads_pymupdf(
    tmp_path: Path, papers: Path
):
    read, counted = in_workers(
        tmp_path, papers, Where("extract", next(papers.glob("*.pdf"))), Where("chunk")
    )
    assert {title.split()[1] for title in read} == {"pymupdf"}
    # chunk's workers are new processes, and none of them loaded PyMuPDF's library
    assert {title.split()[1] for title in counted} == {"-"}
    assert {t.split()[0] for t in read}.isdisjoint(t.split()[0] for t in counted)
    assert str(os.getpid()) not in {t.split()[0] for t in read | counted}


def test_a_worker_computes_with_the_cycle_collector_off_and_its_start_up_frozen(
    tmp_path: Path, papers: Path
):
    (titles,) = in_workers(tmp_path, papers, Where("chunk"))
    states = [title.split()[2:] for title in titles]
    assert all(collector == "collector-off" for collector, _ in states)
    assert all(int(frozen.removeprefix("frozen-")) > 1000 for _, frozen in states)
    # ... and on again between papers, in this process too
    result = _compute_in_worker(Where("chunk"), {"meta": PaperMeta(id="p", title="")}, {}, None)
    assert isinstance(result, PaperMeta) and "collector-off" in result.title
    assert gc.isenabled()


def test_a_worker_forgets_pymupdfs_warnings_after_each_paper(tmp_path: Path, papers: Path):
    # A PDF MuPDF has to repair: opening it leaves warnings in a list PyMuPDF never empties,
    # which in a worker that reads a day's papers would only grow.
    repaired = tmp_path / "repaired.pdf"
    sample = sorted(papers.glob("*.pdf"))[0]
    repaired.write_bytes(without_xref(sample.read_bytes(), random.Random(0)))
    pymupdf.open(repaired).close()
    assert pymupdf.JM_mupdf_warnings_store  # MuPDF did complain
    pymupdf.TOOLS.reset_mupdf_warnings()

    pdf = PdfFile(path=repaired, sha256=hashlib.sha256(repaired.read_bytes()).hexdigest())
    values = {"pdf": pdf, "paper_id": "repaired", "max_pages": 60, "max_page_mb": 16.0}
    values["library"] = library()
    result = _compute_in_worker(Extract(), values, {}, None)  # what a worker runs per paper
    assert isinstance(result, Document) and result.sections
    assert pymupdf.JM_mupdf_warnings_store == []


def test_a_worker_returns_freed_heap_once_it_holds_more_than_a_little(
    monkeypatch: pytest.MonkeyPatch,
):
    # A chunk or summarize worker frees 0-2 MiB a paper: returning it after every paper only
    # made the next paper fault the pages back in. Once more is held (a PDF's pages), it goes.
    if memory._mallinfo2() is None:
        pytest.skip("no mallinfo2 in this C library: every release trims")
    trims: list[int] = []
    monkeypatch.setattr(memory, "_malloc_trim", lambda: trims.append)
    heap = memory.Heap()  # a worker's: it has trimmed nothing yet
    blocks = [bytes(range(256)) * 8 for _ in range(40_000)]  # 80 MiB in 2 KiB blocks
    free = memory._free_heap()
    assert free is not None
    little = free + 2**20  # what this process holds freed now, and a MiB
    heap.release(keep_free=little)
    assert trims == []
    del blocks[::2]  # every other one freed: 40 MiB of heap the allocator cannot give back
    heap.release(keep_free=little)
    assert trims == [0]
    # glibc still counts what it returned as free; nothing freed since, so nothing to return
    heap.release(keep_free=2**20)
    assert trims == [0]
    del blocks[: len(blocks) // 2]  # 20 MiB more freed
    heap.release(keep_free=2**20)
    assert trims == [0, 0]


def test_a_worker_that_cannot_tell_what_it_holds_freed_returns_it_after_every_paper(
    monkeypatch: pytest.MonkeyPatch,
):
    trims: list[int] = []
    monkeypatch.setattr(memory, "_malloc_trim", lambda: trims.append)
    monkeypatch.setattr(memory, "_mallinfo2", lambda: None)  # glibc before 2.33
    heap = memory.Heap()
    for _ in range(3):
        heap.release()
    assert trims == [0, 0, 0]


class Stepped(Stage[Paper, PaperMeta]):
    """An async CPU stage (as the extractive summarizer is): its title says whether an event
    loop ran it; given `wait`, it waits on a timer as no CPU stage should."""

    name = "summarize"
    scope = "paper"
    version = 1
    output = PaperMeta

    def __init__(self, wait: float = 0.0) -> None:
        self.wait = wait

    def inputs(self, paper: Paper) -> dict[str, Any]:
        return {"meta": paper.meta}

    async def compute(self, *, meta: PaperMeta) -> PaperMeta:
        await asyncio.sleep(self.wait)
        try:
            asyncio.get_running_loop()
            ran = "on a loop"
        except RuntimeError:
            ran = "stepped"
        return meta.model_copy(update={"title": ran})

    def apply(self, paper: Paper, output: PaperMeta) -> None:
        paper.meta = output

    def placement(self, tools: Any) -> Placement:
        return "process"


def test_a_workers_async_compute_is_stepped_without_an_event_loop_per_paper():
    # A new event loop per paper cost a worker more CPU than the coroutine it ran: one that
    # never waits is stepped to its end, one that yields (sleep(0)) resumed at once.
    meta = PaperMeta(id="p", title="")
    result = _compute_in_worker(Stepped(), {"meta": meta}, {}, None)
    assert isinstance(result, PaperMeta) and result.title == "stepped"
    # one that waits for a timer fails its paper (and says why) instead of hanging the worker
    failed = _compute_in_worker(Stepped(wait=0.01), {"meta": meta}, {}, None)
    assert isinstance(failed, RuntimeError) and "running event loop" in str(failed)
    # one that waits on a future (a loop's, never run here) fails its paper too, saying where
    waiting = _compute_in_worker(Waiting(), {"meta": meta}, {}, None)
    assert isinstance(waiting, RuntimeError) and "place its stage 'async'" in str(waiting)


class Waiting(Stepped):
    """An async CPU stage that waits on a future, as I/O would."""

    async def compute(self, *, meta: PaperMeta) -> PaperMeta:
        loop = asyncio.new_event_loop()  # never run: the future is never done
        try:
            await asyncio.Future(loop=loop)
        finally:
            loop.close()
        return meta


WATCH = """
import json, os, shutil, sys
from pathlib import Path
from pipeline.executor import LocalExecutor
from tests.processes import descendants, fork_servers
from tests.project import Project

def fork_server() -> bool:
    return bool(fork_servers(descendants(os.getpid())))

seen = []
run = LocalExecutor.run
def watched(self, stage, day):
    seen.append([stage.name, fork_server()])
    run(self, stage, day)
LocalExecutor.run = watched
root = Path(sys.argv[1])
shutil.rmtree(root / "prompts", ignore_errors=True)  # a project copies them in afresh
Project(root, Path(sys.argv[2])).run(pool_threshold=2)
print(json.dumps(seen))
"""


def test_a_day_of_new_pdfs_starts_the_fork_server_while_it_hashes_them(
    tmp_path: Path, papers: Path
):
    # PDFs written a while ago: the digest index does not trust a file just written.
    folder = tmp_path / "papers"
    shutil.copytree(papers, folder)
    for pdf in folder.iterdir():
        os.utime(pdf, (time.time() - 3600, time.time() - 3600))

    # A fresh process each run: the fork server is one per process and outlives a run in it.
    def run(source: Path = folder) -> list[tuple[str, bool]]:
        root = Path(__file__).resolve().parents[1]
        env = {**os.environ, "PYTHONPATH": str(root)}
        args = [sys.executable, "-c", WATCH, str(tmp_path / "day"), str(source)]
        done = subprocess.run(args, env=env, cwd=root, capture_output=True, text=True, check=True)
        return json.loads(done.stdout.splitlines()[-1])

    cold = run()
    assert cold[0] == ["extract", True]  # started while hashing, not when extract needs it
    cached = run()
    assert [stage for stage, _ in cached] == [stage for stage, _ in cold]
    assert not any(running for _, running in cached)  # nothing new: no fork server at all
    # Moved: every PDF is new to the digest index and hashed again, but none needs extracting.
    folder.rename(tmp_path / "moved")
    assert not any(running for _, running in run(tmp_path / "moved"))


def test_a_fork_server_that_cannot_start_early_costs_the_day_nothing(
    tmp_path: Path, papers: Path, monkeypatch: pytest.MonkeyPatch
):
    tried: list[LocalExecutor] = []

    def refused(self: LocalExecutor) -> None:
        tried.append(self)
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(LocalExecutor, "warm", refused)
    record = Project(tmp_path, papers).run(pool_threshold=2)
    assert len(tried) == 1  # tried once, at the threshold
    assert record.failed == [] and record.papers == 5


def _address_space() -> int:
    import resource

    return resource.getrlimit(resource.RLIMIT_AS)[0]


def test_workers_made_for_one_memory_limit_never_serve_a_stage_of_another(
    tmp_path: Path, papers: Path
):
    """Extract's workers may map 2 GiB (`Extract.worker_memory`); a stage without a limit gets
    workers of its own, whatever pool is open, since a worker cannot lift its own limit."""
    import resource

    settings = Project(tmp_path, papers).settings()
    log, cache = RunLog(), Cache(settings.cache_dir)
    with asyncio.Runner() as loop:
        tools = Tools(settings, cache, log)
        executor = LocalExecutor(settings, cache, log, tools, Plan(), QuietObserver(), loop)
        try:
            limited = executor._workers(2 << 30).submit(_address_space).result()
            unlimited = executor._workers(None).submit(_address_space).result()
        finally:
            executor.close()
    assert limited == 2 << 30
    assert unlimited == resource.RLIM_INFINITY
