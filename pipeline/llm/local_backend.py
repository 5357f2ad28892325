"""The `local` backend: a GGUF model run in-process by llama.cpp (`pip install .[local]`).

The model's own chat template formats the messages (read from the GGUF metadata unless
`chat_format` names one of llama-cpp-python's formats), and a grammar built from the reply
model's JSON schema constrains every token, so the reply is always JSON of the right shape.
The grammar does not enforce numeric ranges or every keyword, so the reply is still validated
here and re-asked a bounded number of times with the errors quoted, as the openai backend does.

llama.cpp contexts are not thread-safe: all calls run one at a time on one worker thread of
their own, so the event loop stays free and waiting calls queue without holding threads of the
default pool. Nothing is imported or loaded until the first call.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pipeline.errors import LLMError, ReplyTooLongError, UsageError
from pipeline.llm.base import Message, R, UsageSink
from pipeline.llm.replies import reask_until_valid
from pipeline.models import Usage

if TYPE_CHECKING:
    from llama_cpp import Llama

    from pipeline.stopping import Stop

log = logging.getLogger(__name__)

INSTALL_HINT = "the local backend needs `pip install .[local]` (llama-cpp-python)"
# llama-cpp-python's chat formats that drop system messages; their text goes into the first
# user turn instead, as the models' own templates do (Gemma's puts it before the user's text).
FORMATS_WITHOUT_SYSTEM = frozenset({"gemma"})


class LocalBackend:
    """Answers with a validated pydantic object from a GGUF model run by llama-cpp-python."""

    name = "local"

    def __init__(
        self,
        model_path: Path,
        *,
        n_ctx: int = 8192,
        chat_format: str | None = None,
        max_reasks: int = 2,
        seed: int = 0,
        n_threads: int | None = None,
        stop: Stop | None = None,
    ) -> None:
        self.model_path = Path(model_path)
        self.model = self.model_path.name
        self.n_ctx = n_ctx
        self.chat_format = chat_format
        self.max_reasks = max(0, max_reasks)
        self.seed = seed
        self.n_threads = n_threads
        self._llama: Llama | None = None
        self._load_lock = threading.Lock()
        self._worker: ThreadPoolExecutor | None = None
        self._checked_schemas: set[str] = set()
        self.stop = stop  # the run's: a call still queued for the model is then never run

    async def structured(
        self,
        messages: list[Message],
        reply_model: type[R],
        *,
        temperature: float,
        max_tokens: int,
        task: str,
        on_usage: UsageSink,
    ) -> R:
        schema = reply_model.model_json_schema()

        async def send(turns: list[dict[str, str]]) -> str:
            completion, seconds = await self._run(turns, schema, temperature, max_tokens, task)
            spent = _usage(completion, seconds)
            on_usage(spent)
            return self._reply_text(completion, max_tokens, task)

        turns = [m.model_dump() for m in messages]
        return await reask_until_valid(
            send,
            turns,
            reply_model,
            max_reasks=self.max_reasks,
            model=self.model,
            task=task,
            on_usage=on_usage,
        )

    def close(self) -> None:
        """Free the model and stop the worker thread; a later call loads the model again."""
        if self._worker is not None:
            self._worker.shutdown(wait=True)
            self._worker = None
        with self._load_lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None

    # --- one call ---------------------------------------------------------------------

    async def _run(
        self,
        turns: list[dict[str, str]],
        schema: dict[str, Any],
        temperature: float,
        max_tokens: int,
        task: str,
    ) -> tuple[dict[str, Any], float]:
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")
        loop = asyncio.get_running_loop()
        call = (turns, schema, temperature, max_tokens, task)
        return await loop.run_in_executor(self._worker, self._complete, *call)

    def _complete(
        self,
        turns: list[dict[str, str]],
        schema: dict[str, Any],
        temperature: float,
        max_tokens: int,
        task: str,
    ) -> tuple[dict[str, Any], float]:
        """One blocking chat completion, on the worker thread."""
        if self.stop is not None:
            self.stop.check(task)
        llama = self._get_llama()
        self._check_schema(schema, task)
        started = time.monotonic()
        try:
            completion = llama.create_chat_completion(
                messages=self._for_template(llama, turns),  # type: ignore[arg-type]
                response_format={"type": "json_object", "schema": schema},
                temperature=temperature,
                max_tokens=max_tokens,
                seed=self.seed,
            )
        except ValueError as exc:
            if "exceed context window" in str(exc):
                raise self._too_long_for_context(exc, task) from exc
            raise LLMError(f"llama.cpp failed on {self.model}: {exc}", stage=task) from exc
        return cast("dict[str, Any]", completion), time.monotonic() - started

    def _reply_text(self, completion: dict[str, Any], max_tokens: int, task: str) -> str:
        """The reply's text; a reply cut off by max_tokens or n_ctx is an error, never data."""
        choice = completion["choices"][0]
        if choice.get("finish_reason") == "length":
            written = int((completion.get("usage") or {}).get("completion_tokens", max_tokens))
            if written < max_tokens:  # llama.cpp shortens max_tokens to what n_ctx leaves
                message = (
                    f"reply cut off after {written} tokens by the end of n_ctx={self.n_ctx}; "
                    "raise n_ctx or lower reading.budget (chunk.paper_budget with --depth full)"
                )
            else:
                message = (
                    f"reply cut off at max_tokens={max_tokens}; "
                    "raise max_tokens in the prompt header or shorten the input"
                )
            raise ReplyTooLongError(message, stage=task)
        return str(choice["message"].get("content") or "")

    def _for_template(self, llama: Llama, turns: list[dict[str, str]]) -> list[dict[str, str]]:
        """The turns as the chat format can take them: no system role where it has none."""
        if llama.chat_format not in FORMATS_WITHOUT_SYSTEM:
            return turns
        system = "\n\n".join(t["content"] for t in turns if t["role"] == "system")
        rest = [dict(t) for t in turns if t["role"] != "system"]
        if system and rest and rest[0]["role"] == "user":
            rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
        elif system:
            rest.insert(0, {"role": "user", "content": system})
        return rest

    def _check_schema(self, schema: dict[str, Any], task: str) -> None:
        """Fail loudly where llama-cpp-python would quietly drop to schema-less JSON."""
        text = json.dumps(schema, sort_keys=True)
        if text in self._checked_schemas:
            return
        from llama_cpp.llama_grammar import LlamaGrammar

        try:
            LlamaGrammar.from_json_schema(text, verbose=False)
        except Exception as exc:  # the converter raises bare Exception/ValueError/KeyError
            title = schema.get("title", "reply")
            message = f"llama.cpp cannot turn the {title} schema into a grammar: {exc}"
            raise LLMError(message, stage=task) from exc
        self._checked_schemas.add(text)

    # --- the model --------------------------------------------------------------------

    def _get_llama(self) -> Llama:
        with self._load_lock:
            if self._llama is None:
                self._llama = self._load()
            return self._llama

    def _load(self) -> Llama:
        if not self.model_path.is_file():
            raise UsageError(
                f"GGUF model file {self.model_path} not found; pass --model-path FILE.gguf"
            )
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise UsageError(INSTALL_HINT) from exc
        options: dict[str, Any] = {"n_threads": self.n_threads} if self.n_threads else {}
        try:
            llama = Llama(
                model_path=str(self.model_path),
                n_ctx=self.n_ctx,
                chat_format=self.chat_format,
                seed=self.seed,
                verbose=False,
                **options,
            )
        except ValueError as exc:  # llama.cpp's "Failed to load model from file"
            raise UsageError(f"could not load {self.model_path} as a GGUF model: {exc}") from exc
        if self.chat_format is None and "tokenizer.chat_template" not in llama.metadata:
            log.warning(
                "%s has no chat template; llama-cpp-python uses %s, which may not be the "
                "model's format: set the chat format (e.g. gemma, chatml, llama-3)",
                self.model,
                llama.chat_format,
            )
        return llama

    # --- errors -----------------------------------------------------------------------

    def _too_long_for_context(self, exc: ValueError, task: str) -> LLMError:
        return LLMError(
            f"paper too long for n_ctx={self.n_ctx} ({exc}); "
            "raise n_ctx or lower reading.budget (chunk.paper_budget with --depth full)",
            stage=task,
        )


def _usage(completion: dict[str, Any], seconds: float) -> Usage:
    reported = completion.get("usage") or {}
    return Usage(
        calls=1,
        prompt_tokens=int(reported.get("prompt_tokens", 0)),
        completion_tokens=int(reported.get("completion_tokens", 0)),
        seconds=round(seconds, 4),
    )
