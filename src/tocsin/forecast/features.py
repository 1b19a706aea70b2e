"""Features for every unit and origin month, computed from the conflict history only.

All features at origin month ``t`` use months ``<= t`` and nothing else, so the same function
serves training (many origins) and forecasting (the last origin). They are computed on dense
``(units x months)`` arrays, vectorised over units:

- the target's own history: the last 6 months, rolling sums over 3-60 months, the share of
  active months, rolling maxima, exponentially weighted means of ``log1p`` (several memories),
  months since the last fatality and since the last month with 25 or more, decay functions
  ``2 ** (-months_since / half_life)``, a short-versus-long trend and the volatility;
- the other violence types and event counts: last month, 12-month sum, decay (other types of
  violence predict violence against civilians);
- spatial lags over neighbours (PRIO-GRID queen contiguity, or country contiguity when given):
  neighbours' last month, 12-month sums and decay, also for the second ring of cells;
- covariates present in the panel (any other numeric column), at the origin month.

Missing history (a unit that starts late) gives NaN, which LightGBM treats as "unknown".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from tocsin.forecast.panel import COUNT_COLUMNS, MONTH, Panel

ROLL_WINDOWS = (3, 6, 12, 24, 36, 60)
LAGS = 6
EWM_HALF_LIVES = (1, 3, 6, 12, 24)
DECAY_HALF_LIVES = (3, 12, 36)
HIGH = 25
MAX_COVARIATES = 200
# log1p of the mean of the last n months: levels the intensity model can predict changes from.
BASE_MONTHS = (3, 12)


@dataclass(frozen=True)
class FeatureCube:
    """``values[unit, month, feature]`` (float32) for the panel's units and months."""

    units: np.ndarray
    months: np.ndarray
    names: list[str]
    values: np.ndarray

    def at(self, month: int) -> np.ndarray:
        return self.values[:, int(month - self.months[0]), :]


def align(cube: FeatureCube, names: list[str]) -> FeatureCube:
    """``cube`` with exactly the features ``names``, in that order; missing ones are NaN."""
    index = {n: i for i, n in enumerate(cube.names)}
    values = np.full((*cube.values.shape[:2], len(names)), np.nan, dtype=np.float32)
    for k, name in enumerate(names):
        if name in index:
            values[:, :, k] = cube.values[:, :, index[name]]
    return FeatureCube(cube.units, cube.months, list(names), values)


def neighbour_matrix(units: np.ndarray, neighbours: Mapping[object, Sequence[object]]):
    """Row-sum (not normalised) adjacency among ``units``; neighbours outside ``units`` ignored."""
    index = {u: i for i, u in enumerate(units.tolist())}
    rows, cols = [], []
    for u, i in index.items():
        for v in neighbours.get(u, ()):
            j = index.get(v)
            if j is not None and j != i:
                rows.append(i)
                cols.append(j)
    data = np.ones(len(rows), dtype=np.float32)
    return sparse.csr_matrix((data, (rows, cols)), shape=(len(units), len(units)))


def priogrid_neighbours(units: np.ndarray, ring: int = 1) -> dict[int, list[int]]:
    """Cells at Chebyshev distance exactly ``ring`` (1: the 8 touching cells)."""
    from tocsin.geo.prio_grid import COLUMNS

    out: dict[int, list[int]] = {}
    for gid in units.tolist():
        row, col = divmod(int(gid) - 1, COLUMNS)
        cells = []
        for dr in range(-ring, ring + 1):
            for dc in range(-ring, ring + 1):
                if max(abs(dr), abs(dc)) != ring:
                    continue
                r = row + dr
                if 0 <= r < 360:
                    cells.append(r * COLUMNS + (col + dc) % COLUMNS + 1)
        out[gid] = cells
    return out


