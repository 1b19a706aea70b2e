"""Storing alerts and their lifecycle events (tables in ``tocsin.store.schema_alerts``).

An alert row and the audit events that changed it are written in the caller's transaction, and
updates are conditional on the alert's event count (``seq``): two people acknowledging the same
alert at once cannot both succeed, and no change is stored without its event.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update

from tocsin.alerts.lifecycle import (
    Alert,
    AlertState,
    AuditEvent,
    Outcome,
    admit,
)
from tocsin.alerts.model import (
    AlertArea,
    AlertCandidate,
    Certainty,
    Passage,
    Severity,
    TriggerKind,
    Urgency,
)
from tocsin.alerts.responses import ResponseTask, TaskKind, TaskStatus
from tocsin.domain.taxonomy import CaseClass, PocThreatCategory, SensitivityTier
from tocsin.store.schema_alerts import alert_events, alerts, response_tasks


class ConcurrentUpdate(RuntimeError):
    pass


class AlertNotFound(LookupError):
    pass


# ------------------------------------------------------------------ candidate <-> JSON


def _area_to(area: AlertArea) -> dict[str, Any]:
    return {
        "description": area.description,
        "tier": area.tier.value,
        "geocodes": [list(g) for g in area.geocodes],
        "polygon": [list(p) for p in area.polygon] if area.polygon else None,
        "circle": list(area.circle) if area.circle else None,
        "generalised": _area_to(area.generalised) if area.generalised else None,
    }


def _area_from(d: dict[str, Any]) -> AlertArea:
    return AlertArea(
        description=d["description"],
        tier=SensitivityTier(d["tier"]),
        geocodes=tuple((str(a), str(b)) for a, b in d["geocodes"]),
        polygon=tuple((float(a), float(b)) for a, b in d["polygon"]) if d["polygon"] else None,
        circle=tuple(d["circle"]) if d["circle"] else None,  # type: ignore[arg-type]
        generalised=_area_from(d["generalised"]) if d["generalised"] else None,
    )


def candidate_to_json(c: AlertCandidate) -> str:
    return json.dumps(
        {
            "trigger_id": c.trigger_id,
            "kind": c.kind.value,
            "area_key": c.area_key,
            "period_start": c.period_start.isoformat(),
            "period_end": c.period_end.isoformat(),
            "headline": c.headline,
            "explanation": [[p.text, p.tier.value] for p in c.explanation],
            "severity": c.severity.value,
            "urgency": c.urgency.value,
            "certainty": c.certainty.value,
            "tier": c.tier.value,
            "areas": [_area_to(a) for a in c.areas],
            "threat_category": c.threat_category.value if c.threat_category else None,
            "measures": dict(c.measures),
            "evidence": list(c.evidence),
            "requires_confirmation": c.requires_confirmation,
            "instruction": c.instruction,
            "case_class": c.case_class.value,
        },
        ensure_ascii=False,
        sort_keys=True,
    )


def candidate_from_json(text: str) -> AlertCandidate:
    d = json.loads(text)
    return AlertCandidate(
        trigger_id=d["trigger_id"],
        kind=TriggerKind(d["kind"]),
        area_key=d["area_key"],
        period_start=datetime.fromisoformat(d["period_start"]),
        period_end=datetime.fromisoformat(d["period_end"]),
        headline=d["headline"],
        explanation=tuple(Passage(t, SensitivityTier(tier)) for t, tier in d["explanation"]),
        severity=Severity(d["severity"]),
        urgency=Urgency(d["urgency"]),
        certainty=Certainty(d["certainty"]),
        tier=SensitivityTier(d["tier"]),
        areas=tuple(_area_from(a) for a in d["areas"]),
        threat_category=PocThreatCategory(d["threat_category"]) if d["threat_category"] else None,
        measures=d["measures"],
        evidence=tuple(d["evidence"]),
        requires_confirmation=d["requires_confirmation"],
        instruction=d["instruction"],
        # Alerts stored before case classes were carried are general.
        case_class=CaseClass(d.get("case_class", CaseClass.GENERAL.value)),
    )


# ------------------------------------------------------------------ rows


def _aware(dt: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything here is stored in UTC."""
    if dt is None:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _row(alert: Alert) -> dict[str, Any]:
    c = alert.candidate
    return {
        "id": alert.id,
        "mission": alert.mission,
        "trigger_id": c.trigger_id,
        "kind": c.kind.value,
        "area_key": c.area_key,
        "period_start": c.period_start,
        "period_end": c.period_end,
        "state": alert.state.value,
        "tier": c.tier.value,
        "severity": c.severity.value,
        "urgency": c.urgency.value,
        "certainty": c.certainty.value,
        "headline": c.headline,
        "candidate_json": candidate_to_json(c),
        "created_at": alert.created_at,
        "seq": alert.seq,
        "issued_at": alert.issued_at,
        "issued_by": alert.issued_by,
        "ack_deadline": alert.ack_deadline,
        "acknowledged_at": alert.acknowledged_at,
        "acknowledged_by": alert.acknowledged_by,
        "response_assigned_at": alert.response_assigned_at,
        "closed_at": alert.closed_at,
        "outcome": alert.outcome.value if alert.outcome else None,
        "outcome_note": alert.outcome_note,
        "escalation_level": alert.escalation_level,
        "duplicate_of": alert.duplicate_of,
    }


