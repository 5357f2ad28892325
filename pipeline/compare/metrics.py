"""Pure measures of summaries and rankings: overlap, redundancy, rank agreement, word diffs.

ROUGE-L comes from `rouge-score` (Google's reimplementation of ROUGE-1.5.5), imported on first
use; Kendall's tau-b is a dozen lines here rather than scipy, which would add ~40 MB for one
O(n²) loop over at most a few dozen papers.
"""

from __future__ import annotations

import difflib
import functools
import itertools
import math
from collections.abc import Sequence
from typing import Any, Literal

from pipeline.models import PaperSummary

DiffOp = Literal["same", "del", "ins"]


@functools.cache
def _scorer() -> Any:
    from rouge_score import rouge_scorer

    # No stemmer: a summary's wording is what is being compared, and stemming would count
    # "improves" and "improvement" as the same word.
    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 of two texts, 0 when either has no word."""
    if not candidate.strip() or not reference.strip():
        return 0.0
    return float(_scorer().score(reference, candidate)["rougeL"].fmeasure)


def rouge_l_precision(candidate: str, reference: str) -> float:
    """The share of `candidate`'s words that `reference` already says, in order (ROUGE-L
    precision): how much a short text repeats a long one, whatever the long one's length."""
    if not candidate.strip() or not reference.strip():
        return 0.0
    return float(_scorer().score(reference, candidate)["rougeL"].precision)


def summary_text(summary: PaperSummary) -> str:
    """The prose a reader reads first: the two summary paragraphs."""
    return "\n\n".join(summary.summary)


def words(text: str) -> int:
    return len(text.split())


def takeaway_redundancy(summary: PaperSummary) -> float:
    """How much the takeaways repeat each other: the mean ROUGE-L F1 over each pair of them
    (0 = no shared word, 1 = the same sentence three times)."""
    pairs = list(itertools.combinations(summary.key_takeaways, 2))
    return sum(rouge_l(a, b) for a, b in pairs) / len(pairs) if pairs else 0.0


def takeaway_echo(summary: PaperSummary) -> float:
    """How much the takeaways repeat the summary paragraphs: the mean share of each takeaway's
    words the summary already says (ROUGE-L precision; F1 would mostly measure length)."""
    takeaways, body = summary.key_takeaways, summary_text(summary)
    return sum(rouge_l_precision(t, body) for t in takeaways) / len(takeaways) if takeaways else 0.0


def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's tau-b of two paired sequences (ties allowed); None when it is undefined
    (fewer than two pairs, or one side all tied)."""
    if len(x) != len(y):
        raise ValueError("kendall_tau_b needs paired sequences of one length")
    concordant = discordant = ties_x = ties_y = 0
    for i, j in itertools.combinations(range(len(x)), 2):
        dx, dy = x[i] - x[j], y[i] - y[j]
        if dx == 0 and dy == 0:
            continue  # tied in both: counts in neither denominator term
        if dx == 0:
            ties_x += 1
        elif dy == 0:
            ties_y += 1
        elif (dx > 0) == (dy > 0):
            concordant += 1
        else:
            discordant += 1
    denominator = math.sqrt((concordant + discordant + ties_x) * (concordant + discordant + ties_y))
    return (concordant - discordant) / denominator if denominator else None


def word_diff(old: str, new: str) -> list[tuple[DiffOp, str]]:
    """`new` against `old`, word by word: runs of kept, removed and added words, in reading
    order (a replaced run is its removal followed by its addition)."""
    a, b = old.split(), new.split()
    runs: list[tuple[DiffOp, str]] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            runs.append(("same", " ".join(a[i1:i2])))
            continue
        if i2 > i1:
            runs.append(("del", " ".join(a[i1:i2])))
        if j2 > j1:
            runs.append(("ins", " ".join(b[j1:j2])))
    return runs


def ranks(order: Sequence[str]) -> dict[str, int]:
    """Paper id → 1-based rank, from ids best first."""
    return {paper_id: n for n, paper_id in enumerate(order, start=1)}