def build_features(
    panel: Panel,
    target: str,
    *,
    neighbours: Mapping[object, Sequence[object]] | None = None,
    second_ring: Mapping[object, Sequence[object]] | None = None,
    first_origin: int | None = None,
    covariates: bool = True,
) -> FeatureCube:
    """The feature cube for all units of ``panel`` and origins ``first_origin .. last month``."""
    units = panel.units
    y, months = panel.dense(target, units)
    start = 0 if first_origin is None else max(0, int(first_origin - months[0]))
    blocks: list[tuple[str, np.ndarray]] = []
    blocks += _own_history(y, "y")
    for column in [c for c in COUNT_COLUMNS if c in panel.frame.columns and c != target]:
        other, _ = panel.dense(column, units)
        blocks += _short_history(other, column)
    if neighbours:
        w1 = neighbour_matrix(units, neighbours)
        blocks += _spatial(y, w1, "nb1")
        if second_ring:
            blocks += _spatial(y, neighbour_matrix(units, second_ring), "nb2")
        for column in [
            c for c in ("ged_sb", "ged_ns", "ged_os") if c in panel.frame.columns and c != target
        ]:
            other, _ = panel.dense(column, units)
            blocks.append((f"nb1_{column}_sum12", _spatial_sum(_roll_sum(other, 12), w1)))
    if covariates:
        for column in _covariate_columns(panel, target):
            values, _ = panel.dense(column, units)
            blocks.append((f"cov_{column}", values))
    names = [name for name, _ in blocks]
    cube = np.empty((len(units), len(months) - start, len(blocks)), dtype=np.float32)
    for k, (_, values) in enumerate(blocks):
        cube[:, :, k] = values[:, start:]
    return FeatureCube(units, months[start:], names, cube)


def _covariate_columns(panel: Panel, target: str) -> list[str]:
    skip = {MONTH, panel.unit, target, *COUNT_COLUMNS}
    numeric = [
        c
        for c in panel.frame.columns
        if c not in skip
        and pd.api.types.is_numeric_dtype(panel.frame[c])
        # The panel's own lags of the target would leak nothing, but they duplicate features.
        and not c.startswith(f"{target}_tlag")
    ]
    return numeric[:MAX_COVARIATES]


# --- the target's own history ------------------------------------------------------------------


def _own_history(y: np.ndarray, p: str) -> list[tuple[str, np.ndarray]]:
    logy = np.log1p(y)
    out = [(f"{p}_lag{k}", _shift(y, k)) for k in range(LAGS)]
    for w in ROLL_WINDOWS:
        out.append((f"{p}_sum{w}", _roll_sum(y, w)))
        out.append((f"{p}_active{w}", _roll_mean((y > 0).astype(float), w, y)))
    for w in (12, 36):
        out.append((f"{p}_max{w}", _roll_max(y, w)))
        out.append((f"{p}_logstd{w}", _roll_std(logy, w)))
    for h in EWM_HALF_LIVES:
        out.append((f"{p}_ewm{h}", _ewm(logy, h)))
    since = _months_since(y > 0, y)
    since_high = _months_since(y >= HIGH, y)
    out.append((f"{p}_since", since))
    out.append((f"{p}_since{HIGH}", since_high))
    for h in DECAY_HALF_LIVES:
        out.append((f"{p}_decay{h}", _decay(since, h)))
        out.append((f"{p}_decay{HIGH}_{h}", _decay(since_high, h)))
    with np.errstate(invalid="ignore"):
        out.append(
            (f"{p}_trend3_12", np.log1p(_roll_mean(y, 3, y)) - np.log1p(_roll_mean(y, 12, y)))
        )
        out.append(
            (f"{p}_trend12_60", np.log1p(_roll_mean(y, 12, y)) - np.log1p(_roll_mean(y, 60, y)))
        )
    out.append((f"{p}_history", _history_length(y)))
    with np.errstate(invalid="ignore"):
        for months in BASE_MONTHS:
            out.append((f"{p}_base{months}", np.log1p(_roll_mean(y, months, y))))
    return out


def _short_history(x: np.ndarray, p: str) -> list[tuple[str, np.ndarray]]:
    since = _months_since(x > 0, x)
    return [
        (f"{p}_lag0", x),
        (f"{p}_sum3", _roll_sum(x, 3)),
        (f"{p}_sum12", _roll_sum(x, 12)),
        (f"{p}_ewm6", _ewm(np.log1p(x), 6)),
        (f"{p}_decay12", _decay(since, 12)),
    ]


