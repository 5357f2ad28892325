"""paperbrief: a day of arXiv papers as a ranked research briefing."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # Read from the installed metadata when asked (`paperbrief --version`), not at import.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("paperbrief")
        except PackageNotFoundError:
            return "0+unknown"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
