"""What every LLM backend does with a reply that failed validation: re-ask, then give up clearly."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pydantic import BaseModel, ValidationError

from pipeline.errors import InvalidReplyError
from pipeline.llm.base import R, UsageSink
from pipeline.models import Usage

# One call to the model with these chat turns: the reply's text. The backend reports what the
# call cost through the caller's usage sink before it returns or raises.
Send = Callable[[list[dict[str, str]]], Awaitable[str]]

MAX_ERRORS_QUOTED = 5


def brief_errors(exc: ValidationError) -> str:
    """The first few validation errors on one line, as the model and the user should see them."""
    errors = exc.errors(include_url=False, include_input=False)
    parts = [f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in errors]
    extra = len(parts) - MAX_ERRORS_QUOTED
    quoted = "; ".join(parts[:MAX_ERRORS_QUOTED])
    return quoted + (f"; and {extra} more" if extra > 0 else "")


def reask_text(exc: ValidationError, model_name: str = "PaperSummary") -> str:
    """The user turn that asks the model to fix its previous reply."""
    return (
        f"Your reply was not a valid {model_name} JSON object. Validation errors: "
        f"{brief_errors(exc)}. Reply again with the corrected JSON object only: "
        "no prose, no code fences."
    )


def unfenced(reply: str) -> str:
    """The JSON inside a ```json fence, which local models add despite the schema."""
    text = reply.strip()
    if text.startswith("```") and text.endswith("```"):
        text = text[3:-3].removeprefix("json").strip()
    return text


def invalid_reply(
    model: str,
    reply_model: type[BaseModel],
    *,
    tries: int,
    reply: str,
    exc: ValidationError,
    task: str,
) -> InvalidReplyError:
    """The error raised when re-asks run out; it keeps the last reply."""
    message = (
        f"model {model} gave no valid {reply_model.__name__} in {tries} tries "
        f"(last: {brief_errors(exc)}); try a stronger model or a simpler prompt"
    )
    return InvalidReplyError(message, last_reply=reply, stage=task)


async def reask_until_valid(
    send: Send,
    turns: list[dict[str, str]],
    reply_model: type[R],
    *,
    max_reasks: int,
    model: str,
    task: str,
    on_usage: UsageSink | None = None,
) -> R:
    """Ask, validate, and re-ask with the validation errors up to `max_reasks` times.

    Every backend goes through here; each attempt's cost was reported by `send` as it was spent.
    Each re-ask is reported to `on_usage` as `Usage(reasks=1)` (no tokens: `send` counted them),
    so a record says how often its replies were not valid the first time.
    """
    reply, error = "", None
    for attempt in range(max_reasks + 1):
        reply = await send(turns)
        try:
            return reply_model.model_validate_json(unfenced(reply))
        except ValidationError as exc:
            error = exc
        if on_usage is not None and attempt < max_reasks:
            on_usage(Usage(reasks=1))
        turns = [
            *turns,
            {"role": "assistant", "content": reply},
            {"role": "user", "content": reask_text(error, reply_model.__name__)},
        ]
    assert error is not None  # the loop ran at least once (max_reasks >= 0) and failed
    raise invalid_reply(
        model, reply_model, tries=max_reasks + 1, reply=reply, exc=error, task=task
    ) from error
