"""One `Settings` model, read from paperbrief.toml, then the environment, then flags.

Each layer is a plain nested dict; later layers override earlier ones key by key, and the merged
dict is validated once, so an error names the bad key whatever layer it came from.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from pipeline.errors import SettingsError
from pipeline.llm.base import Price

CONFIG_FILE = "paperbrief.toml"

# Environment variables with a name of their own; any other setting is reachable as
# PAPERBRIEF_<SECTION>__<KEY> (e.g. PAPERBRIEF_CHUNK__MAX_TOKENS=800).
ENV_NAMES: dict[str, tuple[str, ...]] = {
    "OPENAI_API_KEY": ("llm", "api_key"),
    "OPENAI_BASE_URL": ("llm", "base_url"),
    "PAPERBRIEF_BACKEND": ("llm", "backend"),
    "PAPERBRIEF_MODEL": ("llm", "model"),
    "PAPERBRIEF_CACHE_DIR": ("cache_dir",),
    "PAPERBRIEF_OUT_DIR": ("out_dir",),
    "PAPERBRIEF_CONCURRENCY": ("llm", "concurrency"),
    "PAPERBRIEF_PROMPTS_DIR": ("prompts", "dir"),
    "PAPERBRIEF_ARXIV_API_URL": ("arxiv", "api_url"),
    "PAPERBRIEF_ARXIV_RSS_URL": ("arxiv", "rss_url"),
    "PAPERBRIEF_ARXIV_PDF_URL": ("arxiv", "pdf_url"),
    "PAPERBRIEF_ARXIV_DELAY": ("arxiv", "delay"),
    "PAPERBRIEF_CATEGORIES": ("arxiv", "categories"),
    "PAPERBRIEF_MODEL_PATH": ("llm", "model_path"),
    "PAPERBRIEF_MAX_COST": ("llm", "max_cost"),
    "PAPERBRIEF_INTERESTS": ("reading", "interests"),
}

DEFAULT_PRICES = {
    # US dollars per million tokens, as published by the providers; edit in paperbrief.toml.
    "gpt-4o-mini": Price(input=0.15, output=0.60, cached_input=0.075),
    "gpt-4o": Price(input=2.50, output=10.00, cached_input=1.25),
    "gpt-4.1-mini": Price(input=0.40, output=1.60, cached_input=0.10),
    "gpt-4.1": Price(input=2.00, output=8.00, cached_input=0.50),
}


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LLMSettings(Section):
    backend: Literal["auto", "openai", "local", "extractive"] = "auto"
    model: str = "gpt-4o-mini"
    base_url: str | None = None
    api_key: SecretStr | None = None
    max_reasks: int = Field(default=2, ge=0, le=5)
    timeout: float = Field(default=120.0, gt=0, description="seconds per call")
    max_retries: int = Field(default=4, ge=0, le=10)
    rpm: int = Field(default=500, ge=1, description="requests per minute allowed")
    tpm: int = Field(default=200_000, ge=1000, description="tokens per minute allowed")
    concurrency: int = Field(default=8, ge=1, le=256, description="LLM calls in flight")
    max_cost: float | None = Field(default=None, ge=0, description="US dollars per run")
    model_path: Path | None = Field(default=None, description="GGUF file for the local backend")
    n_ctx: int = Field(default=8192, ge=512)
    chat_format: str | None = Field(default=None, description="llama.cpp chat format override")
    n_threads: int | None = Field(default=None, ge=1)
    seed: int = 0
    prices: dict[str, Price] = Field(
        default_factory=dict, description="USD per million tokens, added to the built-in table"
    )

    @model_validator(mode="after")
    def _local_needs_a_model(self) -> LLMSettings:
        # Checked before the run starts: found later, it would fail every paper one by one.
        if self.backend == "local" and self.model_path is None:
            raise ValueError("llm.backend = local needs --model-path FILE.gguf")
        if self.model_path is not None and not self.model_path.is_file():
            raise ValueError(f"GGUF model file {self.model_path} not found; check --model-path")
        return self

    def effective_prices(self) -> dict[str, Price]:
        """The price table for this endpoint. OpenAI's published prices apply only to OpenAI:
        a local or self-hosted server answering to "gpt-4o-mini" is not billed at its rate."""
        if self.base_url and "api.openai.com" not in self.base_url:
            return dict(self.prices)
        return {**DEFAULT_PRICES, **self.prices}

    def resolved_backend(self) -> Literal["openai", "local", "extractive"]:
        """`auto` means: an LLM when one is configured, the offline summarizer otherwise."""
        if self.backend != "auto":
            return self.backend
        if self.api_key or self.base_url:
            return "openai"
        return "local" if self.model_path else "extractive"


class ArxivSettings(Section):
    """Where and how politely arXiv is asked. Defaults follow arXiv's terms of use:
    one connection at a time, no more than one request every 3 seconds."""

    categories: list[str] = Field(default_factory=lambda: ["cs.AI", "cs.LG", "cs.CL"])
    api_url: str = "http://export.arxiv.org/api/query"
    rss_url: str = "https://rss.arxiv.org/rss/"
    pdf_url: str = "https://arxiv.org/pdf/"
    delay: float = Field(default=3.0, ge=0, description="seconds between requests")
    contact: str = Field(default="", description="an e-mail for arXiv's User-Agent log")
    timeout: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=4, ge=0, le=10)
    max_backoff: float = Field(default=120.0, gt=0, description="cap on one wait, seconds")
    page_size: int = Field(default=200, ge=1, le=2000)
    include_replacements: bool = False
    check_rss: bool = Field(
        default=True,
        description="cross-check RSS counts against the API (one request per category)",
    )
    include: list[str] = Field(default_factory=list, description="keywords; keep papers with any")
    exclude: list[str] = Field(default_factory=list, description="keywords; drop papers with any")

    @field_validator("categories", "include", "exclude", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        # Environment variables and flags give "cs.AI,cs.LG"; the TOML file gives a list.
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class ExtractSettings(Section):
    max_pages: int = Field(default=60, ge=1)


class ChunkSettings(Section):
    max_tokens: int = Field(default=1200, ge=50)
    overlap: int = Field(default=100, ge=0)
    paper_budget: int = Field(
        default=40000, ge=100, description="tokens of one paper kept for reading (selection policy)"
    )
    encoding: str | None = Field(default=None, description="force a tiktoken encoding")

    @model_validator(mode="after")
    def _fits(self) -> ChunkSettings:
        # Checked here so a bad combination is one usage error, not one failure per paper.
        if self.overlap >= self.max_tokens:
            raise ValueError("chunk.overlap must be smaller than chunk.max_tokens")
        if self.paper_budget < self.max_tokens:
            raise ValueError("chunk.paper_budget must be at least chunk.max_tokens")
        return self


RUBRIC = ("novelty", "industry_impact", "evidence", "urgency")


class RankSettings(Section):
    weights: dict[str, float] = Field(
        default_factory=lambda: {
            "novelty": 0.30,
            "industry_impact": 0.35,
            "evidence": 0.20,
            "urgency": 0.15,
        }
    )

    @field_validator("weights", mode="after")
    @classmethod
    def _known_and_positive(cls, weights: dict[str, float]) -> dict[str, float]:
        # Checked up front: found in rank, it would surface after the downloads.
        if unknown := sorted(set(weights) - set(RUBRIC)):
            raise ValueError(f"unknown rubric names {unknown}; use {list(RUBRIC)}")
        if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
            raise ValueError("weights must be non-negative with a positive sum")
        return weights


class ReadingSettings(Section):
    """The editor's two tiers: triage every paper cheaply, read the best ones in full."""

    interests: str = (
        "R&D, product and strategy leads in AI/ML: deployment relevance, efficiency and cost, "
        "security and safety of deployed systems, and capability advances."
    )
    top: int = Field(default=15, ge=1, description="papers read in full after triage")
    triage_batch: int = Field(default=15, ge=1, le=40, description="papers per triage call")
    single_call_budget: int = Field(
        default=12000, ge=500, description="input tokens above which map-reduce is used"
    )
    reread: bool = Field(default=False, description="summarize papers seen on earlier days")


