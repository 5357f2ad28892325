"""CPU, peak memory and outcome of `paperbrief extract` on each PDF given, one process each.

    python scripts/bench_hostile_pdfs.py /tmp/outsider3/bombs/*.pdf ../shared/corpus/pdfs/*.pdf

Each PDF is read by a fresh `python -m pipeline extract FILE` (the `pipeline` on PYTHONPATH:
point it at another tree to compare), measured by `wait4`: user+sys CPU seconds and peak RSS of
that process alone, which other processes' load does not inflate. `--skip-over MB` leaves out
files larger than that on disk (a PDF known to need gigabytes, on a shared machine).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path


def measure(pdf: Path, extra: list[str]) -> tuple[float, int, int, str]:
    """CPU seconds, peak RSS in MiB, exit code and the first line of stderr."""
    child = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "extract", str(pdf), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert child.stderr is not None
    said = child.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    first = said.strip().splitlines()[0] if said.strip() else ""
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024, child.returncode, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pdfs", nargs="+", type=Path)
    parser.add_argument("--skip-over", type=float, default=None, metavar="MB")
    parser.add_argument("--max-page-mb", default=None, help="passed to `extract`")
    args = parser.parse_args()
    extra = ["--max-page-mb", args.max_page_mb] if args.max_page_mb else []
    total_cpu, peak = 0.0, 0
    print(f"load average {os.getloadavg()[0]:.2f}")
    for pdf in args.pdfs:
        if args.skip_over and pdf.stat().st_size > args.skip_over * 1e6:
            print(f"{pdf.name:34} skipped ({pdf.stat().st_size / 1e6:.1f} MB)")
            continue
        cpu, rss, code, first = measure(pdf, extra)
        total_cpu, peak = total_cpu + cpu, max(peak, rss)
        outcome = "read" if code == 0 else first.split(": ", 2)[-1][:90]
        print(f"{pdf.name:34} cpu {cpu:6.2f} s  peak {rss:6d} MiB  rc {code}  {outcome}")
    print(f"all: cpu {total_cpu:.2f} s, largest peak {peak} MiB")


if __name__ == "__main__":
    main()
