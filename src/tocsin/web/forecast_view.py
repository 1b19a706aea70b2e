"""Data of the forecast page: the latest run's risk by unit, why a unit's risk is what it is,
and its forecast against what happened (read only).

- **Risk by unit**: one month of the latest stored run (any level), units ranked by the chance
  of at least one fatality, with the median and the 90% interval of the count.
- **Why**: the stored explanations of that unit-month (``forecast_explanations``, LightGBM
  SHAP values): the features that raised and lowered each part of the model, named by their
  feature key and put into words in the reader's language by :mod:`tocsin.web.feature_labels`
  when the page is rendered.
- **Forecast against actual**: per month, the median and 90% interval of the run, and the
  fatalities counted from the events *in the viewer's scope* for that unit and the run's target
  (so the line says what this viewer can check, and nothing the viewer could not read anyway).

Drawing: :func:`interval_plot` returns SVG geometry (numbers only) for ``_forecast_plot.html``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, func, select

from tocsin.domain.taxonomy import ViolenceType
from tocsin.forecast.registry.partitions import month_id, month_label, year_month
from tocsin.security.policies import AccessScope
from tocsin.store import schema as s
from tocsin.store.queries import EventQuery
from tocsin.store.schema_forecast import forecast_explanations, forecast_values
from tocsin.web import forecast_data, map_data
from tocsin.web.forecast_data import RunInfo
from tocsin.web.i18n import N_, TranslatableError

MAX_ROWS = 200
HISTORY_MONTHS = 12  # actuals shown before the run's first forecast month
EXPLAINED_PARTS = ("occurrence", "intensity")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_UNIT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

# The forecast target's events: the fatality columns are per type of violence.
TARGET_TYPES = {
    "ged_sb": ViolenceType.STATE_BASED,
    "ged_ns": ViolenceType.NON_STATE,
    "ged_os": ViolenceType.ONE_SIDED,
}


class ForecastInputError(TranslatableError):
    """A month or unit asked for in the query string that the run does not have."""


@dataclass(frozen=True, slots=True)
class UnitRow:
    unit: str
    name: str
    p_ge1: float
    p_ge25: float
    median: float
    q05: float
    q95: float
    risk_class: int  # 0..4, the map's five classes


@dataclass(frozen=True, slots=True)
class Reason:
    part: str
    feature: str  # the model's feature key; the template puts it into words
    contribution: float
    value: float | None


@dataclass(frozen=True, slots=True)
class Why:
    raising: tuple[Reason, ...]
    lowering: tuple[Reason, ...]

    @property
    def empty(self) -> bool:
        return not self.raising and not self.lowering


@dataclass(frozen=True, slots=True)
class MonthPoint:
    month: str
    q05: float | None
    q50: float | None
    q95: float | None
    actual: int | None  # None: after the data, or no data for the month yet


def risk_class(p: float, bounds: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8)) -> int:
    return sum(p >= b for b in bounds)


def parse_month(text: str | None, run: RunInfo, default: int) -> int:
    """The month asked for (``YYYY-MM`` within the run), or ``default`` when none is."""
    if not text:
        return default
    match = _MONTH.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ForecastInputError(N_("the month must look like 2024-05"))
    mid = month_id(int(match.group(1)), int(match.group(2)))
    if not run.first_month <= mid <= run.last_month:
        raise ForecastInputError(
            N_("the run covers %(first)s to %(last)s"),
            first=month_label(run.first_month),
            last=month_label(run.last_month),
        )
    return mid


def default_month(run: RunInfo, today: date) -> int:
    now = month_id(today.year, today.month)
    return min(max(now, run.first_month), run.last_month)


def check_unit(text: str) -> str:
    if not _UNIT.match(text):
        raise ForecastInputError(N_("a unit is a country code, a P-code or a grid cell number"))
    return text


def ranked_units(conn: Connection, run: RunInfo, month: int) -> tuple[list[UnitRow], int]:
    """The ``MAX_ROWS`` riskiest units of the month, and how many units the run has."""
    v = forecast_values.c
    total = conn.execute(
        select(func.count()).where(v.run_id == run.id, v.month_id == month)
    ).scalar_one()
    rows = conn.execute(
        select(v.unit, v.p_ge1, v.p_ge25, v.q50, v.q05, v.q95)
        .where(v.run_id == run.id, v.month_id == month)
        .order_by(v.p_ge1.desc(), v.unit)
        .limit(MAX_ROWS)
    ).all()
    names = forecast_data.unit_names(conn, run.level, [r.unit for r in rows])
    return [
        UnitRow(
            r.unit,
            names.get(r.unit, r.unit),
            float(r.p_ge1),
            float(r.p_ge25),
            float(r.q50),
            float(r.q05),
            float(r.q95),
            risk_class(float(r.p_ge1)),
        )
        for r in rows
    ], int(total)


def unit_exists(conn: Connection, run: RunInfo, unit: str) -> bool:
    v = forecast_values.c
    found = conn.execute(select(v.unit).where(v.run_id == run.id, v.unit == unit).limit(1)).first()
    return found is not None


def why(conn: Connection, run: RunInfo, unit: str, month: int, top: int = 5) -> Why:
    x = forecast_explanations.c
    rows = conn.execute(
        select(x.part, x.feature, x.contribution, x.feature_value).where(
            x.run_id == run.id, x.unit == unit, x.month_id == month
        )
    ).all()
    reasons = [
        Reason(r.part, r.feature, float(r.contribution), r.feature_value)
        for r in rows
        if r.part in EXPLAINED_PARTS
    ]
    raising = sorted((r for r in reasons if r.contribution > 0), key=lambda r: -r.contribution)
    lowering = sorted((r for r in reasons if r.contribution < 0), key=lambda r: r.contribution)
    return Why(tuple(raising[:top]), tuple(lowering[:top]))


def _unit_column(level: str):  # noqa: ANN202 - a SQLAlchemy column
    e = s.events.c
    return {
        "cm": e.country_iso3,
        "adm1": e.admin1_pcode,
        "adm2": e.admin2_pcode,
        "pgm": e.priogrid_gid,
    }[level]


def actual_fatalities(
    conn: Connection, run: RunInfo, unit: str, first: int, last: int, scope: AccessScope
) -> dict[int, int]:
    """Fatalities per month in the unit, of the run's target type, from events in scope."""
    if scope.is_empty:
        return {}
    y0, m0 = year_month(first)
    y1, m1 = year_month(last)
    end = date(y1 + (m1 == 12), m1 % 12 + 1, 1)
    vtype = TARGET_TYPES.get(run.target)
    query = EventQuery(
        start=date(y0, m0, 1),
        end=date.fromordinal(end.toordinal() - 1),
        violence_types=(vtype,) if vtype else (),
    )
    column = _unit_column(run.level)
    value: str | int = int(unit) if run.level == "pgm" and unit.isdigit() else unit
    e = s.events.c
    rows = conn.execute(
        select(e.date_start, func.coalesce(func.sum(e.fatalities_best), 0))
        .where(*map_data.where_clauses(conn, query, scope), column == value)
        .group_by(e.date_start)
    ).all()
    out: dict[int, int] = {}
    for day, deaths in rows:
        text = str(day)
        mid = month_id(int(text[:4]), int(text[5:7]))
        out[mid] = out.get(mid, 0) + int(deaths)
    return out


