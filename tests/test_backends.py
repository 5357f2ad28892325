"""Settings → backend: which one is registered, what identifies it, and what it makes."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from pipeline.llm.backends import (
    BACKENDS,
    Extractive,
    ExtractiveSummarizer,
    HeuristicTriager,
    LLMSummarizer,
    LocalGGUF,
    OpenAICompatible,
    backend_for,
)
from pipeline.llm.budget import BudgetedLLM
from pipeline.llm.extractive import ExtractiveBackend
from pipeline.llm.local_backend import LocalBackend
from pipeline.llm.openai_backend import OpenAIBackend
from pipeline.settings import load_settings


def test_every_backend_is_registered_under_its_own_name():
    assert set(BACKENDS) == {"openai", "local", "extractive"}
    assert all(name == backend.name for name, backend in BACKENDS.items())


def test_no_llm_configured_means_the_extractive_backend():
    backend = backend_for(load_settings(env={}).llm)
    assert isinstance(backend, Extractive)
    identity = backend.identity()
    assert (identity.name, identity.model, identity.fingerprint) == (
        "extractive",
        ExtractiveBackend.model,
        {},
    )
    assert identity.capabilities.cpu_bound and not identity.capabilities.structured_output
    summarizer = backend.summarizer()
    assert isinstance(summarizer, ExtractiveSummarizer) and summarizer.cpu_bound
    assert isinstance(backend.triager(), HeuristicTriager)


def test_an_endpoint_is_part_of_the_identity_of_a_model_name():
    local = backend_for(load_settings(env={"OPENAI_BASE_URL": "http://127.0.0.1:8080/v1/"}).llm)
    hosted = backend_for(load_settings(env={"OPENAI_API_KEY": "sk-test"}).llm)
    assert isinstance(local, OpenAICompatible)
    assert (local.name, local.model) == (hosted.name, hosted.model) == ("openai", "gpt-4o-mini")
    assert local.fingerprint() == {"endpoint": "http://127.0.0.1:8080/v1"}
    assert local.identity() != hosted.identity()
    assert local.identity().capabilities.remote


def test_clients_are_made_on_first_use_and_sit_behind_the_cost_cap():
    settings = load_settings(env={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}, flags={})
    backend = backend_for(settings.llm)
    assert backend._client is None  # identity needs no client
    summarizer = backend.summarizer()
    assert isinstance(summarizer, LLMSummarizer) and not summarizer.cpu_bound
    assert isinstance(summarizer.llm, OpenAIBackend)
    asyncio.run(backend.aclose())
    capped = load_settings(
        env={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}, flags={"llm.max_cost": 0.5}
    )
    llm = backend_for(capped.llm).summarizer().llm
    assert isinstance(llm, BudgetedLLM) and llm.cap == 0.5


def test_a_gguf_file_is_identified_by_its_size_time_and_context(tmp_path: Path):
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF" + bytes(60))
    os.utime(gguf, (1000, 1000))

    def backend(**env: str) -> LocalGGUF:
        made = backend_for(load_settings(env={"PAPERBRIEF_MODEL_PATH": str(gguf), **env}).llm)
        assert isinstance(made, LocalGGUF)
        return made

    local = backend()
    assert isinstance(local.make_client(), LocalBackend)  # nothing is loaded until a call
    assert (local.name, local.model) == ("local", "model.gguf")
    before = local.fingerprint()
    os.utime(gguf, (2000, 2000))  # replaced in place, same size
    assert local.fingerprint() != before
    touched = local.fingerprint()
    gguf.write_bytes(b"GGUF" + bytes(90))  # re-quantised, same name and time
    os.utime(gguf, (2000, 2000))
    assert local.fingerprint() != touched
    assert backend(PAPERBRIEF_LLM__N_CTX="4096").fingerprint() != local.fingerprint()
    assert backend(PAPERBRIEF_LLM__CHAT_FORMAT="gemma").model == "model.gguf:gemma"
