"""Sample forecasts: ``draws[unit, month, draw]`` and their files.

Files use the VIEWS prediction-challenge layout: a long table with columns ``month_id``, the unit
id column, ``draw`` and ``outcome`` (one row per draw), written as Parquet. A backtest writes
``DIR/NAME/window=Y2019/predictions.parquet`` per window.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tocsin.forecast.errors import ForecastError
from tocsin.forecast.panel import MONTH

DRAW, OUTCOME = "draw", "outcome"
PREDICTIONS_FILE = "predictions.parquet"


class ForecastFileError(ForecastError):
    """A predictions file that is not in the challenge layout; the message says why."""


@dataclass(frozen=True)
class SampleForecast:
    unit: str
    units: np.ndarray  # (U,)
    months: np.ndarray  # (M,) month ids
    draws: np.ndarray  # (U, M, D) non-negative integers

    def __post_init__(self) -> None:
        u, m = len(self.units), len(self.months)
        if self.draws.ndim != 3 or self.draws.shape[:2] != (u, m):
            raise ValueError(f"draws must be ({u}, {m}, D), got {self.draws.shape}")

    @property
    def n_draws(self) -> int:
        return int(self.draws.shape[2])

    def to_frame(self) -> pd.DataFrame:
        return self.to_table().to_pandas()

    def to_table(self) -> pa.Table:
        u, m, d = self.draws.shape
        # Built from numpy columns directly: a pandas detour would double the memory of a
        # PRIO-GRID forecast (10^8 rows).
        units = np.asarray(self.units)
        unit_values = np.repeat(units, m * d)
        return pa.table({
            MONTH: pa.array(np.tile(np.repeat(self.months.astype(np.int32), d), u)),
            self.unit: pa.array(unit_values if units.dtype != object else unit_values.tolist()),
            DRAW: pa.array(np.tile(np.arange(d, dtype=np.int32), u * m)),
            OUTCOME: pa.array(self.draws.reshape(-1).astype(np.int64)),
        })

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".partial")
        pq.write_table(self.to_table(), tmp, compression="zstd")
        tmp.replace(path)  # a reader never sees a half-written file

    def quantiles(self, qs: list[float]) -> np.ndarray:
        return np.quantile(self.draws, qs, axis=2)


def read_predictions(path: Path, unit: str | None = None) -> SampleForecast:
    """Read a challenge-layout file (columns or index ``month_id, <unit>, draw`` + ``outcome``)."""
    if not path.is_file():
        raise ForecastFileError(f"predictions file not found: {path}")
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise ForecastFileError(f"{path}: not a readable Parquet file ({exc})") from exc
    if frame.index.names != [None]:
        frame = frame.reset_index()
    return forecast_from_frame(frame, unit, source=str(path))


def forecast_from_frame(
    frame: pd.DataFrame, unit: str | None = None, *, source: str = "predictions"
) -> SampleForecast:
    if OUTCOME not in frame.columns or MONTH not in frame.columns:
        raise ForecastFileError(f"{source}: needs columns month_id and outcome")
    if unit is None:
        others = [c for c in frame.columns if c not in (MONTH, DRAW, OUTCOME)]
        if len(others) != 1:
            raise ForecastFileError(f"{source}: cannot tell the unit column among {others}")
        unit = others[0]
    if unit not in frame.columns:
        raise ForecastFileError(f"{source}: no unit column {unit!r}")
    if DRAW not in frame.columns:
        frame = frame.assign(**{DRAW: frame.groupby([MONTH, unit]).cumcount()})
    outcome = pd.to_numeric(frame[OUTCOME], errors="coerce")
    if outcome.isna().any() or (outcome < 0).any():
        raise ForecastFileError(f"{source}: outcomes must be non-negative numbers")
    units = np.sort(frame[unit].unique())
    months = np.sort(frame[MONTH].unique())
    n_draws = frame[DRAW].nunique()
    expected = len(units) * len(months) * n_draws
    if len(frame) != expected or frame.duplicated([MONTH, unit, DRAW]).any():
        raise ForecastFileError(
            f"{source}: expected every unit x month x draw once ({len(units)} x {len(months)} x "
            f"{n_draws} = {expected} rows), found {len(frame)} rows"
        )
    ui = np.searchsorted(units, frame[unit].to_numpy())
    mi = np.searchsorted(months, frame[MONTH].to_numpy())
    di = pd.Index(np.sort(frame[DRAW].unique())).get_indexer(frame[DRAW])
    draws = np.zeros((len(units), len(months), n_draws), dtype=np.float64)
    draws[ui, mi, di] = outcome.to_numpy()
    if np.all(draws == np.round(draws)):
        draws = draws.astype(np.int64)
    return SampleForecast(unit, units, months, draws)


def window_path(out_dir: Path, model: str, window: str) -> Path:
    return out_dir / model / f"window={window}" / PREDICTIONS_FILE
