"""Credentials never leave the process: the userinfo of any URL is redacted before it is shown,
written or hashed.

`--base-url http://user:secret@host/v1` is a legitimate way to reach a private endpoint, and the
same URL ends up in error messages, run.json, reports, cache metadata and cache keys; each of
them gets `http://***@host/v1` instead. The cache key is built from the redacted form, so changing
only a password does not throw away the cache (the endpoint is the same).
"""

from __future__ import annotations

import re

# scheme://userinfo@ — userinfo runs up to the first "@" before any "/", whitespace or quote.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@'\"<>]+@")


def redacted(text: str) -> str:
    """`text` with the userinfo of every URL in it replaced by `***`."""
    return _USERINFO.sub(r"\1***@", text)
