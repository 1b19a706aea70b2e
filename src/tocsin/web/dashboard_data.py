"""What the dashboard shows, read in the viewer's scope (read only).

- **Key figures**: events and fatalities in the last 30 and 90 days against the period just
  before, per type of violence. The window ends on the *reference day*: today, or the latest
  incident in the viewer's scope when that is older (a store of historical data would otherwise
  show only zeros). The page says which day it is.
- **Trend**: events per month for the twelve months up to the reference day, stacked by type.
- **Open alerts**: issued, acknowledged or response-assigned alerts the viewer's tier may
  receive, through the alerts module's own public functions and tier redaction.
- **Reports awaiting triage**: a count from ``report_cases`` when that table exists (the intake
  pages create it); absent, the widget says so instead of failing.
- **Forecast summary**: the latest stored run and its highest-risk units (internal tier).

Every event read uses the map's scope clauses (``map_data.where_clauses``), so own-records
roles see figures of their own records only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, func, inspect, select

from tocsin.alerts.lifecycle import AlertState
from tocsin.alerts.redaction import may_receive, redact_for_tier
from tocsin.alerts.repository import load_alert
from tocsin.domain.taxonomy import CaseClass, SensitivityTier
from tocsin.forecast.registry.partitions import month_id, month_label
from tocsin.security.policies import AccessScope
from tocsin.store import schema as s
from tocsin.store.queries import EventQuery
from tocsin.store.schema_alerts import alerts as alerts_table
from tocsin.web import charts, forecast_data, map_data
from tocsin.web.labels import UNKNOWN, VIOLENCE_ORDER

WINDOWS = (30, 90)
TREND_MONTHS = 12
ALERTS_SHOWN = 10
TOP_RISK_UNITS = 5
OPEN_ALERT_STATES = (AlertState.ISSUED, AlertState.ACKNOWLEDGED, AlertState.RESPONSE_ASSIGNED)
# A report case nobody has triaged yet (tocsin.verify.workflow.ReportState.RECEIVED).
RECEIVED_STATE = "received"

e = s.events.c


@dataclass(frozen=True, slots=True)
class Figures:
    events: int
    fatalities: int
    by_type: dict[str, tuple[int, int]]  # violence type -> (events, fatalities)


@dataclass(frozen=True, slots=True)
class Window:
    days: int
    start: date
    end: date
    current: Figures
    previous: Figures

    @property
    def events_change(self) -> int:
        return self.current.events - self.previous.events

    @property
    def fatalities_change(self) -> int:
        return self.current.fatalities - self.previous.fatalities


@dataclass(frozen=True, slots=True)
class OpenAlert:
    id: str
    state: str
    severity: str
    urgency: str
    headline: str
    issued_at: Any


@dataclass(frozen=True, slots=True)
class OpenAlerts:
    shown: tuple[OpenAlert, ...]
    total: int  # open alerts the viewer may receive (may exceed the shown ones)


@dataclass(frozen=True, slots=True)
class RiskSummary:
    run: forecast_data.RunInfo
    month: str
    top: tuple[tuple[str, str, float], ...]  # (unit, name, P(at least one fatality))


def viewer_tier(scope: AccessScope) -> SensitivityTier | None:
    """The highest tier in the scope; None when it is empty."""
    return max(scope.tiers, key=lambda t: t.rank) if scope.tiers else None


def reference_day(conn: Connection, scope: AccessScope, today: date) -> date:
    """Today, or the start date of the latest incident in scope if that is earlier."""
    if scope.is_empty:
        return today
    where = map_data.where_clauses(conn, EventQuery(end=today), scope)
    latest = conn.execute(select(func.max(e.date_start)).where(*where)).scalar()
    if latest is None:
        return today
    if isinstance(latest, str):  # SQLite returns ISO text
        latest = date.fromisoformat(latest[:10])
    return min(latest, today)


def _figures(conn: Connection, scope: AccessScope, start: date, end: date) -> Figures:
    where = map_data.where_clauses(conn, EventQuery(start=start, end=end), scope)
    rows = conn.execute(
        select(
            e.violence_type,
            func.count().label("n"),
            func.coalesce(func.sum(e.fatalities_best), 0).label("f"),
        )
        .where(*where)
        .group_by(e.violence_type)
    ).all()
    by_type = {v: (0, 0) for v in VIOLENCE_ORDER}
    for vtype, n, f in rows:
        key = vtype or UNKNOWN
        old = by_type.get(key, (0, 0))
        by_type[key] = (old[0] + int(n), old[1] + int(f))
    return Figures(
        sum(n for n, _ in by_type.values()), sum(f for _, f in by_type.values()), by_type
    )


def key_figures(conn: Connection, scope: AccessScope, ref: date) -> list[Window]:
    if scope.is_empty:
        empty = Figures(0, 0, {v: (0, 0) for v in VIOLENCE_ORDER})
        return [Window(d, ref - timedelta(days=d - 1), ref, empty, empty) for d in WINDOWS]
    out = []
    for days in WINDOWS:
        start = ref - timedelta(days=days - 1)
        prev_end = start - timedelta(days=1)
        prev_start = prev_end - timedelta(days=days - 1)
        out.append(
            Window(
                days,
                start,
                ref,
                _figures(conn, scope, start, ref),
                _figures(conn, scope, prev_start, prev_end),
            )
        )
    return out


def trend_months(ref: date, months: int = TREND_MONTHS) -> list[str]:
    last = month_id(ref.year, ref.month)
    return [month_label(m) for m in range(last - months + 1, last + 1)]


def monthly_trend(conn: Connection, scope: AccessScope, ref: date) -> charts.StackedBars:
    """Events per month and type, grouped by day in SQL (the same on both backends) and
    binned here: at most ~400 rows per type."""
    months = trend_months(ref)
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    if not scope.is_empty:
        year, month = (int(x) for x in months[0].split("-"))
        where = map_data.where_clauses(conn, EventQuery(start=date(year, month, 1), end=ref), scope)
        rows = conn.execute(
            select(e.date_start, e.violence_type, func.count())
            .where(*where)
            .group_by(e.date_start, e.violence_type)
        ).all()
        for day, vtype, n in rows:
            key = str(day)[:7]
            bucket = counts[key]
            bucket[vtype or UNKNOWN] = bucket.get(vtype or UNKNOWN, 0) + int(n)
    return charts.stacked_bars(months, counts, VIOLENCE_ORDER, height=160)


def open_alerts(
    conn: Connection, tier: SensitivityTier | None, case_classes: Iterable[CaseClass]
) -> OpenAlerts:
    """Open alerts a viewer of ``tier`` and ``case_classes`` may receive, newest first,
    headlines redacted for the tier."""
    classes = frozenset(case_classes)
    if tier is None:
        return OpenAlerts((), 0)
    a = alerts_table.c
    ids = conn.execute(
        select(a.id)
        .where(a.state.in_([st.value for st in OPEN_ALERT_STATES]))
        .order_by(a.period_start.desc(), a.id)
    ).scalars()
    shown: list[OpenAlert] = []
    total = 0
    for alert_id in ids:
        alert = load_alert(conn, alert_id)
        if not may_receive(alert.candidate, tier) or alert.candidate.case_class not in classes:
            continue
        total += 1
        if len(shown) < ALERTS_SHOWN:
            view = redact_for_tier(alert.candidate, tier)
            shown.append(
                OpenAlert(
                    alert.id,
                    alert.state.value,
                    alert.candidate.severity.value,
                    alert.candidate.urgency.value,
                    view.headline,
                    alert.issued_at,
                )
            )
    return OpenAlerts(tuple(shown), total)


def reports_awaiting_triage(conn: Connection, scope: AccessScope) -> int | None:
    """Report cases still in the ``received`` state that the viewer's scope admits, or None
    when the intake tables are not installed (the widget then says so)."""
    try:
        from tocsin.store.schema_intake import report_cases
    except ImportError:
        return None
    if not inspect(conn).has_table("report_cases"):
        return None
    if scope.is_empty:
        return 0
    c = report_cases.c
    return int(
        conn.execute(
            select(func.count())
            .select_from(report_cases)
            .where(
                c.state == RECEIVED_STATE,
                c.sensitivity.in_([t.value for t in scope.tiers]),
                c.case_class.in_([k.value for k in scope.case_classes]),
            )
        ).scalar_one()
    )


def risk_summary(conn: Connection, today: date) -> RiskSummary | None:
    layer = forecast_data.risk_layer(conn, today, levels=forecast_data.LEVELS)
    if layer is None:
        return None
    ranked = sorted(layer.values.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_RISK_UNITS]
    names = forecast_data.unit_names(conn, layer.run.level, [u for u, _ in ranked])
    return RiskSummary(layer.run, layer.month, tuple((u, names.get(u, u), p) for u, p in ranked))
