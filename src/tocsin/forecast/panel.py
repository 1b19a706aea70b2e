"""Unit-month panels: one row per unit and month, counts of fatalities by violence type.

A :class:`Panel` is validated once, when it is made, so that every model and baseline can trust
it: one row per unit-month, no gaps inside a unit's span, fatality counts that are non-negative
integers, known unit ids. Bad input raises :class:`PanelError` with the first offending rows.

Documented handling rather than errors:
- units may start and end at different months (a country that did not exist yet); models forecast
  the units present in the last month of the history they are given;
- gaps inside a unit's span are an error unless ``fill_gaps=True``, which inserts the missing
  months with zero fatalities and covariates carried forward from the month before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tocsin.forecast.errors import ForecastError
from tocsin.forecast.registry import partitions

MONTH = "month_id"
# Columns holding counts (fatalities or events): must be non-negative integers, never missing.
FATALITY_COLUMNS = ("ged_sb", "ged_ns", "ged_os")
EVENT_COUNT_COLUMNS = ("events_sb", "events_ns", "events_os")
COUNT_COLUMNS = FATALITY_COLUMNS + EVENT_COUNT_COLUMNS
# PRIO-GRID v2 has 360 x 720 cells.
MAX_PRIOGRID_GID = 259_200
# Month ids beyond 2200 are typos, not forecasts.
MAX_MONTH_ID = partitions.month_id(2200, 12)
_SHOWN = 5  # offending rows quoted in an error message


class PanelError(ForecastError):
    """The panel cannot be used as it is; the message says which rows and why."""


class HistoryTooShortError(PanelError):
    """Not enough months before the cut-off to fit or run a forecaster."""


@dataclass(frozen=True)
class Panel:
    """A validated long panel sorted by (unit, month). Build it with :func:`make_panel`."""

    frame: pd.DataFrame
    unit: str
    count_columns: tuple[str, ...] = field(default=())

    @property
    def first_month(self) -> int:
        return int(self.frame[MONTH].min())

    @property
    def last_month(self) -> int:
        return int(self.frame[MONTH].max())

    @property
    def units(self) -> np.ndarray:
        return self.frame[self.unit].drop_duplicates().to_numpy()

    def units_at(self, month: int) -> np.ndarray:
        """Units with a row in ``month`` (the ones a forecast from that month covers)."""
        rows = self.frame[self.frame[MONTH] == month]
        return rows[self.unit].to_numpy()

    def until(self, cutoff: int) -> Panel:
        """The panel as it was known at the end of month ``cutoff``: later rows are dropped.

        Backtests hand models only this truncated copy, so nothing after the cut-off can be read.
        """
        kept = self.frame[self.frame[MONTH] <= cutoff]
        if kept.empty:
            raise HistoryTooShortError(
                f"no data up to {partitions.month_label(cutoff)} (month_id {cutoff}); the panel "
                f"starts at {partitions.month_label(self.first_month)}"
            )
        return Panel(kept.reset_index(drop=True), self.unit, self.count_columns)

    def columns(self) -> list[str]:
        return [c for c in self.frame.columns if c not in (MONTH, self.unit)]

    def dense(self, column: str, units: Sequence | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(units x months)`` float array of ``column`` over the panel's full month range.

        Months outside a unit's span are NaN. Returns the array and the month ids of its columns.
        """
        months = np.arange(self.first_month, self.last_month + 1)
        unit_index = pd.Index(self.units if units is None else units)
        rows = unit_index.get_indexer(self.frame[self.unit])
        keep = rows >= 0
        out = np.full((len(unit_index), len(months)), np.nan)
        cols = self.frame[MONTH].to_numpy()[keep] - self.first_month
        out[rows[keep], cols] = self.frame[column].to_numpy(dtype=float)[keep]
        return out, months


