"""The run's two network clients, made on first use and closed by the run that made them."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from pipeline.llm.budget import BudgetedLLM
from pipeline.llm.factory import make_backend
from pipeline.record import StageStats
from pipeline.settings import Settings


class Clients:
    def __init__(
        self, settings: Settings, stats: dict[str, StageStats], warn: Callable[[str], None]
    ) -> None:
        self.settings = settings
        self.stats = stats  # the arXiv client's request counts end up here
        self.warn = warn
        self._arxiv: Any = None
        self._llm: Any = None
        self._lock = threading.Lock()

    def arxiv(self) -> Any:
        """One client for the whole run: its spacing must hold from the listing to the last PDF."""
        if self._arxiv is None:
            from pipeline.arxiv.http import ArxivClient

            self._arxiv = ArxivClient(self.settings.arxiv)
        return self._arxiv

    def close_arxiv(self) -> None:
        """Close the arXiv client and add its requests to the feed and download stats."""
        if self._arxiv is None:
            return
        for stage, kinds in (("feed", ("api", "rss")), ("download", ("pdf",))):
            for kind in kinds:
                numbers = self._arxiv.stats.get(kind)
                if numbers is not None:
                    self.stats[stage].requests += numbers.requests
                    self.stats[stage].retries += numbers.retries
                    self.stats[stage].bytes += numbers.bytes
                    self.stats[stage].request_failures += numbers.failures
        self._arxiv.close()
        self._arxiv = None

    def llm(self) -> Any:
        """The LLM backend, behind the cost cap when one is set; made once, from any task."""
        with self._lock:
            if self._llm is None:
                backend = make_backend(self.settings.llm)
                cap = self.settings.llm.max_cost
                if cap is not None and hasattr(backend, "structured"):
                    backend = BudgetedLLM(backend, cap)
                self._llm = backend
            return self._llm

    def close_llm(self, loop: asyncio.Runner) -> None:
        """Close the LLM client inside the loop that made it, before the loop goes away."""
        backend = self._llm
        try:
            if hasattr(backend, "aclose"):
                loop.run(backend.aclose())
            elif hasattr(backend, "close"):
                backend.close()
        except Exception as exc:  # closing must never turn a finished run into a failure
            self.warn(f"could not close the LLM backend cleanly ({exc})")
