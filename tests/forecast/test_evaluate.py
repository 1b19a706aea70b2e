"""Scores against hand-computed values, and skill intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tocsin.forecast.evaluate import (
    MetricSettings,
    ignorance,
    randomized_pit,
    score_draws,
    skill_with_ci,
    summarise,
)

SETTINGS = MetricSettings(bootstrap_samples=200)


def test_crps_of_a_point_forecast_is_the_absolute_error() -> None:
    scores = score_draws(np.full((3, 10), 4.0), np.array([4.0, 0.0, 10.0]), SETTINGS)
    assert scores["crps"].tolist() == pytest.approx([0.0, 4.0, 6.0])
    # A point forecast is its own median: MSLE is the squared log error.
    assert scores["msle"].tolist() == pytest.approx(
        [0.0, np.log(5) ** 2, (np.log1p(10) - np.log(5)) ** 2]
    )


def test_crps_uses_the_empirical_distribution_of_the_draws() -> None:
    draws = np.array([[0.0, 1.0, 5.0, 20.0]])
    # E|X - 3| - 0.5 E|X - X'| over the empirical distribution: (3+2+2+17)/4 - 0.5*128/16
    assert score_draws(draws, np.array([3.0]), SETTINGS)["crps"][0] == pytest.approx(2.0)


def test_twcrps_ignores_what_happens_below_25() -> None:
    scores = score_draws(np.array([[0.0, 3.0], [0.0, 3.0]]), np.array([1.0, 10.0]), SETTINGS)
    assert scores["twcrps25"].tolist() == pytest.approx([0.0, 0.0])
    high = score_draws(np.array([[30.0, 30.0]]), np.array([40.0]), SETTINGS)
    assert high["twcrps25"][0] == pytest.approx(10.0)


def test_ignorance_uses_the_views_bins_with_add_one_smoothing() -> None:
    draws = np.array([[0.0] * 8 + [3.0, 3.0]])  # bins: 8 in [0, 0.5), 2 in [2.5, 5.5)
    n_bins = 11
    got = ignorance(draws, np.array([4.0]), SETTINGS)[0]
    assert got == pytest.approx(-np.log2((2 + 1) / (10 + n_bins)))
    outside = ignorance(draws, np.array([5000.0]), SETTINGS)[0]
    assert outside == pytest.approx(-np.log2(1 / 21))


def test_interval_brier_and_probabilities() -> None:
    draws = np.tile(np.arange(100.0), (2, 1))
    scores = score_draws(draws, np.array([50.0, 200.0]), SETTINGS)
    lower, upper = np.quantile(np.arange(100.0), [0.05, 0.95])
    assert scores["is90"][0] == pytest.approx(upper - lower)
    assert scores["is90"][1] == pytest.approx(upper - lower + 2 / 0.1 * (200 - upper))
    assert scores["p_gt0"][0] == pytest.approx(0.99)
    assert scores["brier_gt0"][0] == pytest.approx(0.01**2)
    assert scores["brier_ge25"][0] == pytest.approx(0.25**2)


def test_pit_of_a_calibrated_forecast_is_uniform() -> None:
    rng = np.random.default_rng(0)
    draws = rng.poisson(3.0, size=(4000, 500)).astype(float)
    obs = rng.poisson(3.0, size=4000).astype(float)
    pit = randomized_pit(np.sort(draws, axis=1), obs)
    counts, _ = np.histogram(pit, bins=5, range=(0, 1))
    assert counts.min() > 0.8 * counts.mean()


def test_mismatched_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="do not match"):
        score_draws(np.zeros((3, 4)), np.zeros(2), SETTINGS)


def _rows(models: dict[str, float]) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    frames = []
    for name, scale in models.items():
        frames.append(
            pd.DataFrame(
                {
                    "model": name,
                    "window": "Y2020",
                    "month_id": np.tile([481, 482], 30),
                    "country_id": np.repeat(np.arange(30), 2),
                    "crps": scale * (1 + rng.random(60)),
                    "obs": rng.integers(0, 3, 60),
                    "p_gt0": rng.random(60),
                    "p_ge25": rng.random(60) / 5,
                    "twcrps25": 0.0,
                    "ign": 1.0,
                    "is90": 1.0,
                    "brier_gt0": 0.1,
                    "brier_ge25": 0.1,
                    "msle": 0.1,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_skill_is_one_minus_the_ratio_with_an_interval_around_it() -> None:
    rows = _rows({"good": 1.0, "bench": 2.0})
    skill = skill_with_ci(rows, "good", "bench", "crps", "country_id", SETTINGS).iloc[0]
    a = rows.loc[rows.model == "good", "crps"].sum()
    b = rows.loc[rows.model == "bench", "crps"].sum()
    assert skill["skill"] == pytest.approx(1 - a / b)
    assert skill["ci_low"] < skill["skill"] < skill["ci_high"]
    assert skill["n_units"] == 30


def test_summaries_pool_average_precision_by_group() -> None:
    table = summarise(_rows({"a": 1.0}), ["model"], SETTINGS)
    assert 0 <= table["ap_gt0"][0] <= 1 and table["n"][0] == 60
