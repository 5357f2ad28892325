"""What a stage is: one object that says what it reads and computes, and nothing about how it runs.

A stage declares its name, version, scope (one paper at a time, or the whole day), output model,
the settings it reads (`params`), the values it reads from a paper or the day (`inputs`), the
tools it calls (`uses`: the summarizer, the arXiv client, ...) and `compute`. The executor
(`pipeline.executor`) hashes params, inputs and the identity of each tool into the cache key and
then calls `compute(**inputs, **params, **tools)` with exactly those values, so a key cannot miss
an ingredient: whatever compute can see was hashed. `apply` puts the output where later stages
read it.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel

from pipeline.cache import Stored, digest

if TYPE_CHECKING:
    from pipeline.settings import Settings

Scope = Literal["paper", "day"]
# Where compute runs: in the run's thread, in a worker process (CPU-bound, picklable values
# only), or on the run's event loop (network-bound, many at once).
Placement = Literal["inline", "process", "async"]

Target = TypeVar("Target")
Out = TypeVar("Out", bound=BaseModel)


class Stage(ABC, Generic[Target, Out]):
    name: ClassVar[str]
    version: ClassVar[int]
    scope: ClassVar[Scope]
    output: type[Out]
    # Deterministic stages remember failures, so a known-bad PDF is not read again every run;
    # network and LLM failures are often transient and are retried by the next run.
    remember_failures: ClassVar[bool] = False
    # Tools handed to compute by name; each tool's identity joins the key (see Tools.identity).
    uses: ClassVar[tuple[str, ...]] = ()
    # A big output that only the next stage's compute reads (a Document, Chunks): a cache hit
    # is applied as a reference (`cache.Stored`), and a worker process stores what it made and
    # sends back only the reference, so the run's process never holds the text.
    lazy: ClassVar[bool] = False

    def params(self, settings: Settings) -> dict[str, Any]:
        """The settings compute reads, by keyword; the same for every paper of a run."""
        return {}

    def wanted(self, target: Target, params: Mapping[str, Any]) -> bool:
        """Whether this paper (or the day) goes through the stage at all."""
        return True

    @abstractmethod
    def inputs(self, target: Target) -> dict[str, Any]:
        """The values compute reads from the paper or the day, by keyword."""

    # compute(**inputs, **params, **tools) -> Out, or an awaitable of it; each stage spells out
    # its own keywords, which is why this is not a method signature to override.
    compute: Callable[..., Out | Awaitable[Out]]

    @abstractmethod
    def apply(self, target: Target, output: Out) -> None:
        """Put the output where the later stages and the report read it."""

    def placement(self, tools: Any) -> Placement:
        return "inline"

    def worker_memory(self, settings: Settings) -> int | None:
        """Bytes of address space each of the stage's worker processes may map (None: no
        limit), so one hostile paper fails alone instead of exhausting the machine."""
        return None

    def size(self, inputs: Mapping[str, Any]) -> int:
        """One paper's expected work (its compute keywords), for ordering: concurrent jobs
        start largest first, so a day does not end waiting on one long paper. 0: as listed."""
        return 0

    def reusable(self, params: Mapping[str, Any]) -> bool:
        """Whether a cached output may be served (today's RSS listing never is)."""
        return True

    def keeps(self, output: Out) -> bool:
        """Whether a fresh output is stored (a listing with warnings may be incomplete)."""
        return True

    def complete(self, output: Out) -> bool:
        """Whether a cached output is whole; a run of the stage makes a partial one again
        (triage with a batch on heuristics), while --only downstream still reads it."""
        return True

    def still_valid(self, output: Out) -> bool:
        """Whether a cached output still stands for something real (a PDF on disk)."""
        return True

    def failed_day(self, error: Exception) -> str:
        """The warning when a whole-day stage fails; the run goes on without its output."""
        return f"{self.name}: {error}"


Digester = Callable[[BaseModel], str]
# Values that enter a key as they are: checked by exact type first, before the costlier checks.
_PLAIN = frozenset({str, int, float, bool, type(None)})


def key_part(value: Any, digest_of: Digester = digest) -> Any:
    """A value as it enters a key: models by content digest (a PDF by its bytes' digest, not its
    path), containers element by element, plain values as they are. `digest_of` may know a
    model's digest already (the executor's, from the cache's metadata)."""
    if type(value) in _PLAIN:  # most parts; BaseModel and Mapping are costly isinstance checks
        return value
    if isinstance(value, Stored):
        return value.digest
    if isinstance(value, BaseModel):
        own = getattr(value, "key_digest", None)
        return own() if callable(own) else digest_of(value)
    if isinstance(value, Mapping):
        return {str(k): key_part(v, digest_of) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [key_part(v, digest_of) for v in value]
    return value


def stage_key(
    stage: Stage[Any, Any],
    inputs: Mapping[str, Any],
    params: Mapping[str, Any],
    tools: Mapping[str, Any],
    digest_of: Digester = digest,
) -> str:
    return keyed(stage, inputs, fixed_parts(params, tools), digest_of)


def fixed_parts(params: Mapping[str, Any], tools: Mapping[str, Any]) -> tuple[str, str]:
    """A stage's params and tool identities as their key JSON: the same for every paper of a
    run, so the executor writes them once per stage, not once per paper."""
    return _key_json(key_part(params)), _key_json(key_part(tools))


def keyed(
    stage: Stage[Any, Any],
    inputs: Mapping[str, Any],
    fixed: tuple[str, str],
    digest_of: Digester = digest,
) -> str:
    """The key of `{"inputs", "params", "stage", "tools", "version"}` as sorted compact JSON,
    written piecewise in that order (byte for byte what one `json.dumps` of it would give)."""
    params, tools = fixed
    blob = (
        f'{{"inputs":{_key_json(key_part(inputs, digest_of))},"params":{params},'
        f'"stage":{_key_json(stage.name)},"tools":{tools},"version":{_key_json(stage.version)}}}'
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


# What `json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))` builds on each
# call, built once: a cached day writes 6,000 key parts.
_KEY_ENCODER = json.JSONEncoder(sort_keys=True, default=str, separators=(",", ":"))


def _key_json(value: Any) -> str:
    return _KEY_ENCODER.encode(value)
