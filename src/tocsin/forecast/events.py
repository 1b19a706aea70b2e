"""Events for panels, from UCDP GED files or from the store, in one normalised frame.

Columns of the frame: ``month_id``, ``violence`` (``sb``, ``ns``, ``os``), ``fatalities``,
``country_iso3``, ``gwcode``, ``priogrid_gid``, ``latitude``, ``longitude``, ``admin1_pcode``,
``admin2_pcode`` (missing values are NaN/None). Events are placed in the month of their start
date, as in the UCDP monthly aggregates.

GED files come in three layouts, recognised from their header:
- the full 49-column download (``type_of_violence``, ``best``, ``date_start``, ``country_id`` =
  GW code of the country, ``priogrid_gid``);
- the UCDP API layout (the same columns plus ``geom_wkt``);
- a reduced 16-column layout (``year``, ``month``, ``type_of_violence_code``, ``best_death``,
  ``country``, ``priogrid_gid_computed``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from tocsin.forecast import countries
from tocsin.forecast.errors import ForecastError
from tocsin.forecast.registry import partitions

EVENT_FRAME_COLUMNS = [
    "month_id",
    "violence",
    "fatalities",
    "country_iso3",
    "gwcode",
    "priogrid_gid",
    "latitude",
    "longitude",
    "admin1_pcode",
    "admin2_pcode",
]
VIOLENCE_CODES = {1: "sb", 2: "ns", 3: "os"}
STORE_VIOLENCE = {"state_based": "sb", "non_state": "ns", "one_sided": "os"}
_FULL = {"type_of_violence", "best", "date_start", "latitude", "longitude"}
_REDUCED = {"year", "month", "type_of_violence_code", "best_death", "country"}
_SHOWN = 5


class EventSourceError(ForecastError):
    """An event file or store query that cannot be turned into a panel; says which rows."""


def read_ged_files(paths: Sequence[Path | str]) -> pd.DataFrame:
    """Read and stack UCDP GED CSV files of any of the three layouts. Duplicate event ids
    across files (the same event in two extracts) are kept once."""
    if not paths:
        raise EventSourceError("no event file given")
    frames = [read_ged_file(Path(p)) for p in paths]
    events = pd.concat(frames, ignore_index=True)
    if "_event_id" in events.columns:
        has_id = events["_event_id"].notna()
        dup = has_id & events.duplicated("_event_id")
        events = events[~dup]
    return events.drop(columns=["_event_id"], errors="ignore").reset_index(drop=True)


def read_ged_file(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise EventSourceError(f"event file not found: {path}")
    try:
        header = pd.read_csv(path, nrows=0).columns
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise EventSourceError(f"{path.name}: not a readable CSV file ({exc})") from exc
    cols = set(header)
    if cols >= _FULL:
        return _read_full(path, cols)
    if cols >= _REDUCED:
        return _read_reduced(path, cols)
    raise EventSourceError(
        f"{path.name}: not a UCDP GED layout; expected the columns {sorted(_FULL)} or "
        f"{sorted(_REDUCED)}, found {sorted(cols)[:15]}"
    )


def _read_csv(path: Path, usecols: list[str]) -> pd.DataFrame:
    try:
        return pd.read_csv(path, usecols=usecols, low_memory=False)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise EventSourceError(f"{path.name}: cannot read it ({exc})") from exc


def _read_full(path: Path, cols: set[str]) -> pd.DataFrame:
    wanted = [
        "id",
        "type_of_violence",
        "best",
        "date_start",
        "latitude",
        "longitude",
        "priogrid_gid",
        "country",
        "country_id",
    ]
    raw = _read_csv(path, [c for c in wanted if c in cols])
    dates = pd.to_datetime(
        raw["date_start"].astype("string").str[:10], errors="coerce", format="%Y-%m-%d"
    )
    _reject(path, raw, dates.isna(), "date_start is missing or not a date")
    out = pd.DataFrame(
        {
            "month_id": partitions.month_ids_of_dates(dates.dt.year, dates.dt.month).astype(
                "int64"
            ),
            "violence": _violence(path, raw, raw["type_of_violence"]),
            "fatalities": _fatalities(path, raw, raw["best"]),
            "latitude": pd.to_numeric(raw["latitude"], errors="coerce"),
            "longitude": pd.to_numeric(raw["longitude"], errors="coerce"),
            "priogrid_gid": _numeric(raw, "priogrid_gid"),
        }
    )
    if "country_id" in raw.columns:  # GED's country_id is the Gleditsch-Ward code
        out["gwcode"] = pd.to_numeric(raw["country_id"], errors="coerce")
        out["country_iso3"] = _iso3(path, out["gwcode"], raw.get("country"))
    else:
        out["gwcode"] = np.nan
        out["country_iso3"] = countries.iso3_for_names(raw["country"])
    out["_event_id"] = raw["id"].astype("string") if "id" in raw.columns else None
    return _finish(out)


def _read_reduced(path: Path, cols: set[str]) -> pd.DataFrame:
    wanted = [
        "id",
        "year",
        "month",
        "type_of_violence_code",
        "best_death",
        "country",
        "latitude",
        "longitude",
        "priogrid_gid_computed",
    ]
    raw = _read_csv(path, [c for c in wanted if c in cols])
    year = pd.to_numeric(raw["year"], errors="coerce")
    month = pd.to_numeric(raw["month"], errors="coerce")
    _reject(
        path,
        raw,
        year.isna() | month.isna() | ~month.between(1, 12),
        "year/month missing or out of range",
    )
    try:
        iso3 = countries.iso3_for_names(raw["country"].astype("string"))
    except countries.UnknownCountryError as exc:
        raise EventSourceError(f"{path.name}: {exc}") from exc
    out = pd.DataFrame(
        {
            "month_id": partitions.month_ids_of_dates(year, month).astype("int64"),
            "violence": _violence(path, raw, raw["type_of_violence_code"]),
            "fatalities": _fatalities(path, raw, raw["best_death"]),
            "latitude": _numeric(raw, "latitude"),
            "longitude": _numeric(raw, "longitude"),
            "priogrid_gid": _numeric(raw, "priogrid_gid_computed"),
            "country_iso3": iso3,
        }
    )
    out["gwcode"] = out["country_iso3"].map(countries.ISO3_TO_GW)
    out["_event_id"] = raw["id"].astype("string") if "id" in raw.columns else None
    return _finish(out)


def _numeric(raw: pd.DataFrame, column: str) -> pd.Series:
    if column not in raw.columns:
        return pd.Series(np.nan, index=raw.index)
    return pd.to_numeric(raw[column], errors="coerce")


def _iso3(path: Path, gw: pd.Series, names: pd.Series | None) -> pd.Series:
    iso = gw.map(countries.GW_TO_ISO3)
    if iso.isna().any() and names is not None:
        # Codes outside the current-states table (e.g. historical ones): fall back on the name.
        try:
            iso = iso.fillna(countries.iso3_for_names(names[iso.isna()].astype("string")))
        except countries.UnknownCountryError as exc:
            raise EventSourceError(f"{path.name}: {exc}") from exc
    return iso


def _violence(path: Path, raw: pd.DataFrame, codes: pd.Series) -> pd.Series:
    numeric = pd.to_numeric(codes, errors="coerce")
    bad = ~numeric.isin(list(VIOLENCE_CODES))
    _reject(path, raw, bad, "type of violence is not 1, 2 or 3")
    return numeric.astype(int).map(VIOLENCE_CODES)


def _fatalities(path: Path, raw: pd.DataFrame, values: pd.Series) -> pd.Series:
    numeric = pd.to_numeric(values, errors="coerce")
    _reject(path, raw, numeric.isna(), "best fatality estimate missing or not a number")
    _reject(path, raw, numeric < 0, "negative fatalities")
    _reject(path, raw, numeric != np.floor(numeric), "fractional fatalities")
    return numeric.astype("int64")


def _reject(path: Path, raw: pd.DataFrame, bad: pd.Series, reason: str) -> None:
    if bad.any():
        lines = (np.flatnonzero(bad.to_numpy())[:_SHOWN] + 2).tolist()  # +1 header, +1 one-based
        raise EventSourceError(
            f"{path.name}: {int(bad.sum())} event(s) with {reason}, at line(s) {lines}"
        )


def _finish(out: pd.DataFrame) -> pd.DataFrame:
    for column in ("admin1_pcode", "admin2_pcode"):
        out[column] = None
    keep = [*EVENT_FRAME_COLUMNS, "_event_id"]
    return out[keep]


def read_store_events(
    engine: Engine,
    *,
    datasets: Sequence[str] | None = None,
    tiers: Sequence[str] = ("public",),
) -> pd.DataFrame:
    """Events of organised violence from the store, as the normalised frame.

    Only ``datasets`` are read (default: every dataset whose name starts with ``ucdp``): mixing
    datasets would count the same deaths twice. Only events of the given sensitivity ``tiers``
    are read (default public), because forecasts are shared more widely than their inputs.
    """
    from tocsin.store.schema import events as t

    with engine.connect() as conn:
        available = [r[0] for r in conn.execute(select(t.c.dataset).distinct())]
        if datasets is None:
            datasets = [d for d in available if d.lower().startswith("ucdp")]
            if not datasets:
                raise EventSourceError(
                    "no UCDP dataset in the store; available datasets: "
                    f"{sorted(available) or 'none'} (choose with --dataset)"
                )
        unknown = sorted(set(datasets) - set(available))
        if unknown:
            raise EventSourceError(
                f"dataset(s) {unknown} not in the store; available: {sorted(available)}"
            )
        query = (
            select(
                t.c.date_start,
                t.c.violence_type,
                t.c.fatalities_best,
                t.c.country_iso3,
                t.c.priogrid_gid,
                t.c.latitude,
                t.c.longitude,
                t.c.admin1_pcode,
                t.c.admin2_pcode,
            )
            .where(t.c.dataset.in_(list(datasets)))
            .where(t.c.violence_type.in_(list(STORE_VIOLENCE)))
            .where(t.c.sensitivity.in_(list(tiers)))
        )
        raw = pd.DataFrame(
            conn.execute(query).fetchall(),
            columns=[
                "date_start",
                "violence_type",
                "fatalities_best",
                "country_iso3",
                "priogrid_gid",
                "latitude",
                "longitude",
                "admin1_pcode",
                "admin2_pcode",
            ],
        )
    if raw.empty:
        return pd.DataFrame(columns=EVENT_FRAME_COLUMNS)
    dates = pd.to_datetime(raw["date_start"])
    fatalities = pd.to_numeric(raw["fatalities_best"], errors="coerce")
    # The store's invariants reject negative fatalities; unknown counts are read as zero deaths
    # (the event still counts as an event).
    out = pd.DataFrame(
        {
            "month_id": partitions.month_ids_of_dates(dates.dt.year, dates.dt.month).astype(
                "int64"
            ),
            "violence": raw["violence_type"].map(STORE_VIOLENCE),
            "fatalities": fatalities.fillna(0).clip(lower=0).astype("int64"),
            "country_iso3": raw["country_iso3"],
            "gwcode": raw["country_iso3"].map(countries.ISO3_TO_GW),
            "priogrid_gid": pd.to_numeric(raw["priogrid_gid"], errors="coerce"),
            "latitude": pd.to_numeric(raw["latitude"], errors="coerce"),
            "longitude": pd.to_numeric(raw["longitude"], errors="coerce"),
            "admin1_pcode": raw["admin1_pcode"],
            "admin2_pcode": raw["admin2_pcode"],
        }
    )
    return out[EVENT_FRAME_COLUMNS]
