"""The SDK's async client, whose requests that differ only in their body reuse the last one's
URL and headers.

The SDK builds every request in `_build_request`: its headers merged with the client's,
validated and normalised several times over by httpx2, its URL parsed twice (~0.19 ms, about a
tenth of the client's time per completion; BENCHMARKS.md). A day's completions differ only in
their body, so once the SDK has built one, the next whose options, key and retry count are the
same gets that request's URL, headers and timeout with its own body. Anything else (a file, a
batch, another key or header, a cookie the server set) is built by the SDK as before; the SDK
still sends every request, maps every failure and retries none.
`tests/test_openai_request_path.py` checks that both ways build the same request, so an SDK
that starts building them differently fails there first.

Imported on first use only, like the `openai` package it extends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx2
import openai
from openai._models import FinalRequestOptions


@dataclass(frozen=True)
class _Built:
    """A request the SDK built, and what it was built from apart from its body."""

    shape: tuple[Any, ...]
    method: str
    url: httpx2.URL
    headers: httpx2.Headers  # the request's, but its Content-Length: each body sets its own
    extensions: dict[str, Any]  # the timeout


class ReusingClient(openai.AsyncOpenAI):
    _last: _Built | None = None

    def _build_request(
        self, options: FinalRequestOptions, *, retries_taken: int = 0
    ) -> httpx2.Request:
        body = options.content
        # Not for a file, a stream or JSON the SDK serialises itself; nor once a server has set
        # a cookie, which the next request must carry as the jar then holds it; nor for auth the
        # SDK works out per request (a provider runtime, workload identity).
        if (
            not isinstance(body, bytes)
            or self._client.cookies
            or self._provider_runtime is not None
            or self.workload_identity is not None
        ):
            return super()._build_request(options, retries_taken=retries_taken)
        shape = self._shape(options, retries_taken)
        last = self._last
        if last is not None and last.shape == shape:
            return httpx2.Request(
                last.method,
                last.url,
                headers=last.headers,
                content=body,
                extensions=last.extensions,
            )
        request = super()._build_request(options, retries_taken=retries_taken)
        headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"content-length"]
        built = (request.method, request.url, httpx2.Headers(headers), request.extensions)
        self._last = _Built(shape, *built)
        return request

    def _shape(self, options: FinalRequestOptions, retries_taken: int) -> tuple[Any, ...]:
        """Everything a request is built from but its body: the options' other fields, the
        key (a refreshed one changes the headers), the retry count (a header), and the
        client's own settings that reach the headers or URL (changed on a live client, they
        make the next request be built afresh)."""
        fields = dict(options.__dict__)
        del fields["content"]
        if self._idempotency_header is None:
            # Drawn afresh for every request, and sent only when the client names a header.
            del fields["idempotency_key"]
        settings = (self.organization, self.project, self.timeout, self._custom_headers)
        return (self.api_key, retries_taken, fields, settings, self._custom_query)
