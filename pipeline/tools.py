"""The things stages call out to: the LLM backend, the arXiv client and the PDF store.

Each is made on first use and closed by the run that made it. A stage names the tools it
uses; the executor hands them to compute and puts each one's identity into the cache key, so a
summary made by one model is never served for another.
"""

from __future__ import annotations

import hashlib
import threading
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel

from pipeline.cache import Cache, digest
from pipeline.llm.backends import Backend, backend_for
from pipeline.models import ChunkNotes, PdfFile, TriageReply
from pipeline.redaction import redacted
from pipeline.runlog import RunLog
from pipeline.settings import Settings

M = TypeVar("M", bound=BaseModel)

if TYPE_CHECKING:  # batch mode's machinery: imported by the runs that use it
    from pipeline.llm.batch import BatchRecord
    from pipeline.stopping import Stop


class PdfStore:
    """Papers' PDFs fetched from arXiv into the cache's pdf folder (see `stages.download`)."""

    def __init__(self, tools: Tools, cache: Cache, force: bool) -> None:
        self.tools = tools
        self.cache = cache
        self.force = force

    def fetch(self, paper_id: str) -> PdfFile:
        from pipeline.stages import download

        target = self.cache.pdf_path(paper_id)
        settings = self.tools.settings.arxiv
        download.download_pdf(self.tools.arxiv(), paper_id, target, settings, force=self.force)
        return PdfFile(path=target, sha256=self.cache.digests.digest(target))


class Replies(Generic[M]):
    """One model's validated replies in the cache, one entry per request and model, kept as
    each arrives: a run stopped or killed halfway asks again only for what never came back."""

    def __init__(
        self, cache: Cache, folder: str, identity: BaseModel, kind: type[M], *, read: bool = True
    ) -> None:
        self.cache = cache
        self.folder = folder
        self.identity = digest(identity)
        self.kind = kind
        self.read = read  # False under --force: every request is asked again, and kept

    def _key(self, key: str) -> str:
        return hashlib.sha256(f"{self.identity}/{key}".encode()).hexdigest()

    def get(self, key: str) -> M | None:
        return self.cache.get(self.folder, self._key(key), self.kind) if self.read else None

    def put(self, key: str, reply: M) -> None:
        self.cache.put(self.folder, self._key(key), reply, {"request": key}, indexed=False)


class NoteCache(Replies[ChunkNotes]):
    """Map-step notes (`cache/notes/`), one entry per chunk request and model."""

    def __init__(self, cache: Cache, identity: BaseModel, *, read: bool = True) -> None:
        super().__init__(cache, "notes", identity, ChunkNotes, read=read)


class TriageCache(Replies[TriageReply]):
    """Triage's batches (`cache/triage-batches/`), one entry per batch request and model."""

    def __init__(self, cache: Cache, identity: BaseModel, *, read: bool = True) -> None:
        super().__init__(cache, "triage-batches", identity, TriageReply, read=read)


class BatchCache:
    """Batch mode's rounds in the cache (`cache/batches/`): each round's batch id as soon as it
    exists, then its results (see `pipeline.llm.batch`)."""

    def __init__(self, cache: Cache) -> None:
        self.cache = cache

    def get(self, key: str) -> BatchRecord | None:
        from pipeline.llm.batch import BatchRecord

        return self.cache.get("batches", key, BatchRecord)

    def put(self, key: str, record: BatchRecord) -> None:
        self.cache.put("batches", key, record, {"batch_id": record.batch_id}, indexed=False)

    def drop(self, key: str) -> None:
        self.cache.remove("batches", key)

    def items(self) -> list[tuple[str, BatchRecord]]:
        """Every stored round (a day's few), for requests a stopped run's rounds already hold."""
        found = []
        for path in sorted(self.cache.root.glob("batches/*/*.json")):
            if path.name.endswith((".meta.json", ".failed.json")):
                continue
            record = self.get(path.stem)
            if record is not None:
                found.append((path.stem, record))
        return found


class Tools:
    def __init__(
        self,
        settings: Settings,
        cache: Cache,
        log: RunLog,
        force: frozenset[str] = frozenset(),
        backend: Backend | None = None,
        stop: Stop | None = None,
    ) -> None:
        self.settings = settings
        self.cache = cache
        self.log = log
        # `backend` is for callers that bring their own (tests, a comparison of models)
        observer = log.observer  # retries, waits and calls in flight go to the display only
        self.backend: Backend = backend or backend_for(
            settings.llm, log.meter, observer.note, observer.calls_in_flight, BatchCache(cache)
        )
        if stop is not None:  # its clients, made on first use, send no call after the stop
            self.backend.stop = stop
        self.stop = stop
        self.force = force
        self._pdfs = PdfStore(self, cache, force="download" in force)
        self._arxiv: Any = None
        self._lock = threading.Lock()

    def get(self, name: str) -> Any:
        """The tool a stage names in `uses`."""
        if name == "summarizer":
            notes = NoteCache(
                self.cache, self.backend.identity(), read="summarize" not in self.force
            )
            return self.backend.summarizer(notes)
        if name == "triager":
            batches = TriageCache(
                self.cache, self.backend.triage_identity(), read="triage" not in self.force
            )
            return self.backend.triager(batches)
        if name == "digester":
            return self.backend.digester()
        if name == "pdfs":
            return self._pdfs
        if name == "arxiv":
            return self.arxiv()
        raise KeyError(f"no tool named {name!r}")

    def identity(self, name: str) -> Any:
        """What the tool's results depend on, for cache keys; cheap (nothing is connected)."""
        if name == "triager":
            return self.backend.triage_identity()
        if name in ("summarizer", "digester"):
            return self.backend.identity()
        if name == "pdfs":
            return {"pdf_url": redacted(self.settings.arxiv.pdf_url)}
        return {}  # the arXiv client: what a listing asks for is in the feed's params

    def arxiv(self) -> Any:
        """One client for the whole run: its spacing must hold from the listing to the last PDF."""
        with self._lock:
            if self._arxiv is None:
                from pipeline.arxiv.http import ArxivClient

                self._arxiv = ArxivClient(
                    self.settings.arxiv, on_retry=self.log.observer.note, stop=self.stop
                )
            return self._arxiv

    def close_arxiv(self) -> None:
        """Close the arXiv client and add its requests to the feed and download counts."""
        with self._lock:
            client, self._arxiv = self._arxiv, None
        if client is None:
            return
        for stage, kinds in (("feed", ("api", "rss")), ("download", ("pdf",))):
            for kind in kinds:
                if (numbers := client.stats.get(kind)) is not None:
                    self.log.requests(stage, numbers)
        client.close()

    async def aclose(self) -> None:
        """Close everything; closing must never turn a finished run into a failure."""
        self.close_arxiv()
        try:
            await self.backend.aclose()
        except Exception as exc:
            self.log.warn(f"could not close the LLM backend cleanly ({exc})")
