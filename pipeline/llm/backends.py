"""The backends, registered in one place: each carries its name, model, fingerprint and
capabilities, and makes the summarizer and triager the stages call.

- `openai`: the official client against any OpenAI-compatible endpoint.
- `local`: a GGUF model in process through llama.cpp.
- `extractive`: no LLM; a sentence-ranking summarizer and a cue-counting triage, the offline
  default and the baseline every prompt is compared with.

Nothing switches on a backend's name outside this module. Clients are built on first use, so
a run whose summaries all come from the cache never loads a model or opens a connection.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, Field

from pipeline.llm.base import LLM, Meter, ignore_meter
from pipeline.models import Chunks, PaperMeta, SummaryRecord
from pipeline.prompts import Prompt
from pipeline.redaction import redacted
from pipeline.settings import LLMSettings

# The stages' machinery is imported where a summarizer, triager or digester works: naming a
# backend (`report daily`'s edition, a run's cache keys) needs none of it, nor tiktoken and
# the reading patterns the summarize stage brings. The fork server preloads it for workers.
if TYPE_CHECKING:
    from pipeline.stages import digest, summarize, triage
    from pipeline.stopping import Stop


class Capabilities(BaseModel):
    structured_output: bool = Field(description="answers with schema-checked JSON from a model")
    remote: bool = Field(description="calls a server over the network")
    cpu_bound: bool = Field(description="does its work on this machine's CPU, in worker processes")


class BackendIdentity(BaseModel):
    """What a reply depends on besides the prompt: it enters every LLM stage's cache key."""

    name: str
    model: str
    fingerprint: dict[str, Any] = Field(default_factory=dict)
    capabilities: Capabilities


class Summarizer(Protocol):
    @property
    def cpu_bound(self) -> bool:
        """True when it computes on this machine's CPU (the executor uses worker processes)."""
        ...

    async def summarize(
        self,
        meta: PaperMeta,
        chunks: Chunks,
        prompts: Mapping[str, Prompt],
        *,
        interests: str,
        single_call_budget: int,
    ) -> SummaryRecord: ...


class Triager(Protocol):
    async def triage(
        self,
        papers: Sequence[PaperMeta],
        prompt: Prompt,
        *,
        interests: str,
        batch_size: int,
        top: int,
        weights: Mapping[str, float],
    ) -> triage.TriageResult: ...


class Digester(Protocol):
    async def digest(
        self,
        papers: Sequence[digest.WeekPaper],
        period: str,
        prompt: Prompt,
        *,
        interests: str,
        audience: str,
    ) -> digest.Synthesis: ...


class Backend(ABC):
    """One registered backend, built from the settings; its client is made on first use."""

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    # where batch mode keeps its batch ids and results (`Tools` gives the cache's)
    batches: Any = None
    # the run's stop request (`pipeline.stopping`): its clients send no call after it
    stop: Stop | None = None

    def __init__(
        self,
        settings: LLMSettings,
        meter: Meter,
        on_notice: Callable[[str], None] | None = None,
        on_flight: Callable[[int], None] | None = None,
    ) -> None:
        self.settings = settings
        self.meter = meter
        # For a display: a client's retries and waits, and its requests in flight (+1/-1).
        self.on_notice = on_notice
        self.on_flight = on_flight

    @property
    @abstractmethod
    def model(self) -> str: ...

    def fingerprint(self) -> dict[str, Any]:
        """What else decides a reply besides the model's name (an endpoint, a file's state)."""
        return {}

    def identity(self) -> BackendIdentity:
        return BackendIdentity(
            name=self.name,
            model=self.model,
            fingerprint=self.fingerprint(),
            capabilities=self.capabilities,
        )

    def triage_identity(self) -> BackendIdentity:
        """The triager's identity; a backend that triages on another model says which."""
        return self.identity()

    def unpriced_models(self) -> list[str]:
        """Models this run would pay for without a price: their cost cannot be counted."""
        return []

    @abstractmethod
    def summarizer(self, notes: summarize.NoteStore | None = None) -> Summarizer:
        """`notes` keeps each chunk's map-step notes as they arrive (LLM backends)."""

    @abstractmethod
    def triager(self, batches: triage.BatchStore | None = None) -> Triager:
        """`batches` keeps each batch's validated items as they arrive (LLM backends)."""

    @abstractmethod
    def digester(self) -> Digester: ...

    async def aclose(self) -> None:  # noqa: B027 (most backends hold nothing to release)
        """Release clients inside the event loop that made them."""


