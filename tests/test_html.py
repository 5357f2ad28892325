"""The HTML briefing: a self-contained page, inert whatever the papers say, opened in Chromium.

The browser tests open each page from disk in headless Chromium with the network off (see
tests/browser.py): the page renders (a screenshot with the chart's colour in it, the ranked
titles in order in the DOM), and hostile paper text neither runs nor reaches a listener.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pymupdf
import pytest

from pipeline.html import bar_chart, histogram, histogram_chart, page
from pipeline.markup import clean, html_link, html_plain_url, html_text
from pipeline.models import FailedPaper, FaithfulnessReport, RubricScore, TriageScore
from pipeline.stages.report import ReportInput, daily
from tests.browser import Chromium, Listener, chromium_or_fail
from tests.builders import rubric
from tests.test_report import with_checks
from tests.test_run import Day

CHART_BLUE = (0x1F, 0x5F, 0xA8)  # the chart's bars (CSS --bar): drawn only if the SVG rendered
FLAG_YELLOW = (0xFF, 0xF4, 0xD6)  # the "⚠ unverified" box


class Dom(HTMLParser):
    """Every element with its attributes, and the ranked papers' headings' text."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.titles: list[str] = []
        self._depth = 0  # inside <article class="paper">
        self._heading: list[str] | None = None
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag == "article" and dict(attrs).get("class") == "paper":
            self._depth += 1
        if tag == "h2" and self._depth:
            self._heading = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2" and self._heading is not None:
            self.titles.append(" ".join("".join(self._heading).split()))
            self._heading = None
        if tag == "article" and self._depth:
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self._heading.append(data)

    def tags(self) -> set[str]:
        return {tag for tag, _ in self.elements}

    def hrefs(self) -> list[str]:
        return [a["href"] or "" for tag, a in self.elements if tag == "a" and "href" in a]

    def handlers(self) -> list[str]:
        return [name for _, attrs in self.elements for name in attrs if name.startswith("on")]


def attacks(url: str) -> list[str]:
    """What a hostile paper or model could put in any field, aimed at a listener at `url`."""
    return [
        f"<script>window.pwned=1;document.documentElement.dataset.pwned=1;fetch('{url}/s')</script>",
        f"<img src=x onerror=\"document.documentElement.dataset.pwned=2;fetch('{url}/onerror')\">",
        f"</style></head><body><img src={url}/style-break>",
        f'"><iframe src="{url}/iframe"></iframe><a href="{url}/a">',
        f"<svg onload=\"fetch('{url}/svg')\"><image href='{url}/svg-image'/></svg>",
        f"<link rel=stylesheet href={url}/css><style>body{{background:url({url}/bg)}}</style>",
        f"<meta http-equiv=refresh content='0;url={url}/refresh'>",
        f"<a href=\"javascript:fetch('{url}/js')\">click</a> ]]> <!-- --> &lt;b&gt;",
    ]


def hostile(url: str) -> ReportInput:
    """Every untrusted field of a report carries an attack; one paper's id and URL too."""
    base = with_checks()
    pool = attacks(url)
    count = iter(range(1000))

    def h() -> str:
        n = next(count)
        return f"Claim {n} {pool[n % len(pool)]} end {n}."

    papers = []
    for n, paper in enumerate(base.papers):
        summary = paper.record.summary.model_copy(
            update={
                "summary": [h(), h()],
                "key_insight": h(),
                "key_takeaways": [h(), h(), h()],
                "industry_impact": h(),
                "limitations": [h()],
                "affiliations": [h()],
                "code_url": f"https://github.com@127.0.0.1/x?{h()}",
                "venue": h(),
                "tags": [h(), h()],
                "rubric": paper.record.summary.rubric.model_copy(
                    update={"novelty": RubricScore(score=5, rationale=h())}
                ),
            }
        )
        check = FaithfulnessReport(checked=1, supported=0, unsupported=[h()], share=0.0)
        record = paper.record.model_copy(
            update={"summary": summary, "faithfulness": check, "model": h()}
        )
        meta = paper.meta.model_copy(update={"title": h(), "authors": [h()], "abstract": h()})
        if n == 1:  # a feed entry whose id is not an arXiv id and whose URL is the attacker's
            meta = meta.model_copy(update={"id": f'2603.00001"><img src={url}/id>', "url": url})
        papers.append(paper.model_copy(update={"meta": meta, "record": record}))
    return base.model_copy(
        update={
            "papers": papers,
            "source": h(),
            "notes": [h()],
            "model": h(),
            "failed": [FailedPaper(id=h(), stage=h(), error=h())],
            "appendix": [TriageScore(paper_id=h(), rubric=rubric(), gist=h(), impact_score=50)],
            "appendix_titles": {},
        }
    )


