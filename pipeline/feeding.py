"""The papers a run is about: the PDFs in a folder, or an arXiv listing less the papers already
read on an earlier day, then narrowed by the keyword filters."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline import seen as seen_index
from pipeline.cache import file_digest, stage_key
from pipeline.errors import PaperbriefError
from pipeline.models import PaperMeta
from pipeline.observer import Observer
from pipeline.paper import Paper
from pipeline.settings import Settings
from pipeline.sources import LISTING_VERSION, CachedListing, Source, keyword_notes
from pipeline.stages import extract, feed
from pipeline.steps import Steps


@dataclass
class Feeder:
    settings: Settings
    source: Source
    steps: Steps
    observer: Observer
    warn: Callable[[str], None]
    client: Callable[[], Any]  # the run's arXiv client, made on first use
    notes: list[str] = field(default_factory=list)  # lines for the report header

    def papers(self) -> list[Paper]:
        papers = self._folder() if self.source.kind == "folder" else self._arxiv()
        return self._keyword_filter(papers)

    def _keyword_filter(self, papers: list[Paper]) -> list[Paper]:
        from pipeline.arxiv.listing import keyword_filter

        arxiv = self.settings.arxiv
        if not (arxiv.include or arxiv.exclude):
            return papers
        listed = [p for p in papers if p.failure is None]
        _, dropped = keyword_filter([p.meta for p in listed], arxiv.include, arxiv.exclude)
        self.notes += keyword_notes(arxiv.include, arxiv.exclude, len(dropped))
        gone = {meta.id for meta in dropped}
        return [p for p in papers if p.meta.id not in gone]

    # --- a folder of PDFs -----------------------------------------------------------

    def _folder(self) -> list[Paper]:
        assert self.source.folder is not None
        pdfs = feed.pdfs_in_folder(self.source.folder)
        self.observer.stage_started("feed", len(pdfs))
        papers: list[Paper] = []
        seen: set[str] = set()
        for pdf in pdfs:
            paper = self._one(pdf)
            while paper.meta.id in seen:  # two files may map to one local id
                paper.meta = paper.meta.model_copy(update={"id": paper.meta.id + "-dup"})
            seen.add(paper.meta.id)
            papers.append(paper)
            self.observer.advanced("feed")
        return papers

    def _one(self, pdf: Path) -> Paper:
        sha = file_digest(pdf)
        # title, abstract and authors come from the extract heuristics: a better extractor
        # (a new extract.STAGE_VERSION) must re-read them too
        params = {"name": pdf.name, "extract": extract.STAGE_VERSION}
        key = stage_key("feed", feed.STAGE_VERSION, [sha], params)
        placeholder = PaperMeta(id=feed.local_id(pdf), title=pdf.name, pdf_path=pdf, pdf_sha256=sha)
        paper = Paper(meta=placeholder, pdf=pdf, sha256=sha)
        try:
            meta = self.steps.step(
                "feed", placeholder.id, key, PaperMeta, lambda: feed.paper_meta(pdf, sha), params
            )
            paper.meta = meta.model_copy(update={"pdf_path": pdf})
        except Exception as exc:
            self.steps.fail(paper, "feed", exc)
        return paper

    # --- arXiv ----------------------------------------------------------------------

    def _arxiv(self) -> list[Paper]:
        self.observer.stage_started("feed", 1)
        listing = self._listing()
        self.observer.advanced("feed")
        for warning in listing.warnings:
            self.warn(warning)
        return self._drop_seen([Paper(meta=meta) for meta in listing.papers])

    def _listing(self) -> CachedListing:
        """The arXiv listing. Today's feed changes when arXiv announces, so it is always read
        (one request); a listing that may be incomplete is never kept, so trying again later
        really asks arXiv again."""
        params = self.source.cache_params(self.settings.arxiv)
        key = stage_key("feed", LISTING_VERSION, [], params)
        keep = self.source.kind != "rss"
        if keep:
            cached = self.steps.lookup("feed", "*", key, CachedListing)
            if cached is not None:
                return cached
        started = time.perf_counter()
        listing = self._fetch_listing()
        if keep and not listing.warnings:
            self.steps.store("feed", "*", key, listing, params, started)
        else:
            self.steps.count("feed", "*", "computed")
        return listing

    def _fetch_listing(self) -> CachedListing:
        from pipeline.arxiv import listing as arxiv_listing

        arxiv, client = self.settings.arxiv, self.client()
        if self.source.kind == "rss":
            found = arxiv_listing.announced(client, arxiv)
            found.warnings += self._rss_cross_check(client, found)
        elif self.source.kind == "date":
            found = arxiv_listing.on_date(client, arxiv, self.source.day)
        else:
            found = arxiv_listing.by_ids(client, arxiv, list(self.source.ids))
        return CachedListing(papers=found.papers, warnings=found.warnings, counts=found.counts)

    def _rss_cross_check(self, client: Any, found: Any) -> list[str]:
        """A stale or truncated feed looks like a quiet day; compare with the API's count."""
        from pipeline.arxiv import listing as arxiv_listing

        if not self.settings.arxiv.check_rss or found.day is None or not found.papers:
            return []
        try:
            api = arxiv_listing.api_counts(client, self.settings.arxiv, found.day)
        except PaperbriefError as exc:
            return [f"could not cross-check the RSS feed against the API ({exc})"]
        return arxiv_listing.rss_vs_api_warnings(found.counts, api)

    def _drop_seen(self, papers: list[Paper]) -> list[Paper]:
        if self.settings.reading.reread or self.source.kind == "ids":
            return papers
        seen = seen_index.load_seen(self.steps.cache.seen_path())
        earlier = seen_index.seen_before([p.meta for p in papers], seen, self.source.day)
        if earlier:
            self.notes.append(
                f"{len(earlier)} papers summarized on an earlier day were not read again "
                "(new versions or cross-lists; --reread includes them)."
            )
        return [p for p in papers if p.meta.id not in earlier]
