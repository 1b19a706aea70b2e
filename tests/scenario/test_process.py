"""The point process and its helpers, checked against what theory says they must do."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from tocsin.geo.countries import country_outline
from tocsin.scenario.calibration import CAR_CALIBRATION
from tocsin.scenario.hawkes import modulation_series, simulate_monthly_counts
from tocsin.scenario.marks import generations, split_deaths
from tocsin.scenario.spatial import OutlineSampler, great_circle_km, offset_km
from tocsin.scenario.stats import compute_stats, near_share

assert CAR_CALIBRATION is not None
PROCESS = CAR_CALIBRATION.process


def test_mean_count_is_background_over_one_minus_branching() -> None:
    process = replace(PROCESS, modulation_sd=0.0)
    months = 120
    edges = np.arange(months + 1) * 30.0
    flat = np.ones((400, months))
    counts = simulate_monthly_counts(process, edges, flat, np.random.default_rng(1), 12)
    expected = process.background_per_day * 30.0 / (1 - process.branching_ratio)
    assert counts.mean() == pytest.approx(expected, rel=0.05)


def test_modulation_has_mean_one_and_the_asked_autocorrelation() -> None:
    m = modulation_series(0.8, 0.9, 400, np.random.default_rng(2), replications=200)
    assert m.mean() == pytest.approx(1.0, abs=0.05)
    z = np.log(m)
    assert np.std(z) == pytest.approx(0.8, rel=0.1)
    lag = np.mean([np.corrcoef(row[:-1], row[1:])[0, 1] for row in z])
    assert lag == pytest.approx(0.9, abs=0.03)


def test_generations_follow_parents() -> None:
    parent = np.array([-1, -1, 0, 2, 3, 1, -1])
    assert generations(parent).tolist() == [0, 0, 1, 2, 3, 1, 0]


def test_death_split_sums_to_best() -> None:
    rng = np.random.default_rng(3)
    best = rng.integers(0, 50, size=2000)
    best[:10] = 1
    violence = rng.integers(1, 4, size=2000)
    patterns = {"1": {"abcu": 0.5, "a": 0.5}, "2": {"bu": 1.0}, "3": {"c": 0.9, "u": 0.1}}
    split = split_deaths(best, violence, patterns, rng)
    assert (split.sum(axis=1) == best).all()
    assert (split[violence == 3][:, :2] == 0).all()
    assert (split[violence == 2][:, [0, 2]] == 0).all()


def test_outline_sampler_is_uniform_by_area() -> None:
    sampler = OutlineSampler(country_outline("CAF"))
    lat, lon = sampler.uniform(20_000, np.random.default_rng(4))
    assert sampler.contains(lat, lon).all()
    north = lat > np.median(lat)
    assert 0.45 < north.mean() < 0.55


def test_offsets_are_in_kilometres_and_wrap() -> None:
    lat, lon = offset_km(np.array([0.0, 60.0]), np.array([179.99, 10.0]), np.array([10.0, 10.0]),
                         np.array([0.0, 0.0]))  # fmt: skip
    assert lon[0] < -179  # across the antimeridian
    km = great_circle_km(np.array([0.0, 60.0]), np.array([179.99, 10.0]), lat, lon)
    assert km == pytest.approx([10.0, 10.0], rel=1e-3)


def test_near_share_on_hand_made_events() -> None:
    lat = np.array([0.0, 0.1, 5.0, 5.0])
    lon = np.array([20.0, 20.0, 20.0, 20.0])
    day = np.array([0, 10, 0, 100])
    # events 0 and 1 are 11 km and 10 days apart; 2 and 3 share a place 100 days apart
    assert near_share(lat, lon, day, 25.0, 30) == 0.5


def test_stats_on_hand_made_frame() -> None:
    frame = pd.DataFrame(
        {
            "date_start": pd.to_datetime(["2020-01-05", "2020-01-20", "2020-03-01"]),
            "best": [0, 4, 100],
            "type_of_violence": [1, 3, 3],
            "latitude": [4.0, 4.0, 6.0],
            "longitude": [18.0, 18.0, 20.0],
            "where_prec": [1, 3, 6],
        }
    )
    stats = compute_stats(frame, pd.Timestamp("2020-01-01"), 3)
    assert (stats.events, stats.monthly_max, stats.fatalities_max) == (3, 2, 100)
    assert stats.monthly_mean == pytest.approx(1.0)
    assert stats.one_sided_share == pytest.approx(2 / 3)
    assert stats.fatalities_zero_share == pytest.approx(1 / 3)
    assert stats.near_share == pytest.approx(2 / 3)
