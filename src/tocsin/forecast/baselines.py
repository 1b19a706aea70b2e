"""The benchmarks of the VIEWS 2023/24 prediction challenge, re-implemented, plus a 60-month mean.

All take the history up to the cut-off (already truncated: they never see later months) and
return draws for each unit present in the cut-off month:

- ``zero``: every draw is 0;
- ``last``: Poisson draws around the unit's value in the cut-off month ("last historical");
- ``boot``: a global bootstrap: draws sampled with replacement from the values of *all* units in
  the 12 months up to the cut-off, independently for each unit-month;
- ``conflictology``: the unit's own 12 values up to the cut-off, taken as 12 equally likely
  draws for every forecast month (so this forecast has 12 draws, as the official files);
- ``avg60``: Poisson draws around the unit's mean over the 60 months up to the cut-off.

Documented handling of short histories: where a unit has fewer months than a baseline's window
(a new state, a panel that starts late), the months it has are used; ``conflictology`` then
spreads them over its 12 draws by their empirical quantiles. A unit with no month in the window
cannot happen (it is forecast only if present at the cut-off).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from tocsin.forecast.panel import HistoryTooShortError, Panel
from tocsin.forecast.registry import partitions
from tocsin.forecast.samples import SampleForecast

CONFLICTOLOGY_DRAWS = 12
BOOT_MONTHS = 12
AVG_MONTHS = 60


def recent_history(history: Panel, target: str, n_months: int) -> tuple[np.ndarray, np.ndarray]:
    """``(units, values[units, n_months])`` for the units present in the last month."""
    cutoff = history.last_month
    units = history.units_at(cutoff)
    if len(units) == 0:
        raise HistoryTooShortError("no unit has data in the last month of the history")
    dense, months = history.dense(target, units)
    first, _ = partitions.months_before(cutoff, n_months)
    return units, dense[:, months >= first]


def zero(
    history: Panel, target: str, months: Sequence[int], n_draws: int, rng: np.random.Generator
) -> SampleForecast:
    units = history.units_at(history.last_month)
    draws = np.zeros((len(units), len(months), n_draws), dtype=np.int64)
    return SampleForecast(history.unit, units, np.asarray(months), draws)


def last(
    history: Panel, target: str, months: Sequence[int], n_draws: int, rng: np.random.Generator
) -> SampleForecast:
    units, values = recent_history(history, target, 1)
    lam = values[:, -1]
    draws = rng.poisson(lam[:, None, None], size=(len(units), len(months), n_draws))
    return SampleForecast(history.unit, units, np.asarray(months), draws.astype(np.int64))


def boot(
    history: Panel, target: str, months: Sequence[int], n_draws: int, rng: np.random.Generator
) -> SampleForecast:
    units = history.units_at(history.last_month)
    # The pool is every unit's values in the last 12 months, including units gone since.
    dense, month_ids = history.dense(target)
    first, _ = partitions.months_before(history.last_month, BOOT_MONTHS)
    values = dense[:, month_ids >= first]
    pool = values[~np.isnan(values)]
    draws = rng.choice(pool, size=(len(units), len(months), n_draws), replace=True)
    return SampleForecast(history.unit, units, np.asarray(months), draws.astype(np.int64))


def conflictology(
    history: Panel, target: str, months: Sequence[int], n_draws: int, rng: np.random.Generator
) -> SampleForecast:
    units, values = recent_history(history, target, CONFLICTOLOGY_DRAWS)
    draws12 = spread_to_draws(values, CONFLICTOLOGY_DRAWS)
    draws = np.broadcast_to(draws12[:, None, :], (len(units), len(months), CONFLICTOLOGY_DRAWS))
    return SampleForecast(history.unit, units, np.asarray(months), draws.astype(np.int64).copy())


def avg60(
    history: Panel, target: str, months: Sequence[int], n_draws: int, rng: np.random.Generator
) -> SampleForecast:
    units, values = recent_history(history, target, AVG_MONTHS)
    lam = np.nanmean(values, axis=1)
    draws = rng.poisson(lam[:, None, None], size=(len(units), len(months), n_draws))
    return SampleForecast(history.unit, units, np.asarray(months), draws.astype(np.int64))


def spread_to_draws(values: np.ndarray, n: int) -> np.ndarray:
    """Each row's non-missing values, as ``n`` draws (themselves when there are exactly ``n``)."""
    out = np.empty((values.shape[0], n))
    complete = ~np.isnan(values).any(axis=1) & (values.shape[1] == n)
    if complete.any():
        out[complete] = values[complete]
    for i in np.flatnonzero(~complete):
        ordered = np.sort(values[i][~np.isnan(values[i])])
        out[i] = ordered[np.floor(np.arange(n) * len(ordered) / n).astype(int)]
    return out


Baseline = Callable[[Panel, str, Sequence[int], int, np.random.Generator], SampleForecast]
BASELINES: dict[str, Baseline] = {
    "zero": zero,
    "last": last,
    "boot": boot,
    "conflictology": conflictology,
    "avg60": avg60,
}


def conflictology_values(history: Panel, target: str) -> tuple[np.ndarray, np.ndarray]:
    """The 12 conflictology draws per unit (used by the Tocsin model's mixture)."""
    units, values = recent_history(history, target, CONFLICTOLOGY_DRAWS)
    return units, spread_to_draws(values, CONFLICTOLOGY_DRAWS)
