"""Statistics that say whether a scenario looks like the real data it was calibrated on.

The same function runs on the real GED sample, on generated scenarios and on a homogeneous
Poisson baseline (same number of events, uniform in the country and in time), so that
docs/scenario.md compares like with like.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from tocsin.geo.countries import country_outline
from tocsin.scenario.ged_format import GED_COLUMNS
from tocsin.scenario.spatial import OutlineSampler, chord_for_km, km_for_chord, unit_vectors

NEAR_KM = 25.0
NEAR_DAYS = 30


@dataclass(frozen=True)
class ScenarioStats:
    events: int
    monthly_mean: float
    monthly_variance: float
    monthly_dispersion: float  # variance / mean; 1 for a Poisson process
    monthly_max: int
    fatalities_median: float
    fatalities_p90: float
    fatalities_p99: float
    fatalities_max: int
    fatalities_zero_share: float
    one_sided_share: float
    state_based_share: float
    non_state_share: float
    precise_share: float  # where_prec 1-2
    near_share: float  # events with another event within NEAR_KM and NEAR_DAYS
    nearest_median_km: float  # median distance to the nearest other event

    def as_dict(self) -> dict:
        return asdict(self)


def frame_from_rows(rows: list[list[str]]) -> pd.DataFrame:
    """Generated GED rows as the columns ``compute_stats`` reads."""
    frame = pd.DataFrame(rows, columns=list(GED_COLUMNS))
    return pd.DataFrame(
        {
            "date_start": pd.to_datetime(frame["date_start"], format="ISO8601"),
            "best": frame["best"].astype(int),
            "type_of_violence": frame["type_of_violence"].astype(int),
            "latitude": frame["latitude"].astype(float),
            "longitude": frame["longitude"].astype(float),
            "where_prec": frame["where_prec"].astype(int),
        }
    )


def near_share(
    latitude: np.ndarray, longitude: np.ndarray, day: np.ndarray, km: float, days: int
) -> float:
    """Share of events with at least one other event within ``km`` and ``days``."""
    if len(day) < 2:
        return 0.0
    tree = cKDTree(unit_vectors(latitude, longitude))
    pairs = tree.query_pairs(chord_for_km(km), output_type="ndarray")
    if pairs.size == 0:
        return 0.0
    close = np.abs(day[pairs[:, 0]] - day[pairs[:, 1]]) <= days
    has = np.zeros(len(day), dtype=bool)
    has[pairs[close, 0]] = True
    has[pairs[close, 1]] = True
    return float(has.mean())


def nearest_median_km(latitude: np.ndarray, longitude: np.ndarray) -> float:
    if len(latitude) < 2:
        return float("nan")
    points = unit_vectors(latitude, longitude)
    chord, _ = cKDTree(points).query(points, k=2)
    return float(np.median(km_for_chord(chord[:, 1])))


def compute_stats(frame: pd.DataFrame, window_start: pd.Timestamp, months: int) -> ScenarioStats:
    periods = pd.period_range(window_start, periods=months, freq="M")
    monthly = frame["date_start"].dt.to_period("M").value_counts().reindex(periods, fill_value=0)
    best = frame["best"].to_numpy(dtype=float)
    day = (frame["date_start"] - window_start).dt.days.to_numpy()
    types = frame["type_of_violence"].to_numpy()
    lat, lon = frame["latitude"].to_numpy(), frame["longitude"].to_numpy()
    mean = float(monthly.mean())
    variance = float(monthly.var(ddof=1))
    return ScenarioStats(
        events=len(frame),
        monthly_mean=mean,
        monthly_variance=variance,
        monthly_dispersion=variance / mean if mean else float("nan"),
        monthly_max=int(monthly.max()),
        fatalities_median=float(np.median(best)),
        fatalities_p90=float(np.quantile(best, 0.9)),
        fatalities_p99=float(np.quantile(best, 0.99)),
        fatalities_max=int(best.max()),
        fatalities_zero_share=float(np.mean(best == 0)),
        one_sided_share=float(np.mean(types == 3)),
        state_based_share=float(np.mean(types == 1)),
        non_state_share=float(np.mean(types == 2)),
        precise_share=float(np.mean(frame["where_prec"].to_numpy() <= 2)),
        near_share=near_share(lat, lon, day, NEAR_KM, NEAR_DAYS),
        nearest_median_km=nearest_median_km(lat, lon),
    )


def homogeneous_baseline(
    iso3: str, events: int, window_start: pd.Timestamp, months: int, rng: np.random.Generator
) -> pd.DataFrame:
    """A homogeneous Poisson process with the same count: the no-clustering reference."""
    lat, lon = OutlineSampler(country_outline(iso3)).uniform(events, rng)
    days = (window_start + pd.DateOffset(months=months) - window_start).days
    day = np.sort(rng.integers(0, days, size=events))
    return pd.DataFrame(
        {
            "date_start": window_start + pd.to_timedelta(day, unit="D"),
            "best": np.zeros(events, dtype=int),
            "type_of_violence": np.full(events, 3),
            "latitude": lat,
            "longitude": lon,
            "where_prec": np.ones(events, dtype=int),
        }
    )
