"""A credential in `--base-url` never reaches a file or the terminal: messages, run.json,
reports, cache metadata and cache keys all hold the redacted URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.llm.backends import backend_for
from pipeline.redaction import redacted
from pipeline.settings import load_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.workspace import Workspace

SECRET = "s3cret-pass"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("http://user:s3cret@host/v1", "http://***@host/v1"),
        (
            "failed: https://tok@api.example.com:8443/x and more",
            "failed: https://***@api.example.com:8443/x and more",
        ),
        ("endpoint 'http://a:b@h' said", "endpoint 'http://***@h' said"),
        (
            "http://host/v1?next=a@b",
            "http://host/v1?next=a@b",
        ),  # an @ after the host is not userinfo
        ("mail me at a@b.org", "mail me at a@b.org"),
    ],
)
def test_userinfo_is_redacted_and_nothing_else(text: str, shown: str):
    assert redacted(text) == shown


def files_holding(root: Path, needle: str) -> list[Path]:
    return [
        path for path in root.rglob("*") if path.is_file() and needle.encode() in path.read_bytes()
    ]


def test_credentials_in_the_base_url_stay_out_of_every_file(workspace: Workspace):
    with FakeOpenAI() as server:
        url = server.base_url.replace("http://", f"http://paperbrief:{SECRET}@")
        result = workspace.run("--base-url", url, env={"OPENAI_API_KEY": "test-key"})
        assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert files_holding(workspace.root, SECRET) == []
    assert list((workspace.cache / "summarize").rglob("*.meta.json"))  # the check saw them


def test_cache_keys_are_built_from_the_redacted_endpoint():
    def fingerprint(password: str) -> dict[str, object]:
        env = {"OPENAI_BASE_URL": f"http://me:{password}@127.0.0.1:8080/v1"}
        return backend_for(load_settings(env=env).llm).fingerprint()

    assert fingerprint(SECRET) == {"endpoint": "http://***@127.0.0.1:8080/v1"}
    assert fingerprint("another") == fingerprint(SECRET)  # a new password keeps the cache


def test_credentials_stay_out_of_errors_when_the_endpoint_fails(workspace: Workspace):
    url = f"http://paperbrief:{SECRET}@127.0.0.1:9/v1"
    result = workspace.run("--base-url", url, env={"PAPERBRIEF_LLM__MAX_RETRIES": "0"})
    assert result.returncode == 1
    assert "http://***@127.0.0.1:9/v1" in result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert files_holding(workspace.root, SECRET) == []