# --- the page, without a browser ----------------------------------------------------------


def test_the_daily_page_has_the_reports_content_in_rank_order():
    inputs = with_checks()
    text = daily(inputs).html
    dom = Dom(text)
    assert dom.titles == ["1. High Impact", "2. Low Impact"]
    top = text[text.index('id="paper-1"') : text.index('id="paper-2"')]
    for part in (
        "Impact score 73/100",
        "<dt>Authors</dt><dd>Ada Lovelace, Alan Turing</dd>",
        '<a href="https://arxiv.org/abs/2603.00002v1">',
        '<a href="https://arxiv.org/pdf/2603.00002v1">PDF</a>',
        "<details><summary>Abstract</summary><p>We propose a method.</p></details>",
        "<strong>Key insight:</strong> Selective imitation beats blanket imitation.",
        "<li>Second takeaway.</li>",
        "<strong>Industry impact:</strong> Cheaper small reasoning models.",
        "<strong>Limitations:</strong> Only logic puzzles are evaluated.",
        "<dd><code>https://github.com/example/rlad</code></dd>",  # shown, never a link
        "⚠ unverified: <code>37%</code>",
        '<td>novelty</td><td class="num">9/10</td><td>new loss</td>',
    ):
        assert part in top, part
    assert "unverified" not in text[text.index('id="paper-2"') :]
    appendix = text[text.index("Also in the feed") : text.index("Not summarized")]
    assert appendix.index("Fair Paper") < appendix.index("Weak Paper")
    assert "<code>broken</code> (extract): broken.pdf is not a PDF" in text
    footer = text[text.index("<footer>") :]
    assert "$0.0107." in footer and "By stage: triage $0.0100 (2 calls)" in footer
    assert "3 of 4 found (75%)" in footer
    assert "2 papers seen on earlier days were skipped." in text
    assert (
        "<strong>extractive</strong> backend"
        in daily(inputs.model_copy(update={"backend": "extractive"})).html
    )


def test_the_page_is_self_contained_phone_and_print_ready():
    text = daily(with_checks()).html
    head = text[: text.index("</head>")]
    assert (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:" in head
        and 'name="viewport"' in head
        and "@media print" in head
        and "@media (max-width" in head
    )
    dom = Dom(text)
    assert not dom.tags() & {"script", "link", "img", "iframe", "object", "embed", "base"}
    # the only URLs in the page are the arXiv links it built and the code link shown as text
    urls = set(re.findall(r"[a-z]+://[^\s\"<)]+", text))
    assert urls == {
        "https://arxiv.org/abs/2603.00002v1",
        "https://arxiv.org/pdf/2603.00002v1",
        "https://arxiv.org/abs/2603.00001v1",
        "https://arxiv.org/pdf/2603.00001v1",
        "https://github.com/example/rlad",
    }
    assert "url(" not in text and "@import" not in text and "<svg" in text


