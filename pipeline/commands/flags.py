"""The flags that set a setting, shared by `run` and `config`, and the settings they build.

Each flag names the dotted setting it overrides, so `paperbrief config --model X` shows exactly
what `paperbrief run --model X` would use, and where each value came from.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from pipeline.settings import Loaded, Settings, load

Group = argparse.ArgumentParser | argparse._ArgumentGroup

# argparse dest → the dotted setting it gives.
SETTING_OF = {
    "cache_dir": "cache_dir",
    "out": "out_dir",
    "categories": "arxiv.categories",
    "include_replacements": "arxiv.include_replacements",
    "include": "arxiv.include",
    "exclude": "arxiv.exclude",
    "reread": "reading.reread",
    "backend": "llm.backend",
    "model": "llm.model",
    "triage_model": "llm.triage_model",
    "base_url": "llm.base_url",
    "model_path": "llm.model_path",
    "chat_format": "llm.chat_format",
    "prompt": "prompts.summarize",
    "top": "reading.top",
    "depth": "reading.depth",
    "max_cost": "llm.max_cost",
    "concurrency": "llm.concurrency",
    "batch": "llm.batch",
    "batch_fallback": "llm.batch_fallback",
}


def add_listing_flags(group: Group) -> None:
    group.add_argument("--categories", help="comma-separated, default cs.AI,cs.LG,cs.CL")
    group.add_argument(
        "--include-replacements",
        action="store_true",
        default=None,
        help="also list replaced (new-version) papers from the RSS feed",
    )
    group.add_argument("--include", help="keep only papers mentioning any of these keywords")
    group.add_argument("--exclude", help="drop papers mentioning any of these keywords")
    group.add_argument(
        "--reread",
        action="store_true",
        default=None,
        help="summarize papers already summarized on an earlier day",
    )


def add_reading_flags(group: Group) -> None:
    group.add_argument("--backend", choices=("auto", "openai", "local", "extractive"))
    group.add_argument("--model", help="model name for the LLM backend")
    group.add_argument(
        "--triage-model",
        metavar="MODEL",
        help="a cheaper model of the same endpoint for triage (default: the run's --model)",
    )
    group.add_argument("--base-url", help="OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp)")
    group.add_argument(
        "--model-path", type=Path, metavar="FILE.gguf", help="GGUF model for --backend local"
    )
    group.add_argument("--chat-format", help="llama.cpp chat format for a GGUF without a template")
    group.add_argument(
        "--prompt", metavar="VARIANT", help="summarize prompt variant in prompts/summarize/"
    )
    group.add_argument("--top", type=int, help="papers read in full after triage (default 15)")
    add_depth_flag(group)
    group.add_argument("--max-cost", type=float, help="stop starting LLM work past this many USD")
    group.add_argument("--concurrency", type=int, help="LLM calls in flight")
    group.add_argument(
        "--batch",
        action="store_true",
        default=None,
        help="triage and summarize through the OpenAI Batch API: half price, up to 24 h",
    )
    group.add_argument(
        "--batch-fallback",
        action="store_true",
        default=None,
        help="with --batch: retry failed items as direct calls instead of a follow-up batch",
    )


def add_depth_flag(group: Group) -> None:
    group.add_argument(
        "--depth",
        choices=("budget", "full"),
        help="how much of each paper is read: budget (default) reads the abstract, "
        "contributions, method overview, results, limitations and conclusion within "
        "reading.budget tokens in one call; full reads the whole paper by map-reduce",
    )


def add_location_flags(group: Group, *, out: bool = True) -> None:
    group.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="settings file (default: the nearest paperbrief.toml here or above)",
    )
    group.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help="cache folder (default: cache/ beside paperbrief.toml, else ./cache)",
    )
    if out:
        group.add_argument(
            "--out",
            type=Path,
            metavar="DIR",
            help="output folder (default: out/ beside paperbrief.toml, else ./out)",
        )


def loaded_from(args: argparse.Namespace) -> Loaded:
    """The settings: paperbrief.toml < environment < the flags this command was given."""
    given = vars(args)
    flags: dict[str, Any] = {dotted: given.get(dest) for dest, dotted in SETTING_OF.items()}
    names = {dotted: "--" + dest.replace("_", "-") for dest, dotted in SETTING_OF.items()}
    return load(given.get("config"), os.environ, flags, flag_names=names)


def settings_from(args: argparse.Namespace) -> Settings:
    return loaded_from(args).settings
