"""Replies for FakeOpenAI's `reply_for` hook that fit whichever reply model a request asks for.

    with FakeOpenAI(reply_for=schema_reply) as server: ...

The reply model is read from `response_format.json_schema.name` (strict mode), else guessed from
the prompt (`<paper id=...>` blocks are a triage request, a "Part:" line a notes request), so
triage, notes and summarize calls all get schema-valid answers, deterministic per request.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from tests.fakes.openai_server import RUBRIC, default_summary, request_title

PAPER_ID = re.compile(r'<paper id="([^"]+)">')
PART_LINE = re.compile(r"^Part: ", re.MULTILINE)


def schema_reply(body: dict[str, Any]) -> str:
    kind = reply_kind(body)
    if kind == "TriageReply":
        return json.dumps(triage_reply(paper_ids(body)))
    if kind == "ChunkNotes":
        return json.dumps({"notes": ["A fact from this part."], "numbers": []})
    return json.dumps(default_summary(request_title(body)))


def reply_kind(body: dict[str, Any]) -> str:
    response_format = body.get("response_format") or {}
    name = (response_format.get("json_schema") or {}).get("name")
    if name:
        return str(name)
    text = user_text(body)
    if PAPER_ID.search(text):
        return "TriageReply"
    return "ChunkNotes" if PART_LINE.search(text) else "PaperSummary"


def user_text(body: dict[str, Any]) -> str:
    return "\n".join(
        str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "user"
    )


def paper_ids(body: dict[str, Any]) -> list[str]:
    """The ids of the first user message (a re-ask repeats the request, not new papers)."""
    for message in body.get("messages", []):
        if message.get("role") == "user":
            return PAPER_ID.findall(str(message.get("content", "")))
    return []


def triage_reply(ids: list[str]) -> dict[str, Any]:
    items = []
    for paper_id in ids:
        digest = hashlib.sha256(paper_id.encode()).digest()
        rubric = {
            name: {"score": 1 + digest[i] % 10, "rationale": f"Fake {name} rating."}
            for i, name in enumerate(RUBRIC)
        }
        items.append({"paper_id": paper_id, "gist": f"Gist of {paper_id}.", "rubric": rubric})
    return {"items": items}
