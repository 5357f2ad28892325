"""`paperbrief schema daily|weekly|run`: the JSON Schema of each output file, from its model."""

from __future__ import annotations

import json

from pydantic import BaseModel


def schema_command(which: str) -> int:
    print(json.dumps(schema_of(which), indent=2, ensure_ascii=False))
    return 0


def schema_of(which: str) -> dict[str, object]:
    from pipeline.record import RunRecord
    from pipeline.stages.report import DailyData
    from pipeline.weekly import WeeklyReport

    models: dict[str, type[BaseModel]] = {
        "daily": DailyData,
        "weekly": WeeklyReport,
        "run": RunRecord,
    }
    return models[which].model_json_schema()
