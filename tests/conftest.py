"""Fixtures shared across the test files."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.samples import write_sample_papers
from tests.browser import Chromium, chromium_or_fail
from tests.workspace import Workspace

DAY = "2026-03-04"


@pytest.fixture(scope="session")
def papers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five sample papers, written once per test session."""
    folder = tmp_path_factory.mktemp("papers")
    write_sample_papers(folder)
    return folder


@pytest.fixture
def workspace(tmp_path: Path, papers: Path) -> Workspace:
    """A user's folder briefing the sample papers offline, dated DAY."""
    return Workspace(tmp_path / "ws", "--source", str(papers), "--date", DAY)


@pytest.fixture(scope="session")
def browser() -> Chromium:
    """Headless Chromium; fails with how to install it when missing (see tests/browser.py)."""
    return Chromium(chromium_or_fail())
