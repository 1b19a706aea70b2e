"""Alerts as a reader of a given tier may see them: the API, the pages and the command line.

Every view is built from ``redact_for_tier`` (passages and areas above the reader's tier are
dropped or generalised, numbers only when nothing was withheld), and an alert above the
reader's tier is never read at all: ``list_alerts`` is called with the reader's tiers.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from tocsin.alerts import repository as repo
from tocsin.alerts.cap import build_atom_feed, build_cap
from tocsin.alerts.lifecycle import OPEN_STATES, Alert, AlertState
from tocsin.alerts.redaction import redact_for_tier
from tocsin.alerts.responses import ResponseTask, response_indicators
from tocsin.domain.taxonomy import CaseClass, SensitivityTier
from tocsin.security.policies import tiers_up_to

DEFAULT_SENDER = "tocsin"
_ORDER = {
    AlertState.ISSUED: 0,
    AlertState.ACKNOWLEDGED: 1,
    AlertState.RESPONSE_ASSIGNED: 2,
    AlertState.DRAFT: 3,
    AlertState.CLOSED: 4,
    AlertState.SUPPRESSED: 5,
}


def sort_for_attention(alerts: Iterable[Alert]) -> list[Alert]:
    """Open alerts first (unacknowledged before acknowledged), the nearest deadline first;
    then drafts waiting for a person, then closed ones, newest first."""
    far = datetime.max.replace(tzinfo=None)

    def key(a: Alert) -> tuple:
        deadline = a.ack_deadline.replace(tzinfo=None) if a.ack_deadline else far
        return (_ORDER[a.state], deadline, -a.created_at.timestamp())

    return sorted(alerts, key=key)


def visible_tiers(max_tier: SensitivityTier | None) -> frozenset[SensitivityTier]:
    return tiers_up_to(max_tier)


def _task(t: ResponseTask) -> dict[str, Any]:
    return {
        "id": t.id,
        "kind": t.kind.value,
        "description": t.description,
        "assigned_to": t.assigned_to,
        "status": t.status.value,
        "assigned_at": t.assigned_at,
        "started_at": t.started_at,
        "completed_at": t.completed_at,
        "outcome_note": t.outcome_note,
    }


def alert_view(
    alert: Alert, tier: SensitivityTier, now: datetime, tasks: Sequence[ResponseTask] = ()
) -> dict[str, Any]:
    """The alert for a reader cleared up to ``tier`` (raises ``TierError`` if below it)."""
    c = alert.candidate
    view = redact_for_tier(c, tier)
    overdue = (
        alert.state is AlertState.ISSUED
        and alert.ack_deadline is not None
        and now > alert.ack_deadline
    )
    return {
        "id": alert.id,
        "mission": alert.mission,
        "state": alert.state.value,
        "tier": c.tier.value,
        "kind": c.kind.value,
        "trigger_id": c.trigger_id,
        "headline": view.headline,
        "severity": c.severity.value,
        "urgency": c.urgency.value,
        "certainty": c.certainty.value,
        "threat_category": c.threat_category.value if c.threat_category else None,
        "period_start": c.period_start,
        "period_end": c.period_end,
        "explanation": list(view.passages),
        "areas": [a.description for a in view.areas],
        "measures": dict(view.measures),
        "complete": view.complete,
        "instruction": view.instruction,
        "requires_confirmation": c.requires_confirmation,
        "created_at": alert.created_at,
        "issued_at": alert.issued_at,
        "issued_by": alert.issued_by,
        "ack_deadline": alert.ack_deadline,
        "overdue": overdue,
        "acknowledged_at": alert.acknowledged_at,
        "acknowledged_by": alert.acknowledged_by,
        "response_assigned_at": alert.response_assigned_at,
        "closed_at": alert.closed_at,
        "outcome": alert.outcome.value if alert.outcome else None,
        "outcome_note": alert.outcome_note,
        "escalation_level": alert.escalation_level,
        "duplicate_of": alert.duplicate_of,
        "tasks": [_task(t) for t in tasks],
    }


def cap_for(
    alert: Alert, tier: SensitivityTier, *, sender: str = DEFAULT_SENDER, web: str | None = None
) -> bytes:
    """CAP 1.2 XML for a channel of ``tier``; a draft goes out with status ``Draft``."""
    status = "Draft" if alert.state in (AlertState.DRAFT, AlertState.SUPPRESSED) else "Actual"
    sent = alert.issued_at or alert.created_at
    return build_cap(alert, sender=sender, channel_tier=tier, sent=sent, status=status, web=web).xml


def atom_feed(
    conn: Connection,
    tier: SensitivityTier,
    now: datetime,
    *,
    sender: str = DEFAULT_SENDER,
    self_url: str | None = None,
    message_url: str | None = None,
    limit: int = 200,
    case_classes: Collection[CaseClass] = frozenset({CaseClass.GENERAL}),
) -> bytes:
    """Open alerts of tier ``tier`` and below and of the reader's ``case_classes``, each
    rendered for ``tier``, as a CAP/Atom feed."""
    alerts = repo.list_alerts(conn, tiers=visible_tiers(tier), states=OPEN_STATES, limit=limit)
    alerts = [a for a in alerts if a.candidate.case_class in case_classes]
    messages = [
        build_cap(a, sender=sender, channel_tier=tier, sent=a.issued_at or a.created_at)
        for a in alerts
    ]
    return build_atom_feed(
        messages,
        feed_id=f"urn:tocsin:alerts:{tier.value}",
        title=f"Tocsin alerts ({tier.value})",
        tier=tier,
        updated=max((m.sent for m in messages), default=now),
        self_url=self_url,
        message_url=message_url,
    )


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds(), 1)


def indicators_for(
    conn: Connection, tier: SensitivityTier, now: datetime, *, limit: int = 100_000
) -> dict[str, Any]:
    alerts = repo.list_alerts(conn, tiers=visible_tiers(tier), limit=limit)
    alerts = [a for a in alerts if a.state is not AlertState.SUPPRESSED]
    tasks = repo.tasks_for(conn, [a.id for a in alerts]) if alerts else []
    found = response_indicators(alerts, tasks, as_of=now)
    share = found.share_response_within_24h
    return {
        "alerts_issued": found.n_issued,
        "alerts_acknowledged": found.n_acknowledged,
        "median_time_to_acknowledge_s": _seconds(found.median_time_to_acknowledge),
        "alerts_with_response": found.n_with_response,
        "median_time_to_response_s": _seconds(found.median_time_to_response),
        "alerts_judged_for_24h": found.n_judged_24h,
        "share_response_within_24h": None if share is None else round(share, 4),
    }