class PromptSettings(Section):
    dir: Path | None = None
    summarize: str = "default"
    triage: str = "default"
    notes: str = "default"
    digest: str = "default"


class ReportSettings(Section):
    """What the reports say of themselves and how long they are."""

    audience: str = Field(
        default="R&D, Product, Strategy, Investors", description="the weekly report's readers"
    )
    weekly_top: int = Field(default=10, ge=1, le=50, description="top papers in a weekly report")


class CompareSettings(Section):
    """`paperbrief compare`: when to ask before spending."""

    confirm_above: float = Field(
        default=0.50,
        ge=0,
        description="USD: a larger estimated cost asks for confirmation (skip with --yes)",
    )


class Settings(Section):
    cache_dir: Path = Path("cache")
    out_dir: Path = Path("out")
    llm: LLMSettings = Field(default_factory=LLMSettings)
    arxiv: ArxivSettings = Field(default_factory=ArxivSettings)
    extract: ExtractSettings = Field(default_factory=ExtractSettings)
    chunk: ChunkSettings = Field(default_factory=ChunkSettings)
    rank: RankSettings = Field(default_factory=RankSettings)
    prompts: PromptSettings = Field(default_factory=PromptSettings)
    reading: ReadingSettings = Field(default_factory=ReadingSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    compare: CompareSettings = Field(default_factory=CompareSettings)


def load_settings(
    config: Path | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> Settings:
    """Merge the three layers. `config=None` reads ./paperbrief.toml when it exists."""
    layers = [_file_layer(config), _env_layer(env or {}), _nested(flags or {})]
    merged: dict[str, Any] = {}
    for layer in layers:
        _deep_merge(merged, layer)
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise SettingsError(
            f"setting {where}: {err['msg']} (check {CONFIG_FILE}, env, flags)"
        ) from exc


def _file_layer(config: Path | None) -> dict[str, Any]:
    path = config or Path(CONFIG_FILE)
    if config is None and not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"config file {path} cannot be read ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path} is not valid TOML: {exc}") from exc


def _env_layer(env: Mapping[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    for name, value in env.items():
        if name in ENV_NAMES:
            path: tuple[str, ...] = ENV_NAMES[name]
        elif name.startswith("PAPERBRIEF_") and "__" in name:
            path = tuple(part.lower() for part in name[len("PAPERBRIEF_") :].split("__"))
        else:
            continue
        if value != "":
            _set(layer, path, value)
    return layer


def _nested(flags: Mapping[str, Any]) -> dict[str, Any]:
    """Flags arrive as dotted keys ("llm.model"); None means the flag was not given."""
    layer: dict[str, Any] = {}
    for dotted, value in flags.items():
        if value is not None:
            _set(layer, tuple(dotted.split(".")), value)
    return layer


def _set(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        tree = tree.setdefault(part, {})
    tree[path[-1]] = value


def _deep_merge(into: dict[str, Any], layer: Mapping[str, Any]) -> None:
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = dict(value) if isinstance(value, Mapping) else value
