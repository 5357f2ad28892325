"""A CPU stage for tests of worker processes, in a module of its own: a worker that unpickles
it imports this module, and nothing here may load PyMuPDF for it (a test module would)."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import Any

from pipeline.models import PaperMeta
from pipeline.paper import Paper
from pipeline.stage import Placement, Stage


class Where(Stage[Paper, PaperMeta]):
    """A CPU stage whose output's title says which worker computed it, whether PyMuPDF is
    loaded there, and the cycle collector's state; given a PDF, it opens it first, as extract
    does."""

    scope = "paper"
    version = 1
    output = PaperMeta

    def __init__(self, name: str, pdf: Path | None = None) -> None:
        self.name = name
        self.pdf = pdf

    def inputs(self, paper: Paper) -> dict[str, Any]:
        return {"meta": paper.meta}

    def compute(self, *, meta: PaperMeta) -> PaperMeta:
        if self.pdf is not None:
            import pymupdf

            pymupdf.open(self.pdf).close()
        loaded = "pymupdf" if "pymupdf" in sys.modules else "-"
        collector = f"collector-{'on' if gc.isenabled() else 'off'} frozen-{gc.get_freeze_count()}"
        return meta.model_copy(update={"title": f"{os.getpid()} {loaded} {collector}"})

    def apply(self, paper: Paper, output: PaperMeta) -> None:
        paper.meta = output

    def placement(self, tools: Any) -> Placement:
        return "process"