def test_hostile_text_is_inert_in_the_page():
    url = "http://127.0.0.1:9"
    text = daily(hostile(url)).html
    dom = Dom(text)
    assert not dom.tags() & {"script", "img", "iframe", "link", "image"}
    tags = [tag for tag, _ in dom.elements]
    assert tags.count("meta") == 4 and tags.count("style") == 1  # the page's own: no more
    assert dom.handlers() == []
    # the one paper with an arXiv id is linked; the other's id and URL are the attacker's
    assert dom.hrefs() == [
        "https://arxiv.org/abs/2603.00002v1",
        "https://arxiv.org/pdf/2603.00002v1",
    ]
    # every attack is shown to the reader as the characters it is made of
    assert text.count(html_text(attacks(url)[0])) >= 5
    assert dom.titles[0] == f"1. {clean(hostile(url).papers[0].meta.title)}"


def test_markups_html_helpers_escape_and_link_only_to_arxiv():
    assert html_text('<b a="1">&\x1b') == "&lt;b a=&quot;1&quot;&gt;&amp;"
    assert html_plain_url("https://user:pw@github.com/x") == "<code>https://github.com/x</code>"
    assert html_plain_url("javascript:alert(1)") == "javascript:alert(1)"
    link = html_link("abs", "https://arxiv.org/abs/2401.01234")
    assert link == '<a href="https://arxiv.org/abs/2401.01234">abs</a>'
    for bad in ("http://arxiv.org/abs/1", "https://evil.org/", 'https://arxiv.org/abs/1"x'):
        with pytest.raises(ValueError):
            html_link("x", bad)


def test_page_escapes_its_title_and_keeps_paper_text_out_of_the_stylesheet():
    text = page("</title><script>x</script>", "<p>body</p>")
    assert "<title>&lt;/title&gt;&lt;script&gt;x&lt;/script&gt;</title>" in text
    with pytest.raises(ValueError):
        page("t", "", extra_css="</style><script>")


# --- charts ---------------------------------------------------------------------------------


def test_histogram_counts_each_band_and_the_top_edge():
    assert histogram([0, 9.9, 10, 55, 100], low=0, high=100, bins=10) == [
        2, 1, 0, 0, 0, 1, 0, 0, 0, 1,
    ]  # fmt: skip
    with pytest.raises(ValueError):
        histogram([101], low=0, high=100, bins=10)


def test_charts_draw_bars_in_proportion_and_escape_labels():
    svg = bar_chart(["<script>agents</script>", "rag"], [4, 2], title="Themes")
    widths = [float(w) for w in re.findall(r'<rect class="bar" [^>]*width="([\d.]+)"', svg)]
    assert widths[0] == pytest.approx(2 * widths[1])
    assert "<script>" not in svg and "&lt;script&gt;agents" in svg
    assert "<desc>&lt;script&gt;agents&lt;/script&gt;: 4; rag: 2</desc>" in svg
    assert bar_chart([], [], title="none") == ""
    with pytest.raises(ValueError):
        bar_chart(["a"], [-1], title="bad")
    stacked = histogram_chart([("read", [72, 75]), ("triaged", [71, 30])], title="Scores")
    assert stacked.count('class="bar"') == 1 + 1  # the legend's swatch and one column
    assert stacked.count('class="bar2"') == 1 + 2
    assert "70–80: 2 read" in stacked and ">3</text>" in stacked  # the band's total
    assert histogram_chart([("read", [])], title="none") == ""


# --- in Chromium ------------------------------------------------------------------------------


def pixels(png: Path) -> Counter[tuple[int, ...]]:
    pix = pymupdf.Pixmap(str(png))
    data, n = pix.samples, pix.n
    return Counter(tuple(data[i : i + 3]) for i in range(0, len(data), n))


def test_the_daily_page_renders_in_chromium(tmp_path: Path, browser: Chromium):
    report = tmp_path / "summaries.html"
    report.write_text(daily(with_checks()).html, encoding="utf-8")
    assert Dom(browser.dump_dom(report)).titles == ["1. High Impact", "2. Low Impact"]
    for width, height in ((1000, 1600), (390, 1800)):  # a desktop, and a phone
        shot = pixels(browser.screenshot(report, tmp_path / f"{width}.png", width, height))
        background, most = shot.most_common(1)[0]
        assert background == (255, 255, 255)
        assert len(shot) > 20 and most < 0.97 * shot.total()  # text drawn, not a blank page
        assert shot[CHART_BLUE] > 200 and shot[FLAG_YELLOW] > 200  # the chart and the flag


