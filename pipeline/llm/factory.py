"""Build the configured backend, only when a stage actually needs to call it."""

from __future__ import annotations

from typing import Any

from pipeline.settings import LLMSettings


def make_backend(llm: LLMSettings) -> Any:
    """The extractive summarizer, or an `LLM` (openai or local); imports stay lazy."""
    backend = llm.resolved_backend()
    if backend == "extractive":
        from pipeline.llm.extractive import ExtractiveBackend

        return ExtractiveBackend()
    if backend == "local":
        from pipeline.llm.local_backend import LocalBackend

        assert llm.model_path is not None  # settings validation guarantees it
        return LocalBackend(
            llm.model_path,
            n_ctx=llm.n_ctx,
            chat_format=llm.chat_format,
            max_reasks=llm.max_reasks,
            seed=llm.seed,
            n_threads=llm.n_threads,
        )
    from pipeline.llm.openai_backend import OpenAIBackend

    return OpenAIBackend(
        llm.model,
        api_key=llm.api_key.get_secret_value() if llm.api_key else None,
        base_url=llm.base_url,
        prices=llm.effective_prices(),
        max_reasks=llm.max_reasks,
        timeout=llm.timeout,
        max_retries=llm.max_retries,
        requests_per_minute=llm.rpm,
        tokens_per_minute=llm.tpm,
        max_concurrency=llm.concurrency,
    )


def backend_identity(llm: LLMSettings) -> tuple[str, str]:
    """(backend, model) as they enter cache keys and reports, without building a client."""
    backend = llm.resolved_backend()
    if backend == "extractive":
        from pipeline.llm.extractive import ExtractiveBackend

        return ExtractiveBackend.name, ExtractiveBackend.model
    if backend == "local":
        assert llm.model_path is not None
        # the chat format changes the rendered prompt, so it is part of the model's identity
        suffix = f":{llm.chat_format}" if llm.chat_format else ""
        return "local", llm.model_path.name + suffix
    return "openai", llm.model


def backend_fingerprint(llm: LLMSettings) -> dict[str, Any]:
    """What else decides a reply besides the model's name, for cache keys.

    One model name can mean different models: "gpt-4o-mini" at OpenAI or whatever a local
    server answers to, and a GGUF file re-quantised in place keeps its name.
    """
    backend = llm.resolved_backend()
    if backend == "openai":
        from pipeline.llm.openai_backend import DEFAULT_ENDPOINT

        return {"endpoint": (llm.base_url or DEFAULT_ENDPOINT).rstrip("/").lower()}
    if backend == "local":
        assert llm.model_path is not None
        stat = llm.model_path.stat()
        return {
            "size": stat.st_size,
            "mtime": int(stat.st_mtime),
            "n_ctx": llm.n_ctx,
            "seed": llm.seed,
        }
    return {}
