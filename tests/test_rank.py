"""Ranking: an explained impact score from the weighted rubric."""

from __future__ import annotations

import pytest

from pipeline.errors import SettingsError
from pipeline.stages.rank import impact_score, ranked
from tests.builders import WEIGHTS, meta, record, rubric


def test_score_spans_zero_to_hundred():
    assert impact_score(rubric(1, 1, 1, 1), WEIGHTS) == 0
    assert impact_score(rubric(10, 10, 10, 10), WEIGHTS) == 100


def test_score_follows_the_weights():
    impact_heavy = {"novelty": 0, "industry_impact": 1, "evidence": 0, "urgency": 0}
    assert impact_score(rubric(novelty=10, impact=1), impact_heavy) == 0
    assert impact_score(rubric(novelty=1, impact=10), impact_heavy) == 100
    # 0.3*(7-1)/9 + 0.35*(8-1)/9 + 0.2*(4-1)/9 + 0.15*(5-1)/9 = 0.6056
    assert impact_score(rubric(7, 8, 4, 5), WEIGHTS) == pytest.approx(60.6, abs=0.05)


def test_bad_weights_are_settings_errors():
    with pytest.raises(SettingsError, match="unknown rubric names"):
        impact_score(rubric(), {"hype": 1.0})
    with pytest.raises(SettingsError, match="positive sum"):
        impact_score(rubric(), {"novelty": 0.0})


def test_ranked_orders_by_score_then_id():
    papers = [
        (meta("b"), record("b", novelty=5)),
        (meta("a"), record("a", novelty=5)),
        (meta("c"), record("c", novelty=9)),
    ]
    result = ranked(papers, WEIGHTS)
    assert [(p.rank, p.meta.id) for p in result] == [(1, "c"), (2, "a"), (3, "b")]
    assert result[0].impact_score > result[1].impact_score
