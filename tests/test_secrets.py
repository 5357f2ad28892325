"""A credential in `--base-url` never reaches a file or the terminal: messages, run.json,
reports, cache metadata and cache keys all hold the redacted URL."""

from __future__ import annotations

import base64
import subprocess
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from pipeline.llm.backends import backend_for
from pipeline.redaction import masked, redacted, url_secrets
from pipeline.settings import load_settings
from tests.fakes.arxiv_server import FakeArxiv, FakePaper, api_error_feed, make_papers
from tests.fakes.http import LocalServer, QuietHandler
from tests.fakes.openai_server import FakeOpenAI, error_body
from tests.workspace import Workspace, clean_env, paperbrief

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


def test_masking_hides_the_key_in_use_openai_keys_and_url_passwords():
    text = "bad key pb-KEY-1 and sk-proj-Abc123_xyz789 at http://u:pw@host/v1; sk-short ok"
    assert masked(text, ("pb-KEY-1", None)) == (
        "bad key *** and sk-*** at http://***@host/v1; sk-short ok"
    )
    assert masked("a b", ("a",)) == "a b"  # too short to be a key: never mask every "a"
    assert redacted("sk-learn-compatible, sk-SECRETKEY123") == "sk-learn-compatible, sk-***"


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


def test_config_shows_no_password_of_any_url(tmp_path: Path):
    env = clean_env(
        OPENAI_BASE_URL=f"http://user:{SECRET}@127.0.0.1:8000/v1",
        PAPERBRIEF_ARXIV_API_URL=f"http://bob:{SECRET}@127.0.0.1:9/api/query",
        PAPERBRIEF_ARXIV_RSS_URL=f"http://bob:{SECRET}@127.0.0.1:9/rss/",
        PAPERBRIEF_ARXIV_PDF_URL=f"http://bob:{SECRET}@127.0.0.1:9/pdf/",
    )
    result = paperbrief("config", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert 'llm.base_url = "http://***@127.0.0.1:8000/v1"' in result.stdout
    assert 'arxiv.rss_url = "http://***@127.0.0.1:9/rss/"' in result.stdout


def test_an_arxiv_behind_a_password_is_reached_and_the_password_kept_to_itself(tmp_path: Path):
    workspace = Workspace(tmp_path / "ws", day=date.today().isoformat())  # today's RSS
    papers = make_papers(4)
    with FakeArxiv(papers, rss=papers) as server:
        server.fail("/pdf/2603.00003", "404")  # a failure that quotes the URL, remembered
        server.fail("/pdf/2603.00004", "301", location="http://example.org/x.pdf")  # refused
        # a Location names no credentials: the same host is followed with the configured ones
        server.fail("/pdf/2603.00002", "301", location=f"{server.base_url}/pdf/2603.00001v1")
        env = {
            key: value.replace("http://", f"http://bob:{SECRET}@")
            for key, value in server.env().items()
        }
        result = workspace.run(env={**env, "PAPERBRIEF_CATEGORIES": "cs.LG"})
        sent = server.requests
    # it used to refuse its own URLs with a ValueError traceback
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    failed = {f["id"]: f["error"] for f in workspace.record()["failed"]}
    assert "http://***@127.0.0.1" in failed["2603.00003v1"]
    assert "refusing to fetch http://example.org/x.pdf" in failed["2603.00004v1"]
    assert "2603.00002v1" not in failed
    assert len([r for r in sent if r.path.startswith("/pdf/")]) == 5  # 4, and the redirect's
    assert all("authorization" in r.headers for r in sent)  # the credentials were used
    assert SECRET not in result.stdout + result.stderr
    assert files_holding(workspace.root, SECRET) == []


# An arXiv RSS feed behind a password, where nothing listens: the listing fails at once.
UNREACHABLE_ARXIV = {
    "PAPERBRIEF_ARXIV_RSS_URL": f"http://bob:{SECRET}@127.0.0.1:9/rss/",
    "PAPERBRIEF_ARXIV__MAX_RETRIES": "0",
}


def test_an_unreachable_arxiv_behind_a_password_is_one_line_without_it(tmp_path: Path):
    workspace = Workspace(tmp_path / "ws", day=date.today().isoformat())
    result = workspace.run("--categories", "cs.LG", env=UNREACHABLE_ARXIV)
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith(
        "paperbrief: error: arXiv RSS feed at http://***@127.0.0.1:9/rss/cs.LG: "
    )
    assert SECRET not in result.stdout + result.stderr
    assert files_holding(workspace.root, SECRET) == []


def test_debugs_traceback_goes_to_stderr_without_the_password(tmp_path: Path):
    workspace = Workspace(tmp_path / "ws", day=date.today().isoformat())
    command = workspace.command("--categories", "cs.LG")
    at = command.index("run")
    result = subprocess.run(
        [*command[:at], "--debug", *command[at:]],
        cwd=workspace.root,
        env={**workspace.env, **UNREACHABLE_ARXIV},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 3, result.stderr
    assert "Traceback" in result.stderr and "Traceback" not in result.stdout
    assert SECRET not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "url",
    ["http://bob:pw@127.0.0.1:9/rss/\x1b]8;;x\x07", "ftp://h/rss/", "h:80/rss", "http://a b/"],
)
def test_a_url_setting_that_is_no_http_url_is_a_usage_error_without_its_password(
    tmp_path: Path, url: str
):
    result = paperbrief(
        "config", cwd=tmp_path, env={**clean_env(), "PAPERBRIEF_ARXIV_RSS_URL": url}
    )
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("paperbrief: error: setting arxiv.rss_url: ")
    assert "is not an http(s) URL" in line and "(from env PAPERBRIEF_ARXIV_RSS_URL)" in line
    assert ":pw@" not in line and "\x1b" not in line


API_KEY = "pb-CONFIGURED-KEY-42"
OTHER_KEY = "sk-SECRETKEY123456"


class EchoingServer(FakeOpenAI):
    """Answers every chat request with an error that quotes the key and a credentialed URL."""

    def __init__(self, status: int, preamble: str = "") -> None:
        super().__init__()
        self.status = status
        self.preamble = preamble

    def _chat_reply(self, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        message = f"bad key {API_KEY} (or {OTHER_KEY}) for http://user:{SECRET}@llm.internal/v1"
        return self.status, {}, error_body(self.status, self.preamble + message)


def run_against(workspace: Workspace, server: FakeOpenAI) -> subprocess.CompletedProcess[str]:
    """A day run with API_KEY against `server`, no retries (each call fails once)."""
    env = {
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": server.base_url,
        "PAPERBRIEF_LLM__MAX_RETRIES": "0",
    }
    return workspace.run(env=env)


@pytest.mark.parametrize("status", [401, 500])
def test_an_llm_error_quoting_the_key_is_stored_and_shown_without_it(
    workspace: Workspace, status: int
):
    with EchoingServer(status) as server:
        result = run_against(workspace, server)
    assert result.returncode == 1, result.stderr
    failures = workspace.record()["failed"]
    assert failures and f"answered {status}: bad key *** (or sk-***)" in failures[0]["error"]
    assert "http://***@llm.internal/v1" in failures[0]["error"]
    for secret in (API_KEY, OTHER_KEY, SECRET):
        assert secret not in result.stdout + result.stderr
        assert files_holding(workspace.root, secret) == []


def test_a_key_the_server_quotes_where_the_message_is_cut_shows_no_part_of_it(
    workspace: Workspace,
):
    # The error line keeps 200 characters of the server's words: the key sits across the cut.
    with EchoingServer(401, preamble="the request was refused. " * 7) as server:
        result = run_against(workspace, server)
    assert result.returncode == 1, result.stderr
    [first, *_] = workspace.record()["failed"]
    assert "bad key ***" in first["error"]
    assert API_KEY[:6] not in result.stdout + result.stderr
    assert files_holding(workspace.root, API_KEY[:6]) == []


# A password that reads differently percent-encoded, and the forms a server may echo it in: as
# the URL holds it, decoded, as `user:password`, and as the Basic header's base64 of that.
PASSWORD = "s3cret/pass"
IN_URL = quote(PASSWORD, safe="")
BASIC = base64.b64encode(f"bob:{PASSWORD}".encode()).decode()
ECHOED = (PASSWORD, IN_URL, BASIC.rstrip("="))


def echo_of_credentials(authorization: str = f"Basic {BASIC}") -> str:
    return (
        f"invalid auth for bob:{PASSWORD} (password {PASSWORD}, as sent {IN_URL}; "
        f"Authorization: {authorization}; again {BASIC})"
    )


def test_masking_hides_every_form_of_a_url_password():
    secrets = url_secrets(f"http://bob:{IN_URL}@127.0.0.1:9/v1")
    assert masked(echo_of_credentials(), secrets) == (
        "invalid auth for *** (password ***, as sent ***; Authorization: Basic ***; again ***)"
    )
    assert masked("token tk99 and tk999", url_secrets("http://tk99@h/")) == "token *** and ***9"
    assert masked("u:pw, pw", url_secrets("http://u:pw@h/")) == "***, pw"  # too short alone
    # known to no one, an echoed header is still hidden; words after "Basic" are not
    assert redacted("Authorization: Basic dXNlcjpwYXNzd29yZA==") == "Authorization: Basic ***"
    assert redacted('{"authorization": "Bearer abc"}') == '{"authorization": "Bearer ***"}'
    for prose in ("Basic properties of Bearer tokens", "Basic Word2Vec embeddings"):
        assert redacted(prose) == prose


def no_echo_anywhere(result: subprocess.CompletedProcess[str], root: Path) -> None:
    for secret in ECHOED:
        assert secret not in result.stdout + result.stderr
        assert files_holding(root, secret) == []


class ErrorEchoingLLM(FakeOpenAI):
    """Answers every chat request with an error quoting the credentials in every form."""

    def _chat_reply(self, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        return 400, {}, error_body(400, echo_of_credentials(f"Bearer {API_KEY}"))


class RefusalEchoingLLM(FakeOpenAI):
    """Refuses every chat request in words quoting the credentials in every form."""

    def _chat_reply(self, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        self.script([{"refusal": echo_of_credentials()}])
        return super()._chat_reply(body)


@pytest.mark.parametrize("server", [ErrorEchoingLLM, RefusalEchoingLLM])
def test_an_llm_server_echoing_the_url_password_in_any_form_is_shown_and_stored_without_it(
    workspace: Workspace, server: type[FakeOpenAI]
):
    with server() as llm:
        url = llm.base_url.replace("http://", f"http://bob:{IN_URL}@")
        env = {"OPENAI_API_KEY": API_KEY, "PAPERBRIEF_LLM__MAX_RETRIES": "0"}
        result = workspace.run("--base-url", url, env=env)
    assert result.returncode == 1, result.stderr
    [first, *_] = workspace.record()["failed"]
    assert "invalid auth for *** (password ***" in first["error"]
    assert API_KEY not in result.stdout + result.stderr  # as "Bearer KEY" too
    assert files_holding(workspace.root, API_KEY) == []
    no_echo_anywhere(result, workspace.root)


class EchoingArxiv(FakeArxiv):
    """An arXiv whose API errors and PDFs quote the credentials each request was sent with."""

    def api_reply(self, query: dict[str, str], *, empty: bool = False) -> tuple[int, str]:
        return 400, api_error_feed(self._echo())

    def pdf_bytes(self, paper: FakePaper) -> bytes:
        return self._echo().split("(password ")[1].encode()  # quoted by "not a PDF (starts…"

    def _echo(self) -> str:
        authorization = self.requests[-1].headers["authorization"]
        user, _, password = base64.b64decode(authorization.split()[1]).decode().partition(":")
        return f"bad request from {user}:{password} (password {password} {authorization})"


class PdfEchoingArxiv(EchoingArxiv):
    """Lists papers as arXiv does; only its PDFs echo the credentials."""

    api_reply = FakeArxiv.api_reply


@pytest.mark.parametrize(
    ("failing", "server"), [("listing", EchoingArxiv), ("download", PdfEchoingArxiv)]
)
def test_an_arxiv_echoing_the_url_password_in_any_form_is_shown_and_stored_without_it(
    tmp_path: Path, failing: str, server: type[FakeArxiv]
):
    workspace = Workspace(tmp_path / "ws", day=date.today().isoformat())  # --ids: today's
    with server(make_papers(1)) as arxiv:
        env = {k: v.replace("http://", f"http://bob:{IN_URL}@") for k, v in arxiv.env().items()}
        result = workspace.run("--ids", "2603.00001", "--backend", "extractive", env=env)
    if failing == "listing":
        assert result.returncode == 3, result.stderr
        assert "paperbrief: error: arXiv API error: bad request from ***" in result.stderr
    else:
        assert result.returncode == 1, result.stderr
        [failed] = workspace.record()["failed"]
        assert "not a PDF (starts with b'***" in failed["error"]
    assert "Traceback" not in result.stderr
    no_echo_anywhere(result, workspace.root)


class _GarbledHandler(QuietHandler):
    def do_GET(self) -> None:
        authorization = self.headers["Authorization"]
        user_password = base64.b64decode(authorization.split()[1]).decode()
        self.wfile.write(f"HTTP/1.1 2x0 {user_password} {authorization}\r\n\r\n".encode())
        self.close_connection = True


class GarbledArxiv(LocalServer):
    """Answers with a status line no client can read, echoing the credentials it was sent: the
    HTTP client's exception quotes it, and --debug shows that exception."""

    handler = _GarbledHandler


def test_debugs_traceback_shows_no_credential_a_garbled_reply_echoes(tmp_path: Path):
    workspace = Workspace(tmp_path / "ws", day=date.today().isoformat())
    command = workspace.command("--ids", "2603.00001", "--backend", "extractive")
    at = command.index("run")
    with GarbledArxiv() as arxiv:
        env = {
            "PAPERBRIEF_ARXIV_API_URL": f"http://bob:{IN_URL}@{arxiv.origin[7:]}/api/query",
            "PAPERBRIEF_ARXIV__MAX_RETRIES": "0",
        }
        result = subprocess.run(
            [*command[:at], "--debug", *command[at:]],
            cwd=workspace.root,
            env={**workspace.env, **env},
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert result.returncode == 3, result.stderr
    assert "RemoteProtocolError" in result.stderr  # the garbled reply's exception is shown
    no_echo_anywhere(result, workspace.root)
