"""A disk that fills while `paperbrief run` writes its outputs, on a real 600 KB tmpfs (root).

    python scripts/bench_full_disk.py

Runs the real CLI in subprocesses: a day of three sample papers is briefed into an out folder on
the tmpfs; two more papers are added and the disk filled so that the next run's summaries.md
fits and its summaries.json does not; that run is made, then made again with room. Prints the
exit code and error line of each, and which run each file in the folder comes from (by the
run_id of run.json and summaries.json, and summaries.md's paper count), and any stray file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.samples import write_sample_papers  # noqa: E402

DAY = "2026-03-04"


def paperbrief(cwd: Path, out: Path) -> subprocess.CompletedProcess[str]:
    argv = ["run", "--source", "src", "--date", DAY, "--backend", "extractive", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env = {k: v for k, v in env.items() if not k.startswith(("OPENAI_", "PAPERBRIEF_"))}
    command = [sys.executable, "-m", "pipeline", *argv]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def describe(folder: Path) -> str:
    """Each file with the run it comes from: run ids for the JSON, paper count for the Markdown."""
    shown = []
    for path in sorted(folder.iterdir()):
        text = path.read_text(errors="replace")
        if path.name in ("run.json", "summaries.json"):
            shown.append(f"{path.name}={json.loads(text)['run_id'][-6:]}")
        elif path.name == "summaries.md":
            listed = re.search(r"(\d+) listed", text)
            shown.append(f"{path.name}={listed.group(1) if listed else '?'} papers")
        else:
            shown.append(path.name)
    return ", ".join(shown)


def pages(size: int) -> int:
    return -(-size // 4096) * 4096


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="paperbrief-full-") as tmp:
        here, disk = Path(tmp), Path(tmp) / "disk"
        disk.mkdir()
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(disk)],
            capture_output=True,
            text=True,
            check=False,
        )
        if mounted.returncode != 0:
            print(f"cannot mount a tmpfs here ({mounted.stderr.strip()}): run as root")
            return 1
        try:
            papers = here / "papers"
            papers.mkdir()
            write_sample_papers(papers)
            (here / "src").mkdir()
            pdfs = sorted(papers.glob("*.pdf"))
            for pdf in pdfs[:3]:
                shutil.copy(pdf, here / "src")
            folder = disk / "out" / DAY / "extractive"
            first = paperbrief(here, disk / "out")
            print(f"run 1 (3 papers): exit {first.returncode}; folder: {describe(folder)}")
            for pdf in pdfs[3:]:
                shutil.copy(pdf, here / "src")
            probe = paperbrief(here, here / "probe")  # the next files' sizes
            sizes = {
                p.name: p.stat().st_size for p in (here / "probe" / DAY / "extractive").iterdir()
            }
            print(f"run 2 elsewhere (5 papers): exit {probe.returncode}; sizes {sizes}")
            leave = pages(sizes["summaries.md"]) + pages(sizes["summaries.json"]) - 4096
            stats = os.statvfs(disk)
            with open(disk / "filler", "wb") as fh:
                fh.write(b"\0" * (stats.f_bavail * stats.f_frsize - leave))
            full = paperbrief(here, disk / "out")
            error = full.stderr.strip().splitlines()[-1] if full.stderr.strip() else ""
            print(f"run 3 (5 papers, {leave} bytes free): exit {full.returncode}; {error}")
            print(f"  folder after it: {describe(folder)}")
            (disk / "filler").unlink()
            again = paperbrief(here, disk / "out")
            print(f"run 4 (room again): exit {again.returncode}; folder: {describe(folder)}")
        finally:
            subprocess.run(["umount", "-l", str(disk)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
