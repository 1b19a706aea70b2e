"""Surge statistics are right, calibrated on stationary data, and sensitive to a real surge."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest
from scipy import stats

from tocsin.alerts.triggers.config import SurgeTrigger
from tocsin.alerts.triggers.surge import (
    IncidentObservation,
    SurgeSeries,
    evaluate_surge,
    fit_negative_binomial,
    negbin_exceedance,
    poisson_cusum,
    poisson_exceedance,
)
from tocsin.domain.taxonomy import ViolenceType


def rule(**kw) -> SurgeTrigger:
    base = {"id": "surge", "kind": "surge", "name": "Surge"}
    return SurgeTrigger.model_validate(base | kw)


def test_exceedance_probabilities() -> None:
    assert poisson_exceedance(0, 3.0) == 1.0
    assert poisson_exceedance(5, 2.0) == pytest.approx(1 - stats.poisson.cdf(4, 2.0))
    fit = fit_negative_binomial([0, 0, 1, 9, 0, 2, 14, 0, 0, 3, 1, 0])
    assert math.isfinite(fit.size) and fit.variance > fit.mean
    # Over-dispersion makes the same count far less surprising than Poisson says.
    assert negbin_exceedance(8, fit) > 10 * poisson_exceedance(8, fit.mean)
    assert negbin_exceedance(0, fit) == 1.0


def test_negative_binomial_fit_recovers_dispersion() -> None:
    rng = np.random.default_rng(7)
    r, mean = 1.5, 4.0
    counts = rng.negative_binomial(r, r / (r + mean), size=4000)
    fit = fit_negative_binomial(counts)
    assert fit.mean == pytest.approx(mean, rel=0.05)
    assert fit.size == pytest.approx(r, rel=0.15)
    poisson_like = fit_negative_binomial(rng.poisson(3.0, size=2000))
    assert poisson_like.size > 50  # (or inf): no over-dispersion to speak of
    assert math.isinf(fit_negative_binomial([2, 2, 2]).size)
    with pytest.raises(ValueError):
        fit_negative_binomial([])
    with pytest.raises(ValueError):
        fit_negative_binomial([1, -1])


def test_false_alarm_rate_on_stationary_overdispersed_history() -> None:
    """On clustered (negative-binomial) counts with no change, the NB detector alarms at about its
    nominal rate while Poisson cries wolf: the reason NB is the default."""
    rng = np.random.default_rng(11)
    r, mean, n_hist, n_trials, alpha = 0.8, 3.0, 36, 600, 0.01
    nb_alarms = poisson_alarms = 0
    for _ in range(n_trials):
        x = rng.negative_binomial(r, r / (r + mean), size=n_hist + 1)
        history, current = x[:-1], int(x[-1])
        fit = fit_negative_binomial(history)
        nb_alarms += negbin_exceedance(current, fit, min_mean=0.1) < alpha
        poisson_alarms += poisson_exceedance(current, max(history.mean(), 0.1)) < alpha
    assert nb_alarms / n_trials < 3 * alpha
    assert poisson_alarms / n_trials > 3 * nb_alarms / n_trials


def test_cusum_detects_a_step_and_stays_quiet_before() -> None:
    rng = np.random.default_rng(3)
    before = rng.poisson(1.0, size=200)
    after = rng.poisson(3.0, size=20)
    result = poisson_cusum(np.concatenate([before, after]), mu0=1.0, shift=2.0, threshold=5.0)
    assert result.k == pytest.approx(1 / math.log(2))
    in_control_alarms = [i for i in result.alarms if i < 200]
    assert len(in_control_alarms) <= 3
    assert any(200 <= i < 210 for i in result.alarms)
    with pytest.raises(ValueError):
        poisson_cusum([1], mu0=0, shift=2, threshold=1)


def _observations(area: str, start: date, per_day: dict[int, int], fatalities: float = 1.0):
    return [
        IncidentObservation(
            area, area.title(), start + timedelta(days=d), fatalities, ViolenceType.ONE_SIDED
        )
        for d, n in per_day.items()
        for _ in range(n)
    ]


def test_evaluator_flags_the_surging_area_with_an_explanation() -> None:
    start = date(2023, 1, 1)
    quiet = {d: 1 for d in range(0, 400, 15)}  # one incident a fortnight, all along
    surge = dict(quiet) | {d: 1 for d in range(370, 400, 3)}  # ten more in the last month
    obs = _observations("adm1:quiet", start, quiet) + _observations("adm1:hot", start, surge)
    as_of = start + timedelta(days=399)
    for method in ("negative_binomial", "poisson", "cusum"):
        out = evaluate_surge(rule(method=method), obs, as_of)
        assert [c.area_key for c in out] == ["adm1:hot"], method
    (c,) = evaluate_surge(rule(), obs, as_of)
    assert c.measures["observed"] == 12
    assert c.measures["expected"] == pytest.approx(2.0, abs=0.2)
    text = c.explanation_text
    assert "Hot: 12 incidents in the 30 days to 2024-02-04" in text
    assert "expected from the previous 360 days (12 windows" in text
    assert "below the trigger's 0.01" in text
    assert c.period_end - c.period_start == timedelta(days=30)
    (cusum,) = evaluate_surge(rule(method="cusum"), obs, as_of)
    assert "Poisson CUSUM over 7-day bins" in cusum.explanation_text


def test_min_count_fatalities_and_violence_filter() -> None:
    start = date(2023, 1, 1)
    obs = _observations("adm1:a", start, {390: 1, 395: 1}, fatalities=40)
    as_of = start + timedelta(days=399)
    assert evaluate_surge(rule(), obs, as_of) == []  # 2 incidents < min_count 3
    (c,) = evaluate_surge(rule(measure="fatalities", method="poisson"), obs, as_of)
    assert c.measures["observed"] == 80
    state_based = rule(violence_types=["state_based"], min_count=1)
    assert evaluate_surge(state_based, obs, as_of) == []


def test_series_reuse_and_bad_input() -> None:
    start = date(2023, 1, 1)
    series = SurgeSeries(_observations("adm1:a", start, {d: 1 for d in range(0, 300, 10)}))
    assert series.evaluate(rule(), start + timedelta(days=299)) == []
    assert series.evaluate(rule(), date(1990, 1, 1)) == []  # before any data: nothing, no crash
    with pytest.raises(ValueError, match="bad fatalities"):
        SurgeSeries([IncidentObservation("a", "A", start, float("nan"))])
    assert SurgeSeries([]).evaluate(rule(), start) == []
