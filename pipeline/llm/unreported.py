"""Tokens of a reply whose server sent no usage (some OpenAI-compatible servers omit `usage`).

Counted by our own tokenizer, the prompt from the request's messages and the completion from
the reply's text; the backend prices them as a reported reply's, so the run's totals and
`--max-cost` see the call, and names the model in the `Usage`'s `estimated_models`, which the
run says wherever it shows dollars (`accounting.cost_text`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from pipeline.tokens import Tokenizer, tokenizer_for

# What a chat message costs beyond its text (role and separators), and the reply's priming, as
# OpenAI's cookbook counts them for its chat models.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_REPLY = 3


def estimated_tokens(model: str, turns: Sequence[dict[str, str]], reply: str) -> tuple[int, int]:
    """The request's prompt tokens and the reply's completion tokens, as `model` counts them."""
    tokenizer = _tokenizer(model)
    prompt = sum(TOKENS_PER_MESSAGE + tokenizer.count(t.get("content") or "") for t in turns)
    return prompt + TOKENS_PER_REPLY, tokenizer.count(reply)


@functools.cache
def _tokenizer(model: str) -> Tokenizer:
    # tokenizer_for checks the vocabulary's files on disk: once per model and process
    return tokenizer_for(model)