def _from_row(row: Any) -> Alert:
    m = row._mapping
    return Alert(
        id=m["id"],
        mission=m["mission"],
        candidate=candidate_from_json(m["candidate_json"]),
        state=AlertState(m["state"]),
        created_at=_aware(m["created_at"]),  # type: ignore[arg-type]
        seq=m["seq"],
        issued_at=_aware(m["issued_at"]),
        issued_by=m["issued_by"],
        ack_deadline=_aware(m["ack_deadline"]),
        acknowledged_at=_aware(m["acknowledged_at"]),
        acknowledged_by=m["acknowledged_by"],
        response_assigned_at=_aware(m["response_assigned_at"]),
        closed_at=_aware(m["closed_at"]),
        outcome=Outcome(m["outcome"]) if m["outcome"] else None,
        outcome_note=m["outcome_note"],
        escalation_level=m["escalation_level"],
        duplicate_of=m["duplicate_of"],
    )


def _insert_events(conn: Connection, events: Sequence[AuditEvent]) -> None:
    if events:
        conn.execute(
            insert(alert_events),
            [
                {
                    "alert_id": e.alert_id,
                    "seq": e.seq,
                    "at": e.at,
                    "actor": e.actor,
                    "action": e.action,
                    "from_state": e.from_state.value if e.from_state else None,
                    "to_state": e.to_state.value,
                    "details_json": json.dumps(dict(e.details), sort_keys=True, default=str),
                }
                for e in events
            ],
        )


# ------------------------------------------------------------------ operations


def insert_alert(conn: Connection, alert: Alert, events: Sequence[AuditEvent]) -> None:
    conn.execute(insert(alerts).values(**_row(alert)))
    _insert_events(conn, events)


def save_transition(
    conn: Connection, before: Alert, after: Alert, events: Sequence[AuditEvent]
) -> None:
    """Store ``after`` only if the stored alert is still ``before`` (same event count)."""
    if before.id != after.id:
        raise ValueError("a transition cannot change an alert's id")
    if after.seq != before.seq + len(events):
        raise ValueError("every change must come with its audit events")
    row = _row(after)
    row.pop("id")
    result = conn.execute(
        update(alerts)
        .where(and_(alerts.c.id == before.id, alerts.c.seq == before.seq))
        .values(**row)
    )
    if result.rowcount != 1:
        raise ConcurrentUpdate(f"alert {before.id} was changed by someone else; reload it")
    _insert_events(conn, events)


def load_alert(conn: Connection, alert_id: str) -> Alert:
    row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).first()
    if row is None:
        raise AlertNotFound(alert_id)
    return _from_row(row)


def overlapping_alerts(conn: Connection, candidate: AlertCandidate) -> list[Alert]:
    rows = conn.execute(
        select(alerts).where(
            alerts.c.trigger_id == candidate.trigger_id,
            alerts.c.area_key == candidate.area_key,
            alerts.c.period_start < candidate.period_end,
            alerts.c.period_end > candidate.period_start,
        )
    )
    return [_from_row(r) for r in rows]


def alerts_sharing_evidence(conn: Connection, candidate: AlertCandidate) -> list[Alert]:
    """Stored alerts of the same trigger and area whose evidence shares an item with the
    candidate's (any period). The area index narrows the rows; evidence is compared here."""
    wanted = set(candidate.evidence)
    rows = conn.execute(
        select(alerts).where(
            alerts.c.trigger_id == candidate.trigger_id,
            alerts.c.area_key == candidate.area_key,
        )
    )
    found = [_from_row(r) for r in rows]
    return [a for a in found if wanted & set(a.candidate.evidence)]


def admit_candidate(
    conn: Connection, candidate: AlertCandidate, *, mission: str, at: datetime
) -> tuple[Alert, list[AuditEvent]]:
    """Admit (as draft, or as a suppressed duplicate) and store, in the caller's transaction."""
    alert, events = admit(candidate, overlapping_alerts(conn, candidate), mission=mission, at=at)
    insert_alert(conn, alert, events)
    return alert, events


