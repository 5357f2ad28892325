"""Credentials never leave the process: the userinfo of any URL is redacted before it is shown,
written or hashed.

`--base-url http://user:secret@host/v1` is a legitimate way to reach a private endpoint, and the
same URL ends up in error messages, run.json, reports, cache metadata and cache keys; each of
them gets `http://***@host/v1` instead. The cache key is built from the redacted form, so changing
only a password does not throw away the cache (the endpoint is the same).

A server's error reply may quote the request, key included ("bad key sk-… for http://u:p@host"):
`masked` also hides the configured API key and anything shaped like an OpenAI key, and the
LLM clients apply it where they make an error from a reply, so nothing downstream (run.json,
reports, cache entries, the terminal) ever holds it.
"""

from __future__ import annotations

import re

# scheme://userinfo@ — userinfo runs up to the first "@" before any "/", whitespace or quote.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@'\"<>]+@")


# An OpenAI-style secret key (sk-…, sk-proj-…), as a server's error text may echo it: a digit
# somewhere in it, so words such as "sk-learn-compatible" in a quoted title stay.
_OPENAI_KEY = re.compile(r"\bsk-(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{8,}")


def redacted(text: str) -> str:
    """`text` with the userinfo of every URL in it replaced by `***`, and any OpenAI-shaped key
    by `sk-***` (run.json, the cache and the terminal apply this to every message)."""
    return _OPENAI_KEY.sub("sk-***", _USERINFO.sub(r"\1***@", text))


def masked(text: str, secrets: tuple[str | None, ...] = ()) -> str:
    """`redacted(text)` without any of `secrets` (the API key in use) or an OpenAI-shaped key."""
    for secret in secrets:
        if secret and len(secret) >= 4:  # a one-letter "key" would mask every such letter
            text = text.replace(secret, "***")
    return redacted(text)
