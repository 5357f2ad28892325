"""A wrong value in paperbrief.toml, the environment or a flag is one line naming the setting
and where it came from (exit 2), whatever its type; so is a file that is not UTF-8 text."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from pipeline.cli import main
from pipeline.errors import PromptError, SettingsError
from pipeline.prompts import default_prompts_dir, load_prompt
from pipeline.settings import Settings, load, load_settings
from tests.workspace import paperbrief


def leaves(
    model: type[BaseModel] = Settings, prefix: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    """Every setting, as section.key or a top-level key."""
    found: list[tuple[str, ...]] = []
    for name, field in model.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            found += leaves(kind, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


LEAVES = leaves()
PATHS = [leaf for leaf in LEAVES if leaf in {("cache_dir",), ("out_dir",), ("prompts", "dir")}]


def toml(value: Any) -> str:
    """A TOML literal (inline) of a JSON-like value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml(v)}" for k, v in value.items()) + "}"
    return json.dumps(value, ensure_ascii=False)


def config_with(tmp_path: Path, leaf: tuple[str, ...], value: Any) -> Path:
    *section, key = leaf
    header = f"[{section[0]}]\n" if section else ""
    path = tmp_path / "paperbrief.toml"
    path.write_text(f"{header}{key} = {toml(value)}\n", encoding="utf-8")
    return path


SCALARS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.text(st.characters(exclude_categories=["Cs", "Cc"]), max_size=8),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text("abc", min_size=1), inner, max_size=3)
    ),
    max_leaves=5,
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(leaf=st.sampled_from(LEAVES), value=VALUES)
def test_any_value_of_any_setting_is_taken_or_named(tmp_path: Path, leaf, value):
    config = config_with(tmp_path, leaf, value)
    try:
        load(config, env={}, flags={})
    except SettingsError as exc:
        message = str(exc)
        assert "\n" not in message
        assert message.startswith("setting ") and f"from file {config}" in message


@pytest.mark.parametrize("leaf", PATHS, ids=".".join)
@pytest.mark.parametrize("value", [5, True, 1.5, ["a"], {"a": 1}], ids=repr)
def test_a_path_setting_that_is_not_a_string_is_named(tmp_path: Path, leaf, value):
    config = config_with(tmp_path, leaf, value)
    with pytest.raises(SettingsError) as caught:
        load_settings(config, env={}, flags={})
    assert str(caught.value) == (
        f"setting {'.'.join(leaf)}: expected a path as a quoted string, "
        f"not {type(value).__name__} {value!r} (from file {config})"
    )


@pytest.mark.parametrize(
    "command", [["config"], ["cache", "stats"], ["report", "daily"], ["run", "--source", "."]]
)
def test_every_command_names_a_bad_cache_dir_in_one_line(
    tmp_path: Path, monkeypatch, capsys, command
):
    (tmp_path / "paperbrief.toml").write_text("cache_dir = 5\n")
    monkeypatch.chdir(tmp_path)
    assert main(command) == 2
    assert capsys.readouterr().err.splitlines() == [
        "paperbrief: error: setting cache_dir: expected a path as a quoted string, not int 5 "
        f"(from file {tmp_path / 'paperbrief.toml'})"
    ]


# --- files that are not UTF-8 --------------------------------------------------------------


@pytest.mark.parametrize(
    "data", [b'cache_dir = "c\xff"\n', 'cache_dir = "c"\n'.encode("utf-16")], ids=["0xFF", "UTF-16"]
)
@pytest.mark.parametrize("command", [["config"], ["run", "--source", "."]])
def test_a_config_file_that_is_not_utf8_is_named(
    tmp_path: Path, monkeypatch, capsys, data, command
):
    (tmp_path / "paperbrief.toml").write_bytes(data)
    monkeypatch.chdir(tmp_path)
    assert main(command) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(
        f"paperbrief: error: config file {tmp_path / 'paperbrief.toml'} is not UTF-8"
    )


def test_a_prompt_that_is_not_utf8_is_named(tmp_path: Path, monkeypatch, capsys):
    prompts = tmp_path / "prompts"
    shutil.copytree(default_prompts_dir(), prompts)
    bad = prompts / "summarize" / "default.md"
    bad.write_bytes(b"\xff" + bad.read_bytes())
    with pytest.raises(PromptError, match=re.escape(f"prompt {bad} is not UTF-8 text")):
        load_prompt(prompts, "summarize")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAPERBRIEF_PROMPTS_DIR", str(prompts))
    for command in (["prompts"], ["run", "--source", "."]):
        assert main(command) == 2
        [line] = capsys.readouterr().err.splitlines()
        assert line.startswith(f"paperbrief: error: prompt {bad} is not UTF-8 text")


# --- arXiv categories ---------------------------------------------------------------------


GOOD = [
    "cs.LG",
    "math.AP",
    "hep-th",
    "astro-ph.CO",
    "q-bio.NC",
    "physics.comp-ph",
    "cond-mat.mes-hall",
    "cs",
]
BAD = [
    "../../etc",
    "cs.LG/..",
    "cs.LG?x=1",
    "cs.LG#frag",
    "CS.LG",
    "cs. LG",
    "cs.LG\nhep-th",
    "cs..LG",
    "cs.LG.x",
]


def test_arxiv_shaped_categories_are_taken():
    assert (
        load_settings(env={}, flags={"arxiv.categories": ",".join(GOOD)}).arxiv.categories == GOOD
    )


