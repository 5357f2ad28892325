"""paperbrief at scale: a day of many distinct papers, cold, cached, and its report rebuilt.

    python scripts/bench.py [--papers 500] [--samples] [--no-openai]      (make bench)

Writes `--papers` distinct PDFs (the shared corpus's real papers, each copy made distinct by a
trailing PDF comment, so every file has its own content digest; `--samples`, or no corpus: the
five sample papers made distinct the same way, much smaller), then runs `paperbrief run
--source` on them (every paper read in full) in a subprocess, and prints:

- a cold day with the extractive backend: wall time, each stage's seconds (run.json), and peak
  memory of the whole process tree (the run, its fork server and workers), sampled every 50 ms
  as the sum of each process's RSS (pages shared between processes are counted in each);
- the same day fully cached, with the page cache warm, then with the PDFs' and the cache's
  pages evicted (`posix_fadvise(DONTNEED)` on every file; `/proc/sys/vm/drop_caches` as well
  when it is writable);
- the report rebuilt from the cache: `run --only report` and `report daily`;
- the CLI's import time (`paperbrief --version`, best of 5) and `import pipeline.runner`;
- the openai backend against the project's fake server (`tests/fakes/openai_server.py`) on the
  same cache: feed, extract and chunk are served from it, summarize talks to the server.

Every run has HOME pointed at an empty folder and its working directory in an empty folder;
the bench fails if anything is written to either, or into the folder of PDFs.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.evaluation import corpus_dir  # noqa: E402
from pipeline.samples import write_sample_papers  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI  # noqa: E402

DAY = "2026-03-04"
# A user's install has its bytecode (pip compiles it; a checkout writes it at the first run).
# A shell that forbids writing it (PYTHONDONTWRITEBYTECODE=1, as on the dev machines) would
# make every measured run compile paperbrief's 60-odd modules again: ~0.2 s of each.
NO_BYTECODE = ("PYTHONDONTWRITEBYTECODE",)
PAGE = os.sysconf("SC_PAGE_SIZE")


def make_papers(folder: Path, count: int, samples: bool) -> str:
    """`count` distinct PDFs in `folder`; returns what they are copies of."""
    corpus = corpus_dir() / "pdfs"
    if samples or not corpus.is_dir():
        originals = write_sample_papers(folder.parent / "originals")
        kind = "sample papers"
    else:
        originals = sorted(corpus.glob("*.pdf"))
        kind = "shared corpus papers"
    for n in range(count):
        source = originals[n % len(originals)]
        # After %%EOF a comment changes the file's bytes and nothing a reader sees.
        data = source.read_bytes() + f"\n% paperbrief bench copy {n}\n".encode()
        (folder / f"paper-{n:04d}-{source.name}").write_bytes(data)
    digests = {hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    assert len(digests) == count, "the bench's PDFs must be distinct"
    size = sum(p.stat().st_size for p in folder.iterdir())
    return f"{count} distinct copies of {len(originals)} {kind}, {size / 2**20:.0f} MiB"


class TreeMemory:
    """Peak of the summed RSS of a process and all its descendants, sampled; of their summed
    PSS (each shared page divided among the processes sharing it: what the tree costs the
    machine), sampled every fifth time since reading it walks the page tables; and their CPU time
    (user + system, each process's last sample: the figure a busy shared machine disturbs least,
    short by at most one sampling interval per process)."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        self.pid, self.every = pid, every
        self.peak = 0
        self.peak_pss = 0
        self.processes = 0
        self._ticks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak

    def _sample(self) -> None:
        samples = 0
        while not self._stop.is_set():
            pids = self._tree(self.pid)
            total = sum(_rss(pid) for pid in pids)
            self.peak = max(self.peak, total)
            if samples % 5 == 0:
                self.peak_pss = max(self.peak_pss, sum(_pss(pid) for pid in pids))
            samples += 1
            self.processes = max(self.processes, len(pids))
            for pid in pids:
                self._ticks[pid] = max(self._ticks.get(pid, 0), _cpu_ticks(pid))
            self._stop.wait(self.every)

    def cpu(self) -> tuple[float, float]:
        """CPU seconds of the whole tree, and of its first process (the run itself)."""
        tick = os.sysconf("SC_CLK_TCK")
        return sum(self._ticks.values()) / tick, self._ticks.get(self.pid, 0) / tick

    def _tree(self, pid: int) -> list[int]:
        found, todo = [], [pid]
        while todo:
            current = todo.pop()
            found.append(current)
            for task in Path(f"/proc/{current}/task").glob("*/children"):
                with contextlib.suppress(OSError):
                    todo += [int(child) for child in task.read_text().split()]
        return found


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0


def _rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _pss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


@dataclass
class Run:
    wall: float
    peak: int
    peak_pss: int
    cpu: tuple[float, float]  # user + system seconds of the process tree, of the run alone
    stages: dict[str, float]
    returncode: int


