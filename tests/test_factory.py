"""Settings → backend: which one is built, and what identifies it in cache keys."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.llm.extractive import ExtractiveBackend
from pipeline.llm.factory import backend_fingerprint, backend_identity, make_backend
from pipeline.llm.local_backend import LocalBackend
from pipeline.llm.openai_backend import OpenAIBackend
from pipeline.settings import load_settings


def test_no_llm_configured_means_the_extractive_backend():
    llm = load_settings(env={}).llm
    assert isinstance(make_backend(llm), ExtractiveBackend)
    assert backend_identity(llm) == ("extractive", ExtractiveBackend.model)
    assert backend_fingerprint(llm) == {}


def test_an_endpoint_is_part_of_the_identity_of_a_model_name():
    local = load_settings(env={"OPENAI_BASE_URL": "http://127.0.0.1:8080/v1/"}).llm
    hosted = load_settings(env={"OPENAI_API_KEY": "sk-test"}).llm
    assert isinstance(make_backend(local), OpenAIBackend)
    assert backend_identity(local) == backend_identity(hosted) == ("openai", "gpt-4o-mini")
    assert backend_fingerprint(local) == {"endpoint": "http://127.0.0.1:8080/v1"}
    assert backend_fingerprint(local) != backend_fingerprint(hosted)


def test_a_gguf_file_is_identified_by_its_size_time_and_context(tmp_path: Path):
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF" + bytes(60))
    os.utime(gguf, (1000, 1000))
    llm = load_settings(env={"PAPERBRIEF_MODEL_PATH": str(gguf)}).llm
    backend = make_backend(llm)  # nothing is loaded until the first call
    assert isinstance(backend, LocalBackend)
    assert backend_identity(llm) == ("local", "model.gguf")
    before = backend_fingerprint(llm)
    os.utime(gguf, (2000, 2000))  # replaced in place, same size
    assert backend_fingerprint(llm) != before
    touched = backend_fingerprint(llm)
    gguf.write_bytes(b"GGUF" + bytes(90))  # re-quantised, same name and time
    os.utime(gguf, (2000, 2000))
    assert backend_fingerprint(llm) != touched
    bigger = load_settings(
        env={"PAPERBRIEF_MODEL_PATH": str(gguf), "PAPERBRIEF_LLM__N_CTX": "4096"}
    )
    assert backend_fingerprint(bigger.llm) != backend_fingerprint(llm)
    formatted = load_settings(
        env={"PAPERBRIEF_MODEL_PATH": str(gguf), "PAPERBRIEF_LLM__CHAT_FORMAT": "gemma"}
    ).llm
    assert backend_identity(formatted) == ("local", "model.gguf:gemma")
