"""Usage for a reply whose server sent none (some OpenAI-compatible servers omit `usage`).

Counted by our own tokenizer, the prompt from the request's messages and the completion from
the reply's text, and priced as a reported reply would be, so the run's totals and `--max-cost`
see the call; the `Usage` names the model in `estimated_models`, and the run says so wherever
it shows dollars (`accounting.cost_text`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from pipeline.llm.base import Price
from pipeline.models import Usage
from pipeline.tokens import Tokenizer, tokenizer_for

# What a chat message costs beyond its text (role and separators), and the reply's priming, as
# OpenAI's cookbook counts them for its chat models.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_REPLY = 3


def unreported_usage(
    model: str,
    turns: Sequence[dict[str, str]],
    reply: str,
    price: Price | None,
    seconds: float = 0.0,
) -> Usage:
    tokenizer = _tokenizer(model)
    prompt = sum(TOKENS_PER_MESSAGE + tokenizer.count(t.get("content") or "") for t in turns)
    prompt += TOKENS_PER_REPLY
    completion = tokenizer.count(reply)
    return Usage(
        calls=1,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost_usd=price.cost(prompt, completion) if price else 0.0,
        seconds=round(seconds, 4),
        unpriced_models=[] if price else [model],
        estimated_models=[model],
    )


@functools.cache
def _tokenizer(model: str) -> Tokenizer:
    # tokenizer_for checks the vocabulary's files on disk: once per model and process
    return tokenizer_for(model)
