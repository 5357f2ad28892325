"""A new user's setup: `paperbrief init`, `paperbrief config`, `--version`, and the project
folder found the way ruff and git find theirs (the nearest paperbrief.toml, here or above)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from pipeline.cli import build_parser
from pipeline.commands.init import config_text, env_name
from pipeline.settings import Section, Settings, load
from tests.conftest import DAY
from tests.workspace import clean_env, paperbrief

# Settings without a default value: their line in the file is an example, not a default.
NO_DEFAULT = ("base_url", "max_cost", "model_path", "chat_format", "n_threads", "prices")
NO_DEFAULT += ("encoding", "dir", "triage_model")


def settings_lines(text: str) -> list[str]:
    """The commented-out `key = value` lines of a generated paperbrief.toml."""
    return re.findall(r"^# ([a-z_]+ = .*)$", text, flags=re.MULTILINE)


def uncommented(text: str) -> str:
    return re.sub(r"^# ([a-z_]+ = .*)$", r"\1", text, flags=re.MULTILINE)


def every_setting() -> list[str]:
    names = []
    for name, field in Settings.model_fields.items():
        model = field.annotation
        if isinstance(model, type) and issubclass(model, Section):
            names += [f"{name}.{key}" for key in model.model_fields]
        else:
            names.append(name)
    return names


def test_init_writes_every_setting_with_its_default_and_a_line_on_what_it_does(tmp_path: Path):
    result = paperbrief("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "paperbrief.toml").read_text()
    sections = {name.split(".")[0] for name in every_setting() if "." in name}
    assert tomllib.loads(text) == {key: {} for key in sections}  # all defaults until edited
    # Every setting has its line: what it does and its variable, then its default (or, for
    # one with no default, an example), commented out.
    for name in every_setting():
        path = tuple(name.split("."))
        assert f"[env {env_name(path)}" in text, name
        if name != "llm.api_key":
            assert re.search(rf"^# {path[-1]} = ", text, flags=re.MULTILINE), name
    assert "[env OPENAI_API_KEY]" in text and "# api_key =" not in text  # no key in files


def test_the_generated_file_holds_exactly_the_defaults(tmp_path: Path):
    """Uncommented, every line with a real default loads to Settings(): it cannot drift."""
    text = config_text()
    defaults_only = "\n".join(
        line
        for line in uncommented(text).splitlines()
        # examples of settings that have no default are not defaults
        if not re.match(rf"({'|'.join(NO_DEFAULT)}) = ", line)
    )
    path = tmp_path / "paperbrief.toml"
    path.write_text(defaults_only)
    loaded = load(path, env={})
    expected = Settings().model_dump()
    got = loaded.settings.model_dump()
    root = tmp_path.absolute()
    assert got.pop("cache_dir") == root / "cache" and got.pop("out_dir") == root / "out"
    expected.pop("cache_dir"), expected.pop("out_dir")
    assert got == expected
    assert len(settings_lines(text)) >= len(every_setting()) - 1  # all but api_key


def test_every_setting_has_a_description():
    for name, field in Settings.model_fields.items():
        assert field.description, name
        model = field.annotation
        if isinstance(model, type) and issubclass(model, Section):
            for key, sub in model.model_fields.items():
                assert sub.description, f"{name}.{key}"


def test_init_keeps_an_existing_file_unless_forced(tmp_path: Path):
    (tmp_path / "paperbrief.toml").write_text("[llm]\nmodel = 'mine'\n")
    refused = paperbrief("init", cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "already exists" in refused.stderr
    assert "--force" in refused.stderr
    assert "mine" in (tmp_path / "paperbrief.toml").read_text()
    forced = paperbrief("init", "--force", cwd=tmp_path)
    assert forced.returncode == 0 and "mine" not in (tmp_path / "paperbrief.toml").read_text()


def test_version(tmp_path: Path):
    result = paperbrief("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert re.fullmatch(r"paperbrief \d+\.\d+\.\d+\S*\n", result.stdout)


def test_version_answers_before_loading_any_command(capsys: pytest.CaptureFixture[str]):
    # run in a fresh interpreter: this one has imported the commands already
    probe = (
        "import sys; from pipeline.cli import main; main(['--version']); "
        "print(sorted(m for m in sys.modules if m.startswith(('pipeline.commands', 'pydantic'))))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert shown.stdout.splitlines()[-1] == "[]"
    with pytest.raises(SystemExit):  # argparse's own --version, which the quick answer mirrors
        build_parser().parse_args(["--version"])
    assert shown.stdout.splitlines()[0] + "\n" == capsys.readouterr().out


def config_origins(stdout: str) -> dict[str, tuple[str, str]]:
    rows = {}
    for line in stdout.splitlines()[1:]:
        setting, origin = line.split("  # ", 1)
        key, value = setting.split(" = ", 1)
        rows[key] = (value.strip(), origin)
    return rows


def test_config_says_where_each_value_came_from_and_masks_secrets(tmp_path: Path):
    (tmp_path / "paperbrief.toml").write_text("[llm]\nmodel = 'from-file'\ntimeout = 30\n")
    env = clean_env(OPENAI_API_KEY="sk-very-secret-1234", PAPERBRIEF_CHUNK__MAX_TOKENS="900")
    result = paperbrief("config", "--top", "3", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "sk-very-secret" not in result.stdout and "1234" not in result.stdout
    assert result.stdout.splitlines()[0] == f"# settings file: {tmp_path / 'paperbrief.toml'}"
    rows = config_origins(result.stdout)
    assert rows["llm.model"] == ('"from-file"', f"file {tmp_path / 'paperbrief.toml'}")
    assert rows["llm.api_key"] == ('"********"', "env OPENAI_API_KEY")
    assert rows["chunk.max_tokens"] == ("900", "env PAPERBRIEF_CHUNK__MAX_TOKENS")
    assert rows["reading.top"] == ("3", "flag --top")
    assert rows["llm.rpm"] == ("500", "default")
    assert rows["llm.base_url"] == ("(not set)", "default")
    assert rows["cache_dir"][1] == f"default, beside {tmp_path / 'paperbrief.toml'}"


def test_config_shows_the_triage_model_and_what_it_defaults_to(tmp_path: Path):
    unset = config_origins(paperbrief("config", "--model", "big", cwd=tmp_path).stdout)
    assert unset["llm.triage_model"] == ('(not set: llm.model, "big")', "default")
    given = paperbrief("config", "--triage-model", "nano", cwd=tmp_path).stdout
    assert config_origins(given)["llm.triage_model"] == ('"nano"', "flag --triage-model")


def test_config_without_a_project_says_the_working_directory_is_used(tmp_path: Path):
    result = paperbrief("config", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    head = result.stdout.splitlines()[0]
    assert f"no paperbrief.toml in {tmp_path} or any folder above it" in head
    assert "working directory" in head
    assert config_origins(result.stdout)["cache_dir"] == (f'"{tmp_path / "cache"}"', "default")


def test_a_bad_setting_names_its_source_without_pydantic_prefixes(tmp_path: Path):
    env = clean_env(PAPERBRIEF_CHUNK__OVERLAP="5000")
    result = paperbrief("config", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "chunk.overlap must be smaller than chunk.max_tokens" in result.stderr
    assert "env PAPERBRIEF_CHUNK__OVERLAP" in result.stderr
    assert "Value error" not in result.stderr and "Traceback" not in result.stderr
    flag = paperbrief("config", "--concurrency", "0", cwd=tmp_path)
    assert flag.returncode == 2 and "llm.concurrency" in flag.stderr
    assert "from flag --concurrency" in flag.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder with paperbrief.toml and a subfolder the user works in."""
    root = tmp_path / "project"
    (root / "notes" / "deeper").mkdir(parents=True)
    (root / "paperbrief.toml").write_text("")
    return root