# --- extractive ------------------------------------------------------------------------


@dataclass(frozen=True)
class ExtractiveSummarizer:
    """Quotes the paper's own sentences; plain data, so it runs in worker processes."""

    name: str
    model: str
    cpu_bound: bool = True

    async def summarize(
        self,
        meta: PaperMeta,
        chunks: Chunks,
        prompts: Mapping[str, Prompt],
        *,
        interests: str,
        single_call_budget: int,
    ) -> SummaryRecord:
        from pipeline.accounting import Ledger
        from pipeline.faithfulness import source_index, summary_faithfulness
        from pipeline.llm.extractive import extractive_summary
        from pipeline.stages import summarize

        summary = extractive_summary(meta, chunks.chunks)
        source = source_index(summarize.source_text(meta, chunks.chunks))
        report = summary_faithfulness(summary, source)
        return summarize.summary_of(meta, summary, prompts, self.name, self.model, Ledger(), report)


class HeuristicTriager:
    """Scores titles and abstracts by stated cues and the reader's interests; no model."""

    async def triage(
        self,
        papers: Sequence[PaperMeta],
        prompt: Prompt,
        *,
        interests: str,
        batch_size: int,
        top: int,
        weights: Mapping[str, float],
    ) -> triage.TriageResult:
        from pipeline.stages import triage

        return triage.heuristic_triage(papers, interests, top, weights)


# The extractive summarizer's version, as cache keys and reports show it (its history is in
# pipeline.llm.extractive, beside the code it names). Here, so that knowing who summarized a
# cached day does not import the summarizer and compile its patterns.
EXTRACTIVE_MODEL = "sentence-rank-v9"


class Extractive(Backend):
    name = "extractive"
    capabilities = Capabilities(structured_output=False, remote=False, cpu_bound=True)

    @property
    def model(self) -> str:
        return EXTRACTIVE_MODEL

    def summarizer(self, notes: summarize.NoteStore | None = None) -> Summarizer:
        return ExtractiveSummarizer(self.name, self.model)

    def triager(self, batches: triage.BatchStore | None = None) -> Triager:
        return HeuristicTriager()

    def digester(self) -> Digester:
        from pipeline.stages import digest

        return digest.TagDigester()


# --- LLM-backed ------------------------------------------------------------------------


class LLMSummarizer:
    """One call, or map-reduce for a long paper, through an `LLM` (see `stages.summarize`)."""

    cpu_bound = False

    def __init__(self, llm: LLM, meter: Meter, notes: summarize.NoteStore | None = None) -> None:
        self.llm = llm
        self.meter = meter
        self.notes = notes

    async def summarize(
        self,
        meta: PaperMeta,
        chunks: Chunks,
        prompts: Mapping[str, Prompt],
        *,
        interests: str,
        single_call_budget: int,
    ) -> SummaryRecord:
        from pipeline.stages import summarize

        return await summarize.summary_record(
            meta,
            chunks,
            prompts,
            self.llm,
            interests=interests,
            single_call_budget=single_call_budget,
            meter=self.meter,
            store=self.notes,
        )


