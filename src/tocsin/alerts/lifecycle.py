"""Alert lifecycle: draft -> issued -> acknowledged -> response_assigned -> closed (with outcome).

Pure functions over immutable ``Alert`` values. Every step returns the new alert *and* the
``AuditEvent`` that records it, so the caller cannot change an alert without having an event to
append to the audit ledger (the ledger itself lives in ``tocsin.security``). Escalation and
duplicate suppression are data-driven and deterministic: time is always passed in.

Actors are strings ``"user:<name>"`` or ``"system:<component>"``. A candidate that requires
manual confirmation (keyword hits, unverified threats) can only be issued by a user.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from tocsin.alerts.model import AlertCandidate, Urgency
from tocsin.domain.taxonomy import CaseClass


class AlertState(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    ACKNOWLEDGED = "acknowledged"
    RESPONSE_ASSIGNED = "response_assigned"
    CLOSED = "closed"
    SUPPRESSED = "suppressed"  # a duplicate, kept with a reference to the original


class Outcome(StrEnum):
    AVERTED = "averted"  # response deployed, the threat did not materialise
    MITIGATED = "mitigated"  # violence occurred but the response reduced its harm
    OCCURRED = "occurred"  # violence occurred, the response did not prevent it
    FALSE_ALARM = "false_alarm"  # the warning turned out unfounded
    REJECTED = "rejected"  # a draft a person declined to issue
    SUPERSEDED = "superseded"  # replaced by a newer alert


OPEN_STATES = frozenset({AlertState.ISSUED, AlertState.ACKNOWLEDGED, AlertState.RESPONSE_ASSIGNED})


class InvalidTransition(ValueError):
    pass


@dataclass(frozen=True)
class AuditEvent:
    """One lifecycle step, ready for the audit ledger. ``seq`` is per alert, from 1."""

    alert_id: str
    seq: int
    at: datetime
    actor: str
    action: str
    from_state: AlertState | None
    to_state: AlertState
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))

    def as_record(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "seq": self.seq,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "from_state": self.from_state.value if self.from_state else None,
            "to_state": self.to_state.value,
            "details": dict(self.details),
        }

    def ledger_entry(self) -> tuple[str, str, dict[str, Any]]:
        """(action, target, details) in the audit ledger's terms (``tocsin.security.audit``):
        dotted action, an id as target, details of ids and flags only (never free text)."""
        details = {k: v for k, v in self.details.items()}
        details.update(seq=self.seq, to_state=self.to_state.value)
        if self.from_state is not None:
            details["from_state"] = self.from_state.value
        return f"alert.{self.action}", f"alert:{self.alert_id}", details


@dataclass(frozen=True)
class EscalationStep:
    after: timedelta  # counted from the missed acknowledgement deadline
    notify: tuple[str, ...]  # role names


@dataclass(frozen=True)
class EscalationLadder:
    default_ack_deadline: timedelta
    steps: tuple[EscalationStep, ...]
    ack_deadline_by_urgency: Mapping[Urgency, timedelta] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError("an escalation ladder needs at least one step")
        afters = [s.after for s in self.steps]
        if afters != sorted(set(afters)) or afters[0] < timedelta(0):
            raise ValueError("escalation steps need strictly increasing, non-negative 'after'")

    def ack_deadline(self, urgency: Urgency) -> timedelta:
        return self.ack_deadline_by_urgency.get(urgency, self.default_ack_deadline)


@dataclass(frozen=True)
class Alert:
    id: str
    mission: str
    candidate: AlertCandidate
    state: AlertState
    created_at: datetime
    seq: int = 0  # number of audit events so far
    issued_at: datetime | None = None
    issued_by: str | None = None
    ack_deadline: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    response_assigned_at: datetime | None = None
    closed_at: datetime | None = None
    outcome: Outcome | None = None
    outcome_note: str | None = None
    escalation_level: int = 0  # number of ladder steps already taken
    duplicate_of: str | None = None


def _event(
    alert: Alert,
    before: AlertState | None,
    at: datetime,
    actor: str,
    action: str,
    **details: Any,
) -> tuple[Alert, AuditEvent]:
    _check_actor(actor)
    if at.tzinfo is None:
        raise ValueError("lifecycle times must be timezone-aware")
    new = replace(alert, seq=alert.seq + 1)
    return new, AuditEvent(alert.id, new.seq, at, actor, action, before, new.state, details)


def _check_call(actor: str, at: datetime) -> None:
    """Who and when are checked before anything else, so errors are about the input."""
    _check_actor(actor)
    if at.tzinfo is None:
        raise ValueError("lifecycle times must be timezone-aware")


def _check_actor(actor: str) -> None:
    kind, _, name = actor.partition(":")
    if kind not in {"user", "system"} or not name:
        raise ValueError(f"actor {actor!r} must be 'user:<name>' or 'system:<component>'")


def _require(alert: Alert, allowed: Iterable[AlertState], action: str) -> None:
    allowed = frozenset(allowed)
    if alert.state not in allowed:
        names = ", ".join(sorted(s.value for s in allowed))
        raise InvalidTransition(
            f"alert {alert.id}: cannot {action} an alert that is {alert.state.value} "
            f"(only from: {names})"
        )


def _overlaps(a: AlertCandidate, b: AlertCandidate) -> bool:
    return a.period_start < b.period_end and b.period_start < a.period_end


def covers(original: AlertCandidate, candidate: AlertCandidate) -> bool:
    """Whoever may read ``candidate`` may also read ``original``: no higher tier, and a general
    case class or the candidate's own. Only then can the original stand in for it."""
    return original.tier <= candidate.tier and original.case_class in (
        CaseClass.GENERAL,
        candidate.case_class,
    )


