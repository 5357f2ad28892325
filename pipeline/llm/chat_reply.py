"""The few fields of a chat completion the openai backend reads, parsed straight from its JSON.

The SDK's `ChatCompletion` builds a model for every field of every choice (logprobs, tool calls,
audio, annotations) through its own lenient constructor: ~0.13 ms a reply, a tenth of the
client's time per call. These models read the text, the refusal, why it stopped and the usage
in one `model_validate_json` (Rust), and ignore the rest. Lenient like the SDK: a compatible
server that omits a field (usage, refusal, cached tokens) leaves its default, never an error.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

_READ_ONLY_WHAT_WE_USE = ConfigDict(extra="ignore", frozen=True)


class ReplyMessage(BaseModel):
    model_config = _READ_ONLY_WHAT_WE_USE

    content: str | None = None
    refusal: str | None = None


class ReplyChoice(BaseModel):
    model_config = _READ_ONLY_WHAT_WE_USE

    message: ReplyMessage = ReplyMessage()
    finish_reason: str | None = None


class PromptDetails(BaseModel):
    model_config = _READ_ONLY_WHAT_WE_USE

    cached_tokens: int | None = None


class ReplyUsage(BaseModel):
    model_config = _READ_ONLY_WHAT_WE_USE

    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt_tokens_details: PromptDetails | None = None


class ChatReply(BaseModel):
    """A chat completion as the backend reads it (a direct reply, or a batch output line's)."""

    model_config = _READ_ONLY_WHAT_WE_USE

    model: str = ""
    choices: list[ReplyChoice] | None = None  # none: an error the backend names
    usage: ReplyUsage | None = None
