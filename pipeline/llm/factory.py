"""Build the configured backend, only when a stage actually needs to call it."""

from __future__ import annotations

from pipeline.llm.base import Backend
from pipeline.settings import LLMSettings


def make_backend(llm: LLMSettings) -> Backend:
    if llm.resolved_backend() == "extractive":
        from pipeline.llm.extractive import ExtractiveBackend

        return ExtractiveBackend()
    from pipeline.llm.openai_backend import OpenAIBackend

    return OpenAIBackend(
        llm.model,
        api_key=llm.api_key.get_secret_value() if llm.api_key else None,
        base_url=llm.base_url,
        prices=llm.prices,
        max_reasks=llm.max_reasks,
        timeout=llm.timeout,
        max_retries=llm.max_retries,
    )


def backend_identity(llm: LLMSettings) -> tuple[str, str]:
    """(backend, model) as they enter cache keys and reports, without building a client."""
    if llm.resolved_backend() == "extractive":
        from pipeline.llm.extractive import ExtractiveBackend

        return ExtractiveBackend.name, ExtractiveBackend.model
    return "openai", llm.model
