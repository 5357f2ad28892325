"""The on-disk cache: every path, key and atomic write of paperbrief lives here.

Layout under the cache root::

    <stage>/<key[:2]>/<key>.json          the artifact (a pydantic model as JSON)
    <stage>/<key[:2]>/<key>.meta.json     what made it: stage, version, inputs, params, timings
    <stage>/<key[:2]>/<key>.failed.json   a remembered failure, so a known-bad input is not retried
    digests.json                          PDFs already hashed: path, size, times, inode -> digest
    index/<day>.json                      that day's entries: stage/key, artifact's stat -> digest

A key (`pipeline.stage.stage_key`) is the hash of the stage name and version, the digests of its
inputs, the parameters it reads (settings, prompt text, reply schema) and the identity of the
tools it calls (the model and its endpoint). Inputs are identified by the digest of their
*content*, not by their own keys, so recomputing an upstream stage that produces a different
result (a forced LLM re-run) changes every downstream key.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from pipeline.errors import UsageError
from pipeline.redaction import redacted

T = TypeVar("T", bound=BaseModel)

Warn = Callable[[str], None]


def digest(model: BaseModel) -> str:
    """Content digest of an artifact; pydantic's JSON dump is deterministic for one model."""
    return hashlib.sha256(model_json(model)).hexdigest()


def model_json(model: BaseModel) -> bytes:
    """`model.model_dump_json().encode()`, byte for byte, as pydantic writes it: that method
    decodes pydantic's UTF-8 into a str, which was then encoded again (a cached day's report
    inputs and ranking are megabytes, and a cold day's Documents more)."""
    return model.__pydantic_serializer__.to_json(model)


def file_digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


class StatIndex:
    """Values learnt from files, each trusted while its file keeps the size, mtime, ctime, inode
    and device it had when the value was learnt: one JSON file read instead of every file again.

    Any write to a file changes its mtime and ctime (ctime cannot be set back by `touch -d` or a
    copy tool), a replaced file has another inode, so a changed file is learnt again. A file
    modified within the last `SETTLE` seconds is not remembered: a second write inside the
    clock's granularity could leave its times unchanged (git's "racily clean" entries). The
    index is a hint: a missing, stale or unreadable one costs only the reads it would have saved.
    """

    SETTLE = 2.0

    def __init__(self, path: Path, warn: Warn, what: str) -> None:
        self.path = path
        self._warn = warn
        self._what = what
        self._entries: dict[str, list[Any]] | None = None
        self._changed = False
        self._loading = threading.Lock()

    def known(self, name: str, stat: os.stat_result) -> Any:
        """The value learnt for `name` when its file had this stat, or None."""
        entry = self._load().get(name)
        # Anything but [size, mtime, ctime, inode, device, value] (an index edited by hand, or
        # written by another version) is unknown: the file is read again.
        if isinstance(entry, list) and len(entry) == 6 and entry[:-1] == _signature(stat):
            return entry[-1]
        return None

    def remember(self, name: str, stat: os.stat_result, value: Any, *, mine: bool = False) -> None:
        """Learn `value` for the file as `stat` describes it, unless it was written moments ago;
        `mine`: this run wrote it, holding the cache's lock, so nobody else writes it now."""
        if mine or time.time_ns() - stat.st_mtime_ns > self.SETTLE * 1e9:
            self._load()[name] = [*_signature(stat), value]
            self._changed = True
        else:
            self.forget(name)

    def forget(self, name: str) -> None:
        if self._load().pop(name, None) is not None:
            self._changed = True

    def save(self) -> None:
        """Write the index if this run changed it; a failed write warns and the run goes on."""
        if not self._changed or self._entries is None:
            return
        try:
            write_atomic(self.path, json.dumps(self._entries, separators=(",", ":")).encode())
            self._changed = False
        except OSError as exc:
            self._warn(f"could not write {self._what} {self.path} ({exc}); continuing")

    def _load(self) -> dict[str, list[Any]]:
        with self._loading:  # digests are taken two files at a time (`pipeline.feeding`)
            return self._loaded()

    def _loaded(self) -> dict[str, list[Any]]:
        if self._entries is None:
            try:
                loaded = json.loads(self.path.read_bytes())
                self._entries = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                self._entries = {}  # missing or unreadable: every file is read once more
        return self._entries


