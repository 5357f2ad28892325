"""`paperbrief compare`: the measures on their own, then two variants through the local
OpenAI-compatible server, each number checked against what the server was made to return."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt
from rich.console import Console

from pipeline.cli import main
from pipeline.compare.judge import JudgeReply
from pipeline.compare.metrics import (
    kendall_tau_b,
    rouge_l,
    takeaway_echo,
    takeaway_redundancy,
    word_diff,
)
from pipeline.compare.render import html_diff, markdown, md_diff, page
from pipeline.compare.results import (
    Comparison,
    VariantResult,
    VariantSpec,
    agreements,
    paper_result,
    variant_stats,
)
from pipeline.compare.session import confirmed, variant_specs
from pipeline.errors import InvalidReplyError, UsageError
from pipeline.llm.base import Price
from pipeline.llm.replies import reask_until_valid
from pipeline.models import Usage
from pipeline.settings import load_settings
from tests.builders import record, summary
from tests.conftest import DAY
from tests.fakes.arxiv_server import FakeArxiv, FakePaper
from tests.fakes.openai_server import FakeOpenAI, default_summary, request_title
from tests.fakes.replies import reply_kind, schema_reply
from tests.full_disk import FullDisk
from tests.workspace import OFFLINE

# --- Kendall's tau-b --------------------------------------------------------------------


def test_tau_b_is_one_for_the_same_order_and_minus_one_for_the_reverse():
    assert kendall_tau_b([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert kendall_tau_b([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0


def test_tau_b_corrects_for_ties_as_scipy_does():
    # scipy.stats.kendalltau's documented example: tau-b = -0.47140452079103173
    tau = kendall_tau_b([12, 2, 1, 12, 2], [1, 4, 7, 1, 0])
    assert tau == pytest.approx(-0.47140452079103173)
    # one swap among five untied items: (9 concordant - 1 discordant) / 10
    assert kendall_tau_b([1, 2, 3, 4, 5], [1, 2, 3, 5, 4]) == pytest.approx(0.8)


def test_tau_b_is_undefined_without_two_ranked_pairs_or_with_one_side_all_tied():
    assert kendall_tau_b([1], [1]) is None
    assert kendall_tau_b([1, 1, 1], [1, 2, 3]) is None
    with pytest.raises(ValueError):
        kendall_tau_b([1, 2], [1])


# --- word diff ---------------------------------------------------------------------------


def test_word_diff_keeps_reading_order_with_removals_before_additions():
    runs = word_diff("the cat sat on the mat", "the dog sat on the mat today")
    assert runs == [
        ("same", "the"),
        ("del", "cat"),
        ("ins", "dog"),
        ("same", "sat on the mat"),
        ("ins", "today"),
    ]
    assert word_diff("same words", "same  words") == [("same", "same words")]


MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def test_markdown_diff_strikes_removed_and_bolds_added_words_and_stays_inert():
    rendered = MD.render(md_diff("cut *this* <img src=x> now", "cut that now"))
    assert "<s>*this* &lt;img src=x&gt;</s>" in rendered
    assert "<strong>that</strong>" in rendered
    assert "<img" not in rendered and "<em>" not in rendered


def test_html_diff_marks_words_with_del_and_ins_and_escapes_them():
    out = html_diff("a <b>bold</b> claim", "a modest claim")
    assert out == "a <del>&lt;b&gt;bold&lt;/b&gt;</del> <ins>modest</ins> claim"


HOSTILE = "![x](http://evil.example/b.png) <img src=x onerror=alert(1)> [link](http://e.x)"


def hostile_comparison() -> Comparison:
    """Two variants whose titles and summaries carry Markdown and HTML meant to fire."""
    variants = []
    for label, text in (("default", HOSTILE), ("terse", HOSTILE + " <script>x</script>")):
        rec = record("p1").model_copy(deep=True)
        rec.summary.summary = [text, "Second paragraph."]
        paper = paper_result(rec, title=HOSTILE, abstract=HOSTILE, rank=1, score=50.0)
        result = VariantResult(
            spec=VariantSpec(label=label, prompt=label),
            edition=label,
            backend="openai",
            model="m",
            wall_seconds=0.1,
            papers=[paper],
        )
        variants.append(result)
    for v in variants:
        v.stats = variant_stats(v, ["p1"])
    return Comparison(
        stamp="s",
        day=DAY,
        source=HOSTILE,
        estimate_usd=0.0,
        common=["p1"],
        titles={"p1": HOSTILE},
        variants=variants,
        agreements=agreements(variants, ["p1"]),
    )


def test_the_reports_of_a_hostile_paper_stay_inert():
    comparison = hostile_comparison()
    rendered = MD.render(markdown(comparison))
    assert "<img" not in rendered and "<a " not in rendered and "<script" not in rendered
    assert "<strong>&lt;script&gt;x&lt;/script&gt;</strong>" in rendered  # shown as added text
    out = page(comparison)
    assert "<img" not in out and "<script" not in out and "href=" not in out
    assert "&lt;script&gt;" in out and "<ins>" in out


# --- ROUGE-L and redundancy ---------------------------------------------------------------


def test_rouge_l_is_one_for_the_same_text_and_zero_for_no_shared_word():
    assert rouge_l("speculative decoding is fast", "speculative decoding is fast") == 1.0
    assert rouge_l("alpha beta", "gamma delta") == 0.0
    assert rouge_l("", "anything") == 0.0


def test_redundancy_is_higher_when_takeaways_repeat_each_other():
    varied = summary().model_copy(
        update={"key_takeaways": ["Ship it soon.", "Budget two GPUs.", "Watch licences."]}
    )
    repeated = varied.model_copy(
        update={"key_takeaways": ["Ship the model soon."] * 2 + ["Ship the model now."]}
    )
    assert takeaway_redundancy(repeated) > 0.5 > takeaway_redundancy(varied)
    # 2 of 3 pairs identical (1.0), the third shares 3 of 4 words in order (0.75)
    assert takeaway_redundancy(repeated) == pytest.approx((1 + 0.75 + 0.75) / 3)


def test_echo_is_the_share_of_a_takeaway_the_summary_already_says():
    said = summary().model_copy(
        update={
            "summary": ["The method halves latency.", "It needs two GPUs."],
            "key_takeaways": ["The method halves latency.", "Needs two GPUs.", "Brand new."],
        }
    )
    assert takeaway_echo(said) == pytest.approx((1 + 1 + 0) / 3)


# --- re-asks are reported as they happen ---------------------------------------------------


def test_each_reask_is_reported_once_and_a_last_failure_is_not_a_reask():
    replies = iter(["not json", "{}", json.dumps({"better": "B", "reason": "r"})])
    reported: list[Usage] = []

    async def send(turns: list[dict[str, str]]) -> str:
        return next(replies)

    async def ask(max_reasks: int) -> object:
        return await reask_until_valid(
            send,
            [],
            JudgeReply,
            max_reasks=max_reasks,
            model="m",
            task="t",
            on_usage=reported.append,
        )

    assert asyncio.run(ask(2)) == JudgeReply(better="B", reason="r")
    assert sum(reported, Usage()).reasks == 2 and Usage(reasks=1) + Usage(reasks=2) == Usage(
        reasks=3
    )
    reported.clear()
    replies = iter(["not json", "still not"])
    with pytest.raises(InvalidReplyError):
        asyncio.run(ask(1))
    assert sum(reported, Usage()).reasks == 1  # asked twice, re-asked once


# --- the variants named on the command line ----------------------------------------------


def test_variants_are_prompts_times_models_plus_the_baseline():
    specs = variant_specs("summarize=default,terse", "m1,m2", "extractive")
    assert [s.label for s in specs] == [
        "m1/default",
        "m1/terse",
        "m2/default",
        "m2/terse",
        "extractive",
    ]
    assert specs[-1].baseline
    assert [s.label for s in variant_specs("summarize=default,terse", None, None)] == [
        "default",
        "terse",
    ]
    for bad in ("default,terse", "triage=default,terse", "summarize=default"):
        with pytest.raises(UsageError):
            variant_specs(bad, None, None)


def test_compare_without_an_llm_is_a_usage_error(tmp_path: Path, papers: Path, monkeypatch, capsys):
    for name in [n for n in os.environ if n.startswith(("OPENAI_", "PAPERBRIEF_"))]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    assert main(compare_argv(tmp_path, papers)) == 2
    assert "set OPENAI_API_KEY" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# --- two variants through the local OpenAI-compatible server ------------------------------

INVENTED = "ToolGuard"  # the default variant invents a number for this paper
REASKED = "Draft Trees"  # the terse variant's first reply for this paper is not JSON
PROMOTED = "Sim-to-Real"  # the terse variant scores this paper 10 on every rubric line
PRICE = Price(input=1.0, output=2.0)


def messages_text(body: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content", "")) for m in body["messages"])


def is_terse(body: dict[str, Any]) -> bool:
    return "short, faithful briefings" in body["messages"][0]["content"]


def is_judge(body: dict[str, Any]) -> bool:
    return "You judge briefings" in body["messages"][0]["content"]


def reply_for(body: dict[str, Any]) -> str:
    """What the server answers, as a function of the request alone (so concurrency does not
    change it and the test can recompute every reply's token count)."""
    if is_judge(body):
        return json.dumps({"better": "A", "reason": "The first one is better."})
    text, title = messages_text(body), request_title(body)
    reply = default_summary(title)
    if is_terse(body):
        if title.startswith(REASKED) and "was not a valid" not in text:
            return "Sure! Here is the summary you asked for."
        reply["summary"] = [f"{title} proposes a method.", "It beats baselines on a narrow set."]
        reply["key_takeaways"] = ["Try it.", "Compare baselines.", "Await code."]
        if title.startswith(PROMOTED):
            for line in reply["rubric"].values():
                line["score"] = 10
    elif title.startswith(INVENTED):
        reply["summary"][1] = "It cuts attack success by 37.5% against every baseline."
    return json.dumps(reply)


def tokens(body: dict[str, Any]) -> tuple[int, int]:
    """The server's usage for this request: a quarter of the characters each way."""
    return len(messages_text(body)) // 4, len(reply_for(body)) // 4


@contextlib.contextmanager
def user_env(root: Path, server: FakeOpenAI) -> Iterator[None]:
    """The CLI run in-process from `root`, pointed at the server, offline otherwise."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith(("OPENAI_", "PAPERBRIEF_"))]:
            patch.delenv(name)
        for name, value in {**OFFLINE, **server.env()}.items():
            patch.setenv(name, value)
        patch.chdir(root)
        yield


def priced(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "paperbrief.toml").write_text(
        f'[llm.prices."gpt-test"]\ninput = {PRICE.input}\noutput = {PRICE.output}\n'
    )
    return root


def compare_argv(root: Path, papers: Path, *more: str) -> list[str]:
    argv = ["compare", "--prompt", "summarize=default,terse", "--source", str(papers)]
    argv += ["--date", DAY, "--model", "gpt-test", "--cache-dir", str(root / "cache")]
    return [*argv, "--out", str(root / "out"), *more]


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory, papers: Path) -> Iterator[dict[str, Any]]:
    """Two comparisons of default and terse on the five sample papers, then one with the
    extractive baseline and a judge; what each wrote and what the server saw."""
    root = priced(tmp_path_factory.mktemp("compare"))
    argv = compare_argv(root, papers)
    seen: dict[str, Any] = {"root": root}
    umask = os.umask(0o022)  # a team's usual umask, so a private file shows (0o600 != 0o644)
    with (
        FakeOpenAI(reply_for=reply_for, latency=0.01) as server,
        user_env(root, server),
        contextlib.ExitStack() as restore,
    ):
        restore.callback(os.umask, umask)
        seen["first_code"] = main(argv)
        seen["first_bodies"] = server.chat_bodies
        seen["first_runs"] = {
            p.parent.name: json.loads(p.read_text()) for p in (root / "out").glob("*/*/run.json")
        }
        seen["second_code"] = main(argv)
        seen["second_bodies"] = server.chat_bodies
        seen["third_code"] = main([*argv, "--baseline", "extractive", "--judge", "gpt-test"])
        seen["third_bodies"] = server.chat_bodies
        # a judge with nothing left to spend: the variants (all cached) are still reported
        seen["fourth_code"] = main([*argv, "--judge", "gpt-judge", "--max-cost", "0"])
        seen["fourth_bodies"] = server.chat_bodies
    folders = sorted((root / "out").glob("compare-*"), key=lambda p: p.stat().st_mtime)
    seen["folders"] = folders
    seen["json"] = [json.loads((f / "compare.json").read_text()) for f in folders]
    yield seen


def variant(comparison: dict[str, Any], label: str) -> dict[str, Any]:
    return next(v for v in comparison["variants"] if v["spec"]["label"] == label)


def test_compare_writes_its_three_files_and_exits_zero(compared: dict[str, Any]):
    assert [compared[f"{n}_code"] for n in ("first", "second", "third")] == [0, 0, 0]
    assert len(compared["folders"]) == 4
    for folder in compared["folders"]:
        assert {p.name for p in folder.iterdir()} == {"compare.md", "compare.json", "compare.html"}
        assert folder.name.startswith("compare-")
        # shared like the variants' own briefings (the user's umask), not private like the cache
        modes = {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
        assert modes == {0o644}, [oct(mode) for mode in modes]
    briefings = (compared["root"] / "out").glob(f"{DAY}/*/summaries.md")
    assert {stat.S_IMODE(p.stat().st_mode) for p in briefings} == {0o644}
    first = compared["json"][0]
    assert len(first["common"]) == 5 and [v["spec"]["label"] for v in first["variants"]] == [
        "gpt-test/default",
        "gpt-test/terse",
    ]
    # each variant is an ordinary run: its own edition folder for the day
    editions = {p.name for p in (compared["root"] / "out" / DAY).iterdir()}
    assert {"openai-gpt-test", "openai-gpt-test-terse", "extractive"} <= editions


def test_each_variant_reads_the_papers_from_the_cache(compared: dict[str, Any]):
    runs = compared["first_runs"]
    assert set(runs) == {"openai-gpt-test", "openai-gpt-test-terse"}
    for run in runs.values():
        for stage in ("extract", "chunk"):
            assert (run["stages"][stage]["hits"], run["stages"][stage]["misses"]) == (5, 0)
        assert run["stages"]["summarize"]["misses"] == 5


def test_arxiv_papers_are_listed_and_downloaded_once_for_all_variants(tmp_path: Path):
    root = tmp_path / "arxiv"
    root.mkdir()
    papers = [
        FakePaper(
            id=f"2603.0000{n}v1",
            title=f"Paper {n} on serving",
            abstract=f"We make serving {n + 1}0% cheaper than the baseline on two benchmarks.",
            categories=["cs.LG"],
            submitted=datetime(2026, 3, 2, 12, tzinfo=UTC),
        )
        for n in (1, 2, 3)
    ]
    argv = ["compare", "--prompt", "summarize=default,terse", "--ids", "2603.00001,2603.00003"]
    argv += ["--date", DAY, "--model", "gpt-test", "--baseline", "extractive"]
    with FakeArxiv(papers) as arxiv, FakeOpenAI(reply_for=reply_for) as llm:
        with user_env(root, llm), pytest.MonkeyPatch.context() as patch:
            for name, value in arxiv.env(0.0).items():
                patch.setenv(name, value)
            assert main(argv) == 0
        pdfs = arxiv.requests_to("/pdf/")
        listings = arxiv.requests_to("/api/query")
        calls = len(llm.chat_bodies)
    assert len(pdfs) == 2 and len(listings) == 1  # three variants, one reading of the papers
    assert calls == 2 * 2  # two papers, two prompts; the baseline calls no model
    [folder] = (root / "out").glob("compare-*")
    comparison = json.loads((folder / "compare.json").read_text())
    assert comparison["common"] and all(i.startswith("2603.0000") for i in comparison["common"])


def test_a_full_disk_leaves_no_comparison_folder_and_names_the_file(
    tmp_path: Path, papers: Path, capsys, monkeypatch
):
    root = priced(tmp_path / "full")
    FullDisk(monkeypatch).at(name="compare.md")  # compare.json is written: not to stay alone
    with FakeOpenAI(reply_for=reply_for) as server, user_env(root, server):
        assert main(compare_argv(root, papers)) == 3
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith("paperbrief: error: could not write ")
    assert "/compare.md (No space left on device); what was made is cached" in error
    assert not list((root / "out").glob("compare-*"))  # neither a folder nor a stray file


def test_models_times_prompts_are_the_variants(tmp_path: Path, papers: Path, capsys):
    root = tmp_path / "models"
    root.mkdir()
    argv = compare_argv(root, papers)
    argv[argv.index("summarize=default,terse")] = "summarize=terse"
    argv[argv.index("gpt-test")] = "gpt-a,gpt-b"
    with FakeOpenAI(reply_for=reply_for) as server, user_env(root, server):
        assert main(argv) == 0
        models = {b["model"] for b in server.chat_bodies}
    assert models == {"gpt-a", "gpt-b"}
    assert "no price known for gpt-a, gpt-b" in capsys.readouterr().out
    [folder] = (root / "out").glob("compare-*")
    comparison = json.loads((folder / "compare.json").read_text())
    assert [v["edition"] for v in comparison["variants"]] == [
        "openai-gpt-a-terse",
        "openai-gpt-b-terse",
    ]
    assert comparison["agreements"][0]["tau"] == 1.0  # the server scores by title alone


def test_an_unpriced_variant_says_its_cost_is_not_counted_never_zero(
    tmp_path: Path, papers: Path, capsys
):
    root = priced(tmp_path / "unpriced")  # gpt-test has a price
    argv = compare_argv(root, papers, "--top", "2", "--triage-model", "gpt-nano")
    argv[argv.index("summarize=default,terse")] = "summarize=terse"
    argv[argv.index("gpt-test")] = "gpt-a,gpt-test"  # gpt-a: a self-hosted model nobody priced
    with FakeOpenAI(reply_for=schema_reply) as server, user_env(root, server):
        assert main(argv) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("gpt-a/terse:"))
    assert "cost not counted (no price for 'gpt-a')" in line
    assert "no price known for gpt-a (not counted)" in out
    [folder] = (root / "out").glob("compare-*")
    comparison = json.loads((folder / "compare.json").read_text())
    assert comparison["estimate_unpriced"] == ["gpt-a"]
    assert comparison["prepared_unpriced"] == ["gpt-nano"]
    unpriced, counted = (v["stats"] for v in comparison["variants"])
    assert unpriced["calls"] > 0 and unpriced["cost_counted"] is False
    assert unpriced["unpriced_models"] == unpriced["spent_now_unpriced"] == ["gpt-a"]
    assert counted["cost_counted"] is True and counted["cost_usd"] > 0
    for name in ("compare.md", "compare.html"):
        text = (folder / name).read_text()
        assert "0.0000" not in text and "cost not counted (no price for" in text
    assert "Triage before the variants: cost not counted" in (folder / "compare.md").read_text()


def test_a_variant_whose_server_sent_no_usage_says_its_cost_is_estimated(
    tmp_path: Path, papers: Path, capsys
):
    root = priced(tmp_path / "estimated")
    with FakeOpenAI(reply_for=reply_for, omit_usage=True) as server, user_env(root, server):
        assert main(compare_argv(root, papers)) == 0
    said = "(estimated for 'gpt-test': the server reported no usage)"
    out = capsys.readouterr().out.splitlines()
    lines = [x for x in out if x.startswith("gpt-test/") and "tau-b" not in x]
    assert len(lines) == 2 and all(f" USD {said}, first reply valid" in x for x in lines)
    [folder] = (root / "out").glob("compare-*")
    stats = json.loads((folder / "compare.json").read_text())["variants"][0]["stats"]
    assert stats["estimated_models"] == ["gpt-test"] and stats["cost_usd"] > 0
    assert said in (folder / "compare.md").read_text()


def test_triage_runs_once_on_the_triage_model(tmp_path: Path, papers: Path):
    root = tmp_path / "triage"
    root.mkdir()
    argv = compare_argv(root, papers, "--top", "2", "--triage-model", "gpt-nano")
    with FakeOpenAI(reply_for=schema_reply) as server, user_env(root, server):
        assert main(argv) == 0
        bodies = server.chat_bodies
    triaged = [b["model"] for b in bodies if reply_kind(b) == "TriageReply"]
    assert triaged == ["gpt-nano"]
    assert {b["model"] for b in bodies if reply_kind(b) == "PaperSummary"} == {"gpt-test"}


def test_tokens_cost_and_calls_are_what_the_server_returned(compared: dict[str, Any]):
    bodies = compared["first_bodies"]
    first = compared["json"][0]
    for label, mine in (("gpt-test/default", False), ("gpt-test/terse", True)):
        sent = [b for b in bodies if is_terse(b) == mine]
        counts = [tokens(b) for b in sent]
        prompt, completion = sum(c[0] for c in counts), sum(c[1] for c in counts)
        stats = variant(first, label)["stats"]
        assert stats["calls"] == len(sent) == 6  # five summaries + one repair or one re-ask
        assert (stats["prompt_tokens"], stats["completion_tokens"]) == (prompt, completion)
        cost = sum(PRICE.cost(*c) for c in counts)
        assert stats["cost_usd"] == pytest.approx(cost, abs=1e-6)
        assert stats["spent_now_usd"] == pytest.approx(cost, abs=1e-6)
        assert stats["latency_per_call"] >= 0.01  # the server took 10 ms a call


def test_a_reask_lowers_the_first_reply_valid_share(compared: dict[str, Any]):
    first = compared["json"][0]
    terse, default = variant(first, "gpt-test/terse"), variant(first, "gpt-test/default")
    assert terse["stats"]["reasks"] == 1 and terse["stats"]["first_reply_valid"] == 0.8
    assert default["stats"]["reasks"] == 0 and default["stats"]["first_reply_valid"] == 1.0
    reasked = [p for p in terse["papers"] if p["usage"]["reasks"]]
    assert [p["title"][: len(REASKED)] for p in reasked] == [REASKED]


def test_an_unsupported_number_lowers_the_supported_share(compared: dict[str, Any]):
    first = compared["json"][0]
    default, terse = variant(first, "gpt-test/default"), variant(first, "gpt-test/terse")
    flagged = [p for p in default["papers"] if p["faithfulness"]["unsupported"]]
    assert [(p["title"][: len(INVENTED)], p["faithfulness"]["unsupported"]) for p in flagged] == [
        (INVENTED, ["37.5%"])
    ]
    reports = [p["faithfulness"] for p in default["papers"]]
    share = sum(r["supported"] for r in reports) / sum(r["checked"] for r in reports)
    assert share < 1.0
    assert default["stats"]["numbers_supported"] == pytest.approx(share, abs=1e-4)
    assert default["stats"]["unsupported_numbers"] == 1
    assert terse["stats"]["unsupported_numbers"] == 0


def test_lengths_overlap_and_redundancy_follow_the_replies(compared: dict[str, Any]):
    first = compared["json"][0]
    default, terse = variant(first, "gpt-test/default"), variant(first, "gpt-test/terse")
    assert terse["stats"]["summary_words"] < default["stats"]["summary_words"]
    assert terse["stats"]["takeaway_words"] == pytest.approx(2.0)  # "Try it." and the like
    for v in (default, terse):
        for p in v["papers"]:
            text = " ".join(p["summary"]["summary"])
            assert p["summary_words"] == len(text.split())
            assert 0 < p["rouge_abstract"] < 1  # the sample papers have abstracts
            assert 0 <= p["redundancy"] <= 1 and 0 <= p["echo"] <= 1
    # the terse takeaways share no word with each other; the default ones share a few
    assert terse["stats"]["redundancy"] == 0 < default["stats"]["redundancy"]


def test_rankings_agreement_and_the_paper_that_moved_most(compared: dict[str, Any]):
    first = compared["json"][0]
    default, terse = variant(first, "gpt-test/default"), variant(first, "gpt-test/terse")
    promoted = next(p for p in terse["papers"] if p["title"].startswith(PROMOTED))
    assert promoted["rank"] == 1
    rank_d = {p["paper_id"]: p["rank"] for p in default["papers"]}
    rank_t = {p["paper_id"]: p["rank"] for p in terse["papers"]}
    ids = first["common"]
    [agreement] = first["agreements"]
    expected = kendall_tau_b([rank_d[i] for i in ids], [rank_t[i] for i in ids])
    assert agreement["tau"] == pytest.approx(expected, abs=1e-4) and expected is not None
    moved = agreement["moved"][0]
    assert abs(moved["rank_a"] - moved["rank_b"]) == max(abs(rank_d[i] - rank_t[i]) for i in ids)
    assert rank_d[promoted["paper_id"]] != 1  # the server promotes it under terse only
    assert promoted["paper_id"] in [m["paper_id"] for m in agreement["moved"]]


def test_a_second_compare_makes_no_llm_call_and_keeps_what_summaries_cost(
    compared: dict[str, Any],
):
    assert len(compared["second_bodies"]) == len(compared["first_bodies"])
    first, second = compared["json"][:2]
    for label in ("gpt-test/default", "gpt-test/terse"):
        a, b = variant(first, label)["stats"], variant(second, label)["stats"]
        assert b["spent_now_usd"] == 0
        for key in ("calls", "prompt_tokens", "completion_tokens", "cost_usd", "reasks"):
            assert a[key] == b[key], key


def test_the_baseline_and_the_judge_asked_both_ways(compared: dict[str, Any]):
    third = compared["json"][2]
    new = compared["third_bodies"][len(compared["second_bodies"]) :]
    assert all(is_judge(b) for b in new)  # the variants came from the cache
    labels = [v["spec"]["label"] for v in third["variants"]]
    assert labels == ["gpt-test/default", "gpt-test/terse", "extractive"]
    baseline = variant(third, "extractive")
    assert baseline["backend"] == "extractive" and baseline["stats"]["calls"] == 0
    judging = third["judging"]
    assert len(judging["pairs"]) == 3 and len(new) == 3 * 5 * 2 == judging["usage"]["calls"]
    for pair in judging["pairs"]:
        # the judge always says "A": each order prefers whichever was shown first
        assert pair["a_wins"] == pair["b_wins"] == 5 and pair["order_agreement"] == 0.0
    cost = sum(PRICE.cost(*tokens(b)) for b in new)
    assert judging["usage"]["cost_usd"] == pytest.approx(cost, abs=1e-6)


def test_the_reports_show_the_numbers_and_the_word_diffs_inertly(compared: dict[str, Any]):
    folder = compared["folders"][2]
    md = (folder / "compare.md").read_text()
    page = (folder / "compare.html").read_text()
    assert "## Per variant" in md and "first reply schema-valid" in md and "80%" in md
    assert "Kendall" in md and "## Judge" in md and "## Per paper" in md
    # words removed and added against the first variant: only a diffed line has both
    assert "~~" in md
    assert any(line.startswith("Takeaways:") and "**" in line for line in md.splitlines())
    assert "<del>" in page and "<ins>" in page and "80%" in page
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "src=" not in page


def test_the_estimate_prices_each_uncached_summary_at_its_ceiling(compared: dict[str, Any]):
    first, second = compared["json"][:2]
    # five papers, two variants, each priced at its prompt's max_tokens for the reply: more
    # than the first replies cost (the repair and the re-ask are not foreseen)
    firsts = [b for b in compared["first_bodies"] if len(b["messages"]) == 2]
    assert len(firsts) == 10
    assert first["estimate_usd"] > sum(PRICE.cost(*tokens(b)) for b in firsts)
    ceiling = 5 * (PRICE.cost(0, 2000) + PRICE.cost(0, 1200))  # default's and terse's max_tokens
    assert ceiling < first["estimate_usd"] < ceiling + 5 * 2 * PRICE.cost(5000, 0)
    assert second["estimate_usd"] == 0  # everything is cached


def test_max_cost_caps_the_whole_comparison(tmp_path: Path, papers: Path, capsys):
    root = priced(tmp_path / "capped")
    argv = compare_argv(root, papers, "--max-cost", "0.0000001", "--concurrency", "1")
    with FakeOpenAI(reply_for=reply_for) as server, user_env(root, server):
        code = main(argv)
        calls = len(server.chat_bodies)
    out = capsys.readouterr().out
    assert "estimated cost:" in out and "over --max-cost" in out
    # every call's own estimate is over the cap: none starts, in this variant or the next
    assert code == 1 and calls == 0
    [folder] = (root / "out").glob("compare-*")
    comparison = json.loads((folder / "compare.json").read_text())
    default, terse = comparison["variants"]
    assert default["papers"] == terse["papers"] == [] and comparison["common"] == []
    assert all("cost cap" in f["error"] for f in default["failed"]) and len(default["failed"]) == 5
    assert all("cost cap" in f["error"] for f in terse["failed"]) and len(terse["failed"]) == 5


def test_confirmation_is_asked_only_on_a_terminal_above_the_setting(monkeypatch):
    settings = load_settings(flags={"compare.confirm_above": 0.5})
    console = Console(file=io.StringIO())
    asked: list[str] = []

    def answer(prompt: str = "") -> str:
        asked.append(prompt)
        return "n"

    monkeypatch.setattr("builtins.input", answer)
    assert confirmed(0.6, settings, yes=False, console=console)  # pytest's stdin is no terminal
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO()))
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    assert confirmed(0.4, settings, yes=False, console=console) and not asked
    assert confirmed(0.6, settings, yes=True, console=console) and not asked
    assert not confirmed(0.6, settings, yes=False, console=console) and len(asked) == 1
    assert "[y/N]" in console.file.getvalue()  # type: ignore[attr-defined]


def test_a_judge_past_the_cap_leaves_the_variants_reported(compared: dict[str, Any]):
    assert compared["fourth_code"] == 1
    assert len(compared["fourth_bodies"]) == len(compared["third_bodies"])  # no call made
    fourth = compared["json"][3]
    assert fourth["judging"] is None and "cost cap" in fourth["judge_error"]
    assert [len(v["papers"]) for v in fourth["variants"]] == [5, 5]
    assert "No verdicts:" in (compared["folders"][3] / "compare.md").read_text()