def make_panel(
    frame: pd.DataFrame,
    unit: str,
    *,
    targets: Iterable[str] = (),
    fill_gaps: bool = False,
) -> Panel:
    """Validate ``frame`` and wrap it as a :class:`Panel`.

    ``targets`` are the columns that will be forecast; they and every known count column present
    (``ged_*``, ``events_*``) must hold non-negative integers.
    """
    if MONTH not in frame.columns:
        raise PanelError(f"the panel has no {MONTH!r} column (columns: {_few(frame.columns)})")
    if unit not in frame.columns:
        raise PanelError(f"the panel has no unit column {unit!r} (columns: {_few(frame.columns)})")
    targets = list(targets)
    missing = [t for t in targets if t not in frame.columns]
    if missing:
        raise PanelError(f"target column(s) {missing} not in the panel")
    if frame.empty:
        raise PanelError("the panel has no rows")
    df = frame.copy()
    df[MONTH] = _integer_column(df[MONTH], MONTH)
    bad_month = df[(df[MONTH] < 1) | (df[MONTH] > MAX_MONTH_ID)]
    if not bad_month.empty:
        raise PanelError(
            f"{len(bad_month)} row(s) have a month_id outside 1..{MAX_MONTH_ID}: "
            f"{_rows(bad_month, unit)}"
        )
    _check_units(df, unit)
    counts = tuple(dict.fromkeys([*targets, *(c for c in COUNT_COLUMNS if c in df.columns)]))
    for column in counts:
        # Targets must be complete; other counts are covariates and may be missing (NaN), for
        # example in months recovered from a target's lag columns.
        df[column] = _count_column(df, column, unit, allow_missing=column not in targets)
    dup = df[df.duplicated([unit, MONTH], keep=False)]
    if not dup.empty:
        raise PanelError(
            f"{len(dup)} rows share a unit-month (each unit-month must appear once): "
            f"{_rows(dup, unit)}"
        )
    df = df.sort_values([unit, MONTH], kind="stable").reset_index(drop=True)
    gaps = _gaps(df, unit)
    if not gaps.empty:
        if not fill_gaps:
            raise PanelError(
                f"{len(gaps)} unit(s) have missing months inside their span, e.g. "
                f"{_describe_gaps(gaps, unit)}; fill them explicitly (fill_gaps / --fill-gaps "
                "inserts zero fatalities) or fix the panel"
            )
        df = _fill_gaps(df, unit, counts)
    return Panel(df, unit, counts)


def _few(columns: Iterable[str]) -> str:
    cols = list(columns)
    return ", ".join(map(str, cols[:12])) + (" ..." if len(cols) > 12 else "")


def _rows(rows: pd.DataFrame, unit: str) -> str:
    shown = rows[[unit, MONTH]].head(_SHOWN).to_dict("records")
    more = f" (and {len(rows) - _SHOWN} more)" if len(rows) > _SHOWN else ""
    return f"{shown}{more}"


def _integer_column(values: pd.Series, name: str) -> pd.Series:
    numeric = pd.to_numeric(values, errors="coerce")
    bad = numeric.isna() | (numeric != np.round(numeric))
    if bad.any():
        raise PanelError(
            f"column {name!r} must hold whole numbers; bad values: "
            f"{values[bad].head(_SHOWN).tolist()}"
        )
    return numeric.astype(np.int64)


def _count_column(df: pd.DataFrame, column: str, unit: str, *, allow_missing: bool) -> pd.Series:
    numeric = pd.to_numeric(df[column], errors="coerce")
    not_number = numeric.isna() & df[column].notna()
    if not_number.any() or (numeric.isna().any() and not allow_missing):
        bad = df[numeric.isna()]
        raise PanelError(f"{column!r} is missing or not a number in {_rows(bad, unit)}")
    if (numeric < 0).any():
        bad = df[numeric < 0]
        raise PanelError(f"{column!r} has negative counts in {_rows(bad, unit)}")
    fractional = numeric.notna() & (numeric != np.floor(numeric))
    if fractional.any():
        bad = df[fractional]
        raise PanelError(
            f"{column!r} must hold whole numbers of fatalities; fractional values in "
            f"{_rows(bad, unit)}"
        )
    return numeric if numeric.isna().any() else numeric.astype(np.int64)