@pytest.mark.parametrize("category", BAD)
def test_a_bad_category_is_named_from_every_source(tmp_path: Path, category: str):
    named = re.escape(repr(category))
    with pytest.raises(
        SettingsError, match=f"{named} is not an arXiv category.*from flag --categories"
    ):
        load(
            env={},
            flags={"arxiv.categories": f"cs.AI,{category}"},
            flag_names={"arxiv.categories": "--categories"},
        )
    with pytest.raises(
        SettingsError, match=r"is not an arXiv category.*from env PAPERBRIEF_CATEGORIES"
    ):
        load(env={"PAPERBRIEF_CATEGORIES": f"cs.AI,{category}"}, flags={})
    config = config_with(tmp_path, ("arxiv", "categories"), ["cs.AI", category])
    with pytest.raises(SettingsError, match=r"is not an arXiv category.*from file"):
        load(config, env={}, flags={})


@pytest.mark.parametrize("given", ["", ",", " , "])
def test_no_category_is_a_usage_error_not_an_empty_day(tmp_path: Path, monkeypatch, capsys, given):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--categories", given, "--backend", "extractive"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "paperbrief: error: setting arxiv.categories: no arXiv category given; give "
        "comma-separated arXiv categories, e.g. cs.LG,math.AP,hep-th,astro-ph.CO "
        "(from flag --categories)"
    ]
    assert not (tmp_path / "out").exists()
    config = config_with(tmp_path, ("arxiv", "categories"), [])
    with pytest.raises(SettingsError, match=r"no arXiv category given.*from file"):
        load(config, env={}, flags={})


# --- the environment ----------------------------------------------------------------------


@pytest.mark.parametrize("leaf", LEAVES, ids=".".join)
def test_an_env_variable_below_any_setting_is_taken_or_named(leaf):
    name = "PAPERBRIEF_" + "__".join(part.upper() for part in (*leaf, "x"))
    try:
        load(env={name: "1"}, flags={})
    except SettingsError as exc:
        assert f"(from env {name})" in str(exc)


def test_two_variables_giving_one_setting_whole_and_in_part_are_named():
    env = {"PAPERBRIEF_LLM__MODEL": "m", "PAPERBRIEF_LLM__MODEL__X": "1"}
    with pytest.raises(SettingsError) as caught:
        load(env=env, flags={})
    assert str(caught.value) == (
        "setting llm.model: env PAPERBRIEF_LLM__MODEL__X gives part of a value that another "
        "variable gives whole (PAPERBRIEF_LLM__MODEL); unset one of them"
    )


# --- numbers that are no amount -----------------------------------------------------------


def floats(model: type[BaseModel] = Settings, prefix: tuple[str, ...] = ()) -> list[str]:
    """Every setting that holds a float (seconds, dollars), as section.key."""
    found: list[str] = []
    for name, field in model.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            found += floats(kind, (*prefix, name))
        elif kind is float or kind == float | None:
            found.append(".".join((*prefix, name)))
    return found


def toml_setting(tmp_path: Path, setting: str, value: str) -> Path:
    section, _, key = setting.rpartition(".")
    path = tmp_path / "paperbrief.toml"
    path.write_text(f"[{section}]\n{key} = {value}\n", encoding="utf-8")
    return path


# TOML spells nan and inf: inf passed every lower bound, NaN the weights' own check (NaN < 0 is
# false), and either, as a price, defeated --max-cost
NOT_FINITE = ["nan", "inf", "-inf"]


@pytest.mark.parametrize("value", NOT_FINITE)
@pytest.mark.parametrize("setting", [*floats(), "rank.weights.novelty"])
def test_a_float_setting_that_is_no_finite_number_is_named(tmp_path: Path, setting, value):
    assert "llm.max_cost" in floats() and "arxiv.delay" in floats()  # the walk finds them
    config = toml_setting(tmp_path, setting, value)
    with pytest.raises(SettingsError) as caught:
        load(config, env={}, flags={})
    assert str(caught.value).startswith(f"setting {setting}: Input should be a finite number")


@pytest.mark.parametrize("value", [*NOT_FINITE, "-1000", "-0.01", "1e300"])
@pytest.mark.parametrize("price", ["input", "output", "cached_input"])
def test_a_price_that_is_negative_or_no_finite_number_is_one_usage_line(
    tmp_path: Path, price: str, value: str
):
    (tmp_path / "paperbrief.toml").write_text(f'[llm.prices."gpt-test"]\n{price} = {value}\n')
    result = paperbrief("config", cwd=tmp_path)
    assert result.returncode == 2, result.stdout
    [line] = result.stderr.splitlines()
    assert line.startswith(f"paperbrief: error: setting llm.prices.gpt-test.{price}: ")
    assert f"(from file {tmp_path / 'paperbrief.toml'})" in line


@pytest.mark.parametrize(
    ("setting", "value"),
    [("llm.timeout", "1e12"), ("arxiv.timeout", "1e12"), ("arxiv.delay", "1e9")],
)
def test_a_wait_no_socket_or_lock_can_hold_is_named(tmp_path: Path, setting: str, value: str):
    # it was an OverflowError traceback ("timestamp out of range") at the first request
    with pytest.raises(SettingsError) as caught:
        load(toml_setting(tmp_path, setting, value), env={}, flags={})
    assert str(caught.value).startswith(f"setting {setting}: Input should be less than")


def test_a_max_cost_flag_that_is_no_number_is_named():
    with pytest.raises(SettingsError) as caught:
        load(env={"PAPERBRIEF_MAX_COST": "nan"}, flags={})
    assert str(caught.value) == (
        "setting llm.max_cost: Input should be a finite number (from env PAPERBRIEF_MAX_COST)"
    )
