"""CPU, peak memory and outcome of `paperbrief extract` on each PDF given, one process each.

    python scripts/bench_hostile_pdfs.py /tmp/outsider3/bombs/*.pdf ../shared/corpus/pdfs/*.pdf

Each PDF is read by a fresh `python -m pipeline extract FILE` (the `pipeline` on PYTHONPATH:
point it at another tree to compare), measured by `wait4`: user+sys CPU seconds and peak RSS of
that process alone, which other processes' load does not inflate. `--skip-over MB` leaves out
files larger than that on disk (a PDF known to need gigabytes, on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def measure(pdf: Path, extra: list[str]) -> tuple[float, int, int, str]:
    """CPU seconds, peak RSS in MiB, exit code and what came of it: the pages read (and
    skipped), or the error line without its path."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "extract", str(pdf), *extra], stdout=out, stderr=err
        )
        _, status, usage = os.wait4(child.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        said = err.read().decode(errors="replace").strip()
        if code == 0:
            doc = json.loads(out.read())
            said = f"read {doc['pages_read']} of {doc['pages']} pages"
            said += f", {doc.get('pages_skipped', 0)} skipped" if "pages_skipped" in doc else ""
        else:
            said = said.splitlines()[0].split(": ", 3)[-1] if said else ""
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024, code, said


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
        print(f"{pdf.name:34} cpu {cpu:6.2f} s  peak {rss:6d} MiB  rc {code}  {first[:90]}")
    print(f"all: cpu {total_cpu:.2f} s, largest peak {peak} MiB")


if __name__ == "__main__":
    main()
