"""A user's working folder for CLI tests: cache, out folder and a private copy of the prompts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from pipeline.prompts import default_prompts_dir

# Tests never reach the real arXiv: unless a test points these at its own server, any request
# goes to a closed local port and fails at once.
OFFLINE = {
    "PAPERBRIEF_ARXIV_API_URL": "http://127.0.0.1:9/api/query",
    "PAPERBRIEF_ARXIV_RSS_URL": "http://127.0.0.1:9/rss/",
    "PAPERBRIEF_ARXIV_PDF_URL": "http://127.0.0.1:9/pdf/",
}


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user who has set nothing for paperbrief, offline."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PAPERBRIEF_"))}
    return {**env, **OFFLINE, **extra}


def paperbrief(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`paperbrief ARGS` run in `cwd` as a user would, with the given environment."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        cwd=cwd,
        env=env if env is not None else clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


class Workspace:
    def __init__(self, root: Path, *source_args: str, day: str = "2026-03-04") -> None:
        self.root = root
        self.day = day
        self.source_args = list(source_args)
        self.cache = root / "cache"
        self.out = root / "out"
        self.prompts = root / "prompts"
        shutil.copytree(default_prompts_dir(), self.prompts)
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PAPERBRIEF_"))
        }
        self.env.update(OFFLINE)
        self.env["PAPERBRIEF_PROMPTS_DIR"] = str(self.prompts)

    def price(self, model: str, input_usd: float, output_usd: float) -> None:
        """Prices per million tokens in the workspace's paperbrief.toml: a local server is
        only billed at the rates a user sets for it."""
        (self.root / "paperbrief.toml").write_text(
            f'[llm.prices."{model}"]\ninput = {input_usd}\noutput = {output_usd}\n'
        )

    def command(self, *args: str) -> list[str]:
        """`paperbrief run` on this workspace's source, cache and out folder, plus `args`."""
        return [
            sys.executable,
            "-m",
            "pipeline",
            "run",
            *self.source_args,
            "--cache-dir",
            str(self.cache),
            "--out",
            str(self.out),
            *args,
        ]

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            cwd=self.root,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=300,
        )

    def folder(self, edition: str | None = None) -> Path:
        """The day's output folder of one edition; by default the one the last run wrote."""
        if edition is not None:
            return self.out / self.day / edition
        runs = sorted((self.out / self.day).glob("*/run.json"), key=lambda p: p.stat().st_mtime)
        assert runs, f"no run wrote {self.out / self.day}"
        return runs[-1].parent

    def record(self) -> dict[str, Any]:
        return json.loads((self.folder() / "run.json").read_text())

    def report(self) -> str:
        return (self.folder() / "summaries.md").read_text()

    def computed(self) -> dict[str, int]:
        return {stage: s["misses"] for stage, s in self.record()["stages"].items()}
