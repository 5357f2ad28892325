"""The on-disk cache: every path, key and atomic write of paperbrief lives here.

Layout under the cache root::

    <stage>/<key[:2]>/<key>.json          the artifact (a pydantic model as JSON)
    <stage>/<key[:2]>/<key>.meta.json     what made it: stage, version, inputs, params, timings
    <stage>/<key[:2]>/<key>.failed.json   a remembered failure, so a known-bad input is not retried

A key (`pipeline.stage.stage_key`) is the hash of the stage name and version, the digests of its
inputs, the parameters it reads (settings, prompt text, reply schema) and the identity of the
tools it calls (the model and its endpoint). Inputs are identified by the digest of their
*content*, not by their own keys, so recomputing an upstream stage that produces a different
result (a forced LLM re-run) changes every downstream key.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

T = TypeVar("T", bound=BaseModel)

Warn = Callable[[str], None]


def digest(model: BaseModel) -> str:
    """Content digest of an artifact; pydantic's JSON dump is deterministic for one model."""
    return hashlib.sha256(model.model_dump_json().encode("utf-8")).hexdigest()


def file_digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Cache:
    def __init__(self, root: Path, warn: Warn | None = None) -> None:
        self.root = root
        self._warn = warn or (lambda message: None)

    def _path(self, stage: str, key: str, suffix: str) -> Path:
        return self.root / stage / key[:2] / f"{key}{suffix}"

    def get(self, stage: str, key: str, model: type[T]) -> T | None:
        """The cached artifact, or None. A corrupt entry is reported and treated as missing."""
        path = self._path(stage, key, ".json")
        try:
            return model.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValidationError, ValueError) as exc:
            self._warn(f"cache entry {path} is unreadable ({type(exc).__name__}); recomputing")
            return None

    def put(self, stage: str, key: str, value: BaseModel, meta: Mapping[str, Any]) -> None:
        """Store an artifact and its metadata; a failed write warns and the run goes on."""
        record = {"stage": stage, "key": key, "digest": digest(value), "created": time.time()}
        try:
            write_atomic(self._path(stage, key, ".json"), value.model_dump_json().encode())
            meta_blob = json.dumps({**record, **meta}, indent=2, default=str).encode()
            write_atomic(self._path(stage, key, ".meta.json"), meta_blob)
            self._path(stage, key, ".failed.json").unlink(missing_ok=True)
        except OSError as exc:
            self._warn(f"could not write cache entry for {stage} ({exc}); continuing uncached")

    def meta(self, stage: str, key: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self._path(stage, key, ".meta.json").read_bytes())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def failure(self, stage: str, key: str) -> str | None:
        """The reason a remembered failure was recorded, or None."""
        try:
            data = json.loads(self._path(stage, key, ".failed.json").read_bytes())
            return str(data["error"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put_failure(self, stage: str, key: str, error: str) -> None:
        blob = json.dumps({"stage": stage, "key": key, "error": error, "created": time.time()})
        try:
            write_atomic(self._path(stage, key, ".failed.json"), blob.encode())
        except OSError as exc:
            self._warn(f"could not remember a {stage} failure ({exc})")

    def pdf_path(self, paper_id: str) -> Path:
        """Where a downloaded paper's PDF lives; old-style ids ("hep-th/9901001") are flattened."""
        return self.root / "pdf" / f"{paper_id.replace('/', '_')}.pdf"

    def edition_path(self, day: date, edition: str) -> Path:
        """A day's briefing as a run left it (`pipeline.editions.Edition`)."""
        return self.root / "days" / day.isoformat() / f"{edition}.json"

    def put_edition(self, day: date, edition: str, value: BaseModel) -> None:
        try:
            write_atomic(self.edition_path(day, edition), value.model_dump_json().encode())
        except OSError as exc:
            self._warn(f"could not index the day's report in the cache ({exc}); continuing")

    def edition(self, day: date, edition: str, model: type[T]) -> T | None:
        """The indexed briefing of that day and edition, or None (missing or unreadable)."""
        path = self.edition_path(day, edition)
        try:
            return model.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValidationError, ValueError) as exc:
            self._warn(f"cache entry {path} is unreadable ({type(exc).__name__}); ignoring it")
            return None

    @contextmanager
    def run_lock(self, waiting: Callable[[str], None]) -> Iterator[None]:
        """Hold the cache for one run at a time, so two runs never pay twice for the same work.

        A second run waits (saying for whom, once) and then finds the first run's work in the
        cache. The lock is the kernel's (flock): it is released when its holder exits, however
        it ends, so a killed run never leaves a stale lock behind.
        """
        path = self.root / ".run.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another run"
                waiting(f"waiting for {holder} to finish with the cache {self.root}")
                fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            handle.truncate()
            handle.write(f"run pid {os.getpid()} (started {time.strftime('%H:%M:%S')})")
            handle.flush()
            try:
                yield
            finally:
                handle.truncate(0)
                fcntl.flock(handle, fcntl.LOCK_UN)

    def seen_path(self) -> Path:
        """The index of papers summarized on earlier days (by arXiv id without version)."""
        return self.root / "seen.json"

    def stats(self) -> dict[str, dict[str, int]]:
        """Entries and bytes per stage, for `paperbrief cache stats`."""
        out: dict[str, dict[str, int]] = {}
        if not self.root.is_dir():
            return out
        for stage_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            files = [p for p in stage_dir.rglob("*") if p.suffix in (".json", ".pdf")]
            artifacts = [p for p in files if not p.name.endswith((".meta.json", ".failed.json"))]
            artifacts = [p for p in artifacts if p.is_file()]
            out[stage_dir.name] = {
                "entries": len(artifacts),
                "failures": sum(p.name.endswith(".failed.json") for p in files),
                "bytes": sum(p.stat().st_size for p in files),
            }
        return out

    def clear(self, stage: str | None = None) -> int:
        """Delete cached entries (of one stage, or all); returns the number of files removed."""
        if not self.root.is_dir():
            return 0
        base = self.root / stage if stage else self.root
        removed = 0
        for path in sorted(base.rglob("*")) if base.is_dir() else []:
            if path.is_file() and path.suffix in (".json", ".pdf"):
                path.unlink(missing_ok=True)
                removed += 1
        return removed
