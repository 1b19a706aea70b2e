"""What goes into a situation report, read from the store for one audience.

- **Incidents**: every event in the period and area that the audience's scope admits, as export
  records (``tocsin.store.export.event_to_record``) passed through the field redaction
  (``tocsin.security.redaction``, export channel). A field the audience may not see is absent
  from the record, so it cannot reach the HTML or the PDF by mistake.
- **Alerts and responses** (``tocsin.store.schema_alerts``): alerts whose period overlaps the
  report's, in the area, of a tier the audience may receive, rendered from the alert module's
  own tier redaction (``tocsin.alerts.redaction.redact_for_tier``). Response tasks are free
  text without a tier of their own, so their descriptions are shown only from ``internal`` up;
  a public report gives their kind and status.
- **Forecast outlook**: the latest stored forecast run with units in the area (internal and
  up: forecasts say where violence is expected; see ``forecast_data``).

Audiences are tiers. The scope of each is fixed in :data:`AUDIENCES`: the tiers up to it,
general cases only below ``confidential``, and no protected field groups at all, so restricted
cases never carry coordinates, place names, narrative or sources in any report.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, select

from tocsin.alerts.lifecycle import Alert, AlertState
from tocsin.alerts.redaction import RedactedView, may_receive, redact_for_tier
from tocsin.alerts.repository import load_alert, tasks_for
from tocsin.alerts.responses import ResponseIndicators, ResponseTask, response_indicators
from tocsin.domain.taxonomy import CaseClass, SensitivityTier
from tocsin.security.policies import AccessScope, is_restricted_case, tiers_up_to
from tocsin.security.redaction import Channel, redact_record
from tocsin.store.export import event_to_record
from tocsin.store.queries import EventQuery, Scope, SortOrder, iter_events
from tocsin.store.schema_alerts import alerts as alerts_table
from tocsin.web.forecast_data import FORECAST_TIER, AreaOutlook, area_outlook
from tocsin.web.i18n import N_

_GENERAL = frozenset({CaseClass.GENERAL})

AUDIENCES: Mapping[SensitivityTier, AccessScope] = {
    SensitivityTier.PUBLIC: AccessScope(tiers_up_to(SensitivityTier.PUBLIC), _GENERAL),
    SensitivityTier.INTERNAL: AccessScope(tiers_up_to(SensitivityTier.INTERNAL), _GENERAL),
    SensitivityTier.RESTRICTED: AccessScope(tiers_up_to(SensitivityTier.RESTRICTED), _GENERAL),
    SensitivityTier.CONFIDENTIAL: AccessScope(
        tiers_up_to(SensitivityTier.CONFIDENTIAL), frozenset(CaseClass)
    ),
}
SHOWN_ALERT_STATES = frozenset(
    {
        AlertState.ISSUED,
        AlertState.ACKNOWLEDGED,
        AlertState.RESPONSE_ASSIGNED,
        AlertState.CLOSED,
    }
)


def audience_scope(tier: SensitivityTier, viewer: AccessScope | None = None) -> AccessScope:
    """The scope of a report for ``tier``; with ``viewer``, never wider than the viewer's own
    (a person can only produce a report of what they may see themselves)."""
    scope = AUDIENCES[tier]
    if viewer is None:
        return scope
    return replace(
        scope,
        tiers=scope.tiers & viewer.tiers,
        case_classes=scope.case_classes & viewer.case_classes,
        owner_user_id=viewer.owner_user_id,
    )


# --- incidents ----------------------------------------------------------------------------


def incident_records(
    conn: Connection, query: EventQuery, scope: AccessScope
) -> Iterator[tuple[dict[str, Any], bool]]:
    """(redacted export record, restricted case?) of every matching event, oldest first."""
    if scope.is_empty or scope.owner_user_id is not None:
        # Reports are about the situation, not one's own filings: own-records roles get none.
        return
    ordered = replace(query, sort=SortOrder.DATE_ASC)
    for stored in iter_events(conn, ordered, Scope(scope.tiers, scope.case_classes)):
        record = redact_record(event_to_record(stored), scope, Channel.EXPORT)
        if record is not None:
            ev = stored.event
            yield record, is_restricted_case(ev.sensitivity, ev.case_class)


# --- alerts -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskView:
    kind: str
    status: str
    assigned_at: datetime
    completed_at: datetime | None
    description: str | None  # None below internal
    assigned_to: str | None  # None below internal
    outcome_note: str | None  # None below internal


@dataclass(frozen=True, slots=True)
class AlertView:
    id: str
    mission: str
    kind: str
    state: str
    tier: str
    severity: str
    urgency: str
    certainty: str
    period_start: datetime
    period_end: datetime
    issued_at: datetime | None
    acknowledged_at: datetime | None
    closed_at: datetime | None
    outcome: str | None
    view: RedactedView
    tasks: tuple[TaskView, ...]


@dataclass(frozen=True, slots=True)
class AlertSection:
    alerts: tuple[AlertView, ...]
    indicators: ResponseIndicators | None
    withheld: int  # alerts in the period and area above the audience's tier


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _matches_area(alert: Alert, view: RedactedView, tokens: Iterable[str]) -> bool:
    keys = [alert.candidate.area_key.rsplit(":", 1)[-1].upper()]
    keys += [code.upper() for area in view.areas for _, code in area.geocodes]
    return any(key.startswith(token) for key in keys for token in tokens)


def _task_view(task: ResponseTask, tier: SensitivityTier) -> TaskView:
    detailed = tier >= SensitivityTier.INTERNAL
    return TaskView(
        kind=task.kind.value,
        status=task.status.value,
        assigned_at=task.assigned_at,
        completed_at=task.completed_at,
        description=task.description if detailed else None,
        assigned_to=task.assigned_to if detailed else None,
        outcome_note=task.outcome_note if detailed else None,
    )


def alert_section(
    conn: Connection,
    start: date,
    end: date,
    area_tokens: Iterable[str],
    tier: SensitivityTier,
    now: datetime,
    case_classes: Iterable[CaseClass],
) -> AlertSection:
    """Alerts of the period and area that an audience of ``tier`` and ``case_classes`` may
    receive, redacted; an alert of another case class counts as withheld."""
    classes = frozenset(case_classes)
    tokens = [t.upper() for t in area_tokens]
    period_start = datetime.combine(start, time(), tzinfo=UTC)
    period_end = datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC)
    ids = conn.execute(
        select(alerts_table.c.id)
        .where(
            alerts_table.c.period_start < period_end,
            alerts_table.c.period_end > period_start,
            alerts_table.c.state.in_([s.value for s in SHOWN_ALERT_STATES]),
        )
        .order_by(alerts_table.c.period_start, alerts_table.c.id)
    ).scalars()
    shown: list[tuple[Alert, RedactedView]] = []
    withheld = 0
    for alert_id in ids:
        alert = load_alert(conn, alert_id)
        if not may_receive(alert.candidate, tier) or alert.candidate.case_class not in classes:
            # Counted only if it is about this area by its key; its areas are not looked at.
            key = alert.candidate.area_key.rsplit(":", 1)[-1].upper()
            withheld += any(key.startswith(t) for t in tokens)
            continue
        view = redact_for_tier(alert.candidate, tier)
        if _matches_area(alert, view, tokens):
            shown.append((alert, view))
    tasks = tasks_for(conn, [a.id for a, _ in shown]) if shown else []
    by_alert: dict[str, list[ResponseTask]] = {}
    for task in tasks:
        by_alert.setdefault(task.alert_id, []).append(task)
    views = tuple(
        AlertView(
            id=alert.id,
            mission=alert.mission,
            kind=alert.candidate.kind.value,
            state=alert.state.value,
            tier=alert.candidate.tier.value,
            severity=alert.candidate.severity.value,
            urgency=alert.candidate.urgency.value,
            certainty=alert.candidate.certainty.value,
            period_start=_aware(alert.candidate.period_start),
            period_end=_aware(alert.candidate.period_end),
            issued_at=alert.issued_at,
            acknowledged_at=alert.acknowledged_at,
            closed_at=alert.closed_at,
            outcome=alert.outcome.value if alert.outcome else None,
            view=view,
            tasks=tuple(
                _task_view(t, tier)
                for t in sorted(by_alert.get(alert.id, []), key=lambda t: t.assigned_at)
            ),
        )
        for alert, view in shown
    )
    indicators = response_indicators([a for a, _ in shown], tasks, as_of=now) if shown else None
    return AlertSection(views, indicators, withheld)


# --- forecast outlook ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outlook:
    reason: str | None  # why there is no outlook (an English msgid), or None
    forecast: AreaOutlook | None = None


NO_RUN = N_("No forecast run is stored for this area: the section stays empty rather than guess.")
NOT_PUBLIC = N_("Forecasts are internal: a public report does not include them.")


def forecast_outlook(
    conn: Connection,
    tier: SensitivityTier,
    iso3: str | None,
    pcode_prefixes: Sequence[str],
    after: date,
) -> Outlook:
    """The latest stored forecast run for the area, for the months after the period; never
    for an audience below the forecasts' own tier, and never invented when none is stored."""
    if tier < FORECAST_TIER:
        return Outlook(NOT_PUBLIC)
    found = area_outlook(conn, iso3, pcode_prefixes, after)
    return Outlook(None, found) if found is not None else Outlook(NO_RUN)