def _check_units(df: pd.DataFrame, unit: str) -> None:
    ids = df[unit]
    if ids.isna().any():
        raise PanelError(f"{int(ids.isna().sum())} row(s) have no {unit!r}")
    if unit == "priogrid_gid":
        gid = pd.to_numeric(ids, errors="coerce")
        bad = df[gid.isna() | (gid < 1) | (gid > MAX_PRIOGRID_GID) | (gid != np.floor(gid))]
        if not bad.empty:
            raise PanelError(
                f"unknown PRIO-GRID cell id(s) (valid: 1..{MAX_PRIOGRID_GID}): {_rows(bad, unit)}"
            )
    elif unit in {"country_id", "gwcode", "gleditsch_ward"}:
        code = pd.to_numeric(ids, errors="coerce")
        bad = df[code.isna() | (code < 1) | (code != np.floor(code))]
        if not bad.empty:
            raise PanelError(f"unknown {unit} value(s): {_rows(bad, unit)}")
    elif unit == "country_iso3":
        from tocsin.forecast.countries import is_known_iso3

        unknown = sorted({str(v) for v in ids.unique() if not is_known_iso3(str(v))})
        if unknown:
            raise PanelError(f"unknown ISO3 country code(s): {unknown[:_SHOWN]}")


def _gaps(df: pd.DataFrame, unit: str) -> pd.DataFrame:
    span = df.groupby(unit, sort=False)[MONTH].agg(["min", "max", "size"])
    return span[span["max"] - span["min"] + 1 != span["size"]]


def _describe_gaps(gaps: pd.DataFrame, unit: str) -> str:
    parts = []
    for uid, row in gaps.head(_SHOWN).iterrows():
        expected = int(row["max"] - row["min"] + 1)
        parts.append(f"{unit}={uid}: {expected - int(row['size'])} of {expected} months missing")
    return "; ".join(parts)


def _fill_gaps(df: pd.DataFrame, unit: str, counts: tuple[str, ...]) -> pd.DataFrame:
    pieces = []
    for uid, rows in df.groupby(unit, sort=False):
        full = np.arange(rows[MONTH].min(), rows[MONTH].max() + 1)
        filled = rows.set_index(MONTH).reindex(full)
        filled[unit] = uid
        for column in filled.columns:
            if column in counts:
                filled[column] = filled[column].fillna(0).astype(np.int64)
            elif column != unit:
                filled[column] = filled[column].ffill()
        pieces.append(filled.rename_axis(MONTH).reset_index())
    return pd.concat(pieces, ignore_index=True)[df.columns]


# --- the VIEWS layout ---------------------------------------------------------------------------