def find_duplicate(candidate: AlertCandidate, existing: Iterable[Alert]) -> Alert | None:
    """The earliest alert with the same trigger and area whose period overlaps the candidate's.

    Suppressed alerts are skipped (so references always point at an original, never at a
    chain), and so are drafts a person rejected: a new report must get a fresh look. So are
    originals the candidate's audience could not read (``covers``): an internal incident near a
    site is not swallowed by a restricted threat alert that internal readers never see.
    """
    matches = [
        alert
        for alert in existing
        if alert.state is not AlertState.SUPPRESSED
        and alert.outcome is not Outcome.REJECTED
        and alert.candidate.trigger_id == candidate.trigger_id
        and alert.candidate.area_key == candidate.area_key
        and _overlaps(alert.candidate, candidate)
        and covers(alert.candidate, candidate)
    ]
    return min(matches, key=lambda a: (a.created_at, a.id), default=None)


def admit(
    candidate: AlertCandidate,
    existing: Iterable[Alert],
    *,
    mission: str,
    at: datetime,
    actor: str = "system:triggers",
    alert_id: str | None = None,
) -> tuple[Alert, list[AuditEvent]]:
    """Turn a candidate into a draft alert, or into a suppressed duplicate of an existing one."""
    _check_call(actor, at)
    alert = Alert(
        id=alert_id or str(uuid.uuid4()),
        mission=mission,
        candidate=candidate,
        state=AlertState.DRAFT,
        created_at=at,
    )
    alert, created = _event(
        alert,
        None,
        at,
        actor,
        "create",
        trigger_id=candidate.trigger_id,
        area_key=candidate.area_key,
        requires_confirmation=candidate.requires_confirmation,
    )
    original = find_duplicate(candidate, existing)
    if original is None:
        return alert, [created]
    alert = replace(alert, state=AlertState.SUPPRESSED, duplicate_of=original.id)
    alert, suppressed = _event(
        alert,
        AlertState.DRAFT,
        at,
        actor,
        "suppress",
        duplicate_of=original.id,
        reason="same trigger and area, overlapping period",
    )
    return alert, [created, suppressed]


