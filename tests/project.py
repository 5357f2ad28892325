"""A user's project for in-process runs: its own cache, out folder, prompts and scripted model."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path
from typing import Any

from pipeline.models import ChunkNotes, PaperSummary, TriageItem, TriageReply
from pipeline.prompts import default_prompts_dir
from pipeline.record import RunRecord
from pipeline.runner import Runner, RunPlan
from pipeline.settings import Settings, load_settings
from pipeline.sources import Source
from pipeline.stages.digest import Claim, DigestReply
from tests.builders import rubric, summary
from tests.conftest import DAY
from tests.fakes.scripted_llm import Call, ScriptedLLM, backend_of

PAPER_ID = re.compile(r'<paper id="([^"]+)">')


def answer(call: Call) -> Any:
    """Triage scores each paper by its title's length; summaries state no numbers."""
    if call.task == "digest":
        return digest_reply(call)
    if call.task == "notes":
        return ChunkNotes(notes=["A fact this part states."], numbers=[])
    if call.task == "triage":
        ids = PAPER_ID.findall(call.user)
        scored = [
            TriageItem(paper_id=i, gist=f"Gist of {i}.", rubric=rubric(*[1 + len(i) % 10] * 4))
            for i in ids
        ]
        return TriageReply(items=scored)
    plain = summary().model_copy(
        update={"summary": ["The problem and the method.", "The results and a limitation."]}
    )
    return PaperSummary.model_validate(plain.model_dump())


PAPER_REF = re.compile(r'<paper ref="(\d+)">')


def digest_reply(call: Call, extra_ref: int | None = None) -> DigestReply:
    """Five grounded items of each kind, citing the papers of the request in turn."""
    refs = [int(r) for r in PAPER_REF.findall(call.user)]

    def claims(kind: str) -> list[Claim]:
        return [
            Claim(
                title=f"{kind} {'abcde'[n]}",
                text=f"A {kind[:-1]} the week's papers show [{refs[n % len(refs)]}].",
                refs=[refs[n % len(refs)], *([extra_ref] if extra_ref else [])],
            )
            for n in range(5)
        ]

    return DigestReply(
        themes=claims("themes"),
        trends=claims("trends"),
        implications=claims("implications"),
        actions=claims("actions"),
    )


class Project:
    """A user's project folder: its own cache, out folder and copy of the prompts."""

    def __init__(self, root: Path, papers: Path) -> None:
        self.root = root
        self.papers = papers
        self.prompts = root / "prompts"
        shutil.copytree(default_prompts_dir(), self.prompts)
        self.llm = ScriptedLLM(answer)

    def settings(self, **flags: Any) -> Settings:
        env = {"PAPERBRIEF_PROMPTS_DIR": str(self.prompts)}
        base = {"cache_dir": self.root / "cache", "out_dir": self.root / "out"}
        return load_settings(env=env, flags={**base, **flags})

    def run(
        self,
        *,
        force: frozenset[str] = frozenset(),
        only: str | None = None,
        scripted: bool = True,
        pool_threshold: int = 16,
        day: str = DAY,
        papers: Path | None = None,
        **flags: Any,
    ) -> RunRecord:
        folder = papers or self.papers
        source = Source(kind="folder", day=date.fromisoformat(day), folder=folder)
        self.runner = Runner(
            self.settings(**flags),
            RunPlan(source=source, force=force, only=only),
            make_backend=backend_of(self.llm) if scripted else None,
            pool_threshold=pool_threshold,
        )
        return self.runner.run()

    def report(self) -> str:
        return (self.folder() / "summaries.md").read_text()

    def folder(self) -> Path:
        """The output folder of the last run's edition."""
        day = self.runner.plan.source.day.isoformat()
        return Path(self.runner.settings.out_dir) / day / self.runner.edition
