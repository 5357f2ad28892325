"""`paperbrief compare`: parse, build the variants, run them, write the comparison.

The work is in `pipeline.compare.session`, imported when the command runs (it loads the
runner and every stage; `paperbrief --help` should not).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from pipeline import terminal
from pipeline.commands import flags
from pipeline.wording import plural

if TYPE_CHECKING:
    from pipeline.compare.results import Comparison
    from pipeline.settings import Settings

HELP = """\
Run summarize prompt variants, and models, over the same papers and write a comparison:
out/compare-<stamp>/compare.md, compare.json and compare.html.

  paperbrief compare --prompt summarize=default,terse --source papers/
  paperbrief compare --prompt summarize=default,terse --model gpt-4o-mini,gpt-4.1-mini --date D
  paperbrief compare --prompt summarize=default --baseline extractive --judge gpt-4o

Per variant: tokens, cost, latency, first replies that were schema-valid, re-asks, numbers
supported by the paper, lengths, ROUGE-L against the abstract, takeaway redundancy, the ranking
and Kendall's tau between rankings; per paper, the summaries side by side as word diffs.

Feed, download, extract and chunk run once (and are cached); each variant's summaries are
cached like any run's, so running the same comparison again calls no model. The estimated
cost is printed first; above compare.confirm_above USD you are asked to confirm (--yes, or
stdin not a terminal, skips the question). --max-cost caps the whole comparison.
"""


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    settings_flags: Callable[[argparse.ArgumentParser], None],
) -> None:
    parser = commands.add_parser(
        "compare",
        help="compare summarize prompt variants and models on the same papers",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = parser.add_argument_group("what to compare")
    what.add_argument(
        "--prompt",
        dest="variants",
        required=True,
        metavar="summarize=V1,V2",
        help="summarize prompt variants in prompts/summarize/ (see `paperbrief prompts`)",
    )
    what.add_argument("--model", dest="models", help="comma-separated models to run each on")
    what.add_argument(
        "--baseline", choices=("extractive",), help="add the extractive backend as a variant"
    )
    what.add_argument("--judge", metavar="MODEL", help="LLM judge for pairwise preference")
    source = parser.add_argument_group("which papers (as for `run`)")
    source.add_argument("--source", type=Path, help="folder of PDFs (offline)")
    source.add_argument("--date", help="arXiv listing of YYYY-MM-DD")
    source.add_argument("--ids", help="comma-separated arXiv ids")
    source.add_argument("--categories", help="comma-separated, default cs.AI,cs.LG,cs.CL")
    llm = parser.add_argument_group("reading and spending")
    llm.add_argument("--backend", choices=("auto", "openai", "local"))
    llm.add_argument("--base-url", help="OpenAI-compatible endpoint")
    llm.add_argument(
        "--triage-model",
        metavar="MODEL",
        help="a cheaper model for triage (default: the first variant's model)",
    )
    llm.add_argument("--top", type=int, help="papers read in full after triage (default 15)")
    flags.add_depth_flag(llm)
    llm.add_argument("--concurrency", type=int, help="LLM calls in flight")
    llm.add_argument("--max-cost", type=float, help="USD for the whole comparison")
    llm.add_argument("--yes", action="store_true", help="do not ask before spending")
    settings_flags(parser)


def folder_for(out_dir: Path, stamp: str) -> Path:
    """out/compare-<stamp>/, with -2, -3 ... when two comparisons start in one second."""
    folder, n = out_dir / f"compare-{stamp}", 1
    while folder.exists():
        n += 1
        folder = out_dir / f"compare-{stamp}-{n}"
    return folder


def compare_command(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    from pipeline.commands.run import source_from
    from pipeline.compare.render import write_comparison
    from pipeline.compare.session import Compare, variant_specs
    from pipeline.errors import UsageError
    from pipeline.folders import check_cache, check_out
    from pipeline.runner import RunPlan

    specs = variant_specs(args.variants, args.models, args.baseline)
    if settings.llm.resolved_backend() == "extractive":
        # the extractive summarizer reads no prompt: its "variants" would all be one summary
        raise UsageError(
            "compare runs prompts through an LLM: set OPENAI_API_KEY or --base-url "
            "(--baseline extractive adds the offline summarizer as one variant)"
        )
    if args.judge and settings.llm.resolved_backend() != "openai":
        raise UsageError(
            "--judge needs an OpenAI-compatible endpoint (OPENAI_API_KEY or --base-url)"
        )
    plan = RunPlan(source=source_from(args))
    check_cache(settings)
    check_out(settings)
    job = Compare(settings, plan, specs, console, judge_model=args.judge, yes=args.yes)
    comparison = job.run()
    if comparison is None:
        console.print("cancelled: nothing was summarized")
        return 1
    folder = folder_for(settings.out_dir, comparison.stamp)
    write_comparison(comparison, folder)
    for line in overview(comparison):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    console.print(f"wrote {folder}/", highlight=False, markup=False, soft_wrap=True)
    if comparison.judge_error:
        terminal.console(stderr=True).print(
            f"judge: no verdicts: {comparison.judge_error}", markup=False, soft_wrap=True
        )
    failed = [f for v in comparison.variants for f in v.failed]
    return 1 if failed or not comparison.common or comparison.judge_error else 0


def overview(comparison: Comparison) -> list[str]:
    """The headline numbers, one line per variant (never cropped, easy to grep); the files
    have the rest."""
    from pipeline.compare.render import usd

    lines = []
    for v in comparison.variants:
        s = v.stats
        if s is None:
            continue
        valid = "–" if s.first_reply_valid is None else f"{100 * s.first_reply_valid:.0f}%"
        rouge = "–" if s.rouge_abstract is None else f"{s.rouge_abstract:.3f}"
        cost = usd(s.cost_usd, s.unpriced_models, estimated=s.estimated_models)
        lines.append(
            f"{v.spec.label}: {plural(s.papers, 'paper')}, {s.prompt_tokens:,} in / "
            f"{s.completion_tokens:,} out tokens, {cost}, "
            "first reply valid "
            f"{valid}, {plural(s.reasks, 're-ask')}, "
            f"numbers supported {100 * s.numbers_supported:.0f}%, "
            f"{s.summary_words:.0f} words, ROUGE-L vs abstract {rouge}"
        )
    for a in comparison.agreements:
        tau = "undefined" if a.tau is None else f"{a.tau:.3f}"
        lines.append(f"{a.a} vs {a.b}: Kendall's tau-b {tau} over {plural(a.papers, 'paper')}")
    return lines
