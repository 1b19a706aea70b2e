"""Scores of sample forecasts against what happened, by window, step and activity.

Every setting is explicit in :class:`MetricSettings` and written into the JSON report:

- CRPS (primary): ``scoringrules.crps_ensemble`` with estimator ``"qd"``, the CRPS of the
  empirical distribution of the draws (as the prediction challenge);
- ignorance: ``-log2 p`` of the observed bin, bins ``VIEWS_BINS``; bin probabilities from the draws
  with add-one smoothing, ``(count + 1) / (draws + bins)``, so an impossible outcome costs a finite
  amount;
- interval score of the central 90% interval (draw quantiles 5% and 95%);
- threshold-weighted CRPS with weight ``1{x >= 25}`` (``twcrps_ensemble``, ``a=25``);
- Brier score and average precision for ``y > 0`` and ``y >= 25``, probabilities = share of draws;
- squared log error of the median draw (``(log1p(median) - log1p(y))**2``, averaged: MSLE).

Skill of model M against benchmark B is ``1 - score_M / score_B`` on the same unit-months;
confidence intervals come from a block bootstrap that resamples whole units (all their months
and windows together), because errors of one unit are correlated over time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from tocsin.forecast.errors import ForecastError

VIEWS_BINS = (0, 0.5, 2.5, 5.5, 10.5, 25.5, 50.5, 100.5, 250.5, 500.5, 1000.5)
# Mean of these per-row scores is the reported score; "lower is better" for all of them.
ROW_METRICS = ("crps", "twcrps25", "ign", "is90", "brier_gt0", "brier_ge25", "msle")
PROB_METRICS = ("ap_gt0", "ap_ge25")  # pooled, higher is better


@dataclass(frozen=True)
class MetricSettings:
    crps_estimator: str = "qd"
    ign_bins: tuple[float, ...] = VIEWS_BINS
    ign_smoothing: float = 1.0
    interval_alpha: float = 0.10
    tw_threshold: float = 25.0
    high_threshold: float = 25.0
    active_months: int = 36
    bootstrap_samples: int = 1000
    ci_level: float = 0.95
    bootstrap_seed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def score_draws(draws: np.ndarray, obs: np.ndarray, settings: MetricSettings) -> pd.DataFrame:
    """Per-row scores of ``draws`` (rows x draws) against ``obs`` (rows)."""
    import scoringrules as sr  # slow to import (numba): only when scoring

    draws = np.asarray(draws, dtype=np.float64)
    obs = np.asarray(obs, dtype=np.float64)
    if draws.ndim != 2 or draws.shape[0] != obs.shape[0]:
        raise ValueError(f"draws {draws.shape} do not match observations {obs.shape}")
    ordered = np.sort(draws, axis=1)
    crps = sr.crps_ensemble(obs, ordered, estimator=settings.crps_estimator, sorted_ensemble=True)
    tw = sr.twcrps_ensemble(
        obs,
        ordered,
        a=settings.tw_threshold,
        estimator=settings.crps_estimator,
        sorted_ensemble=True,
    )
    half = settings.interval_alpha / 2
    lower = np.quantile(ordered, half, axis=1)
    upper = np.quantile(ordered, 1 - half, axis=1)
    interval = sr.interval_score(obs, lower, upper, settings.interval_alpha)
    p_gt0 = (ordered > 0).mean(axis=1)
    p_high = (ordered >= settings.high_threshold).mean(axis=1)
    median = np.median(ordered, axis=1)
    return pd.DataFrame(
        {
            "crps": crps,
            "twcrps25": tw,
            "ign": ignorance(ordered, obs, settings),
            "is90": interval,
            "brier_gt0": (p_gt0 - (obs > 0)) ** 2,
            "brier_ge25": (p_high - (obs >= settings.high_threshold)) ** 2,
            "msle": (np.log1p(median) - np.log1p(obs)) ** 2,
            "p_gt0": p_gt0,
            "p_ge25": p_high,
            "mean": ordered.mean(axis=1),
            "median": median,
            "pit": randomized_pit(ordered, obs),
        }
    )


def ignorance(ordered: np.ndarray, obs: np.ndarray, settings: MetricSettings) -> np.ndarray:
    edges = np.asarray([*settings.ign_bins, np.inf])
    n_bins = len(edges) - 1
    draw_bins = np.clip(np.searchsorted(edges, ordered, side="right") - 1, 0, n_bins - 1)
    obs_bin = np.clip(np.searchsorted(edges, obs, side="right") - 1, 0, n_bins - 1)
    hits = (draw_bins == obs_bin[:, None]).sum(axis=1)
    p = (hits + settings.ign_smoothing) / (ordered.shape[1] + settings.ign_smoothing * n_bins)
    return -np.log2(p)


def randomized_pit(ordered: np.ndarray, obs: np.ndarray, seed: int = 0) -> np.ndarray:
    """PIT for counts: uniform between F(y-1) and F(y) (Czado, Gneiting & Held 2009)."""
    below = (ordered < obs[:, None]).mean(axis=1)
    at_or_below = (ordered <= obs[:, None]).mean(axis=1)
    u = np.random.default_rng(seed).random(len(obs))
    return below + u * (at_or_below - below)


def summarise(rows: pd.DataFrame, by: list[str], settings: MetricSettings) -> pd.DataFrame:
    """Mean row scores and pooled average precision per group."""
    grouped = rows.groupby(by, sort=True, observed=True)
    table = grouped[list(ROW_METRICS)].mean()
    table["n"] = grouped.size()
    table["ap_gt0"] = grouped.apply(_ap("obs", 0.5, "p_gt0"), include_groups=False)
    table["ap_ge25"] = grouped.apply(
        _ap("obs", settings.high_threshold, "p_ge25"), include_groups=False
    )
    return table.reset_index()


def _ap(obs_col: str, threshold: float, p_col: str):  # noqa: ANN202
    def compute(group: pd.DataFrame) -> float:
        truth = group[obs_col].to_numpy() >= threshold
        if truth.all() or not truth.any():
            return float("nan")  # undefined without both classes
        return float(average_precision_score(truth, group[p_col].to_numpy()))

    return compute


def skill_with_ci(
    rows: pd.DataFrame,
    model: str,
    benchmark: str,
    metric: str,
    unit: str,
    settings: MetricSettings,
    by: list[str] | None = None,
) -> pd.DataFrame:
    """Skill ``1 - score_model / score_benchmark`` with a unit-block bootstrap interval."""
    key = ["window", "month_id", unit]
    a = rows[rows["model"] == model].set_index(key)
    b = rows[rows["model"] == benchmark].set_index(key)
    common = a.index.intersection(b.index)
    if common.empty:
        raise ForecastError(f"{model} and {benchmark} share no scored unit-month")
    joined = pd.DataFrame(
        {
            "m": a.loc[common, metric],
            "b": b.loc[common, metric],
        }
    ).reset_index()
    extra = by or []
    outside_key = [c for c in extra if c not in key]
    if outside_key:
        joined = joined.join(a.loc[common, outside_key].reset_index(drop=True))
    groups = joined.groupby(extra) if extra else [((), joined)]
    rng = np.random.default_rng(settings.bootstrap_seed)
    out = []
    for name, group in groups:
        per_unit = group.groupby(unit)[["m", "b"]].sum()
        m, bsum = per_unit["m"].to_numpy(), per_unit["b"].to_numpy()
        point = 1 - m.sum() / bsum.sum() if bsum.sum() > 0 else float("nan")
        counts = rng.multinomial(
            len(m), np.full(len(m), 1 / len(m)), size=settings.bootstrap_samples
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            boot = 1 - (counts @ m) / (counts @ bsum)
        tail = (1 - settings.ci_level) / 2
        lo, hi = (
            np.nanquantile(boot, [tail, 1 - tail])
            if np.isfinite(boot).any()
            else (float("nan"), float("nan"))
        )
        record = dict(zip(extra, name if isinstance(name, tuple) else (name,), strict=False))
        record.update(
            model=model,
            benchmark=benchmark,
            metric=metric,
            skill=point,
            ci_low=float(lo),
            ci_high=float(hi),
            n_units=len(m),
        )
        out.append(record)
    return pd.DataFrame(out)