def _spatial(y: np.ndarray, w, p: str) -> list[tuple[str, np.ndarray]]:  # noqa: ANN001
    since = _months_since(y > 0, y)
    return [
        (f"{p}_lag0", _spatial_sum(y, w)),
        (f"{p}_sum3", _spatial_sum(_roll_sum(y, 3), w)),
        (f"{p}_sum12", _spatial_sum(_roll_sum(y, 12), w)),
        (f"{p}_sum36", _spatial_sum(_roll_sum(y, 36), w)),
        (f"{p}_decay12_max", _spatial_max(_decay(since, 12), w)),
        (f"{p}_active12", _spatial_sum(_roll_mean((y > 0).astype(float), 12, y), w)),
    ]


def _spatial_sum(x: np.ndarray, w) -> np.ndarray:  # noqa: ANN001
    return np.asarray(w @ np.nan_to_num(x))


def _spatial_max(x: np.ndarray, w) -> np.ndarray:  # noqa: ANN001
    filled = np.nan_to_num(x)
    out = np.zeros_like(filled)
    coo = w.tocoo()
    # Max over neighbours, one neighbour slot at a time (at most a few dozen per unit).
    order = np.lexsort((coo.col, coo.row))
    rows, cols = coo.row[order], coo.col[order]
    np.maximum.at(out, rows, filled[cols])
    return out


# --- vectorised rolling helpers (axis 1 is time) ------------------------------------------------


def _shift(x: np.ndarray, k: int) -> np.ndarray:
    if k == 0:
        return x.copy()
    out = np.full_like(x, np.nan)
    out[:, k:] = x[:, :-k]
    return out


def _cumsum0(x: np.ndarray) -> np.ndarray:
    c = np.zeros((x.shape[0], x.shape[1] + 1))
    c[:, 1:] = np.cumsum(np.nan_to_num(x), axis=1)
    return c


def _roll_sum(x: np.ndarray, w: int) -> np.ndarray:
    """Sum of the last ``w`` months present (NaN only when none is)."""
    c = _cumsum0(x)
    n = _cumsum0(~np.isnan(x))
    idx = np.arange(x.shape[1])
    lo = np.maximum(idx - w + 1, 0)
    s = c[:, idx + 1] - c[:, lo]
    count = n[:, idx + 1] - n[:, lo]
    s[count == 0] = np.nan
    return s


def _roll_mean(x: np.ndarray, w: int, presence: np.ndarray) -> np.ndarray:
    x = np.where(np.isnan(presence), np.nan, x)
    c = _cumsum0(x)
    n = _cumsum0(~np.isnan(x))
    idx = np.arange(x.shape[1])
    lo = np.maximum(idx - w + 1, 0)
    count = n[:, idx + 1] - n[:, lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (c[:, idx + 1] - c[:, lo]) / count


def _roll_max(x: np.ndarray, w: int) -> np.ndarray:
    return pd.DataFrame(x.T).rolling(w, min_periods=1).max().to_numpy().T


def _roll_std(x: np.ndarray, w: int) -> np.ndarray:
    return pd.DataFrame(x.T).rolling(w, min_periods=2).std().to_numpy().T


def _ewm(x: np.ndarray, half_life: float) -> np.ndarray:
    return pd.DataFrame(x.T).ewm(halflife=half_life, ignore_na=True).mean().to_numpy().T


def _months_since(event: np.ndarray, presence: np.ndarray) -> np.ndarray:
    """Months since the last month where ``event`` held (0 = this month); NaN if never seen."""
    out = np.full(event.shape, np.nan)
    last = np.full(event.shape[0], np.nan)
    for t in range(event.shape[1]):
        last = last + 1
        last[event[:, t]] = 0
        out[:, t] = last
    out[np.isnan(presence)] = np.nan
    return out


def _decay(since: np.ndarray, half_life: float) -> np.ndarray:
    return np.where(np.isnan(since), 0.0, 2.0 ** (-np.nan_to_num(since) / half_life))


def _history_length(y: np.ndarray) -> np.ndarray:
    return np.cumsum(~np.isnan(y), axis=1).astype(float)
