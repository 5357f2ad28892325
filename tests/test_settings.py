"""Settings: paperbrief.toml < environment < flags, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import SettingsError
from pipeline.settings import load_settings


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "paperbrief.toml"
    path.write_text(text)
    return path


def test_defaults_choose_the_offline_backend():
    settings = load_settings(None, env={}, flags={})
    assert settings.llm.resolved_backend() == "extractive"
    assert settings.chunk.paper_budget == 40000
    assert settings.reading.single_call_budget == 12000
    assert sum(settings.rank.weights.values()) == pytest.approx(1.0)


def test_an_openai_key_or_base_url_switches_to_the_llm():
    assert load_settings(env={"OPENAI_API_KEY": "sk-x"}).llm.resolved_backend() == "openai"
    local = load_settings(env={"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"})
    assert local.llm.resolved_backend() == "openai"
    assert local.llm.base_url == "http://127.0.0.1:8000/v1"


def test_layers_override_in_order(tmp_path: Path):
    config = write_config(
        tmp_path,
        """
[llm]
concurrency = 2
model = "from-file"
timeout = 30
[chunk]
max_tokens = 900
""",
    )
    env = {"PAPERBRIEF_MODEL": "from-env", "PAPERBRIEF_CHUNK__MAX_TOKENS": "700"}
    settings = load_settings(
        config, env=env, flags={"llm.model": "from-flag", "llm.concurrency": None}
    )
    assert settings.llm.model == "from-flag"
    assert settings.chunk.max_tokens == 700
    assert settings.llm.timeout == 30
    assert settings.llm.concurrency == 2


def test_user_prices_extend_the_default_table(tmp_path: Path):
    config = write_config(tmp_path, '[llm.prices."my-model"]\ninput = 1.0\noutput = 2.0\n')
    prices = load_settings(config, env={}).llm.effective_prices()
    assert prices["my-model"].output == 2.0
    assert "gpt-4o-mini" in prices


def test_a_self_hosted_endpoint_is_not_billed_at_openai_prices(tmp_path: Path):
    local = load_settings(env={"OPENAI_BASE_URL": "http://127.0.0.1:8080/v1"}).llm
    assert local.model == "gpt-4o-mini" and local.effective_prices() == {}
    config = write_config(tmp_path, '[llm.prices."gpt-4o-mini"]\ninput = 0.01\noutput = 0.02\n')
    priced = load_settings(config, env={"OPENAI_BASE_URL": "http://127.0.0.1:8080/v1"}).llm
    assert priced.effective_prices()["gpt-4o-mini"].input == 0.01


def test_a_missing_gguf_file_is_a_usage_error(tmp_path: Path):
    with pytest.raises(SettingsError, match="not found; check --model-path"):
        load_settings(env={"PAPERBRIEF_MODEL_PATH": str(tmp_path / "none.gguf")})


def test_api_key_never_prints():
    settings = load_settings(env={"OPENAI_API_KEY": "sk-secret"})
    assert "sk-secret" not in repr(settings) and "sk-secret" not in settings.model_dump_json()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[llm]\nconcurrency = 0", "llm.concurrency"),
        ("[llm]\nbackend = 'gpt'", "llm.backend"),
        ("[chunk]\nmax_tokenz = 5", "chunk.max_tokenz"),
        ("concurrency = ", "not valid TOML"),
        ("[rank.weights]\nhype = 1.0", "rank.weights"),
    ],
)
def test_bad_settings_name_the_key(tmp_path: Path, text: str, needle: str):
    with pytest.raises(SettingsError, match=needle.replace(".", r"\.")):
        load_settings(write_config(tmp_path, text), env={})


def test_a_named_config_file_must_exist(tmp_path: Path):
    with pytest.raises(SettingsError, match="cannot be read"):
        load_settings(tmp_path / "missing.toml", env={})


def test_chunk_sizes_must_fit_together():
    with pytest.raises(SettingsError, match="overlap must be smaller"):
        load_settings(env={"PAPERBRIEF_CHUNK__OVERLAP": "2000"})
    with pytest.raises(SettingsError, match="paper_budget must be at least"):
        load_settings(env={"PAPERBRIEF_CHUNK__PAPER_BUDGET": "500"})