def overdue_alerts(conn: Connection, now: datetime) -> list[Alert]:
    rows = conn.execute(
        select(alerts)
        .where(alerts.c.state == AlertState.ISSUED.value, alerts.c.ack_deadline <= now)
        .order_by(alerts.c.ack_deadline)
    )
    return [_from_row(r) for r in rows]


def alert_history(conn: Connection, alert_id: str) -> list[AuditEvent]:
    rows = conn.execute(
        select(alert_events).where(alert_events.c.alert_id == alert_id).order_by(alert_events.c.seq)
    )
    return [
        AuditEvent(
            alert_id=r.alert_id,
            seq=r.seq,
            at=_aware(r.at),  # type: ignore[arg-type]
            actor=r.actor,
            action=r.action,
            from_state=AlertState(r.from_state) if r.from_state else None,
            to_state=AlertState(r.to_state),
            details=json.loads(r.details_json),
        )
        for r in rows
    ]


# ------------------------------------------------------------------ response tasks


def _task_row(task: ResponseTask) -> dict[str, Any]:
    return {
        "id": task.id,
        "alert_id": task.alert_id,
        "kind": task.kind.value,
        "description": task.description,
        "assigned_to": task.assigned_to,
        "status": task.status.value,
        "assigned_at": task.assigned_at,
        "started_at": task.started_at,
        "completed_at": task.completed_at,
        "outcome_note": task.outcome_note,
    }


def insert_task(conn: Connection, task: ResponseTask) -> None:
    conn.execute(insert(response_tasks).values(**_task_row(task)))


def save_task(conn: Connection, before: ResponseTask, after: ResponseTask) -> None:
    """Store ``after`` only if the stored task still has ``before``'s status."""
    row = _task_row(after)
    row.pop("id")
    result = conn.execute(
        update(response_tasks)
        .where(response_tasks.c.id == before.id, response_tasks.c.status == before.status.value)
        .values(**row)
    )
    if result.rowcount != 1:
        raise ConcurrentUpdate(f"task {before.id} was changed by someone else; reload it")


def tasks_for(conn: Connection, alert_ids: Sequence[str]) -> list[ResponseTask]:
    rows = conn.execute(
        select(response_tasks)
        .where(response_tasks.c.alert_id.in_(list(alert_ids)))
        .order_by(response_tasks.c.assigned_at)
    )
    return [
        ResponseTask(
            id=r.id,
            alert_id=r.alert_id,
            kind=TaskKind(r.kind),
            description=r.description,
            assigned_to=r.assigned_to,
            status=TaskStatus(r.status),
            assigned_at=_aware(r.assigned_at),  # type: ignore[arg-type]
            started_at=_aware(r.started_at),
            completed_at=_aware(r.completed_at),
            outcome_note=r.outcome_note,
        )
        for r in rows
    ]


# ------------------------------------------------------------------ listing


def list_alerts(
    conn: Connection,
    *,
    tiers: Collection[SensitivityTier] | None = None,
    states: Collection[AlertState] | None = None,
    case_classes: Collection[CaseClass] | None = None,
    limit: int = 500,
    offset: int = 0,
) -> list[Alert]:
    """Newest first. ``tiers`` is the reader's scope: alerts of any other tier are not read.
    ``case_classes`` filters on the stored candidate's class; ``limit`` and ``offset`` count
    the alerts that pass it, so a page is never short because of hidden alerts."""
    query = select(alerts)
    if tiers is not None:
        query = query.where(alerts.c.tier.in_(sorted(t.value for t in tiers)))
    if states is not None:
        query = query.where(alerts.c.state.in_(sorted(s.value for s in states)))
    query = query.order_by(alerts.c.created_at.desc(), alerts.c.id)
    if case_classes is None:
        return [_from_row(r) for r in conn.execute(query.limit(limit).offset(offset))]
    # The class lives inside the stored candidate, so it is filtered here, in pages.
    wanted = frozenset(case_classes)
    out: list[Alert] = []
    skipped = 0
    batch = max(limit + offset, 50)
    start = 0
    while len(out) < limit:
        rows = conn.execute(query.limit(batch).offset(start)).all()
        for row in rows:
            alert = _from_row(row)
            if alert.candidate.case_class not in wanted:
                continue
            if skipped < offset:
                skipped += 1
            elif len(out) < limit:
                out.append(alert)
        if len(rows) < batch:
            break
        start += batch
    return out