class DigestIndex(StatIndex):
    """Content digests of files already hashed, known by path and stat (`StatIndex`).

    A cached day of 500 PDFs would otherwise re-read 800 MB to learn what it knew (seconds with
    a cold page cache). A file touched but unchanged is hashed again and keeps its digest.
    """

    def __init__(self, path: Path, warn: Warn) -> None:
        super().__init__(path, warn, "the PDF digest index")

    def held(self, file: Path) -> str | None:
        """The file's digest if the index knows it as the file is now, else None."""
        try:
            known = self.known(os.path.abspath(file), os.stat(file))
        except OSError:
            return None  # said by `digest`, which reads it
        return str(known) if known is not None else None

    def digest(self, file: Path) -> str:
        """The file's digest, read from the index or hashed."""
        name = os.path.abspath(file)
        before = os.stat(file)
        known = self.known(name, before)
        if known is not None:
            return str(known)
        sha = file_digest(file)
        if _signature(os.stat(file)) == _signature(before):  # unchanged while it was read
            self.remember(name, before, sha)
        else:
            self.forget(name)
        return sha


def _signature(stat: os.stat_result) -> list[int]:
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev]


def write_atomic(path: Path, data: bytes, *, private: bool = True) -> None:
    """Write via a temporary file in the same folder, then rename: readers never see half a file.

    `private` (cache entries): the file is the owner's alone (mkstemp's -rw-------).
    `private=False` (reports, paperbrief.toml): created with the user's umask like any file
    they make, so a briefing in a shared folder can be read by the team.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = staged(path, data, private=private)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def staged(path: Path, data: bytes, *, private: bool = True) -> Path:
    """`data` in a new temporary file beside `path` (`.<name>.<random>.tmp`), for the caller to
    `os.replace` onto `path`: the room it needs is taken now, so a full disk fails here, never
    at the rename. A write that fails removes its temporary file; `private` as `write_atomic`."""
    if private:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    else:
        fd, name = _open_shared(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def _open_shared(path: Path) -> tuple[int, str]:
    """A new temporary file beside `path`, opened with mode 0o666 so the kernel applies the
    umask (reading the umask would mean setting it, which races with other threads)."""
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), str(tmp)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


class CorruptEntryError(Exception):
    """A cached artifact served by reference could not be read when it was needed."""


class Stored(Generic[T]):
    """A cached artifact by reference: its path, its content digest and its scalar fields as
    the metadata recorded them, read from disk only when something needs the whole of it.

    A cache hit that only keys the next stage (a cached day's Documents and Chunks) then costs
    one small metadata read, and a worker process can load its input itself instead of the run
    sending it. Attribute access falls back to loading, so a reader of one scalar field (the
    report's page counts) never loads, and any other reader still gets the real value. It never
    keeps what it loaded: holding it is what this avoids.
    """

    def __init__(
        self, path: Path | str, model: type[T], digest: str, facts: dict[str, Any]
    ) -> None:
        self.file = str(path)  # a Path is made only when asked for: 1,500 hits a cached day
        self.model = model
        self.digest = digest
        self.facts = facts

    def load(self) -> T:
        try:
            with open(self.file, "rb") as fh:
                return self.model.model_validate_json(fh.read())
        except (OSError, ValidationError, ValueError) as exc:
            raise CorruptEntryError(
                f"cache entry {self.file} is unreadable ({type(exc).__name__})"
            ) from exc

    def __getattr__(self, name: str) -> Any:
        model = self.__dict__.get("model")
        known = model is not None and (name in model.model_fields or hasattr(model, name))
        if name.startswith("_") or not known:  # pickling probes dunders before __dict__ is set
            raise AttributeError(name)
        facts = self.__dict__.get("facts", {})
        return facts[name] if name in facts else getattr(self.load(), name)

    def __repr__(self) -> str:
        return f"Stored({self.model.__name__}, {os.path.basename(self.file)})"


def loaded(value: T | Stored[T]) -> T | None:
    """The artifact itself, read if it is a reference (None if it proves unreadable)."""
    if not isinstance(value, Stored):
        return value
    try:
        return value.load()
    except CorruptEntryError:
        return None


# What the day's index holds of an entry besides its digest: a small artifact itself (a paper's
# feed entry: 500 small reads a cached day, 0.1 s with a cold page cache), and a reference's
# short fields (the report's page counts; a Document's abstract, read by no cached run, stays in
# its .meta.json and is read from the artifact if ever asked for).
INLINE_BYTES = 4096
SHORT_FACT = 200


def _inline(blob: bytes) -> str | None:
    return blob.decode("utf-8") if len(blob) <= INLINE_BYTES else None


def _short(facts: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in facts.items() if not isinstance(v, str) or len(v) <= SHORT_FACT}


def _facts(value: BaseModel) -> dict[str, Any]:
    """The artifact's plain top-level fields (a Document's page counts, title, abstract)."""
    return {
        name: field
        for name, field in value.__dict__.items()
        if isinstance(field, int | float | bool) or (isinstance(field, str) and len(field) < 4096)
    }


class Cache:
    """The cache at `root`. A run's handle names its `day`: the digests (and a lazy artifact's
    fields) of the entries that day's runs looked up or stored are then learnt from one index
    file, `index/<day>.json`, each checked by one stat of its artifact, instead of from each
    entry's `.meta.json` (2,000 small reads for a cached day of 500 papers)."""

    def __init__(self, root: Path, warn: Warn | None = None, day: date | None = None) -> None:
        self.root = root
        self._warn = warn or (lambda message: None)
        self.digests = DigestIndex(root / DIGESTS, self._warn)
        self.entries = (
            None
            if day is None
            else StatIndex(root / INDEX / f"{day.isoformat()}.json", self._warn, "the day's index")
        )

    def save_indexes(self) -> None:
        """Write what this run learnt (PDF digests, the day's entries); a failure only warns."""
        self.digests.save()
        if self.entries is not None:
            self.entries.save()

    def _path(self, stage: str, key: str, suffix: str) -> Path:
        return Path(self._file(stage, key, suffix))

    def _file(self, stage: str, key: str, suffix: str) -> str:
        # a string: a cached day looks up 3,000 entries, and making a Path costs more than
        # reading a small one
        return f"{self.root}/{stage}/{key[:2]}/{key}{suffix}"

    def get(self, stage: str, key: str, model: type[T]) -> T | None:
        """The cached artifact, or None. A corrupt entry is reported and treated as missing."""
        read = self._read(self._file(stage, key, ".json"), model)
        return read[0] if read is not None else None

    def _read(self, path: str, model: type[T]) -> tuple[T, os.stat_result, bytes] | None:
        """The artifact at `path`, with the stat and bytes it was read as, or None when there is
        none; a corrupt one is reported and treated as missing."""
        try:
            with open(path, "rb") as fh:
                stat, blob = os.fstat(fh.fileno()), fh.read()
            return model.model_validate_json(blob), stat, blob
        except FileNotFoundError:
            return None
        except (OSError, ValidationError, ValueError) as exc:
            self._warn(f"cache entry {path} is unreadable ({type(exc).__name__}); recomputing")
            return None

    def get_with_digest(self, stage: str, key: str, model: type[T]) -> tuple[T, str | None] | None:
        """The cached artifact and its content digest as the day's index or its metadata knows
        it (None when neither does), or None: the digest keys downstream stages without
        re-serialising the artifact."""
        path = self._file(stage, key, ".json")
        try:
            known = self._known(stage, key, os.stat(path))
        except OSError:
            known = None  # missing, or unreadable: said below
        if known is not None and isinstance(known[2], str):  # a small entry, held by the index
            with contextlib.suppress(ValidationError, ValueError):
                return model.model_validate_json(known[2]), known[0]
        read = self._read(path, model)
        if read is None:
            return None
        value, stat, blob = read
        known = self._known(stage, key, stat)
        if known is not None:
            return value, known[0]
        meta = self.meta(stage, key) or {}
        stored, size = meta.get("digest"), meta.get("bytes")
        # Trusted only for the artifact it was written with (same size): an entry rewritten or
        # half-replaced by an older version's writes is digested afresh by the caller.
        if not (isinstance(stored, str) and isinstance(size, int) and stat.st_size == size):
            return value, None
        self._learn(stage, key, stat, [stored, None, _inline(blob)])
        return value, stored

    def stored(self, stage: str, key: str, model: type[T]) -> Stored[T] | None:
        """The cached artifact by reference, when the day's index (the artifact's stat unchanged)
        or its metadata (the artifact's size unchanged) says what it is: digest and fields; else
        None (read it with `get`, which detects a corrupt entry). A damaged entry that still
        passes is caught when loaded."""
        path = self._file(stage, key, ".json")
        try:
            stat = os.stat(path)
        except OSError:
            return None
        known = self._known(stage, key, stat)
        if known is not None and isinstance(known[1], dict):
            return Stored(path, model, known[0], known[1])  # fields read from the index
        meta = self.meta(stage, key)
        if meta is None:
            return None
        found, size, facts = meta.get("digest"), meta.get("bytes"), meta.get("facts")
        if not (isinstance(found, str) and isinstance(size, int) and isinstance(facts, dict)):
            return None  # stored before references: read it whole once
        if stat.st_size != size:
            return None
        self._learn(stage, key, stat, [found, _short(facts), None])
        return Stored(path, model, found, facts)

    def learn(self, stage: str, key: str, stored: Stored[Any]) -> None:
        """Index an artifact a worker process of this run stored (it sent back the reference)."""
        with contextlib.suppress(OSError):
            entry = [stored.digest, _short(stored.facts), None]
            self._learn(stage, key, os.stat(stored.file), entry, mine=True)

    def _known(self, stage: str, key: str, stat: os.stat_result) -> list[Any] | None:
        """[digest, fields (a reference's) or None, the entry's text (a small one) or None]."""
        known = None if self.entries is None else self.entries.known(f"{stage}/{key}", stat)
        fits = isinstance(known, list) and len(known) == 3 and isinstance(known[0], str)
        return known if fits else None

    def _learn(
        self, stage: str, key: str, stat: os.stat_result, value: list[Any], mine: bool = False
    ) -> None:
        if self.entries is not None:
            self.entries.remember(f"{stage}/{key}", stat, value, mine=mine)

    def put(
        self,
        stage: str,
        key: str,
        value: BaseModel,
        meta: Mapping[str, Any],
        *,
        by_reference: bool = False,
        indexed: bool = True,
    ) -> str:
        """Store an artifact and its metadata, and return its digest; a failed write warns and
        the run goes on. `by_reference`: the day's index keeps its fields too (`stored`).
        `indexed=False`: an entry only ever read whole by `get` (a map step's notes, a batch
        record) stays out of the day's index, which every later run of the day loads.

        The artifact is what makes an entry exist, so it goes last, and an old one goes first:
        a run killed between the writes leaves no entry (only metadata, which the next put
        rewrites), never an artifact without its metadata or beside another's."""
        blob = model_json(value)
        sha, facts = hashlib.sha256(blob).hexdigest(), _facts(value)  # = digest(value), dumped once
        record = {
            "stage": stage,
            "key": key,
            "digest": sha,
            "bytes": len(blob),
            "facts": facts,
            "created": time.time(),
        }
        artifact = self._path(stage, key, ".json")
        try:
            artifact.unlink(missing_ok=True)
            meta_blob = json.dumps({**record, **meta}, indent=2, default=str).encode()
            write_atomic(self._path(stage, key, ".meta.json"), meta_blob)
            write_atomic(artifact, blob)
            self._path(stage, key, ".failed.json").unlink(missing_ok=True)
            if indexed:
                held = [_short(facts), None] if by_reference else [None, _inline(blob)]
                self._learn(stage, key, os.stat(artifact), [sha, *held], mine=True)
        except OSError as exc:
            # metadata that may now describe another artifact would key downstream stages
            with contextlib.suppress(OSError):
                self._path(stage, key, ".meta.json").unlink(missing_ok=True)
            self._warn(f"could not write cache entry for {stage} ({exc}); continuing uncached")
        return sha

    def remove(self, stage: str, key: str) -> None:
        """Remove an entry kept out of the day's index (`put(indexed=False)`); the artifact
        goes first, as in `put`, so a run stopped midway leaves no entry, only metadata."""
        try:
            for suffix in (".json", ".meta.json", ".failed.json"):
                self._path(stage, key, suffix).unlink(missing_ok=True)
        except OSError as exc:
            self._warn(f"could not remove cache entry {stage}/{key} ({exc}); continuing")

    def meta(self, stage: str, key: str) -> dict[str, Any] | None:
        try:
            with open(self._file(stage, key, ".meta.json"), "rb") as fh:
                data = json.loads(fh.read())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def failure(self, stage: str, key: str) -> str | None:
        """The reason a remembered failure was recorded, or None."""
        path = self._file(stage, key, ".failed.json")
        if not os.access(path, os.F_OK):  # the usual answer, without raising: 1,000 a cached day
            return None
        try:
            with open(path, "rb") as fh:
                data = json.loads(fh.read())
            return str(data["error"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put_failure(self, stage: str, key: str, error: str) -> None:
        error = redacted(error)  # an error may quote a configured URL with its password
        blob = json.dumps({"stage": stage, "key": key, "error": error, "created": time.time()})
        try:
            write_atomic(self._path(stage, key, ".failed.json"), blob.encode())
        except OSError as exc:
            self._warn(f"could not remember a {stage} failure ({exc})")

    def has(self, stage: str, key: str) -> bool:
        """Whether an entry (an artifact, or a remembered failure) is stored under `key`."""
        return any(os.path.exists(self._file(stage, key, s)) for s in (".json", ".failed.json"))

    def holds(self, stage: str) -> bool:
        """Whether any run has stored entries of `stage` here."""
        return (self.root / stage).is_dir()

    def pdf_path(self, paper_id: str) -> Path:
        """Where a downloaded paper's PDF lives; old-style ids ("hep-th/9901001") are flattened."""
        return self.root / "pdf" / f"{paper_id.replace('/', '_')}.pdf"

    def edition_path(self, day: date, edition: str) -> Path:
        """A day's briefing as a run left it (`pipeline.editions.Edition`)."""
        return self.root / "days" / day.isoformat() / f"{edition}.json"

    def put_edition(self, day: date, edition: str, value: BaseModel) -> None:
        try:
            write_atomic(self.edition_path(day, edition), model_json(value))
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
            self._warn(
                f"the briefing of {day.isoformat()} ({edition}) in {path} is unreadable "
                f"({type(exc).__name__}); run that day again to remake it "
                f"(`paperbrief run --date {day.isoformat()}`)"
            )
            return None

    @contextmanager
    def run_lock(self, waiting: Callable[[str], None]) -> Iterator[None]:
        """Hold the cache for one run at a time, so two runs never pay twice for the same work.

        A second run waits (saying for whom, once) and then finds the first run's work in the
        cache. The lock is the kernel's (flock): it is released when its holder exits, however
        it ends, so a killed run never leaves a stale lock behind.
        """
        path = self.root / LOCK
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
        return self.root / SEEN

    def stats(self) -> dict[str, dict[str, int]]:
        """Entries, remembered failures and bytes per stage folder, for `paperbrief cache stats`."""
        out: dict[str, dict[str, int]] = {}
        if not self.root.is_dir():
            return out
        for stage_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            files = [p for p in _files_under(stage_dir) if p.suffix in (".json", ".pdf")]
            artifacts = [p for p in files if not p.name.endswith((".meta.json", ".failed.json"))]
            out[stage_dir.name] = {
                "entries": len(artifacts),
                "failures": sum(p.name.endswith(".failed.json") for p in files),
                "bytes": sum(p.lstat().st_size for p in files),
            }
        return out

    def foreign(self) -> str | None:
        """Why the root does not look like a paperbrief cache, or None when it does.

        `clear` deletes nothing elsewhere: a mistyped --cache-dir (a home folder, a project)
        must not lose a file. The marker written at the first run says "ours"; a cache made
        before the marker is recognised by holding stage folders and nothing paperbrief
        would not write.
        """
        if (self.root / MARKER).is_file():
            return None
        try:
            names = sorted(p.name for p in self.root.iterdir())
        except OSError as exc:
            return f"it cannot be read: {exc.strerror}"
        # A leftover ".seen.json.<random>.tmp" is ours too: a write_atomic cut short.
        ours = {*known_folders(), SEEN, DIGESTS, LOCK}
        unknown = [n for n in names if n not in ours and not _our_temporary(n)]
        if unknown:
            shown = ", ".join(unknown[:3]) + (", …" if len(unknown) > 3 else "")
            return f"it holds {shown}, which paperbrief does not write"
        if not any(n in known_folders() for n in names):
            return "it has no stage folders (feed, extract, pdf, …)"
        return None

    def mark(self) -> None:
        """Tag the root as a paperbrief cache (and, per the CACHEDIR.TAG convention, as
        something backup tools may skip) unless it already holds files of another kind."""
        try:
            if self.root.is_dir() and self.foreign() is not None:
                return
            if not (self.root / MARKER).is_file():
                write_atomic(self.root / MARKER, MARKER_TEXT.encode(), private=False)
        except OSError:
            pass  # a cache that cannot be written says so at its first entry, with the path

    def clear(
        self,
        stage: str | None = None,
        older_than: float | None = None,
        waiting: Callable[[str], None] = lambda message: None,
    ) -> int:
        """Delete cached entries, of one stage or all, optionally only those last written more
        than `older_than` seconds ago, then the folders left empty; returns files removed.

        Only paperbrief's own folders (and, for a full clear, its seen index) are touched.
        Raises `UsageError` when the root does not look like a paperbrief cache. Holds the run
        lock (`waiting` hears whom it waits for): a running run holds entries by reference
        and reads them later, so they must not go from under it.
        """
        if not self.root.is_dir():
            return 0
        if (why := self.foreign()) is not None:
            raise UsageError(
                f"{self.root} is not a paperbrief cache ({why}); nothing removed. "
                "Check --cache-dir and PAPERBRIEF_CACHE_DIR"
            )
        with self.run_lock(waiting):
            return self._cleared(stage, older_than)

    def _cleared(self, stage: str | None, older_than: float | None) -> int:
        folders = [stage] if stage else sorted(known_folders())
        cutoff = None if older_than is None else time.time() - older_than
        removed = 0
        for name in folders:
            base = self.root / name
            if not base.is_dir() or base.is_symlink():
                continue
            for path in _files_under(base):
                if cutoff is None or path.lstat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
                    removed += 1
            _remove_empty_folders(base)
        if stage is None and older_than is None:
            # A clean slate: papers from earlier days are read again.
            for path in self.root.iterdir():
                if path.name in (SEEN, DIGESTS) or _our_temporary(path.name):
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed


MARKER = "CACHEDIR.TAG"
MARKER_TEXT = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This folder is a paperbrief cache (see https://bford.info/cachedir/).\n"
    "# `paperbrief cache clear` empties it; everything here can be recomputed.\n"
)
SEEN = "seen.json"
DIGESTS = "digests.json"
INDEX = "index"  # index/<day>.json: the day's entries, by stage and key (Cache.entries)
LOCK = ".run.lock"  # held by a running run; kept by clear (another run may hold it)


def _our_temporary(name: str) -> bool:
    return name.startswith((f".{SEEN}.", f".{DIGESTS}.")) and name.endswith(".tmp")


# Folders paperbrief writes besides the stages': map-step notes, triage's batches, the weekly
# synthesis, the index of each day's briefing, batch mode's batches, and each day's index of
# entries.
EXTRA_FOLDERS = ("pdf", "notes", "triage-batches", "digest", "judge", "days", "batches", INDEX)


def known_folders() -> frozenset[str]:
    from pipeline.record import STAGES  # record imports this module for write_atomic

    return frozenset((*STAGES, *EXTRA_FOLDERS))


def _files_under(folder: Path) -> list[Path]:
    """Every file below `folder`, without following links out of it."""
    return [
        Path(top) / name for top, _, names in os.walk(folder, followlinks=False) for name in names
    ]


def _remove_empty_folders(base: Path) -> None:
    for top, _, _ in sorted(os.walk(base, followlinks=False), reverse=True):
        with contextlib.suppress(OSError):  # rmdir refuses a folder that is not empty
            Path(top).rmdir()
