"""Reading stored forecast runs for the pages and the situation report (read only).

Runs are written by the forecaster into ``tocsin.store.schema_forecast``: one row per run,
summary values per unit and month (quantiles, P(at least 1) and P(at least 25) fatalities).
Units depend on the run's ``level``: ISO3 codes (``cm``), admin-1 or admin-2 P-codes
(``adm1``/``adm2``) or PRIO-GRID cells (``pgm``).

Forecasts are aggregates, but a forecast for a prefecture tells where the mission expects
violence: like the alerts built on them, they are treated as **internal**. Pages show them only
to viewers whose scope includes the internal tier; a public report leaves them out and says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import shapely
from sqlalchemy import Connection, func, select

from tocsin.domain.taxonomy import SensitivityTier
from tocsin.forecast.registry.partitions import month_id, month_label
from tocsin.geo.countries import UnknownCountryError, country_info, country_outline
from tocsin.geo.prio_grid import cell_center
from tocsin.store import schema as s
from tocsin.store.schema_forecast import forecast_runs, forecast_values

FORECAST_TIER = SensitivityTier.INTERNAL
LEVELS = ("cm", "adm1", "adm2", "pgm")


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: int
    model: str
    model_version: str
    level: str
    target: str
    data_cutoff: str  # YYYY-MM
    first_month: int
    last_month: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class UnitForecast:
    unit: str
    name: str
    month: str  # YYYY-MM
    mean: float
    q05: float
    q95: float
    p_ge1: float
    p_ge25: float


@dataclass(frozen=True, slots=True)
class AreaOutlook:
    run: RunInfo
    months: tuple[str, ...]
    rows: tuple[UnitForecast, ...]  # highest P(at least 1) first, per month
    units: int


def _run(row: Any) -> RunInfo:
    return RunInfo(
        id=row.id,
        model=row.model,
        model_version=row.model_version,
        level=row.level,
        target=row.target,
        data_cutoff=month_label(row.data_cutoff),
        first_month=row.first_month,
        last_month=row.last_month,
        created_at=row.created_at,
    )


def latest_run(conn: Connection, levels: Iterable[str] = LEVELS) -> RunInfo | None:
    r = forecast_runs.c
    row = conn.execute(
        select(forecast_runs)
        .where(r.level.in_(list(levels)))
        .order_by(r.created_at.desc(), r.id.desc())
        .limit(1)
    ).first()
    return None if row is None else _run(row)


def _units_of_run(conn: Connection, run_id: int) -> list[str]:
    v = forecast_values.c
    return list(conn.execute(select(v.unit).where(v.run_id == run_id).distinct()).scalars())


def units_in_area(
    level: str, units: Sequence[str], iso3: str | None, pcode_prefixes: Sequence[str]
) -> list[str]:
    """The run's units that lie in the area (a country, or P-code prefixes)."""
    if level == "cm":
        return [u for u in units if iso3 is not None and u.upper() == iso3]
    if level in ("adm1", "adm2"):
        prefixes = [p.upper() for p in pcode_prefixes]
        return [u for u in units if any(u.upper().startswith(p) for p in prefixes)]
    if level == "pgm" and iso3 is not None:
        try:
            outline = country_outline(iso3)
        except UnknownCountryError:
            return []
        inside = []
        for u in units:
            if u.isdigit():
                lat, lon = cell_center(int(u))
                if shapely.intersects(outline, shapely.Point(lon, lat)):
                    inside.append(u)
        return inside
    return []


def unit_names(conn: Connection, level: str, units: Iterable[str]) -> dict[str, str]:
    """Readable names: countries from the shipped outlines, P-codes from the events' own
    admin names, grid cells by number."""
    units = list(units)
    if level == "cm":
        out = {}
        for u in units:
            try:
                out[u] = country_info(u).name
            except UnknownCountryError:
                out[u] = u
        return out
    if level in ("adm1", "adm2"):
        code, name = (
            (s.events.c.admin1_pcode, s.events.c.admin1_name)
            if level == "adm1"
            else (s.events.c.admin2_pcode, s.events.c.admin2_name)
        )
        found: dict[str, str] = {}
        for i in range(0, len(units), 500):
            chunk = units[i : i + 500]
            rows = conn.execute(
                select(code, func.max(name)).where(code.in_(chunk)).group_by(code)
            ).all()
            found.update({c: f"{n} ({c})" for c, n in rows if n})
        return {u: found.get(u, u) for u in units}
    return {u: f"PRIO-GRID {u}" for u in units}


def area_outlook(
    conn: Connection,
    iso3: str | None,
    pcode_prefixes: Sequence[str],
    after: date,
    *,
    months: int = 3,
    top: int = 12,
) -> AreaOutlook | None:
    """The latest run with units in the area: its forecasts for up to ``months`` months from
    the month after ``after`` (or the run's first months if it starts later or ends earlier),
    the ``top`` units by P(at least one fatality) for each month."""
    r = forecast_runs.c
    for row in conn.execute(select(forecast_runs).order_by(r.created_at.desc(), r.id.desc())):
        run = _run(row)
        units = units_in_area(run.level, _units_of_run(conn, run.id), iso3, pcode_prefixes)
        if not units:
            continue
        wanted = month_id(after.year, after.month) + 1
        start = min(max(wanted, run.first_month), run.last_month)
        shown = list(range(start, min(start + months, run.last_month + 1)))
        v = forecast_values.c
        values = conn.execute(
            select(forecast_values).where(
                v.run_id == run.id, v.month_id.in_(shown), v.unit.in_(units)
            )
        ).all()
        names = unit_names(conn, run.level, units)
        rows = []
        for month in shown:
            ranked = sorted(
                (x for x in values if x.month_id == month), key=lambda x: (-x.p_ge1, x.unit)
            )
            rows.extend(
                UnitForecast(
                    x.unit,
                    names.get(x.unit, x.unit),
                    month_label(month),
                    x.mean,
                    x.q05,
                    x.q95,
                    x.p_ge1,
                    x.p_ge25,
                )
                for x in ranked[:top]
            )
        return AreaOutlook(run, tuple(month_label(m) for m in shown), tuple(rows), len(units))
    return None


@dataclass(frozen=True, slots=True)
class RiskLayer:
    run: RunInfo
    month: str
    values: dict[str, float]  # unit -> P(at least one fatality)


def risk_layer(conn: Connection, today: date, levels: Sequence[str] = LEVELS) -> RiskLayer | None:
    """P(at least one fatality) per unit for one month of the latest run (the map draws
    countries from the basemap, admin areas from the boundaries layer and PRIO-GRID cells
    from their numbers): the current month if the run covers it, else its nearest month."""
    run = latest_run(conn, levels)
    if run is None:
        return None
    now = month_id(today.year, today.month)
    month = min(max(now, run.first_month), run.last_month)
    v = forecast_values.c
    rows = conn.execute(
        select(v.unit, v.p_ge1).where(v.run_id == run.id, v.month_id == month)
    ).all()
    return RiskLayer(run, month_label(month), {u: float(p) for u, p in rows})
