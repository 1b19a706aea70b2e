"""What each simulated event carries: dyad, fatalities and their split, GED precision codes."""

from __future__ import annotations

import numpy as np

from tocsin.scenario.actors import Dyad
from tocsin.scenario.calibration import Calibration, EstimateSpread, FatalityModel

MAX_FATALITIES = 5_000  # a cap on the lognormal tail; no single GED event in CAR exceeds 800


def generations(parent: np.ndarray) -> np.ndarray:
    """Generation of each event (0 = background); parents precede their offspring."""
    gen = np.zeros(parent.size, dtype=int)
    child = np.flatnonzero(parent >= 0)
    while child.size:
        updated = gen[parent[child]] + 1
        changed = updated != gen[child]
        if not changed.any():
            break
        gen[child] = updated
    return gen


def assign_dyads(
    parent: np.ndarray, dyads: tuple[Dyad, ...], calibration: Calibration, rng: np.random.Generator
) -> np.ndarray:
    """Dyad index per event: offspring keep their parent's dyad with the fitted persistence,
    otherwise (and for background events) draw from type shares x Zipf weights within type."""
    weights = np.array([calibration.type_shares[str(d.violence)] * d.weight for d in dyads])
    weights /= weights.sum()
    dyad = rng.choice(len(dyads), size=parent.size, p=weights)
    inherit = (parent >= 0) & (rng.random(parent.size) < calibration.mark_persistence)
    gen = generations(parent)
    for g in range(1, int(gen.max(initial=0)) + 1):
        here = np.flatnonzero(inherit & (gen == g))
        dyad[here] = dyad[parent[here]]
    return dyad


def draw_fatalities(
    violence: np.ndarray, models: dict[str, FatalityModel], rng: np.random.Generator
) -> np.ndarray:
    best = np.zeros(violence.size, dtype=np.int64)
    for code, model in models.items():
        mine = np.flatnonzero(violence == int(code))
        fatal = mine[rng.random(mine.size) >= model.zero_share]
        draws = np.exp(rng.normal(model.log_mu, model.log_sigma, size=fatal.size))
        best[fatal] = np.clip(np.ceil(draws), 1, MAX_FATALITIES).astype(np.int64)
    return best


def draw_estimates(
    best: np.ndarray, spread: EstimateSpread, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """low <= best <= high, spread on the log(deaths + 1) scale as in the calibration data."""
    high = best.copy()
    above = rng.random(best.size) < spread.high_above_share
    ratio = np.exp(rng.exponential(max(spread.high_log_ratio_mean, 1e-9), size=above.sum()))
    high[above] = np.maximum(best[above] + 1, np.round((best[above] + 1) * ratio) - 1)
    low = best.copy()
    below = (best > 0) & (rng.random(best.size) < spread.low_below_share)
    ratio = np.exp(-rng.exponential(max(spread.low_log_ratio_mean, 1e-9), size=below.sum()))
    low[below] = np.minimum(best[below] - 1, np.maximum(0, np.round((best[below] + 1) * ratio) - 1))
    return low.astype(np.int64), high.astype(np.int64)


def split_deaths(
    best: np.ndarray,
    violence: np.ndarray,
    patterns: dict[str, dict[str, float]],
    rng: np.random.Generator,
) -> np.ndarray:
    """Columns deaths_a, deaths_b, deaths_civilians, deaths_unknown; each row sums to best.

    A pattern (which categories are non-zero) is drawn with the fitted shares; every category of
    the pattern gets one death and the rest are spread evenly at random among them.
    """
    letters = "abcu"
    out = np.zeros((best.size, 4), dtype=np.int64)
    for code, shares in patterns.items():
        keys = list(shares)
        p = np.array([shares[k] for k in keys])
        mine = np.flatnonzero((violence == int(code)) & (best > 0))
        chosen = rng.choice(len(keys), size=mine.size, p=p / p.sum())
        for k, key in enumerate(keys):
            rows = mine[chosen == k]
            if rows.size == 0:
                continue
            columns = np.array([letters.index(c) for c in key])
            # Fewer deaths than categories: keep the first categories, in random order.
            order = np.argsort(rng.random((rows.size, columns.size)), axis=1)
            counts = np.zeros((rows.size, columns.size), dtype=np.int64)
            guaranteed = np.minimum(best[rows], columns.size)
            counts[np.arange(columns.size)[None, :] < guaranteed[:, None]] = 1
            counts = np.take_along_axis(counts, order, axis=1)
            rest = best[rows] - guaranteed
            counts += rng.multinomial(rest, np.full(columns.size, 1.0 / columns.size))
            out[rows[:, None], columns[None, :]] = counts
    return out


def draw_codes(shares: dict[str, float], n: int, rng: np.random.Generator) -> np.ndarray:
    codes = np.array([int(k) for k in shares])
    p = np.array(list(shares.values()), dtype=float)
    return rng.choice(codes, size=n, p=p / p.sum())


def draw_source_counts(calibration: Calibration, n: int, rng: np.random.Generator) -> np.ndarray:
    counts = rng.geometric(1.0 / max(calibration.sources_mean, 1.0), size=n)
    counts[rng.random(n) < calibration.sources_unknown_share] = -1
    return counts
