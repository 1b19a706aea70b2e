"""Fit what each event carries: type, dyad, fatalities and their split, precision codes, sources."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize, minimize_scalar
from scipy.special import ndtr

from tocsin.scenario.calibration import EstimateSpread, FatalityModel

DEATH_CATEGORIES = (
    ("a", "deaths_a"),
    ("b", "deaths_b"),
    ("c", "deaths_civilians"),
    ("u", "deaths_unknown"),
)
CIVILIANS = "Civilians"


def shares(values: pd.Series, keys: list[int]) -> dict[str, float]:
    counts = values.value_counts()
    total = float(counts.sum())
    return {str(k): float(counts.get(k, 0)) / total for k in keys}


def ceil_lognormal_log_pmf(k: np.ndarray, log_mu: float, log_sigma: float) -> np.ndarray:
    """log P(ceil(X) = k) for X ~ lognormal(log_mu, log_sigma), k >= 1."""
    upper = (np.log(k) - log_mu) / log_sigma
    with np.errstate(divide="ignore"):
        lower = (np.log(k - 1.0) - log_mu) / log_sigma  # -inf for k = 1
    # Subtract upper tails when both bounds sit above the median: no cancellation in the tail.
    mass = np.where(lower > 0, ndtr(-lower) - ndtr(-upper), ndtr(upper) - ndtr(lower))
    return np.log(np.maximum(mass, 1e-300))


def fit_fatalities(best: np.ndarray) -> FatalityModel:
    best = np.asarray(best, dtype=float)
    positive = best[best > 0]
    if positive.size < 5:
        raise ValueError("need at least five events with fatalities to fit their distribution")

    def nll(theta: np.ndarray) -> float:
        return -float(np.sum(ceil_lognormal_log_pmf(positive, theta[0], np.exp(theta[1]))))

    logs = np.log(positive)
    start = np.array([logs.mean(), np.log(max(logs.std(), 0.1))])
    result = minimize(nll, start, method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-10})
    return FatalityModel(
        zero_share=float(np.mean(best == 0)),
        log_mu=float(result.x[0]),
        log_sigma=float(np.exp(result.x[1])),
    )


def death_patterns(frame: pd.DataFrame) -> dict[str, float]:
    """Which of deaths_a/b/civilians/unknown are non-zero, among events with fatalities."""
    fatal = frame[frame["best"] > 0]
    if fatal.empty:
        return {"u": 1.0}
    keys = pd.Series("", index=fatal.index)
    for letter, column in DEATH_CATEGORIES:
        keys = keys + np.where(fatal[column] > 0, letter, "")
    keys = keys.replace("", "u")  # GED rows whose split is missing: count as unknown
    counts = keys.value_counts()
    return {k: float(v) / len(keys) for k, v in sorted(counts.items())}


def estimate_spread(frame: pd.DataFrame) -> EstimateSpread:
    best, low, high = (frame[c].to_numpy(dtype=float) for c in ("best", "low", "high"))
    above = high > best
    high_ratio = np.log((high[above] + 1) / (best[above] + 1))
    fatal = best > 0
    below = fatal & (low < best)
    low_ratio = np.log((best[below] + 1) / (np.maximum(low[below], 0) + 1))
    return EstimateSpread(
        high_above_share=float(above.mean()),
        high_log_ratio_mean=float(high_ratio.mean()) if high_ratio.size else 0.0,
        low_below_share=float(below.sum() / max(fatal.sum(), 1)),
        low_log_ratio_mean=float(low_ratio.mean()) if low_ratio.size else 0.0,
    )


def fit_zipf_exponent(counts_by_type: list[np.ndarray]) -> float:
    """MLE of s in P(rank r) ~ r^-s, pooled over types, from dyad counts sorted descending."""

    def nll(s: float) -> float:
        total = 0.0
        for counts in counts_by_type:
            ranks = np.arange(1, len(counts) + 1, dtype=float)
            log_norm = np.log(np.sum(ranks**-s))
            total -= float(np.sum(counts * (-s * np.log(ranks) - log_norm)))
        return total

    return float(minimize_scalar(nll, bounds=(0.0, 6.0), method="bounded").x)


def dyad_statistics(frame: pd.DataFrame) -> tuple[dict[str, int], float, int]:
    dyads: dict[str, int] = {}
    counts = []
    for code in (1, 2, 3):
        per_dyad = frame.loc[frame["type_of_violence"] == code, "dyad_name"].value_counts()
        dyads[str(code)] = len(per_dyad)
        if len(per_dyad):
            counts.append(np.sort(per_dyad.to_numpy(dtype=float))[::-1])
    actors = pd.concat([frame["side_a"], frame["side_b"]]).dropna()
    n_actors = int(actors[actors != CIVILIANS].nunique())
    return dyads, fit_zipf_exponent(counts), n_actors


def mark_persistence(
    dyad: np.ndarray, child: np.ndarray, parent: np.ndarray, weight: np.ndarray
) -> float:
    """How much more often triggered events share their parent's dyad than chance would give.

    P(same) = q + (1 - q) * c, with c the chance that two independent draws share a dyad.
    """
    if weight.sum() <= 0:
        return 0.0
    same = float(np.sum(weight * (dyad[child] == dyad[parent])) / weight.sum())
    _, counts = np.unique(dyad, return_counts=True)
    chance = float(np.sum((counts / counts.sum()) ** 2))
    return float(np.clip((same - chance) / (1 - chance), 0.0, 1.0))


def source_counts(values: pd.Series) -> tuple[float, float]:
    """Share of unknown (-1) source counts, and the mean of the known ones."""
    known = values[values > 0]
    unknown = float(np.mean(values == -1)) if len(values) else 0.0
    return unknown, float(known.mean()) if len(known) else 1.0