class LLMTriager:
    """Several papers per call, on title and abstract; a failed batch falls back to heuristics."""

    def __init__(self, llm: LLM, meter: Meter, batches: triage.BatchStore | None = None) -> None:
        self.llm = llm
        self.meter = meter
        self.batches = batches

    async def triage(
        self,
        papers: Sequence[PaperMeta],
        prompt: Prompt,
        *,
        interests: str,
        batch_size: int,
        top: int,
        weights: Mapping[str, float],
    ) -> triage.TriageResult:
        from pipeline.stages import triage

        return await triage.triage(
            papers,
            self.llm,
            prompt,
            interests=interests,
            batch_size=batch_size,
            top=top,
            weights=weights,
            on_usage=lambda usage: self.meter(triage.TASK, usage),
            store=self.batches,
        )


class ModelBackend(Backend):
    """A backend that answers through an `LLM` client, behind the run's cost cap when set."""

    capabilities: ClassVar[Capabilities]

    def __init__(
        self,
        settings: LLMSettings,
        meter: Meter,
        on_notice: Callable[[str], None] | None = None,
        on_flight: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(settings, meter, on_notice, on_flight)
        # per model (None: the run's own): the connection or loaded model, closed at the end,
        # and the client the stages call, behind the cost cap when one is set
        self._clients: dict[str | None, Any] = {}
        self._llms: dict[str | None, LLM] = {}
        self._budget: Any = None  # one cost cap for all of the run's clients
        self._lock = threading.Lock()

    @property
    def _client(self) -> Any:
        """The run's own model's client, once made."""
        return self._clients.get(None)

    @abstractmethod
    def make_client(self) -> LLM: ...

    def make_client_for(self, model: str) -> LLM:
        """A client of this backend on another model (the triage model)."""
        raise NotImplementedError(f"the {self.name} backend runs one model only")

    @property
    def triage_model(self) -> str:
        return self.model

    def llm(self, model: str | None = None) -> LLM:
        """The client of `model` (default: the run's), made once, from whichever task asks first."""
        key = None if model is None or model == self.model else model
        with self._lock:
            if key not in self._llms:
                client = self.make_client() if key is None else self.make_client_for(key)
                self._clients[key] = client
                self._llms[key] = self._capped(client)
            return self._llms[key]

    def _capped(self, client: LLM) -> LLM:
        cap = self.settings.max_cost
        if cap is None:
            return client
        from pipeline.llm.budget import Budget, BudgetedLLM

        if self._budget is None:
            self._budget = Budget(cap)
        price = self.settings.effective_prices().get(client.model)
        # A batch client pays half, except a failed item it asks directly (`--batch-fallback`):
        # then any call may cost the full price, so the cap reserves that.
        factor = getattr(client, "price_factor", 1.0)
        if getattr(client, "fallback", False):
            factor = 1.0
        if price is not None and factor != 1.0:
            price = price.times(factor)
        return BudgetedLLM(client, cap, price, budget=self._budget)

    def summarizer(self, notes: summarize.NoteStore | None = None) -> Summarizer:
        return LLMSummarizer(self.llm(), self.meter, notes)

    def triager(self, batches: triage.BatchStore | None = None) -> Triager:
        return LLMTriager(self.llm(self.triage_model), self.meter, batches)

    def digester(self) -> Digester:
        from pipeline.stages import digest

        return digest.LLMDigester(self.llm(), self.meter)

    async def aclose(self) -> None:
        with self._lock:
            clients = list(self._clients.values())
            self._clients, self._llms = {}, {}
        for client in clients:
            await self.release(client)

    async def release(self, client: Any) -> None:
        await client.aclose()


class OpenAICompatible(ModelBackend):
    name = "openai"
    capabilities = Capabilities(structured_output=True, remote=True, cpu_bound=False)

    @property
    def model(self) -> str:
        return self.settings.model

    def fingerprint(self) -> dict[str, Any]:
        # One model name can mean different models: "gpt-4o-mini" at OpenAI or whatever a
        # self-hosted server answers to.
        from pipeline.llm.openai_backend import DEFAULT_ENDPOINT

        endpoint = (self.settings.base_url or DEFAULT_ENDPOINT).rstrip("/").lower()
        return {"endpoint": redacted(endpoint)}  # keys and metadata never hold a password

    @property
    def triage_model(self) -> str:
        return self.settings.triage_model or self.settings.model

    def triage_identity(self) -> BackendIdentity:
        # the triage cache key follows the triage model, the summaries' the run's model
        return self.identity().model_copy(update={"model": self.triage_model})

    def unpriced_models(self) -> list[str]:
        prices = self.settings.effective_prices()
        models = dict.fromkeys((self.model, self.triage_model))
        return [model for model in models if model not in prices]

    def make_client(self) -> LLM:
        return self.make_client_for(self.settings.model)

    def make_client_for(self, model: str) -> LLM:
        from pipeline.llm.openai_backend import OpenAIBackend

        llm = self.settings
        direct = OpenAIBackend(
            model,
            api_key=llm.api_key.get_secret_value() if llm.api_key else None,
            base_url=llm.base_url,
            prices=llm.effective_prices(),
            max_reasks=llm.max_reasks,
            timeout=llm.timeout,
            max_retries=llm.max_retries,
            requests_per_minute=llm.rpm,
            tokens_per_minute=llm.tpm,
            max_concurrency=llm.concurrency,
            on_notice=self.on_notice,
            on_flight=self.on_flight,
            stop=self.stop,
        )
        if not llm.batch:
            return direct
        from pipeline.llm.batch import BatchLimits, BatchLLM, MemoryBatches

        return BatchLLM(
            direct,
            self.batches if self.batches is not None else MemoryBatches(),
            poll=llm.batch_poll,
            gather=llm.batch_gather,
            rounds=llm.batch_rounds,
            fallback=llm.batch_fallback,
            limits=BatchLimits(llm.batch_max_requests, llm.batch_max_bytes),
            on_notice=self.on_notice,
            on_flight=self.on_flight,
        )


class LocalGGUF(ModelBackend):
    name = "local"
    capabilities = Capabilities(structured_output=True, remote=False, cpu_bound=False)

    @property
    def model(self) -> str:
        path = self.settings.model_path
        assert path is not None  # settings validation guarantees it
        # the chat format changes the rendered prompt, so it is part of the model's identity
        suffix = f":{self.settings.chat_format}" if self.settings.chat_format else ""
        return path.name + suffix

    def fingerprint(self) -> dict[str, Any]:
        # a GGUF file re-quantised in place keeps its name
        assert self.settings.model_path is not None
        stat = self.settings.model_path.stat()
        return {
            "size": stat.st_size,
            "mtime": int(stat.st_mtime),
            "n_ctx": self.settings.n_ctx,
            "seed": self.settings.seed,
        }

    async def release(self, client: Any) -> None:
        client.close()  # frees the model and its worker thread

    def make_client(self) -> LLM:
        from pipeline.llm.local_backend import LocalBackend

        llm = self.settings
        assert llm.model_path is not None
        return LocalBackend(
            llm.model_path,
            n_ctx=llm.n_ctx,
            chat_format=llm.chat_format,
            max_reasks=llm.max_reasks,
            seed=llm.seed,
            n_threads=llm.n_threads,
            stop=self.stop,
        )


# What `Runner(make_backend=...)` and the report commands take: a backend made by the caller
# (a test's scripted model), given the run's meter.
MakeBackend = Callable[[LLMSettings, Meter], Backend]

BACKENDS: dict[str, type[Backend]] = {
    backend.name: backend for backend in (OpenAICompatible, LocalGGUF, Extractive)
}


def backend_for(
    settings: LLMSettings,
    meter: Meter = ignore_meter,
    on_notice: Callable[[str], None] | None = None,
    on_flight: Callable[[int], None] | None = None,
    batches: Any = None,
) -> Backend:
    """The configured backend (nothing is loaded or connected until it is used); `batches`
    is where batch mode records its batches (`pipeline.llm.batch.BatchStore`)."""
    backend = BACKENDS[settings.resolved_backend()](settings, meter, on_notice, on_flight)
    backend.batches = batches
    return backend
