"""Papers summarized on earlier days, so a new version or a cross-list is not read again."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from pipeline.cache import write_atomic
from pipeline.models import PaperMeta


def load_seen(path: Path) -> dict[str, dict[str, str]]:
    """{base id: {"id": id with version, "day": ISO date}}; an unreadable index is empty."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def seen_before(
    papers: Iterable[PaperMeta], seen: dict[str, dict[str, str]], day: date
) -> dict[str, str]:
    """Papers first summarized on an earlier day: {paper id: that day}."""
    earlier = {}
    for paper in papers:
        record = seen.get(paper.base_id)
        if record and record.get("day", "") < day.isoformat():
            earlier[paper.id] = record["day"]
    return earlier


def remember(path: Path, papers: Iterable[PaperMeta], day: date) -> None:
    """Add today's summarized papers, keeping the earliest day each was seen."""
    seen = load_seen(path)  # re-read: another run may have added papers meanwhile
    for paper in papers:
        record = seen.get(paper.base_id)
        if record is None or record.get("day", "") > day.isoformat():
            seen[paper.base_id] = {"id": paper.id, "day": day.isoformat()}
    write_atomic(path, json.dumps(seen, indent=1, sort_keys=True).encode("utf-8"))
