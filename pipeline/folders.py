"""The cache and out folders checked before any work, and the output files written so that a
failed write is one line naming the file.

A cache or out path that is a file, lies under a file, or cannot be written in is found here,
before the feed is fetched or a paper read: found at the end, it would cost a whole day's work
and end in a traceback. A full disk can only be found when writing: then the file is named, and
what the run made stays in the cache for the same command to write out next time. A command's
files land together (`write_set`): a disk that fills halfway leaves the previous set as it was.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from pipeline.cache import staged as staged_file
from pipeline.errors import OutputError, UsageError
from pipeline.settings import Settings

CACHE_FIX = "choose another with --cache-dir, PAPERBRIEF_CACHE_DIR or cache_dir in paperbrief.toml"
OUT_FIX = "choose another with --out, PAPERBRIEF_OUT_DIR or out_dir in paperbrief.toml"


def check_cache(settings: Settings, *, create: bool = True) -> None:
    """The cache folder exists and can be written in, or can be made. `create=False`, for a
    command that only reads it or whose cache writes may fail with a warning: it may be
    missing or read-only, but it must not be a file."""
    usable_folder(settings.cache_dir, "cache folder", CACHE_FIX, create=create)


def check_out(settings: Settings) -> None:
    usable_folder(settings.out_dir, "output folder", OUT_FIX, create=True)


def usable_folder(path: Path, what: str, fix: str, *, create: bool) -> None:
    """`UsageError` naming `path` and what is wrong with it, unless it is a folder paperbrief
    can write in or make (`create`; else only: it is not a file). Nothing is left behind: a
    usage error later in the command must not leave an empty cache or out folder."""
    blocking = file_in_the_way(path)
    if blocking is not None:
        kind = "a link to nothing" if not blocking.exists() else "a file"
        raise UsageError(f"{what} {path} is not a folder: {blocking} is {kind}; {fix}")
    if not create:
        return
    base = next((p for p in (path, *path.parents) if os.path.lexists(p)), Path.cwd())
    try:
        # A probe, not os.access: root passes every permission check, and /proc or a
        # read-only mount refuse only an actual write.
        fd, probe = tempfile.mkstemp(dir=base, prefix=".paperbrief-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.ENOENT:  # /proc/self: a folder that takes no new file
            reason = "it takes no new files"
        where = "cannot be written in" if base == path else f"cannot be made in {base}"
        raise UsageError(f"{what} {path} {where} ({reason}); {fix}") from exc


def file_in_the_way(path: Path) -> Path | None:
    """The path itself or the nearest existing folder above it, when that is not a folder."""
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return None if candidate.is_dir() else candidate
    return None


def write_set(folder: Path, files: Mapping[str, bytes], *, drop: Iterable[str] = ()) -> None:
    """Write a command's output files into `folder` as one set, then remove `drop` (an older
    run's files this one replaces with nothing); `OutputError` naming the file when the disk is
    full, the folder is read-only or a folder is in the way.

    Each file is written whole under a temporary name beside its place first; only when all are
    written are they renamed into place (a rename within a folder needs no room). A failure
    removes what was written, so the folder keeps the previous set untouched, never new files
    beside an older run.json. With the user's umask: a briefing is meant to be shared."""
    staged: dict[Path, Path] = {}
    at, made = folder, not os.path.lexists(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for at in (folder / name for name in files):  # before any write, not between renames
            if at.is_dir() and not at.is_symlink():
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        for name, data in files.items():
            at = folder / name
            staged[at] = staged_file(at, data, private=False)
        for at, tmp in list(staged.items()):
            os.replace(tmp, at)
            del staged[at]
        for at in (folder / name for name in drop):
            at.unlink(missing_ok=True)
    except BaseException as exc:
        for tmp in staged.values():  # written, never renamed: a failure or an interrupt
            tmp.unlink(missing_ok=True)
        if made:  # a new folder (compare's, a first day's) is not left behind empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        if not isinstance(exc, OSError):
            raise
        raise OutputError(
            f"could not write {at} ({exc.strerror or exc}); what was made is cached: make "
            "room or fix the folder, then run the same command again"
        ) from exc
