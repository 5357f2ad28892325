"""One `Settings` model, read from paperbrief.toml, then the environment, then flags.

The paperbrief.toml read is the nearest one in the working folder or above (like ruff's
pyproject.toml or git's .git); its folder is the project, where cache/ and out/ live.

Each layer is a plain nested dict; later layers override earlier ones key by key, and the merged
dict is validated once, so an error names the bad key whatever layer it came from.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from pipeline.errors import SettingsError
from pipeline.llm.base import Price

CONFIG_FILE = "paperbrief.toml"

# The longest wait a setting may ask for, in seconds: a socket or a lock refuses a timeout
# past a few years (OverflowError), and no run waits a day for one reply.
HOUR = 3600.0
DAY = 86400.0

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
    # TOML and the environment both spell nan and inf: neither is a number of seconds or
    # dollars, inf passes a lower bound, and NaN a hand-written check (NaN < 0 is false)
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class LLMSettings(Section):
    backend: Literal["auto", "openai", "local", "extractive"] = Field(
        default="auto",
        description="auto: an LLM when a key, endpoint or GGUF is set, else extractive",
    )
    model: str = Field(default="gpt-4o-mini", description="model name for the LLM backend")
    triage_model: str | None = Field(
        default=None,
        description="a cheaper model of the same endpoint for triage (default: model)",
        examples=["gpt-4.1-nano"],
    )
    base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp server)",
        examples=["http://127.0.0.1:8000/v1"],
    )
    api_key: SecretStr | None = Field(
        default=None, description="API key; better kept in OPENAI_API_KEY than in this file"
    )
    max_reasks: int = Field(
        default=2, ge=0, le=5, description="re-asks when a reply fails the schema"
    )
    timeout: float = Field(default=120.0, gt=0, le=DAY, description="seconds per call")
    max_retries: int = Field(
        default=4, ge=0, le=10, description="retries of 429, 5xx and timeouts per call"
    )
    rpm: int = Field(default=500, ge=1, description="requests per minute allowed")
    tpm: int = Field(default=200_000, ge=1000, description="tokens per minute allowed")
    concurrency: int = Field(default=6, ge=1, le=256, description="LLM calls in flight")
    max_cost: float | None = Field(
        default=None,
        ge=0,
        description="stop starting LLM work past this many US dollars per run",
        examples=[1.0],
    )
    batch: bool = Field(
        default=False,
        description="send triage and summarize through the OpenAI Batch API (half price, <24 h)",
    )
    batch_fallback: bool = Field(
        default=False,
        description="batch mode: a failed item becomes a direct call, not a follow-up batch",
    )
    batch_poll: float = Field(
        default=60.0, gt=0, le=DAY, description="batch mode: seconds between polls"
    )
    batch_gather: float = Field(
        default=1.0,
        gt=0,
        le=HOUR,
        description="batch mode: a batch is sent once no request has joined it for this long",
    )
    batch_rounds: int = Field(
        default=2, ge=0, le=10, description="batch mode: follow-up batches for failed items"
    )
    # The Batch API's limits on one batch (OpenAI: 50,000 requests, a 200 MB input file); a
    # round over them goes out as several batches. Lower them for a provider with smaller ones.
    batch_max_requests: int = Field(
        default=50_000, ge=1, le=50_000, description="batch mode: requests per batch at most"
    )
    batch_max_bytes: int = Field(
        default=200_000_000,
        ge=1024,
        le=200_000_000,
        description="batch mode: bytes of one batch's input file at most",
    )
    model_path: Path | None = Field(
        default=None,
        description="GGUF file for the local backend",
        examples=["models/model.gguf"],
    )
    n_ctx: int = Field(default=8192, ge=512, description="context window of the local model")
    chat_format: str | None = Field(
        default=None, description="llama.cpp chat format override", examples=["chatml"]
    )
    n_threads: int | None = Field(
        default=None,
        ge=1,
        description="CPU threads for the local model (default: all)",
        examples=[4],
    )
    seed: int = Field(default=0, description="sampling seed of the local model")
    prices: dict[str, Price] = Field(
        default_factory=dict,
        description="USD per million tokens, added to the built-in table",
        examples=[{"my-model": {"input": 0.5, "output": 1.5}}],
    )

    @field_validator("base_url", mode="after")
    @classmethod
    def _endpoint_url(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value, example="http://127.0.0.1:8000/v1")

    @model_validator(mode="after")
    def _local_needs_a_model(self) -> LLMSettings:
        # Checked before the run starts: found later, it would fail every paper one by one.
        if self.backend == "local" and self.model_path is None:
            raise ValueError("llm.backend = local needs --model-path FILE.gguf")
        if self.model_path is not None and not self.model_path.is_file():
            raise ValueError(f"GGUF model file {self.model_path} not found; check --model-path")
        if self.batch and self.resolved_backend() != "openai":
            raise ValueError("--batch needs the openai backend (OPENAI_API_KEY or --base-url)")
        if self.triage_model and self.resolved_backend() == "local":
            raise ValueError("llm.triage_model needs an OpenAI-compatible endpoint, not a GGUF")
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


# arXiv's taxonomy: a lowercase archive, perhaps hyphenated (hep-th, q-bio), then perhaps a
# subject class (cs.LG, math.AP, astro-ph.CO, physics.comp-ph, cond-mat.mes-hall).
CATEGORY = re.compile(r"[a-z]+(?:-[a-z]+)?(?:\.[A-Za-z]+(?:-[A-Za-z]+)?)?", re.ASCII)
CATEGORY_EXAMPLES = "give comma-separated arXiv categories, e.g. cs.LG,math.AP,hep-th,astro-ph.CO"


def http_url(value: str, example: str) -> str:
    """`value` if it is an http(s) URL with a host and nothing a request line cannot carry
    (spaces, controls); else a ValueError that shows it with its password hidden."""
    from urllib.parse import urlsplit

    from pipeline.redaction import redacted

    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is no number
        shaped = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        shaped = False
    if not shaped or any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError(f"{redacted(value)[:80]!r} is not an http(s) URL; e.g. {example}")
    return value


class ArxivSettings(Section):
    """Where and how politely arXiv is asked. Defaults follow arXiv's terms of use:
    one connection at a time, no more than one request every 3 seconds."""

    categories: list[str] = Field(
        default_factory=lambda: ["cs.AI", "cs.LG", "cs.CL"], description="arXiv categories listed"
    )
    api_url: str = Field(
        default="http://export.arxiv.org/api/query", description="arXiv query API (--date, --ids)"
    )
    rss_url: str = Field(
        default="https://rss.arxiv.org/rss/", description="arXiv RSS feed (today's listing)"
    )
    pdf_url: str = Field(default="https://arxiv.org/pdf/", description="where PDFs are fetched")
    delay: float = Field(default=3.0, ge=0, le=HOUR, description="seconds between requests")
    contact: str = Field(default="", description="an e-mail for arXiv's User-Agent log")
    timeout: float = Field(
        default=60.0,
        gt=0,
        le=DAY,
        description="seconds to connect, and to wait for each next byte",
    )
    deadline: float = Field(
        default=300.0,
        gt=0,
        le=DAY,
        description="seconds one request may take in all, asking to last byte (a drip fails)",
    )
    max_feed_mb: float = Field(
        default=50.0, gt=0, description="largest API or RSS reply read, in MB (1 MB = 10^6 bytes)"
    )
    max_pdf_mb: float = Field(
        default=100.0, gt=0, description="largest PDF downloaded, in MB (arXiv's own limit: 50)"
    )
    max_retries: int = Field(
        default=4, ge=0, le=10, description="retries of timeouts, 429 and 5xx per request"
    )
    max_backoff: float = Field(default=120.0, gt=0, le=DAY, description="cap on one wait, seconds")
    page_size: int = Field(default=200, ge=1, le=2000, description="papers per API request")
    include_replacements: bool = Field(
        default=False, description="also list replaced (new-version) papers from the RSS feed"
    )
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

    @field_validator("api_url", "rss_url", "pdf_url", mode="after")
    @classmethod
    def _urls(cls, value: str, info: ValidationInfo) -> str:
        default = cls.model_fields[info.field_name or ""].default
        return http_url(value, example=str(default))

    @field_validator("categories", mode="after")
    @classmethod
    def _arxiv_shaped(cls, categories: list[str]) -> list[str]:
        # A category goes into the listing's URL: one that is not arXiv's shape ("../x",
        # "cs.LG?x=1") would reach another path or query, and none at all would brief an
        # empty day as if arXiv had announced nothing.
        if not categories:
            raise ValueError(f"no arXiv category given; {CATEGORY_EXAMPLES}")
        for category in categories:
            if not CATEGORY.fullmatch(category):
                shown = repr(category if len(category) <= 40 else category[:40] + "…")
                raise ValueError(f"{shown} is not an arXiv category; {CATEGORY_EXAMPLES}")
        return categories


class ExtractSettings(Section):
    max_pages: int = Field(default=60, ge=1, description="pages read from each PDF")
    max_page_mb: float = Field(
        default=16.0,
        gt=0,
        le=1024,
        description="MiB of drawing instructions (decompressed) a page may hold to be read; a "
        "larger page is skipped and the report says so: MuPDF needs ~70 times its size in memory "
        "to read its text (a real paper's densest page holds under 1 MiB)",
    )
    max_memory_mb: int = Field(
        default=2048,
        ge=256,
        description="MiB of address space each extract worker process may map; a paper that "
        "needs more fails alone (the corpus peaks at ~0.3 GiB)",
    )


class ChunkSettings(Section):
    max_tokens: int = Field(default=1200, ge=50, description="tokens per chunk")
    overlap: int = Field(default=100, ge=0, description="tokens repeated between chunks")
    paper_budget: int = Field(
        default=40000, ge=100, description="tokens of one paper kept for reading (selection policy)"
    )
    encoding: str | None = Field(
        default=None,
        description="force a tiktoken encoding (default: the model's own)",
        examples=["cl100k_base"],
    )

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
        },
        description=f"impact rubric weights; names from {', '.join(RUBRIC)}",
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

    interests: str = Field(
        default=(
            "R&D, product and strategy leads in AI/ML: deployment relevance, efficiency and "
            "cost, security and safety of deployed systems, and capability advances."
        ),
        description="who the briefing is for; triage and summaries are written for them",
    )
    top: int = Field(default=15, ge=1, description="papers read in full after triage")
    triage_batch: int = Field(default=15, ge=1, le=40, description="papers per triage call")
    depth: Literal["budget", "full"] = Field(
        default="budget",
        description="budget: read the sections that matter most (abstract, contributions, "
        "method overview, results, limitations, conclusion) within `budget` tokens, in one "
        "call; full: read the whole paper (up to chunk.paper_budget) by map-reduce",
    )
    budget: int = Field(
        default=4500,
        ge=300,
        description="tokens of paper text a budgeted read keeps; the prompt and schema add "
        "about 1.3k more to the call",
    )
    single_call_budget: int = Field(
        default=12000, ge=500, description="input tokens above which map-reduce is used"
    )
    reread: bool = Field(default=False, description="summarize papers seen on earlier days")


class PromptSettings(Section):
    dir: Path | None = Field(
        default=None,
        description="folder of prompt files (default: the prompts shipped with paperbrief)",
        examples=["prompts"],
    )
    summarize: str = Field(default="default", description="variant in prompts/summarize/")
    triage: str = Field(default="default", description="variant in prompts/triage/")
    notes: str = Field(default="default", description="variant in prompts/notes/ (map step)")
    digest: str = Field(default="default", description="variant in prompts/digest/ (weekly)")


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
    cache_dir: Path = Field(
        default=Path("cache"), description="the cache, relative to this file's folder"
    )
    out_dir: Path = Field(
        default=Path("out"), description="where briefings are written, relative to this file"
    )
    llm: LLMSettings = Field(
        default_factory=LLMSettings, description="the summarizer: backend, model, limits, cost"
    )
    arxiv: ArxivSettings = Field(
        default_factory=ArxivSettings, description="what is listed and how arXiv is asked"
    )
    extract: ExtractSettings = Field(
        default_factory=ExtractSettings, description="reading text out of PDFs"
    )
    chunk: ChunkSettings = Field(
        default_factory=ChunkSettings, description="splitting a paper for the model"
    )
    rank: RankSettings = Field(default_factory=RankSettings, description="ordering the papers")
    prompts: PromptSettings = Field(
        default_factory=PromptSettings, description="which prompt files are used"
    )
    reading: ReadingSettings = Field(
        default_factory=ReadingSettings, description="who reads, and how many papers in full"
    )
    report: ReportSettings = Field(
        default_factory=ReportSettings, description="the weekly report's audience and length"
    )
    compare: CompareSettings = Field(
        default_factory=CompareSettings, description="when `compare` asks before spending"
    )


# The tables of settings ([llm], [arxiv], ...), as opposed to a top-level setting.
SECTIONS = frozenset(
    name
    for name, field in Settings.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, Section)
)

# Where a value came from, for `paperbrief config` and for error messages.
DEFAULT = "default"

Leaf = tuple[str, ...]


@dataclass(frozen=True)
class Loaded:
    """The settings, the file they were read from (None: no paperbrief.toml found) and, for
    each setting given by a layer, where it came from ("file ...", "env NAME", "flag")."""

    settings: Settings
    config_file: Path | None
    origins: dict[Leaf, str]

    def origin(self, path: Leaf) -> str:
        if path in self.origins:
            return self.origins[path]
        if path in ANCHORED and self.config_file is not None:
            return f"{DEFAULT}, beside {self.config_file}"
        return DEFAULT


# Paths that belong to a project: written relative to its paperbrief.toml, not to wherever the
# command runs, so a run from a subfolder finds the same cache (ruff and git find their root so).
ANCHORED: tuple[Leaf, ...] = (("cache_dir",), ("out_dir",))


def find_config(start: Path) -> Path | None:
    """The nearest paperbrief.toml in `start` or a folder above it."""
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return candidate
    return None


def load_settings(
    config: Path | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
    start: Path | None = None,
) -> Settings:
    """Merge the three layers. `config=None` reads the nearest paperbrief.toml from `start`
    (default: the working directory) upward, when there is one."""
    return load(config, env, flags, start).settings


def load(
    config: Path | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
    start: Path | None = None,
    flag_names: Mapping[str, str] | None = None,
) -> Loaded:
    """`load_settings`, keeping which file was read and where every given value came from.
    `flag_names` maps a dotted setting to the flag that gives it, for messages ("--top")."""
    path = config if config is not None else find_config((start or Path.cwd()).absolute())
    file_layer = _file_layer(path) if path is not None else {}
    env_layer, env_names = _env_layer_named(env or {})
    flag_layer = _nested(flags or {})
    origins: dict[Leaf, str] = {}
    for layer, name_of in (
        (file_layer, lambda leaf: f"file {path}"),
        (env_layer, lambda leaf: f"env {env_names[leaf]}"),
        (flag_layer, lambda leaf: f"flag {(flag_names or {}).get('.'.join(leaf), '')}".strip()),
    ):
        origins.update({leaf: name_of(leaf) for leaf in _leaves(layer)})
    merged: dict[str, Any] = {}
    for layer in (file_layer, env_layer, flag_layer):
        _deep_merge(merged, layer)
    if path is not None:
        _anchor(merged, origins, path.absolute().parent)
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        raise SettingsError(_one_error(exc, origins)) from exc
    return Loaded(settings, path, origins)


def _anchor(merged: dict[str, Any], origins: Mapping[Leaf, str], root: Path) -> None:
    """Project paths from the file, or left at their defaults, are relative to the file's
    folder; from the environment or a flag they stay relative to the working directory, as
    the user typed them there."""
    for leaf in ANCHORED:
        if origins.get(leaf, DEFAULT).startswith(("file", DEFAULT)):
            (key,) = leaf
            given = merged.get(key, Settings.model_fields[key].default)
            # A value of the wrong type (cache_dir = 5) is left for validation to name.
            if isinstance(given, str | os.PathLike):
                merged[key] = root / Path(given)  # an absolute path stays as it is


def _one_error(exc: ValidationError, origins: Mapping[Leaf, str]) -> str:
    """The first problem in one line: the key, what is wrong, and where the value came from.

    A validator's own message is shown without pydantic's "Value error, " prefix: it was
    written for the user already."""
    err = exc.errors()[0]
    loc = tuple(str(p) for p in err["loc"])
    error = (err.get("ctx") or {}).get("error")
    message = str(error) if err["type"] == "value_error" and error is not None else err["msg"]
    if err["type"] == "path_type":  # pydantic's "Input is not a valid path for <class ...>"
        shown = repr(err["input"])
        shown = shown if len(shown) <= 60 else shown[:60] + "…"
        message = f"expected a path as a quoted string, not {type(err['input']).__name__} {shown}"
    given = next((origins[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in origins), None)
    # A section's own check (chunk.overlap against chunk.max_tokens) names the section only:
    # then every value given inside it is a suspect.
    inside = sorted({o for leaf, o in origins.items() if leaf[: len(loc)] == loc and loc})
    suspects = [given] if given else inside
    where = (
        f"from {' and '.join(suspects)}"
        if suspects
        else f"check {CONFIG_FILE}, the environment and the flags"
    )
    return f"setting {'.'.join(loc) or 'settings'}: {message} ({where})"


def _leaves(layer: Mapping[str, Any], prefix: Leaf = ()) -> list[Leaf]:
    """The settings a layer gives: section.key, or a top-level key; a table-valued setting
    (llm.prices, rank.weights) counts as one."""
    leaves: list[Leaf] = []
    for key, value in layer.items():
        if not prefix and isinstance(value, Mapping) and key in SECTIONS:
            leaves += _leaves(value, (key,))
        else:
            leaves.append((*prefix, key))
    return leaves


def _file_layer(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"config file {path} cannot be read ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise SettingsError(
            f"config file {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path} is not valid TOML: {exc}") from exc


def _env_layer_named(env: Mapping[str, str]) -> tuple[dict[str, Any], dict[Leaf, str]]:
    """The environment's layer, and which variable gave each setting."""
    layer: dict[str, Any] = {}
    names: dict[Leaf, str] = {}
    for name, value in env.items():
        if name in ENV_NAMES:
            path: tuple[str, ...] = ENV_NAMES[name]
        elif name.startswith("PAPERBRIEF_") and "__" in name:
            path = tuple(part.lower() for part in name[len("PAPERBRIEF_") :].split("__"))
        else:
            continue
        if value == "":
            continue
        # a setting is section.key, or a top-level key; deeper parts belong to it
        setting = path[:2] if path[0] in SECTIONS else path[:1]
        if not _settable(layer, path):
            raise SettingsError(
                f"setting {'.'.join(setting)}: env {name} gives part of a value that another "
                f"variable gives whole ({names.get(setting, 'env')}); unset one of them"
            )
        _set(layer, path, value)
        names[setting] = name
    return layer, names


def _settable(tree: Mapping[str, Any], path: tuple[str, ...]) -> bool:
    """Whether `_set` can put a value at `path`: no plain value on the way to it."""
    for part in path[:-1]:
        tree = tree.get(part, {})
        if not isinstance(tree, Mapping):
            return False
    return True


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
