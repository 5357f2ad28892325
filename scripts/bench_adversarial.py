"""CPU seconds of the report's escaping and the extractive backend's quoting on hostile text.

    python scripts/bench_adversarial.py [--sizes 50000 200000]

Each function meets each shape a paper's title, abstract or sentence could take (long runs of
letters, digits, dots, brackets, "www.", e-mail-like runs...) at each size; the script prints,
per function, the slowest shape and its CPU seconds at each size, and the ratio of the last
size to the first (linear: the ratio of the sizes; quadratic: its square).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import markup, weekly
from pipeline.llm import extractive
from tests.hostile import SHAPES

FUNCTIONS: dict[str, Callable[[str], object]] = {
    "md_text": markup.md_text,
    "md_cell": markup.md_cell,
    "html_text": markup.html_text,
    "plain_url": markup.plain_url,
    "split_sentences": extractive.split_sentences,
    "addresses_reader": extractive.addresses_reader,
    "names_something": extractive.names_something,
    "weekly venue": lambda text: (
        weekly.VENUE.search(text) if not hasattr(weekly, "venue_in") else weekly.venue_in(text)
    ),
}


def cpu(function: Callable[[str], object], text: str) -> float:
    started = time.process_time()
    function(text)
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 200_000])
    sizes = parser.parse_args().sizes
    for name, function in FUNCTIONS.items():
        times = {shape: [cpu(function, make(n)) for n in sizes] for shape, make in SHAPES.items()}
        shape, worst = max(times.items(), key=lambda item: item[1][-1])
        shown = "  ".join(f"{n:>7,}: {t:7.3f} s" for n, t in zip(sizes, worst, strict=True))
        ratio = worst[-1] / max(worst[0], 1e-4)
        print(f"{name:<17} worst {shape:<18} {shown}  ratio {ratio:6.1f}")


if __name__ == "__main__":
    main()
