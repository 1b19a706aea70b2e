"""The adapter from stored forecast runs to the forecast-risk trigger (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert

from tests.alerts.forecast_helpers import CUTOFF, save_probabilities
from tocsin.alerts.forecast_source import latest_forecast_inputs, month_bounds
from tocsin.alerts.triggers.config import ForecastRiskTrigger
from tocsin.alerts.triggers.forecast_risk import evaluate_forecast_risk
from tocsin.forecast.registry.partitions import month_id
from tocsin.store import schema as s


def _rule(**kw) -> ForecastRiskTrigger:  # noqa: ANN003
    base = {"id": "fr", "name": "Risk", "kind": "forecast_risk", "outcome": "p_ge_1"}
    return ForecastRiskTrigger.model_validate({**base, **kw})


def _event(conn, uid: str, pcode: str, name: str) -> None:  # noqa: ANN001
    now = datetime(2024, 4, 2, tzinfo=UTC)
    conn.execute(
        insert(s.events).values(
            uid=uid,
            dataset="test",
            original_id=uid,
            content_hash="0" * 32,
            date_start=now.date(),
            date_end=now.date(),
            date_precision=1,
            admin1_pcode=pcode,
            admin1_name=name,
            sensitivity="public",
            case_class="general",
            created_at=now,
            updated_at=now,
        )
    )


def test_no_run_means_no_inputs(engine) -> None:  # noqa: ANN001
    assert latest_forecast_inputs(engine) is None
    save_probabilities(engine, {"CF52": [(0.5, 0.1)]}, target="ged_sb")
    assert latest_forecast_inputs(engine) is None  # state-based violence is not the target


def test_latest_run_next_month_with_names(engine) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        _event(conn, "e1", "CF52", "Ouaka")
    save_probabilities(engine, {"CF52": [(0.7, 0.2), (0.1, 0.0)], "CF61": [(0.1, 0.0)] * 2})
    inputs = latest_forecast_inputs(engine)
    assert inputs is not None and inputs.previous is None
    assert inputs.month_id == CUTOFF + 1 and inputs.level == "adm1"
    run = inputs.current
    assert (run.target_start, run.target_end) == month_bounds(month_id(2024, 5))
    assert run.target_start == datetime(2024, 5, 1, tzinfo=UTC)
    ouaka = run.risks["CF52"]
    assert (ouaka.unit_name, ouaka.p_ge_1, ouaka.p_ge_25) == ("Ouaka (CF52)", 0.7, 0.2)
    assert run.risks["CF61"].unit_name == "CF61"  # no event names it: the P-code
    assert "test-1" in run.model and "data to 2024-04" in run.model
    (candidate,) = evaluate_forecast_risk(_rule(level=0.6), run, inputs.previous)
    assert candidate.area_key == "unit:CF52" and "Ouaka (CF52)" in candidate.headline
    assert candidate.evidence == (f"forecast-run:{run.run_id}",)


def test_previous_run_is_compared_on_the_same_month(engine) -> None:  # noqa: ANN001
    # The older run (cut-off March) forecast May as its second month: 10 %.
    save_probabilities(
        engine, {"CF52": [(0.05, 0.0), (0.1, 0.0)], "CF61": [(0.3, 0.0)] * 2}, cutoff=CUTOFF - 1
    )
    save_probabilities(engine, {"CF52": [(0.45, 0.05)], "CF61": [(0.3, 0.0)]})
    inputs = latest_forecast_inputs(engine)
    assert inputs is not None and inputs.previous is not None
    assert inputs.previous.risks["CF52"].p_ge_1 == pytest.approx(0.1)
    assert inputs.previous.target_start == inputs.current.target_start
    rule = _rule(rise={"min_increase": 0.25, "min_ratio": 2})
    (candidate,) = evaluate_forecast_risk(rule, inputs.current, inputs.previous)
    assert candidate.area_key == "unit:CF52"
    assert candidate.measures["previous_probability"] == pytest.approx(0.1)
    assert "rose from 10% to 45%" in candidate.explanation_text


def test_previous_run_not_covering_the_month_uses_its_first_month(engine) -> None:  # noqa: ANN001
    save_probabilities(engine, {"CF52": [(0.2, 0.0)]}, cutoff=CUTOFF - 3)
    save_probabilities(engine, {"CF52": [(0.3, 0.0)]})
    inputs = latest_forecast_inputs(engine)
    assert inputs is not None and inputs.previous is not None
    assert inputs.previous.target_start == month_bounds(CUTOFF - 2)[0]
    assert inputs.previous.risks["CF52"].p_ge_1 == pytest.approx(0.2)


def test_level_filter(engine) -> None:  # noqa: ANN001
    save_probabilities(engine, {"CAF": [(0.9, 0.5)]}, level="cm")
    save_probabilities(engine, {"CF52": [(0.2, 0.0)]}, level="adm1")
    assert latest_forecast_inputs(engine, level="cm").current.risks.keys() == {"CAF"}
    assert latest_forecast_inputs(engine).level == "adm1"  # the newest of any level
    assert latest_forecast_inputs(engine, level="pgm") is None


def test_month_bounds_wrap_the_year() -> None:
    start, end = month_bounds(month_id(2023, 12))
    assert (start, end) == (datetime(2023, 12, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC))