class Bench:
    def __init__(self, tmp: Path, papers: Path) -> None:
        self.papers = papers
        self.cache, self.out = tmp / "cache", tmp / "out"
        self.home, self.cwd = tmp / "home", tmp / "cwd"
        self.home.mkdir()
        self.cwd.mkdir()
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("OPENAI_", "PAPERBRIEF_", "XDG_")) and k not in NO_BYTECODE
        }
        self.env.update(HOME=str(self.home), PYTHONPATH=str(ROOT), PAPERBRIEF_BACKEND="extractive")

    def paperbrief(self, *args: str, env: dict[str, str] | None = None) -> Run:
        command = [sys.executable, "-m", "pipeline", *args]
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            cwd=self.cwd,
            env={**self.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        memory = TreeMemory(process.pid)
        _, stderr = process.communicate()
        wall = time.perf_counter() - started
        peak = memory.stop()
        peak_pss = memory.peak_pss
        if process.returncode not in (0, 1):
            raise SystemExit(f"paperbrief {' '.join(args)} failed: {stderr[-2000:]}")
        return Run(wall, peak, peak_pss, memory.cpu(), {}, process.returncode)

    def day(self, *extra: str, env: dict[str, str] | None = None) -> Run:
        run = self.paperbrief(
            "run",
            "--source",
            str(self.papers),
            "--date",
            DAY,
            "--top",
            str(len(list(self.papers.iterdir()))),
            "--cache-dir",
            str(self.cache),
            "--out",
            str(self.out),
            *extra,
            env=env,
        )
        newest = max((self.out / DAY).glob("*/run.json"), key=lambda p: p.stat().st_mtime)
        record = json.loads(newest.read_text())
        run.stages = {stage: stats["seconds"] for stage, stats in record["stages"].items()}
        return run

    def evict(self) -> str:
        """Drop the PDFs' and the cache's pages from the page cache."""
        os.sync()
        for folder in (self.papers, self.cache):
            for path in folder.rglob("*"):
                if path.is_file():
                    fd = os.open(path, os.O_RDONLY)
                    try:
                        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                    finally:
                        os.close(fd)
        try:
            Path("/proc/sys/vm/drop_caches").write_text("1\n")
            return "posix_fadvise(DONTNEED) + drop_caches"
        except OSError:
            return "posix_fadvise(DONTNEED)"

    def untouched(self) -> list[str]:
        """What was written where nothing should be: HOME and the working directory."""
        return [str(p) for folder in (self.home, self.cwd) for p in folder.rglob("*")]


def import_times() -> tuple[float, float]:
    """Best of 5: `paperbrief --version` in a new process, and `import pipeline.runner`."""
    env = {k: v for k, v in os.environ.items() if k not in NO_BYTECODE} | {"PYTHONPATH": str(ROOT)}

    def best(command: list[str]) -> float:
        times = []
        for _ in range(5):
            started = time.perf_counter()
            subprocess.run(command, env=env, check=True, capture_output=True)
            times.append(time.perf_counter() - started)
        return min(times)

    version = best([sys.executable, "-m", "pipeline", "--version"])
    runner = best([sys.executable, "-c", "import pipeline.runner"])
    return version, runner


def show(label: str, run: Run, stages: bool = False) -> None:
    memory = (
        f"   peak {run.peak / 2**20:5.0f} MiB (process tree, summed RSS;"
        f" summed PSS {run.peak_pss / 2**20:.0f} MiB)"
    )
    cpu = f"CPU {run.cpu[0]:.1f} s (the run itself {run.cpu[1]:.1f} s)"
    print(f"{label:<38} {run.wall:6.2f} s{memory}, {cpu}")
    if stages:
        for stage, seconds in run.stages.items():
            print(f"    {stage:<12} {seconds:6.2f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=500, help="distinct PDFs in the day")
    parser.add_argument("--samples", action="store_true", help="copies of the sample papers")
    parser.add_argument("--no-openai", action="store_true", help="skip the openai backend run")
    parser.add_argument("--cold-only", action="store_true", help="only the cold extractive day")
    args = parser.parse_args(argv)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="paperbrief-bench-") as name:
        tmp = Path(name)
        papers = tmp / "papers"
        papers.mkdir()
        print(f"papers: {make_papers(papers, args.papers, args.samples)}")
        before = sorted((p.name, p.stat().st_mtime_ns) for p in papers.iterdir())
        bench = Bench(tmp, papers)
        print(f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} at the start")
        show("cold day, extractive", bench.day(), stages=True)
        if args.cold_only:
            return 0
        show("fully cached re-run, warm page cache", bench.day())
        how = bench.evict()
        show(f"fully cached re-run, cold ({how})", bench.day())
        show("report rebuild: run --only report", bench.day("--only", "report"))
        rebuild = bench.paperbrief(
            "report",
            "daily",
            "--date",
            DAY,
            "--cache-dir",
            str(bench.cache),
            "--out",
            str(bench.out),
        )
        show("report rebuild: report daily", rebuild)
        if not args.no_openai:
            with FakeOpenAI() as server:
                # Limits far above the fake server's pace: the bench measures paperbrief, not
                # the limiter's wait for a real provider's minute.
                limits = {"PAPERBRIEF_LLM__TPM": "100000000", "PAPERBRIEF_LLM__RPM": "1000000"}
                openai = {"PAPERBRIEF_BACKEND": "openai", **server.env(), **limits}
                run = bench.day(env=openai)
                show("openai backend (fake server), same cache", run, stages=True)
        written = bench.untouched()
        after = sorted((p.name, p.stat().st_mtime_ns) for p in papers.iterdir())
    version, runner = import_times()
    print(f"import: paperbrief --version {version:.2f} s, import pipeline.runner {runner:.2f} s")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    if written or after != before:
        print(f"FAILED: written outside the cache and out folders: {written[:5]}")
        return 1
    print("nothing written outside the cache and out folders (HOME, cwd, PDFs checked)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