def test_the_page_prints(tmp_path: Path, browser: Chromium):
    report = tmp_path / "summaries.html"
    report.write_text(daily(with_checks()).html, encoding="utf-8")
    with pymupdf.open(browser.print_pdf(report, tmp_path / "print.pdf")) as pdf:
        text = " ".join(" ".join(p.get_text().split()) for p in pdf)
    assert text.index("1. High Impact") < text.index("2. Low Impact") < text.index("By stage")
    assert "(https://arxiv.org/abs/2603.00002v1)" in text  # print shows where links go
    assert "We propose a method." in text  # a closed abstract is printed all the same


def test_hostile_papers_run_nothing_and_request_nothing_in_chromium(
    tmp_path: Path, browser: Chromium
):
    with Listener().running() as listener:
        # the control: a bare page with an image does reach the listener through these flags
        control = tmp_path / "control.html"
        control.write_text(f'<img src="{listener.url}/control">', encoding="utf-8")
        browser.dump_dom(control)
        assert listener.paths == ["/control"]
        listener.paths.clear()
        listener.connections = 0

        text = daily(hostile(listener.url)).html
        with_csp, without_csp = tmp_path / "hostile.html", tmp_path / "hostile-no-csp.html"
        with_csp.write_text(text, encoding="utf-8")
        # escaping alone must hold: the same page with its Content-Security-Policy removed
        csp = re.search(r'<meta http-equiv="Content-Security-Policy"[^>]*>', text)
        assert csp is not None
        without_csp.write_text(text.replace(csp.group(0), ""), encoding="utf-8")
        doms = [browser.dump_dom(with_csp), browser.dump_dom(without_csp)]
        # and the policy alone must hold: our own page shell around a raw beacon
        shell = tmp_path / "shell.html"
        shell.write_text(page("t", f'<img src="{listener.url}/past-escaping">'), encoding="utf-8")
        browser.dump_dom(shell)
    assert listener.connections == 0 and listener.paths == []
    for dom_text in doms:
        dom = Dom(dom_text)
        assert not dom.tags() & {"script", "img", "iframe", "link", "image"}
        assert dom.handlers() == [] and "data-pwned" not in dom_text
        assert [tag for tag, _ in dom.elements].count("style") == 1
        assert len(dom.hrefs()) == 2 and all(
            h.startswith("https://arxiv.org/") for h in dom.hrefs()
        )
        assert dom.titles[0].startswith("1. Claim ") and "<script>" in dom.titles[0]


def test_a_run_on_the_sample_papers_writes_a_page_that_renders(
    tmp_path: Path, papers: Path, browser: Chromium
):
    day = Day(tmp_path, papers)
    record = day.run(**{"reading.top": 3})
    assert record.out_dir is not None
    out = Path(record.out_dir)
    report = out / "summaries.html"
    ranked = json.loads((out / "summaries.json").read_text())["papers"]
    assert len(ranked) == 3
    dom = Dom(browser.dump_dom(report))
    assert dom.titles == [f"{p['rank']}. {clean(p['title'])}" for p in ranked]
    assert "Also in the feed" in report.read_text()
    shot = pixels(browser.screenshot(report, tmp_path / "run.png"))
    assert len(shot) > 20 and shot[CHART_BLUE] > 200
    page_text = report.read_text()
    report.unlink()
    again = day.run(**{"reading.top": 3})  # the report stage served from the cache
    assert again.stages["report"].hits == 1 and report.read_text() == page_text


def test_without_chromium_the_browser_tests_fail_unless_told_to_skip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("PATH", str(tmp_path))  # nowhere to find chromium
    monkeypatch.delenv("PAPERBRIEF_NO_BROWSER", raising=False)
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium"):
        chromium_or_fail()
    monkeypatch.setenv("PAPERBRIEF_NO_BROWSER", "1")
    with pytest.raises(pytest.skip.Exception):
        chromium_or_fail()
