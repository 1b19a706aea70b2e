from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tocsin.alerts.model import TriggerKind
from tocsin.alerts.triggers.config import ForecastRiskTrigger
from tocsin.alerts.triggers.forecast_risk import ForecastRun, UnitRisk, evaluate_forecast_risk

JUNE = datetime(2024, 6, 1, tzinfo=UTC)
JULY = datetime(2024, 7, 1, tzinfo=UTC)


def run(run_id: str, made: datetime, **risks: tuple[float, float]) -> ForecastRun:
    return ForecastRun(
        run_id,
        made,
        JUNE,
        JULY,
        {k: UnitRisk(k, k.title(), p1, p25) for k, (p1, p25) in risks.items()},
        model="test-model",
    )


def rule(**kw) -> ForecastRiskTrigger:
    base = {"id": "fc", "kind": "forecast_risk", "name": "High risk", "outcome": "p_ge_1"}
    return ForecastRiskTrigger.model_validate(base | kw)


PREV = run(
    "r1",
    datetime(2024, 4, 30, tzinfo=UTC),
    ouaka=(0.12, 0.01),
    vakaga=(0.7, 0.1),
    lobaye=(0.0, 0.0),
)
CURR = run(
    "r2",
    datetime(2024, 5, 31, tzinfo=UTC),
    ouaka=(0.41, 0.05),
    vakaga=(0.72, 0.3),
    lobaye=(0.3, 0.0),
    kemo=(0.2, 0.0),
)


def test_level_crossing_explains_numbers_and_history() -> None:
    out = {c.area_key: c for c in evaluate_forecast_risk(rule(level=0.4), CURR, PREV)}
    assert set(out) == {"unit:ouaka", "unit:vakaga"}
    ouaka = out["unit:ouaka"]
    assert ouaka.kind is TriggerKind.FORECAST_RISK
    assert (ouaka.period_start, ouaka.period_end) == (JUNE, JULY)
    text = ouaka.explanation_text
    assert "P(at least 1 civilian killed) in Ouaka" in text
    assert "is 41%, at or above the alert level of 40% by 1 percentage points" in text
    assert "crossed the level since the previous run (12%)" in text
    assert "already above it in the previous run (70%)" in out["unit:vakaga"].explanation_text
    assert ouaka.measures["probability"] == 0.41 and ouaka.measures["previous_probability"] == 0.12


def test_sharp_rise_needs_both_increase_and_ratio() -> None:
    r = rule(rise={"min_increase": 0.25, "min_ratio": 2})
    out = {c.area_key: c for c in evaluate_forecast_risk(r, CURR, PREV)}
    # ouaka: +29 points, x3.4 -> fires; vakaga: +2 points -> no; lobaye: +30 from zero -> fires;
    # kemo: no previous run -> a rise cannot be judged.
    assert set(out) == {"unit:ouaka", "unit:lobaye"}
    assert (
        "rose from 12% to 41% (+29 points, x3.4) since run r1 of 2024-04-30"
        in out["unit:ouaka"].explanation_text
    )
    assert "from zero" in out["unit:lobaye"].explanation_text
    assert out["unit:ouaka"].measures["increase"] == pytest.approx(0.29)


def test_p25_outcome_and_no_previous_run() -> None:
    out = evaluate_forecast_risk(rule(outcome="p_ge_25", level=0.25), CURR, None)
    assert [c.area_key for c in out] == ["unit:vakaga"]
    assert "no previous run covers this unit" in out[0].explanation_text
    assert evaluate_forecast_risk(rule(rise={"min_increase": 0.1}), CURR, None) == []


@pytest.mark.parametrize(("p1", "p25"), [(1.2, 0.1), (-0.1, 0.0), (float("nan"), 0.0), (0.2, 0.5)])
def test_invalid_probabilities_are_refused(p1: float, p25: float) -> None:
    with pytest.raises(ValueError, match="unit 'x'"):
        UnitRisk("x", "X", p1, p25)


def test_run_checks() -> None:
    with pytest.raises(ValueError, match="target period is empty"):
        ForecastRun("r", JUNE, JULY, JUNE)
    with pytest.raises(ValueError, match="key"):
        ForecastRun("r", JUNE, JUNE, JULY, {"a": UnitRisk("b", "B", 0.1, 0.0)})
