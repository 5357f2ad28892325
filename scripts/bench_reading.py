"""Input tokens per deep-read paper, by reading depth, on the shared corpus (issue 12).

    python scripts/bench_reading.py        (also the first part of `make bench-llm`)

Each corpus paper is extracted, chunked at the default settings with `reading.depth` budget and
full, and summarized by the real summarize code (`summary_record`) against a model that answers
at once and counts what it was sent: every message with the model's tokenizer plus the reply
schema, as the openai backend sends it (`strict_schema`), plus 4 tokens of chat framing per
message. No network. The reply states no numbers, so no repair call is made; a repair, when a
model needs one, re-sends its call once more.

Printed: calls, and input tokens per paper (median, p90, max) for each depth; and the share of
the distinct numbers stated in the abstract and the conclusion that the budgeted selection
keeps. Exits 1 when a target is missed (median <= 6000, p90 <= 10000, numbers kept >= 95%).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import evaluation, reading
from pipeline.llm.base import Message, UsageSink
from pipeline.llm.openai_backend import strict_schema
from pipeline.models import ChunkNotes, Chunks, Document, PaperMeta, PaperSummary, Rubric, Usage
from pipeline.prompts import task_prompt
from pipeline.settings import Settings
from pipeline.stages.chunk import Depth, read_at_depth, role_parts
from pipeline.stages.extract import document
from pipeline.stages.summarize import paper_text, summary_record
from pipeline.tokens import Tokenizer, tokenizer_for

MEDIAN_TARGET, P90_TARGET, NUMBERS_TARGET = 6000, 10000, 0.95
FRAMING = 4  # tokens a chat message costs beyond its content


class CountingLLM:
    """An `LLM` that records each request's input tokens and answers with a fixed reply."""

    name = "counting"
    model = "gpt-4o-mini"

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        self.calls: list[tuple[str, int]] = []  # (task, input tokens)

    async def structured(
        self,
        messages: list[Message],
        reply_model: type[Any],
        *,
        temperature: float,
        max_tokens: int,
        task: str,
        on_usage: UsageSink,
    ) -> Any:
        schema = json.dumps(strict_schema(reply_model))
        tokens = sum(self.tokenizer.count(m.content) + FRAMING for m in messages)
        tokens += self.tokenizer.count(schema)
        self.calls.append((task, tokens))
        on_usage(Usage(calls=1, prompt_tokens=tokens))
        return _reply(reply_model)


def _reply(model: type[Any]) -> Any:
    if model is ChunkNotes:
        return ChunkNotes(notes=["a note"], numbers=[])
    score = {"score": 5, "rationale": "fair"}
    return PaperSummary(
        summary=["The problem and the method.", "The results and a limitation."],
        key_insight="An idea.",
        key_takeaways=["One.", "Two.", "Three."],
        industry_impact="Some.",
        limitations=[],
        affiliations=[],
        code_url=None,
        venue=None,
        tags=["tag"],
        rubric=Rubric.model_validate({k: score for k in Rubric.model_fields}),
    )


def read_paper(
    doc: Document, meta: PaperMeta, settings: Settings, depth: Depth, tokenizer: Tokenizer
) -> tuple[Chunks, list[tuple[str, int]]]:
    cfg = settings.chunk
    selected = read_at_depth(
        doc,
        tokenizer=tokenizer,
        depth=depth,
        budget=settings.reading.budget,
        max_tokens=cfg.max_tokens,
        overlap=cfg.overlap,
        paper_budget=cfg.paper_budget,
    )
    llm = CountingLLM(tokenizer)
    prompts = {task: task_prompt(settings, task) for task in ("summarize", "notes")}
    asyncio.run(
        summary_record(
            meta,
            selected,
            prompts,
            llm,
            interests=settings.reading.interests,
            single_call_budget=settings.reading.single_call_budget,
        )
    )
    return selected, llm.calls


def percentile(values: list[int], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(corpus: Path, settings: Settings) -> dict[str, Any]:
    tokenizer = tokenizer_for(settings.llm.model)
    records = evaluation.ground_truth(corpus) or []
    figures: dict[str, Any] = {"papers": len(records)}
    kept = stated = 0
    worst: tuple[float, str] = (2.0, "")
    depths: tuple[Depth, ...] = ("budget", "full")
    for depth in depths:
        per_paper: list[int] = []
        tasks: dict[str, int] = {}
        for record in records:
            pdf = corpus / "pdfs" / record["file"]
            doc = document(pdf, pdf.stem, max_pages=settings.extract.max_pages)
            meta = PaperMeta(id=pdf.stem, title=record["title"], abstract=record["abstract"])
            selected, calls = read_paper(doc, meta, settings, depth, tokenizer)
            per_paper.append(sum(n for _, n in calls))
            for task, _ in calls:
                tasks[task] = tasks.get(task, 0) + 1
            if depth == "budget":
                k, s = reading.numbers_kept(role_parts(doc), paper_text(selected.chunks))
                kept, stated = kept + k, stated + s
                worst = min(worst, (k / s if s else 1.0, pdf.stem))
        figures[depth] = {
            "calls": tasks,
            "median": statistics.median(per_paper),
            "p90": percentile(per_paper, 0.9),
            "max": max(per_paper),
            "mean": statistics.mean(per_paper),
        }
    figures["numbers"] = {"kept": kept, "stated": stated, "worst": worst}
    return figures


def report(figures: dict[str, Any], settings: Settings) -> bool:
    print(
        f"Reading budget (issue 12): {figures['papers']} corpus papers, "
        f"reading.budget = {settings.reading.budget}, input tokens per paper, all calls"
    )
    depths: tuple[Depth, ...] = ("budget", "full")
    for depth in depths:
        f = figures[depth]
        calls = ", ".join(f"{n} {task}" for task, n in sorted(f["calls"].items()))
        print(
            f"  depth {depth:6s}  median {f['median']:7.0f}  p90 {f['p90']:7.0f}  "
            f"max {f['max']:7.0f}  mean {f['mean']:7.0f}  calls: {calls}"
        )
    n = figures["numbers"]
    share = n["kept"] / n["stated"] if n["stated"] else 1.0
    print(
        f"  numbers of abstract + conclusion kept by the budgeted read: {n['kept']}/{n['stated']}"
        f" = {share:.1%} (lowest: {n['worst'][1]}, {min(n['worst'][0], 1):.0%})"
    )
    budget = figures["budget"]
    ok = (
        budget["median"] <= MEDIAN_TARGET
        and budget["p90"] <= P90_TARGET
        and share >= NUMBERS_TARGET
    )
    print(
        f"  targets: median <= {MEDIAN_TARGET}, p90 <= {P90_TARGET}, numbers kept >= "
        f"{NUMBERS_TARGET:.0%}: {'met' if ok else 'MISSED'}"
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, help="reading.budget (default: the setting's)")
    args = parser.parse_args(argv)
    corpus = evaluation.corpus_dir()
    if evaluation.ground_truth(corpus) is None:
        print(f"Reading budget: skipped, no corpus at {corpus}")
        return 0
    settings = Settings()
    if args.budget:
        settings = settings.model_copy(
            update={"reading": settings.reading.model_copy(update={"budget": args.budget})}
        )
    return 0 if report(measure(corpus, settings), settings) else 1


if __name__ == "__main__":
    sys.exit(main())
