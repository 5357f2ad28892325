"""arXiv's Atom API pages and RSS listings → PaperMeta, on real recorded replies and fake ones."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from pipeline.arxiv.parse import api_page, rss_items
from pipeline.errors import FeedError
from pipeline.evaluation import shared_dir
from tests.fakes.arxiv_server import FakePaper, api_error_feed, atom_feed, rss_feed

SHARED = shared_dir()
RESPONSES = SHARED / "arxiv-responses"
API_2026 = RESPONSES / "arxiv_api" / "arxiv.py_2026_fixtures"


def fixture(relative: str) -> bytes:
    path = RESPONSES / relative
    if not path.is_file():
        pytest.skip(f"real arXiv reply {relative} not available under {RESPONSES}")
    return path.read_bytes()


def api_2026(prefix: str) -> bytes:
    found = sorted(API_2026.glob(f"{prefix}*.body.xml")) if API_2026.is_dir() else []
    if not found:
        pytest.skip(f"real arXiv reply {prefix}*.body.xml not available under {API_2026}")
    return found[0].read_bytes()


# --- the API, real replies ----------------------------------------------------------------


def test_2026_reply_with_journal_ref_and_doi() -> None:
    page = api_page(fixture("arxiv_api/laya-reader/arxiv_3.xml"))

    assert (page.total, page.start, page.per_page) == (119894, 0, 3)
    first, second, _ = page.papers
    assert first.id == "2609.28471v1" and first.base_id == "2609.28471"
    assert first.title == "Contrastive Learning for Authorship Verification"
    assert first.authors == ["Peter Kirby"]
    assert (first.primary_category, first.categories) == ("cs.CL", ["cs.CL", "cs.LG"])
    assert first.comments is not None and first.comments.startswith("Published in the proceedings")
    assert first.journal_ref is not None and "CLEF 2026" in first.journal_ref
    assert first.doi == "10.1007/978-3-032-39150-6_7"
    assert first.published == first.updated == date(2026, 9, 23)
    assert first.url == "https://arxiv.org/abs/2609.28471v1"
    assert first.pdf_url == "https://arxiv.org/pdf/2609.28471v1"
    assert first.abstract.startswith("Our results show that contrastive learning")
    # A cross-listed paper keeps its own primary category, which is not the queried one.
    assert second.primary_category == "cs.SE" and "cs.CL" in second.categories
    assert len(second.authors) == 6 and second.journal_ref is None and second.doi is None


def test_2016_hard_wrapped_text_is_normalised() -> None:
    page = api_page(fixture("arxiv_api/arxiv.py_2016_fixtures/id_list_1111.2011v2.xml"))

    [paper] = page.papers
    assert paper.title == (
        "Quantum Criticality for Extended Nodes on a Bethe Lattice in the Large Connectivity Limit"
    )
    assert "\n" not in paper.abstract and "  " not in paper.abstract
    assert paper.abstract.startswith("Theoretical description of anisotropic systems, such as")
    assert paper.primary_category == "cond-mat.str-el"
    assert paper.journal_ref == "Phys. Rev. B 85, 115117 (2012)"
    assert paper.doi == "10.1103/PhysRevB.85.115117"
    assert (paper.published, paper.updated) == (date(2011, 11, 8), date(2012, 4, 2))


def test_old_style_ids_keep_their_archive() -> None:
    page = api_page(api_2026("id_hep-ex_0406020v1"))

    [paper] = page.papers
    assert paper.id == "hep-ex/0406020v1" and paper.base_id == "hep-ex/0406020"
    assert paper.primary_category == "hep-ex"
    assert paper.abstract.startswith("In this report a review")  # leading spaces dropped


def test_api_error_entry_raises_with_arxivs_message() -> None:
    with pytest.raises(FeedError, match="incorrect id format for abc"):
        api_page(api_2026("id_abc"))


def test_empty_result_and_unknown_id() -> None:
    assert api_page(api_2026("id_0000.0000")).papers == []
    page = api_page(api_2026("id_0808.05394_1707.08567"))
    assert [p.id for p in page.papers] == ["1707.08567v1"] and page.total == 1


def test_paged_search_reports_its_position() -> None:
    page = api_page(api_2026("q_testing_s10_m10"))

    assert (page.start, page.per_page, len(page.papers)) == (10, 10, 10)
    assert page.total > 100_000
    assert all(p.id and p.title and p.categories and p.published for p in page.papers)


def test_not_atom_is_a_feed_error() -> None:
    with pytest.raises(FeedError, match="not an Atom result page"):
        api_page(b"<html><body>Service unavailable</body></html>")


# --- RSS, real reply ----------------------------------------------------------------------


def test_current_rss_format() -> None:
    feed = rss_items(fixture("feeds/laya-reader/arxiv_rss.xml"))

    assert feed.announce_day == date(2026, 9, 24)  # the day written, not shifted to UTC
    assert [(p.id, p.announce_type) for p in feed.papers] == [
        ("2609.26811v1", "new"),
        ("2609.26820v1", "new"),
        ("2205.06398v2", "cross"),
        ("2009.13987v3", "replace"),
    ]
    signal = feed.papers[1]
    assert signal.authors == ["Naser Mansour", "Sidahmed Benabderrahmane", "Ameer Rahwan"]
    assert signal.categories == ["cs.LG", "cs.AI"] and signal.primary_category == "cs.LG"
    assert signal.abstract.startswith("Physiological time series such as")
    assert "Announce Type" not in signal.abstract and "Abstract:" not in signal.abstract
    assert signal.url == "https://arxiv.org/abs/2609.26820"
    assert feed.papers[2].doi == "10.1093/bioinformatics/btac431"


def test_the_retired_rss_1_format_and_html_are_refused() -> None:
    with pytest.raises(FeedError, match=r"not the RSS 2.0 listing format \(rss10\)"):
        rss_items(fixture("feeds/physbiblio_old_rss1.0/hep-ex_rss1.0_2018-05-23.xml"))
    with pytest.raises(FeedError, match=r"not the RSS 2\.0 listing format"):
        rss_items(b"<!DOCTYPE html><html><body>Service unavailable</body></html>")


# --- generated replies (the fake server's own documents) ----------------------------------


def test_generated_atom_round_trips() -> None:
    paper = FakePaper(
        "2603.00042v2",
        title="A  <Tricky> & long\n   title",
        categories=["cs.CL", "cs.AI"],
        submitted=datetime(2026, 2, 26, 18, 30, tzinfo=UTC),
        comment="ICLR 2026; 9 pages",
        journal_ref="J. Fake 1 (2026)",
        doi="10.1/fake",
    )
    query = {"search_query": "cat:cs.CL", "start": "5", "max_results": "1"}
    page = api_page(atom_feed([paper], query, total=6, start=5, size=1).encode())

    assert (page.total, page.start, page.per_page) == (6, 5, 1)
    [meta] = page.papers
    assert meta.id == "2603.00042v2" and meta.title == "A <Tricky> & long title"
    assert (meta.primary_category, meta.categories) == ("cs.CL", ["cs.CL", "cs.AI"])
    assert (meta.comments, meta.journal_ref, meta.doi) == (
        "ICLR 2026; 9 pages",
        "J. Fake 1 (2026)",
        "10.1/fake",
    )
    assert meta.published == date(2026, 2, 26)


def test_generated_error_and_rss() -> None:
    with pytest.raises(FeedError, match="incorrect id format for nope"):
        api_page(api_error_feed("incorrect id format for nope").encode())

    items = [FakePaper("2603.00001v1"), FakePaper("2601.00009v3", announce_type="replace-cross")]
    feed = rss_items(rss_feed(items, ["cs.LG"], date(2026, 3, 2)).encode())
    assert feed.announce_day == date(2026, 3, 2)
    assert [(p.id, p.announce_type) for p in feed.papers] == [
        ("2603.00001v1", "new"),
        ("2601.00009v3", "replace-cross"),
    ]
    assert feed.papers[0].authors == ["Ada Lovelace", "Alan Turing"]


def test_weekend_rss_has_no_items() -> None:
    assert rss_items(rss_feed([], ["cs.AI"], None).encode()).papers == []