def read_views_panel(
    paths: Sequence[Path | str],
    *,
    unit: str = "country_id",
    targets: Iterable[str] = ("ged_sb",),
    recover_lags: bool = True,
    fill_gaps: bool = False,
) -> Panel:
    """Read one or more panels in the VIEWS layout (``month_id``, unit id, ``ged_*``, features).

    Several files are stacked (e.g. ``cm_panel_2018_2022.parquet`` plus
    ``long_history/*.parquet``); rows present in several files must agree on the targets, else
    :class:`PanelError`.

    With ``recover_lags`` a target's earlier months are recovered from its lag columns
    (``<target>_tlag_k`` at a unit's first month is the target ``k`` months before; a missing
    target in month ``t`` is ``<target>_tlag_1`` of month ``t + 1``). This is the same data,
    published in the panel itself, and gives the benchmarks their full 12-month history.
    """
    if not paths:
        raise PanelError("no panel file given")
    frames = [_read_table(Path(p)) for p in paths]
    targets = list(targets)
    combined = _stack(frames, unit, targets)
    if recover_lags:
        for target in targets:
            combined = recover_history_from_lags(combined, unit, target)
    return make_panel(combined, unit, targets=targets, fill_gaps=fill_gaps)


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise PanelError(f"panel file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            df = pd.read_parquet(path)
        elif suffix == ".csv":
            df = pd.read_csv(path)
        else:
            raise PanelError(f"{path.name}: a panel must be .parquet or .csv")
    except (OSError, ValueError) as exc:
        if isinstance(exc, PanelError):
            raise
        raise PanelError(f"{path.name}: cannot read it as a table ({exc})") from exc
    if MONTH not in df.columns and MONTH in (df.index.names or []):
        df = df.reset_index()
    return df


def _stack(frames: list[pd.DataFrame], unit: str, targets: list[str]) -> pd.DataFrame:
    if len(frames) == 1:
        return frames[0]
    for i, frame in enumerate(frames):
        for column in (MONTH, unit):
            if column not in frame.columns:
                raise PanelError(f"panel file #{i + 1} has no {column!r} column")
    combined = pd.concat(frames, ignore_index=True, sort=False)
    # Where two files hold the same unit-month, keep the row of the first file given, after
    # checking that the targets agree (a disagreement means two different data versions).
    key = [unit, MONTH]
    present = [t for t in targets if t in combined.columns]
    dup_mask = combined.duplicated(key, keep=False)
    if dup_mask.any() and present:
        dups = combined[dup_mask]
        spread = dups.groupby(key)[present].nunique(dropna=True)
        conflicts = spread[(spread > 1).any(axis=1)]
        if not conflicts.empty:
            shown = conflicts.head(_SHOWN).index.tolist()
            raise PanelError(
                f"panel files disagree on {present} for {len(conflicts)} unit-month(s), e.g. "
                f"{shown}; they are different versions of the data"
            )
    # Later files may fill columns the first one lacks for the same unit-month.
    return combined.groupby(key, sort=False, as_index=False).first()


def recover_history_from_lags(df: pd.DataFrame, unit: str, target: str) -> pd.DataFrame:
    """Fill or prepend months of ``target`` from the panel's own ``<target>_tlag_k`` columns."""
    lag_cols = {}
    for column in df.columns:
        prefix = f"{target}_tlag_"
        if column.startswith(prefix) and column[len(prefix) :].isdigit():
            lag_cols[int(column[len(prefix) :])] = column
    if not lag_cols:
        return df
    out = df.copy()
    if target not in out.columns:
        out[target] = np.nan
    # 1. within the span: a missing target at t is tlag_1 at t + 1.
    if 1 in lag_cols:
        nxt = out[[unit, MONTH, lag_cols[1]]].copy()
        nxt[MONTH] = nxt[MONTH] - 1
        nxt = nxt.rename(columns={lag_cols[1]: "_recovered"})
        out = out.merge(nxt, on=[unit, MONTH], how="left")
        out[target] = out[target].fillna(out.pop("_recovered"))
        # The last month of a unit that ended (a state that split) has no next month to recover
        # its target from: such trailing months are dropped, as if the unit ended a month early.
        missing = out[target].isna()
        if missing.any():
            order = out.sort_values([unit, MONTH], ascending=[True, False])
            trailing = order[target].isna().groupby(order[unit]).cummin()
            out = out.drop(index=order.index[trailing.to_numpy()])
    # 2. before the span: at a unit's first month, tlag_k is month first - k.
    firsts = out.loc[out.groupby(unit)[MONTH].idxmin()]
    rows = []
    for k, column in sorted(lag_cols.items()):
        values = firsts[[unit, MONTH, column]].dropna(subset=[column])
        rows.append(
            pd.DataFrame(
                {
                    unit: values[unit].to_numpy(),
                    MONTH: values[MONTH].to_numpy() - k,
                    target: values[column].to_numpy(),
                }
            )
        )
    if not rows:
        return out
    early = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    # Only prepend a contiguous run of months (k = 1, 2, ... without holes).
    early = early.sort_values([unit, MONTH], ascending=[True, False])
    first_month = firsts.set_index(unit)[MONTH]
    early["_expected"] = early[unit].map(first_month) - early.groupby(unit).cumcount() - 1
    early = early[early[MONTH] == early.pop("_expected")]
    early = early[early[MONTH] >= 1]
    existing = pd.MultiIndex.from_frame(out[[unit, MONTH]])
    early = early[~pd.MultiIndex.from_frame(early[[unit, MONTH]]).isin(existing)]
    out = pd.concat([early, out], ignore_index=True, sort=False)
    return out.sort_values([unit, MONTH], kind="stable").reset_index(drop=True)
