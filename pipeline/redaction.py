"""Credentials never leave the process: the userinfo of any URL is redacted before it is shown,
written or hashed.

`--base-url http://user:secret@host/v1` is a legitimate way to reach a private endpoint, and the
same URL ends up in error messages, run.json, reports, cache metadata and cache keys; each of
them gets `http://***@host/v1` instead. The cache key is built from the redacted form, so changing
only a password does not throw away the cache (the endpoint is the same).

A server's error reply may quote the request, key included ("bad key sk-… for http://u:p@host"),
and not only as a URL: the password alone, `user:password`, percent-encoded, or the
`Authorization: Basic …` header the client built from it. `masked` hides each of those forms of
the secrets it is given (`url_secrets` lists them for a configured URL), and the clients (LLM and
arXiv) apply it where they make an error from a reply, so nothing downstream (run.json, reports,
cache entries, the terminal) ever holds them. `redacted`, applied to every message again before
it is shown or stored, knows no secret: it hides what is shaped like one.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, unquote, urlsplit

# scheme://userinfo@ — userinfo runs up to the first "@" before any "/", whitespace or quote.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@'\"<>]+@")


# An OpenAI-style secret key (sk-…, sk-proj-…), as a server's error text may echo it: a digit
# somewhere in it, so words such as "sk-learn-compatible" in a quoted title stay.
_OPENAI_KEY = re.compile(r"\bsk-(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{8,}")

# An Authorization header as a server may echo it: whatever follows "Authorization: <scheme>".
_AUTH_HEADER = re.compile(r"(?i)\b(authorization[\"']?\s*[:=]\s*[\"']?(?:[a-z]+\s+)?)[^\s\"',;)]+")
# Its credentials without the header's name ("Basic dXNl…", "Bearer abc123…"), shaped so that a
# title's "Basic Word2Vec embeddings" stays: Basic's base64 has 12 characters or more, upper and
# lower case and a digit or sign; a bearer token 16 or more, a digit among them.
_BASE64 = (
    r"(?=[A-Za-z0-9+/]*[A-Z])(?=[A-Za-z0-9+/]*[a-z])(?=[A-Za-z0-9+/]*[\d+/])"
    r"[A-Za-z0-9+/]{12,}={0,2}"
)
_TOKEN = r"(?=[\w.~+/-]*\d)[\w.~+/-]{16,}=*"
_AUTH_SCHEME = re.compile(rf"(?:\b((?i:basic)\s+){_BASE64}|\b((?i:bearer)\s+){_TOKEN})(?![\w+/=-])")

# Below this length a secret is not masked alone ("pw" would mask every "pw" in a message);
# its longer forms (`user:pw`, the Basic header) still are.
_SHORT = 4


def redacted(text: str) -> str:
    """`text` with the userinfo of every URL in it replaced by `***`, any OpenAI-shaped key by
    `sk-***` and echoed Basic/Bearer credentials by `***` (run.json, the cache and the terminal
    apply this to every message)."""
    text = _USERINFO.sub(r"\1***@", text)
    text = _AUTH_HEADER.sub(r"\1***", _OPENAI_KEY.sub("sk-***", text))
    return _AUTH_SCHEME.sub(lambda match: f"{match[1] or match[2]}***", text)


def masked(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`redacted(text)` without any of `secrets` (the API key in use, `url_secrets` of a
    configured URL) in any form a server may echo it in (as given, percent-encoded or decoded)."""
    forms = {form for secret in secrets if secret for form in _forms(secret)}
    for form in sorted(forms, key=len, reverse=True):  # "user:pass" before "pass"
        if len(form) >= _SHORT:
            text = text.replace(form, "***")
    return redacted(text)


def url_secrets(url: str | None) -> tuple[str, ...]:
    """What of `url` is secret, in the forms a server may echo: its password (or, with none,
    its user name: `http://TOKEN@host`), `user:password` and the Basic header's base64 of it."""
    if not url:
        return ()
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ()
    if "@" not in parts.netloc:
        return ()
    userinfo = parts.netloc.rpartition("@")[0]
    user, _, password = userinfo.partition(":")
    secrets = {userinfo, unquote(userinfo), password or user}
    for pair in (userinfo, f"{unquote(user)}:{unquote(password)}"):
        secrets.update(_basic(pair))
    return tuple(secret for secret in secrets if secret)


def _basic(pair: str) -> set[str]:
    """The Basic header's base64 of `user:password`, as httpx and others encode it (UTF-8, or
    Latin-1 when it fits), standard and URL-safe, with and without its padding."""
    found: set[str] = set()
    for encoding in ("utf-8", "latin-1"):
        try:
            raw = pair.encode(encoding)
        except UnicodeEncodeError:
            continue
        for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
            text = encoded.decode("ascii")
            found.update((text, text.rstrip("=")))
    return found


def _forms(secret: str) -> set[str]:
    """`secret` as given, percent-decoded and percent-encoded (path and form style)."""
    plain = unquote(secret)
    return {secret, plain, quote(plain, safe=""), quote_plus(plain, safe=""), quote(plain)}