def series(
    conn: Connection, run: RunInfo, unit: str, scope: AccessScope, today: date
) -> list[MonthPoint]:
    """From ``HISTORY_MONTHS`` before the run to its last month: forecast and actual."""
    first = run.first_month - HISTORY_MONTHS
    v = forecast_values.c
    forecast = {
        r.month_id: r
        for r in conn.execute(
            select(v.month_id, v.q05, v.q50, v.q95).where(v.run_id == run.id, v.unit == unit)
        )
    }
    actual = actual_fatalities(conn, run, unit, first, run.last_month, scope)
    current = month_id(today.year, today.month)
    out = []
    for mid in range(first, run.last_month + 1):
        f = forecast.get(mid)
        # A month not yet over has no complete count; a month with no event counts zero.
        observed = actual.get(mid, 0) if mid < current else None
        out.append(
            MonthPoint(
                month_label(mid),
                None if f is None else float(f.q05),
                None if f is None else float(f.q50),
                None if f is None else float(f.q95),
                observed,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Plot:
    width: int
    height: int
    band: str  # SVG polygon points of the 90% interval
    median: str  # SVG polyline points
    actual: tuple[tuple[float, float, str], ...]  # (x, y, tooltip)
    y_ticks: tuple[tuple[float, str], ...]
    x_labels: tuple[tuple[float, str, str], ...]  # (x, anchor, text)
    cutoff_x: float | None
    peak: float


def interval_plot(points: list[MonthPoint], width: int = 720, height: int = 220) -> Plot | None:
    """Geometry of the forecast (median line, 90% band) and the actuals (dots)."""
    if not points:
        return None
    values = [p.q95 for p in points if p.q95 is not None]
    values += [float(p.actual) for p in points if p.actual is not None]
    peak = max(values, default=0.0) or 1.0
    left, bottom, top_pad = 40.0, 20.0, 8.0
    plot_w, plot_h = width - left - 8, height - bottom - top_pad
    step = plot_w / max(len(points) - 1, 1)

    def x_of(i: int) -> float:
        return round(left + i * step, 2)

    def y_of(value: float) -> float:
        return round(top_pad + plot_h * (1 - value / peak), 2)

    fc = [(i, p) for i, p in enumerate(points) if p.q50 is not None]
    upper = [f"{x_of(i)},{y_of(p.q95 or 0.0)}" for i, p in fc]
    lower = [f"{x_of(i)},{y_of(p.q05 or 0.0)}" for i, p in reversed(fc)]
    actual = tuple(
        (x_of(i), y_of(float(p.actual)), f"{p.month}: {p.actual}")
        for i, p in enumerate(points)
        if p.actual is not None
    )
    ticks = tuple((y_of(peak * k / 4), f"{peak * k / 4:.0f}") for k in range(5))
    last = len(points) - 1
    labels = [(x_of(0), "start", points[0].month)]
    if last >= 6:
        for i in range(6, last - 2, 6):
            labels.append((x_of(i), "middle", points[i].month))
    if last > 0:
        labels.append((x_of(last), "end", points[last].month))
    return Plot(
        width,
        height,
        " ".join(upper + lower),
        " ".join(f"{x_of(i)},{y_of(p.q50 or 0.0)}" for i, p in fc),
        actual,
        ticks,
        tuple(labels),
        x_of(fc[0][0]) if fc else None,
        peak,
    )
