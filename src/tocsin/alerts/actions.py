"""Lifecycle steps on stored alerts, in the caller's transaction: load, change, store, and hand
back the audit events so the caller appends them to the ledger in that same transaction.

The API, the web pages, the command line and the evaluation round all go through here, so a
step is the same whoever takes it: issuing queues the deliveries, assigning a response stores
its task, every change is conditional on the alert not having changed since it was read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tocsin.alerts import repository as repo
from tocsin.alerts.delivery.dispatch import Channel, DispatchResult, enqueue_alert
from tocsin.alerts.delivery.personal import enqueue_for_roles
from tocsin.alerts.lifecycle import (
    Alert,
    AlertState,
    AuditEvent,
    EscalationLadder,
    Outcome,
    acknowledge,
    assign_response,
    close,
    due_escalations,
    escalate_overdue,
    issue,
)
from tocsin.alerts.responses import (
    ResponseTask,
    TaskKind,
    complete_task,
    new_task,
    start_task,
)
from tocsin.security import audit
from tocsin.security.audit import Actor, PendingEntry


@dataclass(frozen=True)
class StepResult:
    alert: Alert
    events: tuple[AuditEvent, ...]
    dispatch: DispatchResult | None = None
    task: ResponseTask | None = None
    # Further ledger entries (action, target, details), e.g. one per delivery to a person.
    notes: tuple[tuple[str, str, dict[str, Any]], ...] = ()

    def ledger(self, actor: Actor) -> list[PendingEntry]:
        entries = [PendingEntry(actor, *e.ledger_entry()) for e in self.events]
        if self.dispatch is not None:
            entries.append(dispatch_entry(actor, self.alert, self.dispatch))
        entries.extend(PendingEntry(actor, *note) for note in self.notes)
        return entries


def dispatch_entry(actor: Actor, alert: Alert, result: DispatchResult) -> PendingEntry:
    return PendingEntry(
        actor,
        "alert.deliveries_queued",
        f"alert:{alert.id}",
        {
            "queued": len(result.enqueued),
            "already_queued": len(result.already_queued),
            "withheld_channels": sorted(result.skipped),
        },
    )


def write_ledger(conn: Connection, entries: Sequence[PendingEntry], now: datetime) -> None:
    audit.append(conn, list(entries), now)


def issue_stored(
    conn: Connection,
    alert_id: str,
    *,
    actor: str,
    now: datetime,
    ladder: EscalationLadder,
    channels: Iterable[Channel],
    sender: str,
) -> StepResult:
    """Issue a draft and queue it, redacted per channel, for every channel cleared for it."""
    before = repo.load_alert(conn, alert_id)
    after, event = issue(before, actor=actor, at=now, ladder=ladder)
    repo.save_transition(conn, before, after, [event])
    dispatched = enqueue_alert(
        conn, after, [c for c in channels if c.on_issue], sender=sender, now=now
    )
    return StepResult(after, (event,), dispatched)


def acknowledge_stored(conn: Connection, alert_id: str, *, actor: str, now: datetime) -> StepResult:
    before = repo.load_alert(conn, alert_id)
    after, event = acknowledge(before, actor=actor, at=now)
    repo.save_transition(conn, before, after, [event])
    return StepResult(after, (event,))


def assign_stored(
    conn: Connection,
    alert_id: str,
    *,
    actor: str,
    now: datetime,
    kind: TaskKind,
    description: str,
    assigned_to: str,
    started: bool = False,
) -> StepResult:
    """Create a response task and move the alert to ``response_assigned``."""
    before = repo.load_alert(conn, alert_id)
    task = new_task(before, kind=kind, description=description, assigned_to=assigned_to, at=now)
    if started:
        task = start_task(task, now)
    after, event = assign_response(
        before, actor=actor, at=now, task_id=task.id, task_kind=kind.value
    )
    repo.save_transition(conn, before, after, [event])
    repo.insert_task(conn, task)
    return StepResult(after, (event,), task=task)


def update_task_stored(
    conn: Connection, alert_id: str, task_id: str, *, action: str, now: datetime, note: str | None
) -> ResponseTask:
    """``start``, ``complete`` or ``cancel`` a task of this alert."""
    tasks = [t for t in repo.tasks_for(conn, [alert_id]) if t.id == task_id]
    if not tasks:
        raise repo.AlertNotFound(f"task {task_id}")
    before = tasks[0]
    if action == "start":
        after = start_task(before, now)
    elif action in ("complete", "cancel"):
        after = complete_task(before, now, note=note, cancelled=action == "cancel")
    else:
        raise ValueError(f"unknown task action {action!r}")
    repo.save_task(conn, before, after)
    return after


def close_stored(
    conn: Connection,
    alert_id: str,
    *,
    actor: str,
    now: datetime,
    outcome: Outcome,
    note: str | None = None,
) -> StepResult:
    before = repo.load_alert(conn, alert_id)
    after, event = close(before, actor=actor, at=now, outcome=outcome, note=note)
    repo.save_transition(conn, before, after, [event])
    return StepResult(after, (event,))


def escalate_stored(
    conn: Connection,
    before: Alert,
    *,
    ladder: EscalationLadder,
    now: datetime,
    channels: Iterable[Channel] = (),
    sender: str = "tocsin",
    directory: bool = True,
    public_url: str | None = None,
) -> StepResult | None:
    """Take the ladder steps now due and queue the alert for the recipients standing for the
    roles each step notifies: channels of the trigger file that declare those roles (redacted
    to each channel's tier), and every active user holding one of them, at the addresses of
    the staff directory (at the detail that user may read; ``delivery.personal``)."""
    due = due_escalations(before, ladder, now)
    after, events = escalate_overdue(before, ladder, now)
    if not events:
        return None
    repo.save_transition(conn, before, after, events)
    channels = list(channels)
    enqueued: list[int] = []
    already: list[int] = []
    skipped: dict[str, str] = {}
    notes: list[tuple[str, str, dict[str, Any]]] = []
    for level, step in due:
        reached = [c for c in channels if c.escalation_roles & set(step.notify)]
        if reached:
            result = enqueue_alert(
                conn, after, reached, sender=sender, now=now, occasion=f"escalation-{level}"
            )
            enqueued += result.enqueued
            already += result.already_queued
            skipped.update(result.skipped)
        if directory:
            personal = enqueue_for_roles(
                conn, after, step.notify, level=level, sender=sender, now=now, public_url=public_url
            )
            enqueued += personal.dispatch.enqueued
            already += personal.dispatch.already_queued
            notes += personal.entries
    dispatched = (
        DispatchResult(enqueued, already, skipped) if enqueued or already or skipped else None
    )
    return StepResult(after, tuple(events), dispatched, notes=tuple(notes))


def is_open(alert: Alert) -> bool:
    return alert.state in {
        AlertState.ISSUED,
        AlertState.ACKNOWLEDGED,
        AlertState.RESPONSE_ASSIGNED,
    }