def test_the_nearest_paperbrief_toml_decides_where_cache_and_out_are(project: Path):
    result = paperbrief("config", cwd=project / "notes" / "deeper")
    rows = config_origins(result.stdout)
    assert rows["cache_dir"][0] == f'"{project / "cache"}"'
    assert rows["out_dir"][0] == f'"{project / "out"}"'
    # its own settings move them, relative to the file's folder
    (project / "paperbrief.toml").write_text('cache_dir = "data/cache"\n')
    rows = config_origins(paperbrief("config", cwd=project / "notes").stdout)
    assert rows["cache_dir"] == (
        f'"{project / "data" / "cache"}"',
        f"file {project / 'paperbrief.toml'}",
    )
    # the environment and --cache-dir still win, relative to where the command runs
    env = clean_env(PAPERBRIEF_CACHE_DIR="mine")
    rows = config_origins(paperbrief("config", cwd=project / "notes", env=env).stdout)
    assert rows["cache_dir"] == (f'"{project / "notes" / "mine"}"', "env PAPERBRIEF_CACHE_DIR")
    rows = config_origins(paperbrief("config", "--cache-dir", "/tmp/elsewhere", cwd=project).stdout)
    assert rows["cache_dir"] == ('"/tmp/elsewhere"', "flag --cache-dir")


def test_a_run_from_a_subfolder_uses_the_projects_cache(project: Path, papers: Path):
    source = project / "papers"
    shutil.copytree(papers, source)
    first = paperbrief("run", "--source", "../papers", "--date", DAY, cwd=project / "notes")
    assert first.returncode == 0, first.stderr
    assert (project / "out" / DAY / "extractive" / "summaries.md").is_file()
    assert (project / "cache" / "extract").is_dir()
    assert not (project / "notes" / "cache").exists() and not (project / "notes" / "out").exists()
    # from another folder of the project, the same cache serves every stage
    again = paperbrief(
        "run", "--source", "../../papers", "--date", DAY, cwd=project / "notes" / "deeper"
    )
    assert again.returncode == 0, again.stderr
    record = json.loads((project / "out" / DAY / "extractive" / "run.json").read_text())
    assert all(stage["misses"] == 0 for stage in record["stages"].values())
