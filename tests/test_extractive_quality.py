"""The offline summaries read well: each sentence once, fields that stand alone, fields in their
roles, clean tags (issue 14, item 9). `make eval-extractive` prints the corpus figures."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import evaluation
from pipeline.llm.extractive import (
    IMPACT_IN_SUMMARY,
    NO_INSIGHT,
    NO_TAKEAWAYS,
    NOT_ASSESSED,
    NOTES,
    extractive_summary,
    fold,
    names_something,
    points_back,
    split_sentences,
    tags,
)
from pipeline.models import Chunk, PaperMeta, PaperSummary


def _load_eval() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "scripts" / "eval_extractive.py"
    spec = importlib.util.spec_from_file_location("eval_extractive", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


EVAL = _load_eval()


def summarize(sections, *, abstract="", title="LeakBench", categories=("cs.CL",)) -> PaperSummary:
    meta = PaperMeta(id="2603.00001", title=title, abstract=abstract, categories=list(categories))
    chunks = [
        Chunk(paper_id=meta.id, index=i, section_path=path, text=text, tokens=len(text.split()))
        for i, (path, text) in enumerate(sections)
    ]
    return extractive_summary(meta, chunks)


def shown(summary: PaperSummary) -> list[str]:
    """The quoted sentences of the fields a reader reads top to bottom, notes aside."""
    fields = [*summary.summary, summary.key_insight, *summary.key_takeaways]
    fields.append(summary.industry_impact)
    return [s for f in fields if f not in NOTES for s in split_sentences(f)]


def alone(summary: PaperSummary) -> list[str]:
    """The fields shown on their own, each read without the sentence before it."""
    fields = [summary.key_insight, *summary.key_takeaways, summary.industry_impact]
    return [f for f in fields if f not in NOTES]


# --- repetition ----------------------------------------------------------------------------

LEAK = (
    "We present LeakBench, a benchmark of extraction attacks on open language models that lets "
    "practitioners estimate the cost of deploying a model trained on private data."
)
DANGLING = "Standard randomization raises this to 38%."

# v4 made this paper's paragraph 1, key insight, two takeaways and industry impact all LEAK, and
# paragraph 2 and a takeaway DANGLING (see the "before" figures in BENCHMARKS.md).
V4_SUMMARY = PaperSummary.model_validate(
    {
        "summary": [f"{LEAK} {DANGLING}", DANGLING],
        "key_insight": LEAK,
        "key_takeaways": [LEAK, DANGLING, LEAK],
        "industry_impact": LEAK,
        "limitations": [],
        "affiliations": [],
        "code_url": None,
        "venue": None,
        "tags": ["cs.CL"],
        "rubric": {
            k: {"score": 1, "rationale": "-"}
            for k in ("novelty", "industry_impact", "evidence", "urgency")
        },
    }
)


def test_the_measure_sees_what_v4_did_to_a_short_paper():
    assert len(EVAL.repeated_sentences(V4_SUMMARY)) == 6
    quality = EVAL.quality("v4", V4_SUMMARY, 0.0)
    assert (quality.repeats, quality.dangling) == (6, 1)


def test_a_two_sentence_paper_quotes_each_sentence_once_and_says_what_is_missing():
    summary = summarize([], abstract=f"{LEAK} {DANGLING}")
    assert summary.summary == [LEAK, DANGLING]
    assert summary.key_insight == NO_INSIGHT
    assert summary.key_takeaways == list(NO_TAKEAWAYS)
    # The cost sentence is the summary's, and the impact field says so rather than deny it.
    assert summary.industry_impact == IMPACT_IN_SUMMARY
    assert EVAL.quality("short", summary, 0.0).repeats == 0


SHORT_PAPER = [
    (
        ["Abstract"],
        f"{LEAK} Extraction attacks recover verbatim training text from a model's outputs. "
        f"Across 12 models, greedy decoding leaks 21% of sampled sequences. {DANGLING} "
        "Deduplicating the training set cuts the leak rate to 4% at no inference cost.",
    ),
    (
        ["5 Conclusion"],
        "We find that deduplication is the cheapest defence available to practitioners. "
        "LeakBench does not cover models trained with differential privacy, which we leave "
        "for future work.",
    ),
]


def test_a_short_paper_quotes_each_sentence_once():
    summary = summarize(SHORT_PAPER)
    quoted = [fold(s) for s in shown(summary)]
    assert len(quoted) == len(set(quoted)), quoted
    assert summary.summary[0] != summary.summary[1]
    assert summary.industry_impact not in summary.summary[0] + summary.summary[1]


def test_a_sentence_restated_with_other_case_and_spacing_is_quoted_once():
    restated = "we find that DEDUPLICATION is the  cheapest defence available to practitioners."
    sections = [*SHORT_PAPER, (["6 Discussion"], restated[0].upper() + restated[1:])]
    quoted = [fold(s) for s in shown(summarize(sections))]
    assert quoted.count(fold(restated)) <= 1


# --- standalone fields ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        DANGLING,
        "This raises accuracy to 38% on every benchmark we tried.",
        "These results show that deduplication helps in most settings.",
        "It improves recall by 7 points over the baseline.",
        "Such attacks recover private text from deployed models.",
        "They outperform every baseline on the hardest split.",
        "That is, the leak rate is bounded by the duplication rate.",
        "Here, we measure leakage on twelve open models.",
        "In this case, the attack recovers one sequence in four.",
        "For this reason, we deduplicate the training set first.",
        "Its leak rate drops to 4% after deduplication.",
    ],
)
def test_a_sentence_that_points_back_is_dangling(sentence):
    assert points_back(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "This paper presents LeakBench, a benchmark of extraction attacks.",
        "In this work, we measure leakage on twelve open models.",
        "It is clear that deduplication lowers the leak rate.",
        "There are three kinds of extraction attack in the literature.",
        "Iterative decoding raises the leak rate to 38%.",
        "This work shows that these attacks scale with model size.",
        "Theory predicts a leak rate bounded by the duplication rate.",
        "Deduplication cuts the leak rate to 4% at no inference cost.",
    ],
)
def test_a_sentence_that_names_its_subject_stands_alone(sentence):
    assert not points_back(sentence)


def test_takeaways_never_open_with_an_unresolved_pointer():
    conclusion = (
        "This raises accuracy to 38% on every benchmark we tried. These results show that "
        "deduplication helps in most settings. It also lowers the cost of training. "
        "Deduplication cuts the GSM8K leak rate from 21% to 4%. LeakBench runs in 3 GPU hours "
        "per model. Greedy decoding leaks more than sampling on all 12 models."
    )
    summary = summarize([*SHORT_PAPER, (["6 Conclusion"], conclusion)])
    for field in alone(summary):
        assert not points_back(field), field
    assert not {DANGLING, "It also lowers the cost of training."} & set(summary.key_takeaways)


def test_most_takeaways_carry_a_number_or_a_named_method():
    summary = summarize([*SHORT_PAPER, (["4 Results"], RESULTS)])
    assert sum(names_something(t) for t in summary.key_takeaways) >= 2


RESULTS = (
    "Results are broadly in line with expectations across the models we studied. "
    "On Pythia-1.4B, sampling with temperature 1.0 leaks 9% of sequences. "
    "Larger models memorise more and leak a larger share of what they saw. "
    "GPT-J leaks twice as much as GPT-Neo at the same size. "
    "The picture is similar for every decoding strategy we considered. "
    "Beam search with width 8 leaks 14% of sequences on OPT-2.7B. "
    "Leakage grows steadily as the prompts get longer and more specific. "
    "Prompts of 200 tokens leak 3 times as often as prompts of 50 tokens."
)


# --- field roles ---------------------------------------------------------------------------

BACKGROUND = [
    (
        ["Abstract"],
        "We prove a lower bound on the leak rate of any decoding strategy. The bound depends "
        "only on the duplication rate of the training set.",
    ),
    (
        ["1 Introduction"],
        "Serving large language models is expensive for companies and their users. "
        "Memorisation has been studied since the first neural language models.",
    ),
    (
        ["2 Related Work"],
        "There are multiple types of memory in language agents, namely short-term memory and "
        "long-term memory, and production systems deploy both.",
    ),
]


def test_background_about_cost_is_not_industry_impact():
    summary = summarize(BACKGROUND)
    assert summary.industry_impact == NOT_ASSESSED


def test_industry_impact_is_a_sentence_about_using_the_work():
    use = "On a single A100, our defence adds 3 ms of latency per request in production."
    summary = summarize([*BACKGROUND, (["4 Results"], f"{RESULTS} {use}")])
    assert summary.industry_impact == use
    assert EVAL.about_use(summary.industry_impact)


def test_a_measured_running_cost_is_impact_without_a_we():
    figure = "A reranker that costs 40 milliseconds per query recovers most of the position loss."
    summary = summarize([(["Abstract"], f"{BACKGROUND[0][1]} {figure}"), *BACKGROUND[1:]])
    assert summary.industry_impact == figure


def test_limitations_state_a_limitation_or_are_empty():
    strengths = (
        "However, our method outperforms the strongest baseline by 3 points. "
        "LeakBench does not require access to the model's weights. "
        "We find that deduplication helps on every model we tried."
    )
    assert summarize([*BACKGROUND, (["5 Conclusion"], strengths)]).limitations == []
    stated = "Our evaluation is restricted to English, and multilingual models remain unexplored."
    summary = summarize([*BACKGROUND, (["5 Conclusion"], f"{strengths} {stated}")])
    assert summary.limitations == [stated]


# --- tags ----------------------------------------------------------------------------------


def test_tags_carry_no_boilerplate():
    meta = PaperMeta(
        id="2603.00001v1",
        title="2603.00001v1: LeakBench, a Technical Report on Training Data Extraction",
        categories=["cs.CL"],
    )
    abstract = (
        "arXiv:2603.00001v1 [cs.CL] 3 Mar 2026. Preprint. This paper and report present "
        "LeakBench for training data extraction. Training data extraction attacks leak text."
    )
    found = tags(meta, abstract)
    assert found[0] == "cs.CL" and any("extraction" in tag for tag in found), found
    for tag in found[1:]:
        for word in ("v1", "report", "paper", "preprint", "arxiv", "2026", "mar", "cs"):
            assert word not in tag.split(), found
        assert not EVAL._BOILERPLATE_TAG.search(tag), found


# --- invariants ----------------------------------------------------------------------------

POOL = [
    LEAK,
    DANGLING,
    "These results show that deduplication helps in most settings.",
    "It also lowers the cost of training.",
    "Deduplication cuts the GSM8K leak rate from 21% to 4%.",
    "Greedy decoding leaks more than sampling on all 12 models.",
    "Serving large language models is expensive for companies and their users.",
    "Our evaluation is restricted to English and does not cover code models.",
    "We find that larger models memorise more of their training data.",
    "LeakBench runs in 3 GPU hours per model, which makes it cheap to deploy.",
]
ROLES = [["Abstract"], ["1 Introduction"], ["4 Results"], ["5 Conclusion"], ["Limitations"]]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(ROLES), st.lists(st.sampled_from(POOL), min_size=1))))
def test_no_paper_gets_a_sentence_twice_or_a_dangling_field(sections):
    sections = [(path, " ".join(texts)) for path, texts in sections]
    if not sections:
        return
    summary = summarize(sections)
    quoted = [fold(s) for s in shown(summary)]
    assert len(quoted) == len(set(quoted)), quoted
    assert not any(points_back(field) for field in alone(summary))
    assert summary.summary[0] and summary.summary[1]


# --- the corpus ----------------------------------------------------------------------------

CORPUS = evaluation.corpus_dir()


@pytest.mark.skipif(evaluation.ground_truth(CORPUS) is None, reason=f"no corpus at {CORPUS}")
def test_corpus_meets_the_targets():
    scores = EVAL.score_corpus(CORPUS)
    totals = EVAL.totals(scores)
    assert [s.file for s in scores if s.error] == ["2206.01062_page3_ENCRYPTED.pdf"]
    assert totals.repeats == 0, [s.file for s in scores if s.repeats]
    assert totals.dangling == 0, [s.file for s in scores if s.dangling]
    assert totals.specific_share >= EVAL.SPECIFIC_TARGET
    assert totals.boilerplate_tags == 0
    quoted = totals.impact_use + totals.impact_other
    assert quoted and totals.impact_use / quoted >= 0.9
    assert totals.met, EVAL.summary_line(totals)
