"""What every LLM backend does with a reply that failed validation: re-ask, then give up clearly."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from pipeline.errors import InvalidReplyError
from pipeline.models import Usage

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
    usage: Usage,
    task: str,
) -> InvalidReplyError:
    """The error raised when re-asks run out; it keeps the last reply and what it all cost."""
    message = (
        f"model {model} gave no valid {reply_model.__name__} in {tries} tries "
        f"(last: {brief_errors(exc)}); try a stronger model or a simpler prompt"
    )
    return InvalidReplyError(message, last_reply=reply, usage=usage, stage=task)
