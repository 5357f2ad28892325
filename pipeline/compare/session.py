"""One comparison, run: the papers once (feed → chunk), the estimate, then each variant.

The upstream stages run once; then each variant is an ordinary run with its own
`prompts.summarize` / `llm.model`, so upstream stages are served from the cache by construction,
each variant's summaries are cached like any run's (a second comparison calls no model) and
each writes its own edition folder under out/<date>/.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rich.console import Console

from pipeline import terminal
from pipeline.compare.results import (
    Comparison,
    Judging,
    VariantResult,
    VariantSpec,
    agreements,
    common_papers,
    paper_result,
    variant_stats,
)
from pipeline.errors import LLMError, UsageError
from pipeline.llm.backends import MakeBackend, ModelBackend, backend_for
from pipeline.llm.base import ignore_meter
from pipeline.models import SummaryRecord, Usage
from pipeline.observer import Observer
from pipeline.paper import Day
from pipeline.progress import RichObserver
from pipeline.prompts import load_prompt, prompts_dir_of
from pipeline.runner import Runner, RunPlan
from pipeline.settings import Settings
from pipeline.stage import stage_key
from pipeline.stages.summarize import Summarize
from pipeline.stopping import Stop, on_signals

TASK = "summarize"
# Tokens the summarize template adds around the paper, when the tokenizer is not asked:
# about 4 characters a token for English prose.
CHARS_PER_TOKEN = 4


def variant_specs(prompt_flag: str, models: str | None, baseline: str | None) -> list[VariantSpec]:
    """`summarize=default,terse` × `--model a,b` (+ the baseline), in the order given."""
    task, sep, names = prompt_flag.partition("=")
    if not sep or task.strip() != TASK:
        raise UsageError(
            "--prompt takes summarize=VARIANT[,VARIANT...], e.g. summarize=default,terse"
        )
    prompts = _list(names)
    model_list: list[str | None] = list(_list(models)) if models else [None]
    if not prompts:
        raise UsageError("--prompt names no variant; e.g. summarize=default,terse")
    specs = [
        VariantSpec(label=f"{m}/{p}" if m else p, prompt=p, model=m)
        for m in model_list
        for p in prompts
    ]
    if baseline:
        specs.append(VariantSpec(label=baseline, baseline=True))
    if len(specs) < 2:
        raise UsageError("nothing to compare: give two variants, two models or a --baseline")
    return specs


def _list(text: str) -> list[str]:
    seen: list[str] = []
    for part in text.split(","):
        if part.strip() and part.strip() not in seen:
            seen.append(part.strip())
    return seen


def settings_for(settings: Settings, spec: VariantSpec, max_cost: float | None) -> Settings:
    llm: dict[str, object] = {"max_cost": max_cost}
    if spec.model:
        llm["model"] = spec.model
    if spec.baseline:
        llm["backend"] = "extractive"
    return settings.model_copy(
        update={
            "llm": settings.llm.model_copy(update=llm),
            "prompts": settings.prompts.model_copy(update={"summarize": spec.prompt}),
        }
    )


# --- before spending: the papers, and what summarizing them would cost ----------------------


def prepare(
    settings: Settings,
    plan: RunPlan,
    observer: Observer,
    make_backend: MakeBackend | None,
    stop: Stop,
) -> Day:
    """Feed → chunk once, as a run does (same executor, cache and admission), and stop before
    summarize: the estimate reads the chunks' token counts, and every variant's run then finds
    these stages cached."""
    runner = Runner(settings, plan, observer, make_backend=make_backend, stop=stop)
    day = runner.run_stages(until=TASK)
    if stop.requested:  # asked during the last stage before summarize: papers were left out
        raise stop.stopped()
    return day


@dataclass(frozen=True)
class Estimate:
    usd: float
    uncached: int  # summaries to be made
    cached: int
    unpriced: tuple[str, ...]  # models with no price in the settings


def estimate(
    settings: Settings,
    specs: Sequence[VariantSpec],
    day: Day,
    make_backend: MakeBackend | None,
) -> Estimate:
    """What summarizing the day's papers would cost per variant, from the cached chunks' token
    counts: input = chunks + the prompt's own text, output = the prompt's max_tokens (a ceiling),
    one call per paper (a paper past the single-call budget costs more, in map calls).
    A summary already in the cache for that variant costs nothing."""
    from pipeline.cache import Cache

    cache = Cache(settings.cache_dir)
    stage = Summarize()
    usd, uncached, cached, unpriced = 0.0, 0, 0, set[str]()
    for spec in specs:
        if spec.baseline:
            continue
        chosen = settings_for(settings, spec, None)
        backend = (make_backend or backend_for)(chosen.llm, ignore_meter)
        params = stage.params(chosen)
        prompt = params["prompts"][TASK]
        overhead = (len(prompt.system) + len(prompt.user)) // CHARS_PER_TOKEN
        price = chosen.llm.effective_prices().get(backend.model)
        if price is None:
            unpriced.add(backend.model)
        tools = {"summarizer": backend.identity()}
        for paper in day.live():
            if paper.chunks is None:
                continue
            key = stage_key(stage, stage.inputs(paper), params, tools)
            if cache.get(TASK, key, SummaryRecord) is not None:
                cached += 1
                continue
            uncached += 1
            if price is not None:
                tokens = paper.chunks.total_tokens + overhead
                usd += price.cost(tokens, prompt.max_tokens)
    return Estimate(round(usd, 6), uncached, cached, tuple(sorted(unpriced)))


def confirmed(estimate_usd: float, settings: Settings, yes: bool, console: Console) -> bool:
    """Ask before spending more than compare.confirm_above, on a terminal only."""
    if yes or estimate_usd <= settings.compare.confirm_above or not sys.stdin.isatty():
        return True
    answer = console.input(
        f"The comparison may cost up to {estimate_usd:.4f} USD "
        f"(compare.confirm_above = {settings.compare.confirm_above:.2f}). Go on? [y/N] ",
        markup=False,  # "[y/N]" is no markup tag: shown as written
    )
    return answer.strip().lower() in ("y", "yes")


# --- running the variants -----------------------------------------------------------------


def run_variant(
    settings: Settings,
    spec: VariantSpec,
    plan: RunPlan,
    observer: Observer,
    make_backend: MakeBackend | None,
    stop: Stop,
) -> VariantResult:
    made = None if spec.baseline else make_backend
    runner = Runner(settings, plan, observer, make_backend=made, stop=stop)
    started = time.perf_counter()
    record = runner.run()
    seconds = time.perf_counter() - started
    day = runner.day
    abstracts = {p.meta.id: abstract_of(p.meta.abstract, p.document) for p in day.papers}
    ranked = day.ranking.papers if day.ranking else []
    papers = [
        paper_result(r.record, r.meta.title, abstracts.get(r.meta.id, ""), r.rank, r.impact_score)
        for r in ranked
    ]
    spent = record.llm
    return VariantResult(
        spec=spec,
        edition=runner.edition,
        backend=day.backend,
        model=day.model,
        wall_seconds=seconds,
        spent_now=Usage(
            calls=spent.calls,
            prompt_tokens=spent.prompt_tokens,
            completion_tokens=spent.completion_tokens,
            cost_usd=spent.cost_usd,
            unpriced_models=spent.unpriced_models,
        ),
        papers=papers,
        failed=record.failed,
    )


def abstract_of(listed: str, document: object) -> str:
    """The paper's own abstract: the listing's, else the one read from the PDF."""
    return listed or str(getattr(document, "abstract", "") or "")


@dataclass
class Compare:
    """One comparison: the settings, the papers, the variants; `make_backend` lets tests inject
    a scripted model (the baseline always uses the real extractive backend)."""

    settings: Settings
    plan: RunPlan
    specs: list[VariantSpec]
    console: Console
    make_backend: MakeBackend | None = None
    judge_model: str | None = None
    yes: bool = False
    # The first Ctrl-C or SIGTERM while the comparison spends: no call starts after it, the
    # calls on the wire finish and are cached, then RunStopped (see `_spending`).
    stop: Stop = field(default_factory=Stop)

    def run(self) -> Comparison | None:
        cap = self.settings.llm.max_cost
        for spec in self.specs:  # a missing prompt is a usage error now, not after the spending
            load_prompt(prompts_dir_of(self.settings), TASK, spec.prompt)
        first = settings_for(self.settings, self.specs[0], cap)
        with self._spending(), self._observer() as observer:
            day = prepare(first, self.plan, observer, self.make_backend, self.stop)
        # triage, when the day has more papers than --top, is paid before the variants run
        prepared = day.log.usage.total()
        guess = estimate(self.settings, self.specs, day, self.make_backend)
        self._say_estimate(guess, cap)
        if not confirmed(guess.usd, self.settings, self.yes, self.console):
            return None
        with self._spending():
            results = self._variants(cap, prepared)
            return self._comparison(results, guess, cap, day, prepared)

    def _variants(self, cap: float | None, prepared: Usage) -> list[VariantResult]:
        results: list[VariantResult] = []
        for spec in self.specs:
            spent = prepared.cost_usd + sum(r.spent_now.cost_usd for r in results)
            remaining = None if cap is None else max(cap - spent, 0.0)
            chosen = settings_for(self.settings, spec, remaining)
            with self._observer() as observer:
                results.append(
                    run_variant(chosen, spec, self.plan, observer, self.make_backend, self.stop)
                )
        return results

    def _spending(self) -> AbstractContextManager[None]:
        """The gentle stop's signal handlers, around the work that spends calls only: at the
        confirmation prompt, Ctrl-C keeps ending the command at once, as it always did."""
        return on_signals(self.stop, RichObserver(terminal.console(stderr=True), live=False).warn)

    def _comparison(
        self,
        results: list[VariantResult],
        guess: Estimate,
        cap: float | None,
        day: Day,
        prepared: Usage,
    ) -> Comparison:
        common = common_papers(results)
        for result in results:
            result.stats = variant_stats(result, common)
        titles = {p.paper_id: p.title for r in results for p in r.papers}
        comparison = Comparison(
            stamp=datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
            day=self.plan.source.day.isoformat(),
            source=self.plan.source.describe(self.settings.arxiv.categories),
            estimate_usd=guess.usd,
            estimate_unpriced=list(guess.unpriced),
            max_cost=cap,
            prepared_usd=round(prepared.cost_usd, 6),
            prepared_unpriced=prepared.unpriced_models,
            common=common,
            titles=titles,
            variants=results,
            agreements=agreements(results, common),
        )
        if self.judge_model:
            abstracts = {p.meta.id: abstract_of(p.meta.abstract, p.document) for p in day.papers}
            spent = prepared.cost_usd + sum(r.spent_now.cost_usd for r in results)
            remaining = None if cap is None else max(cap - spent, 0.0)
            try:
                comparison.judging = self._judge(results, common, abstracts, remaining)
            except LLMError as exc:
                if self.stop.requested:  # the verdicts given are cached; the next run asks the rest
                    raise self.stop.stopped() from None
                # the variants are paid for and cached: report them without the verdicts
                comparison.judge_error = str(exc)
        return comparison

    def _judge(
        self,
        results: list[VariantResult],
        common: list[str],
        abstracts: dict[str, str],
        remaining: float | None,
    ) -> Judging:
        from pipeline.cache import Cache
        from pipeline.compare.judge import Judge, judge_pairs, judging

        assert self.judge_model is not None
        llm_settings = self.settings.llm.model_copy(
            update={"model": self.judge_model, "backend": "openai", "max_cost": remaining}
        )
        backend = (self.make_backend or backend_for)(llm_settings, ignore_meter)
        backend.stop = self.stop  # its client sends no call after the stop
        prompt = load_prompt(prompts_dir_of(self.settings), "judge", "default")
        cache = Cache(self.settings.cache_dir)
        identity = backend.identity().model_dump()

        if not isinstance(backend, ModelBackend):
            raise UsageError("--judge needs an LLM backend")

        async def ask() -> Judging:
            try:
                llm = backend.llm()
                judge = Judge(llm, identity, prompt, cache, self.settings.reading.interests)
                pairs, usage = await judge_pairs(judge, results, common, abstracts)
            finally:
                await backend.aclose()
            return judging(backend.model, prompt, pairs, usage)

        return asyncio.run(ask())

    def _observer(self) -> RichObserver:
        return RichObserver(terminal.console(stderr=True))

    def _say_estimate(self, guess: Estimate, cap: float | None) -> None:
        line = (
            f"estimated cost: {guess.usd:.4f} USD for {guess.uncached} summaries to make "
            f"({guess.cached} already cached)"
        )
        if guess.unpriced:
            line += f"; no price known for {', '.join(guess.unpriced)} (not counted)"
        if cap is not None and guess.usd > cap:
            line += f"; over --max-cost {cap:.4g}: later variants may stop at the cap"
        # one line however narrow the terminal, so it can be grepped
        self.console.print(line, highlight=False, markup=False, soft_wrap=True)
