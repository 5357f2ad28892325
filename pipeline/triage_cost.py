"""What triage costs per paper in input tokens, counted as an endpoint counts a request: the
messages with their framing plus the reply schema sent beside them, a batch's shared part split
evenly among its papers. `make bench-llm` prints it on real arXiv abstracts; a test holds it
under `triage.TOKENS_PER_PAPER`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pipeline.evaluation import shared_dir
from pipeline.llm.openai_backend import strict_schema
from pipeline.models import PaperMeta, TriageReply
from pipeline.prompts import task_prompt
from pipeline.settings import Settings
from pipeline.stages import triage
from pipeline.tokens import tokenizer_for

# 100 real cs abstracts as arXiv's API returned them in 2026, in the shared corpus
SAMPLE_PAGE = (
    "arxiv-responses/arxiv_api/arxiv.py_2026_fixtures/q_testing_s0_m100_cfe7536492ca.body.xml"
)


def sample_page() -> Path:
    """Where the real abstracts are (absent when the shared corpus is)."""
    return shared_dir() / SAMPLE_PAGE


def triage_tokens(papers: Sequence[PaperMeta], settings: Settings) -> dict[str, float]:
    """Each paper's input tokens in the day's triage requests, batched as the stage batches."""
    llm = settings.llm
    tokenizer = tokenizer_for(llm.triage_model or llm.model, settings.chunk.encoding)
    prompt = task_prompt(settings, triage.TASK)
    schema = tokenizer.count(json.dumps(strict_schema(TriageReply)))
    per_paper: dict[str, float] = {}
    for batch in triage.batches(papers, settings.reading.triage_batch):
        per_paper |= triage.tokens_per_paper(
            batch, prompt, interests=settings.reading.interests, count=tokenizer.count, fixed=schema
        )
    return per_paper
