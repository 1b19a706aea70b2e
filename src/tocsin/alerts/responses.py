"""Response tasks linked to alerts, and the indicators of the response loop.

Indicators (all over alerts that were issued, i.e. not drafts or suppressed duplicates):

- **time to acknowledge**: issued -> acknowledged;
- **time to response**: issued -> the first linked task *started* (a patrol that left, a call
  that was made), not merely assigned;
- **share with a response within 24 h**: of the alerts issued at least 24 h before ``as_of``
  (younger ones cannot be judged yet and are left out rather than counted as failures).
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from tocsin.alerts.lifecycle import Alert, AlertState, InvalidTransition


class TaskKind(StrEnum):
    PATROL = "patrol"
    ENGAGEMENT = "engagement"  # with authorities, armed groups, community leaders
    REFERRAL = "referral"  # to a protection partner or service
    EARLY_WARNING_MESSAGE = "early_warning_message"  # to a community


class TaskStatus(StrEnum):
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class ResponseTask:
    id: str
    alert_id: str
    kind: TaskKind
    description: str
    assigned_to: str
    status: TaskStatus
    assigned_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    outcome_note: str | None = None


def new_task(
    alert: Alert,
    *,
    kind: TaskKind,
    description: str,
    assigned_to: str,
    at: datetime,
    task_id: str | None = None,
) -> ResponseTask:
    if alert.state not in {
        AlertState.ISSUED,
        AlertState.ACKNOWLEDGED,
        AlertState.RESPONSE_ASSIGNED,
    }:
        raise InvalidTransition(
            f"alert {alert.id} is {alert.state.value}: no response can be added"
        )
    if not description.strip() or len(description) > 5000:
        raise ValueError("a task needs a description of 1-5000 characters")
    if not assigned_to.strip() or len(assigned_to) > 200:
        raise ValueError("a task must be assigned to someone (at most 200 characters)")
    if at.tzinfo is None:
        raise ValueError("task times must be timezone-aware")
    return ResponseTask(
        id=task_id or str(uuid.uuid4()),
        alert_id=alert.id,
        kind=kind,
        description=description,
        assigned_to=assigned_to,
        status=TaskStatus.ASSIGNED,
        assigned_at=at,
    )


def start_task(task: ResponseTask, at: datetime) -> ResponseTask:
    if task.status is not TaskStatus.ASSIGNED:
        raise InvalidTransition(f"task {task.id} is {task.status.value}; only assigned tasks start")
    if at < task.assigned_at:
        raise ValueError("a task cannot start before it was assigned")
    return replace(task, status=TaskStatus.IN_PROGRESS, started_at=at)


def complete_task(
    task: ResponseTask, at: datetime, *, note: str | None = None, cancelled: bool = False
) -> ResponseTask:
    if task.status in {TaskStatus.DONE, TaskStatus.CANCELLED}:
        raise InvalidTransition(f"task {task.id} is already {task.status.value}")
    if at < task.assigned_at:
        raise ValueError("a task cannot end before it was assigned")
    if note is not None and len(note) > 5000:
        raise ValueError("an outcome note may be at most 5000 characters")
    status = TaskStatus.CANCELLED if cancelled else TaskStatus.DONE
    # A task completed without an explicit start started when it was completed.
    started = task.started_at or (None if cancelled else at)
    return replace(task, status=status, started_at=started, completed_at=at, outcome_note=note)


@dataclass(frozen=True)
class ResponseIndicators:
    n_issued: int
    n_acknowledged: int
    median_time_to_acknowledge: timedelta | None
    n_with_response: int
    median_time_to_response: timedelta | None
    n_judged_24h: int  # issued at least 24 h before as_of
    share_response_within_24h: float | None


def _median(values: Sequence[timedelta]) -> timedelta | None:
    if not values:
        return None
    return timedelta(seconds=statistics.median(v.total_seconds() for v in values))


def response_indicators(
    alerts: Iterable[Alert],
    tasks: Iterable[ResponseTask],
    *,
    as_of: datetime,
    window: timedelta = timedelta(hours=24),
) -> ResponseIndicators:
    first_start: dict[str, datetime] = {}
    for task in tasks:
        if task.started_at is not None:
            prev = first_start.get(task.alert_id)
            first_start[task.alert_id] = min(prev, task.started_at) if prev else task.started_at
    issued = [a for a in alerts if a.issued_at is not None and a.issued_at <= as_of]
    to_ack = [
        a.acknowledged_at - a.issued_at  # type: ignore[operator]
        for a in issued
        if a.acknowledged_at is not None and a.acknowledged_at <= as_of
    ]
    to_response = [
        first_start[a.id] - a.issued_at  # type: ignore[operator]
        for a in issued
        if a.id in first_start and first_start[a.id] <= as_of
    ]
    judged = [a for a in issued if a.issued_at + window <= as_of]  # type: ignore[operator]
    within = [
        a
        for a in judged
        if a.id in first_start and first_start[a.id] - a.issued_at <= window  # type: ignore[operator]
    ]
    return ResponseIndicators(
        n_issued=len(issued),
        n_acknowledged=len(to_ack),
        median_time_to_acknowledge=_median(to_ack),
        n_with_response=len(to_response),
        median_time_to_response=_median(to_response),
        n_judged_24h=len(judged),
        share_response_within_24h=len(within) / len(judged) if judged else None,
    )
