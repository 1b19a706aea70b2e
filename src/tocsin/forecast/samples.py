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
import pyarrow.compute  # noqa: F401 - registers pa.compute
import pyarrow.parquet as pq

from tocsin.forecast.errors import ForecastError
from tocsin.forecast.panel import MONTH

DRAW, OUTCOME = "draw", "outcome"
PREDICTIONS_FILE = "predictions.parquet"
WRITE_BLOCK_ROWS = 5_000_000


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

    def to_table(self, first: int = 0, stop: int | None = None) -> pa.Table:
        """Rows of units ``first .. stop - 1`` in the challenge layout."""
        units = np.asarray(self.units)[first:stop]
        draws = self.draws[first:stop]
        u, m, d = draws.shape
        # Built from numpy columns directly: a pandas detour would double the memory of a
        # PRIO-GRID forecast (10^8 rows).
        unit_values = np.repeat(units, m * d)
        return pa.table(
            {
                MONTH: pa.array(np.tile(np.repeat(self.months.astype(np.int32), d), u)),
                self.unit: pa.array(unit_values if units.dtype != object else unit_values.tolist()),
                DRAW: pa.array(np.tile(np.arange(d, dtype=np.int32), u * m)),
                OUTCOME: pa.array(draws.reshape(-1).astype(np.int64)),
            }
        )

    def write(self, path: Path) -> None:
        """Write in blocks of units (bounded memory), then rename: readers never see a
        half-written file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".partial")
        per_block = max(1, WRITE_BLOCK_ROWS // max(1, len(self.months) * self.n_draws))
        writer = None
        try:
            for first in range(0, len(self.units), per_block):
                table = self.to_table(first, first + per_block)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
                writer.write_table(table)
        finally:
            if writer is not None:
                writer.close()
        tmp.replace(path)


def read_predictions(path: Path, unit: str | None = None) -> SampleForecast:
    """Read a challenge-layout file (columns or index ``month_id, <unit>, draw`` + ``outcome``).

    Streams the file in record batches into the ``units x months x draws`` array, so a
    PRIO-GRID forecast (10^8 rows) needs about the memory of that array, not of a DataFrame.
    """
    if not path.is_file():
        raise ForecastFileError(f"predictions file not found: {path}")
    try:
        source = pq.ParquetFile(path)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise ForecastFileError(f"{path}: not a readable Parquet file ({exc})") from exc
    names = list(source.schema_arrow.names)
    unit = _unit_column(names, unit, str(path))
    has_draw = DRAW in names
    columns = [MONTH, unit, OUTCOME] + ([DRAW] if has_draw else [])
    if not has_draw:  # a file without draw numbers: draws are numbered in file order
        return forecast_from_frame(pd.read_parquet(path, columns=columns), unit, source=str(path))
    units, months, draw_ids = set(), set(), set()
    for batch in source.iter_batches(columns=columns, batch_size=2_000_000):
        units.update(pa.compute.unique(batch.column(unit)).to_pylist())
        months.update(pa.compute.unique(batch.column(MONTH)).to_pylist())
        draw_ids.update(pa.compute.unique(batch.column(DRAW)).to_pylist())
    unit_index = np.array(sorted(units), dtype=object if _texts(units) else np.int64)
    month_index = np.array(sorted(months), dtype=np.int64)
    draw_index = np.array(sorted(draw_ids), dtype=np.int64)
    shape = (len(unit_index), len(month_index), len(draw_index))
    if source.metadata.num_rows != np.prod(shape):
        raise ForecastFileError(
            f"{path}: expected every unit x month x draw once ({shape[0]} x {shape[1]} x "
            f"{shape[2]} = {np.prod(shape)} rows), found {source.metadata.num_rows} rows"
        )
    draws = np.full(shape, -1.0)
    for batch in source.iter_batches(columns=columns, batch_size=2_000_000):
        outcome = batch.column(OUTCOME).to_numpy(zero_copy_only=False).astype(np.float64)
        if np.isnan(outcome).any() or (outcome < 0).any():
            raise ForecastFileError(f"{path}: outcomes must be non-negative numbers")
        ui = np.searchsorted(unit_index, _values(batch.column(unit)))
        mi = np.searchsorted(month_index, batch.column(MONTH).to_numpy())
        di = np.searchsorted(draw_index, batch.column(DRAW).to_numpy())
        draws[ui, mi, di] = outcome
    if (draws < 0).any():
        raise ForecastFileError(f"{path}: some unit-month-draws appear twice, others never")
    if np.all(draws == np.round(draws)):
        draws = draws.astype(np.int64)
    return SampleForecast(unit, unit_index, month_index, draws)


def _texts(values: set) -> bool:
    return any(isinstance(v, str) for v in values)


def _values(column: pa.Array) -> np.ndarray:
    return (
        np.asarray(column.to_pylist(), dtype=object)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
        else column.to_numpy()
    )


def _unit_column(names: list[str], unit: str | None, source: str) -> str:
    if OUTCOME not in names or MONTH not in names:
        raise ForecastFileError(f"{source}: needs columns month_id and outcome")
    if unit is None:
        others = [
            c
            for c in names
            if c not in (MONTH, DRAW, OUTCOME) and not c.startswith("__index_level")
        ]
        if len(others) != 1:
            raise ForecastFileError(f"{source}: cannot tell the unit column among {others}")
        unit = others[0]
    if unit not in names:
        raise ForecastFileError(f"{source}: no unit column {unit!r}")
    return unit


def forecast_from_frame(
    frame: pd.DataFrame, unit: str | None = None, *, source: str = "predictions"
) -> SampleForecast:
    """A small forecast held as a DataFrame (draws numbered in row order if not given)."""
    unit = _unit_column(list(frame.columns), unit, source)
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