def issue(
    alert: Alert, *, actor: str, at: datetime, ladder: EscalationLadder
) -> tuple[Alert, AuditEvent]:
    _check_call(actor, at)
    _require(alert, {AlertState.DRAFT}, "issue")
    if alert.candidate.requires_confirmation and not actor.startswith("user:"):
        raise InvalidTransition(
            f"alert {alert.id} must be confirmed by a person before it is issued"
        )
    deadline = at + ladder.ack_deadline(alert.candidate.urgency)
    alert = replace(
        alert, state=AlertState.ISSUED, issued_at=at, issued_by=actor, ack_deadline=deadline
    )
    return _event(
        alert,
        AlertState.DRAFT,
        at,
        actor,
        "issue",
        ack_deadline=deadline.isoformat(),
        confirmed_by_person=actor.startswith("user:"),
    )


def acknowledge(alert: Alert, *, actor: str, at: datetime) -> tuple[Alert, AuditEvent]:
    _check_call(actor, at)
    _require(alert, {AlertState.ISSUED}, "acknowledge")
    late = alert.ack_deadline is not None and at > alert.ack_deadline
    alert = replace(alert, state=AlertState.ACKNOWLEDGED, acknowledged_at=at, acknowledged_by=actor)
    return _event(alert, AlertState.ISSUED, at, actor, "acknowledge", late=late)


def assign_response(
    alert: Alert, *, actor: str, at: datetime, task_id: str, task_kind: str
) -> tuple[Alert, AuditEvent]:
    """Record that a response task was assigned. Assigning acknowledges implicitly."""
    _check_call(actor, at)
    _require(alert, OPEN_STATES, "assign a response to")
    before = alert.state
    alert = replace(
        alert,
        state=AlertState.RESPONSE_ASSIGNED,
        acknowledged_at=alert.acknowledged_at or at,
        acknowledged_by=alert.acknowledged_by or actor,
        response_assigned_at=alert.response_assigned_at or at,
    )
    return _event(alert, before, at, actor, "assign_response", task_id=task_id, task_kind=task_kind)


def close(
    alert: Alert, *, actor: str, at: datetime, outcome: Outcome, note: str | None = None
) -> tuple[Alert, AuditEvent]:
    _check_call(actor, at)
    if outcome is Outcome.REJECTED:
        _require(alert, {AlertState.DRAFT}, "reject")
    else:
        _require(alert, OPEN_STATES, f"close ({outcome.value})")
    if note is not None and len(note) > 5000:
        raise ValueError("an outcome note may be at most 5000 characters")
    before = alert.state
    alert = replace(
        alert, state=AlertState.CLOSED, closed_at=at, outcome=outcome, outcome_note=note
    )
    return _event(alert, before, at, actor, "close", outcome=outcome.value, note_given=bool(note))


def due_escalations(
    alert: Alert, ladder: EscalationLadder, now: datetime
) -> list[tuple[int, EscalationStep]]:
    """Ladder steps (1-based level, step) that are due and not yet taken."""
    if alert.state is not AlertState.ISSUED or alert.ack_deadline is None:
        return []
    return [
        (level, step)
        for level, step in enumerate(ladder.steps, start=1)
        if level > alert.escalation_level and now >= alert.ack_deadline + step.after
    ]


def escalate_overdue(
    alert: Alert, ladder: EscalationLadder, now: datetime, actor: str = "system:escalation"
) -> tuple[Alert, list[AuditEvent]]:
    """Take every due step (a scheduler that missed a run still climbs the whole ladder)."""
    _check_call(actor, now)
    events = []
    for level, step in due_escalations(alert, ladder, now):
        assert alert.ack_deadline is not None
        alert = replace(alert, escalation_level=level)
        alert, event = _event(
            alert,
            AlertState.ISSUED,
            now,
            actor,
            "escalate",
            level=level,
            notify=list(step.notify),
            overdue_by_s=int((now - alert.ack_deadline).total_seconds()),
        )
        events.append(event)
    return alert, events
