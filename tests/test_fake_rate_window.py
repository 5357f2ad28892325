"""The fake server's provider-like limit: a rolling window charged with max_tokens on arrival."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from tests.fakes.openai_server import FakeOpenAI


def post(server: FakeOpenAI, max_tokens: int) -> tuple[int, dict[str, str]]:
    body = {
        "model": "gpt-test",
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": "Title: A short paper"}],
    }
    request = urllib.request.Request(
        server.base_url + "/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}


def ratelimit_headers(headers: dict[str, Any]) -> set[str]:
    return {name for name in headers if name.startswith("x-ratelimit-")}


def test_max_tokens_are_charged_on_arrival_and_only_remaining_and_reset_are_sent():
    with FakeOpenAI(tpm=1000, window=60, charge="max_tokens", limit_headers=False) as server:
        first, headers = post(server, 900)
        second, limited = post(server, 900)  # the first used far fewer than 900 tokens
        charged = server.charged
    assert (first, second) == (200, 429)
    assert ratelimit_headers(headers) == {
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-tokens",
    }
    assert int(headers["x-ratelimit-remaining-tokens"]) < 100
    assert float(limited["retry-after"]) > 50  # the rolling minute frees the grant in ~60 s
    assert len(charged) == 1 and charged[0] > 900


def test_by_default_a_request_is_charged_what_it_used():
    with FakeOpenAI(tpm=1000, window=60) as server:
        statuses = [post(server, 900)[0] for _ in range(2)]
        charged = server.charged
    assert statuses == [200, 200] and all(tokens < 900 for tokens in charged)
