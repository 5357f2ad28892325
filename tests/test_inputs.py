"""Input a user (or a file name) gets wrong is refused in one line, or made safe: `--ids`,
local file names, and links that lead out of the source folder."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.errors import UsageError
from pipeline.samples import SAMPLE_PAPERS
from pipeline.sources import is_arxiv_id, parse_ids
from pipeline.stages.feed import MAX_SLUG, local_id, pdfs_in_folder
from tests.conftest import DAY
from tests.test_markup import PARSER
from tests.workspace import Workspace

# --- --ids ------------------------------------------------------------------------------


@pytest.mark.parametrize("ids", ["", " ", ",", " , ,"])
def test_empty_ids_are_a_usage_error_not_todays_feed(tmp_path: Path, ids: str):
    result = Workspace(tmp_path).run("--ids", ids)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "paperbrief: error: --ids is empty; give comma-separated arXiv ids, "
        "e.g. 2401.01234, 2401.01234v2 or hep-th/9901001"
    ]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("ids", "named"),
    [
        ("２５０１.１０１２０", "'２５０１.１０１２０'"),  # full-width digits are not ASCII
        ("2501.10120,2501.1012x", "'2501.1012x'"),
        ("2501.10120 2501.10121", "'2501.10120 2501.10121'"),  # spaces do not separate
        ("2501.10120\n--force all", "'2501.10120\\n--force all'"),
        ("../../etc/passwd", "'../../etc/passwd'"),
        ("hep-th/990100", "'hep-th/990100'"),
    ],
)
def test_a_bad_id_is_named_in_one_line(tmp_path: Path, ids: str, named: str):
    result = Workspace(tmp_path).run("--ids", ids)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"paperbrief: error: --ids: {named} is not an arXiv id")


def test_ids_are_read_in_order_once_each():
    assert parse_ids(" arXiv:2401.01234v2, hep-th/9901001,,2401.01234v2 ") == (
        "2401.01234v2",
        "hep-th/9901001",
    )
    assert parse_ids("math.GT/0309136,2401.0123,1501.00001v12") == (
        "math.GT/0309136",
        "2401.0123",
        "1501.00001v12",
    )


@given(st.text(max_size=20))
def test_an_id_is_ascii_with_no_surprises(text: str):
    if is_arxiv_id(text):
        assert text.isascii() and text.strip() == text and "\n" not in text
        assert re.fullmatch(r"[0-9]{4}\.[0-9]{4,5}(v[0-9]+)?|[a-zA-Z.-]+/[0-9]{7}(v[0-9]+)?", text)


# --- local file names -------------------------------------------------------------------

file_names = st.text(min_size=1, max_size=90).filter(
    lambda s: "/" not in s and "\x00" not in s and s not in (".", "..")
)


@given(file_names)
def test_a_local_id_is_safe_whatever_the_file_is_called(stem: str):
    paper_id = local_id(Path(f"{stem}.pdf"))
    assert paper_id and len(paper_id) <= MAX_SLUG + 9
    assert not paper_id.startswith((".", "-"))
    assert all(ch.isalnum() or ch in "._-" for ch in paper_id), paper_id
    assert paper_id == local_id(Path("elsewhere", f"{stem}.pdf"))  # stable


@given(file_names, file_names)
def test_distinct_file_names_get_distinct_ids(a: str, b: str):
    if local_id(Path(f"{a}.pdf")) == local_id(Path(f"{b}.pdf")):
        assert a == b


@pytest.mark.parametrize(
    ("name", "readable"),
    [
        ("Résumé de l'été.pdf", "resume-de-l-ete-"),
        ("論文 第1版.pdf", "論文-第1版-"),
        ("статья.pdf", "статья"),
        ("ﬁne-tuning ２.pdf", "fine-tuning-2-"),
        ("evil\n# Heading\x1b[31m.pdf", "evil-heading-31m-"),
        ("..hidden.pdf", "hidden-"),
        ("\u202egnp.exe.pdf", "gnp.exe-"),
    ],
)
def test_unicode_names_keep_a_readable_slug(name: str, readable: str):
    assert local_id(Path(name)).startswith(readable)


# --- the source folder ------------------------------------------------------------------


def test_links_out_of_the_folder_are_refused_in_one_line_each(tmp_path: Path):
    folder, outside = tmp_path / "papers", tmp_path / "private"
    folder.mkdir()
    outside.mkdir()
    (outside / "secret.pdf").write_bytes(b"%PDF-1.7 secret")
    (folder / "a.pdf").write_bytes(b"%PDF-1.7")
    (folder / "inside.pdf").symlink_to(folder / "a.pdf")
    (folder / "passwd.pdf").symlink_to("/etc/passwd")
    (folder / "up.pdf").symlink_to("../private/secret.pdf")
    (folder / "hop.pdf").symlink_to(folder / "up.pdf")  # inside, then out
    os.mkfifo(folder / "pipe.pdf")  # reading it would hang the run
    (folder / "loop1.pdf").symlink_to("loop2.pdf")
    (folder / "loop2.pdf").symlink_to("loop1.pdf")
    (folder / "gone.pdf").symlink_to(folder / "nowhere.pdf")
    warnings: list[str] = []
    pdfs = pdfs_in_folder(folder, warnings.append)
    assert [p.name for p in pdfs] == ["a.pdf", "inside.pdf"]
    assert warnings == [
        f"gone.pdf: a broken or looping link in {folder}; skipped",
        f"hop.pdf: a link to a file outside {folder}; skipped",
        f"loop1.pdf: a broken or looping link in {folder}; skipped",
        f"loop2.pdf: a broken or looping link in {folder}; skipped",
        f"passwd.pdf: a link to a file outside {folder}; skipped",
        f"up.pdf: a link to a file outside {folder}; skipped",
    ]


def test_the_default_warning_goes_to_stderr_on_one_line(tmp_path: Path, capsys):
    (tmp_path / "ok.pdf").write_bytes(b"%PDF-1.7")
    (tmp_path / "bad\nname.pdf").symlink_to("/etc/passwd")
    pdfs_in_folder(tmp_path)
    assert capsys.readouterr().err.splitlines() == [
        f"warning: 'bad\\nname.pdf': a link to a file outside {tmp_path}; skipped"
    ]


def test_only_links_out_is_no_pdfs(tmp_path: Path):
    (tmp_path / "passwd.pdf").symlink_to("/etc/passwd")
    with pytest.raises(UsageError, match=r"^no PDFs in"):
        pdfs_in_folder(tmp_path, lambda _: None)


def test_two_files_with_one_id_are_named(tmp_path: Path):
    for name in ("2401.01234v1.pdf", "2401.01234v1.PDF", "My Paper.pdf", "my paper.pdf"):
        (tmp_path / name).write_bytes(b"%PDF-1.7")
    warnings: list[str] = []
    pdfs = pdfs_in_folder(tmp_path, warnings.append)
    ids = [local_id(p) for p in pdfs]
    if len(pdfs) == 4:  # a case-sensitive file system
        assert len(set(ids)) == 3
        assert warnings == [
            "2401.01234v1.PDF and 2401.01234v1.pdf both give paper id 2401.01234v1; "
            "rename one to keep their cache entries and report lines apart"
        ]


def test_a_hostile_folder_runs_safely_end_to_end(tmp_path: Path, papers: Path):
    folder = tmp_path / "papers"
    folder.mkdir()
    names = ["evil\n# Injected heading.pdf", "論文.pdf", "My Paper.pdf", "my paper.pdf"]
    for name, paper in zip(names, SAMPLE_PAPERS, strict=False):
        shutil.copy(papers / paper.filename, folder / name)
    (folder / "passwd.pdf").symlink_to("/etc/passwd")
    workspace = Workspace(tmp_path / "ws", "--source", str(folder), "--date", DAY)
    result = workspace.run()
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if "passwd" in line] == [
        f"warning: passwd.pdf: a link to a file outside {folder}; skipped"
    ]
    run = (workspace.folder() / "run.json").read_text()
    assert "root:" not in run  # the link's target was never read
    assert json.loads(run)["warnings"] == [
        f"passwd.pdf: a link to a file outside {folder}; skipped"
    ]
    data = json.loads((workspace.folder() / "summaries.json").read_text())
    ids = [p["id"] for p in data["papers"]]
    assert len(ids) == len(set(ids)) == 4
    assert any(i.startswith("論文") for i in ids) and not any("\n" in i for i in ids)
    tokens = PARSER.parse(workspace.report())
    h2 = [t for t in tokens if t.type == "heading_open" and t.tag == "h2"]
    assert len(h2) == 4  # one per paper: a file name cannot add a heading


def test_an_unreadable_folder_is_a_usage_error(tmp_path: Path, monkeypatch):
    def denied(self: Path):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "iterdir", denied)  # root reads any folder; a user may not
    with pytest.raises(UsageError, match=r"^cannot read folder .*: Permission denied$"):
        pdfs_in_folder(tmp_path)
