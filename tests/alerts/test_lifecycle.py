"""Lifecycle: every path, every refusal, escalation as data, duplicate suppression, audit events."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.alerts.helpers import LADDER, T0, candidate
from tocsin.alerts.lifecycle import (
    AlertState,
    EscalationLadder,
    EscalationStep,
    InvalidTransition,
    Outcome,
    acknowledge,
    admit,
    assign_response,
    close,
    due_escalations,
    escalate_overdue,
    find_duplicate,
    issue,
)
from tocsin.alerts.model import Urgency

H = timedelta(hours=1)


def test_full_path_emits_one_event_per_step() -> None:
    alert, events = admit(candidate(), [], mission="MINUSCA", at=T0, alert_id="a1")
    assert alert.state is AlertState.DRAFT and [e.action for e in events] == ["create"]
    alert, e_issue = issue(alert, actor="system:triggers", at=T0 + H, ladder=LADDER)
    assert alert.ack_deadline == T0 + 2 * H  # Immediate -> 1 h
    alert, e_ack = acknowledge(alert, actor="user:amira", at=T0 + 1.5 * H)
    alert, e_task = assign_response(
        alert, actor="user:amira", at=T0 + 2 * H, task_id="t1", task_kind="patrol"
    )
    alert, e_close = close(
        alert, actor="user:amira", at=T0 + 30 * H, outcome=Outcome.AVERTED, note="patrol deterred"
    )
    assert alert.state is AlertState.CLOSED and alert.outcome is Outcome.AVERTED
    chain = [*events, e_issue, e_ack, e_task, e_close]
    assert [e.seq for e in chain] == [1, 2, 3, 4, 5] and alert.seq == 5
    assert [(e.from_state, e.to_state) for e in chain] == [
        (None, AlertState.DRAFT),
        (AlertState.DRAFT, AlertState.ISSUED),
        (AlertState.ISSUED, AlertState.ACKNOWLEDGED),
        (AlertState.ACKNOWLEDGED, AlertState.RESPONSE_ASSIGNED),
        (AlertState.RESPONSE_ASSIGNED, AlertState.CLOSED),
    ]
    assert e_ack.details["late"] is False
    assert e_close.details == {"outcome": "averted", "note_given": True}  # no free text in audit
    action, target, details = e_close.ledger_entry()
    assert (action, target) == ("alert.close", "alert:a1")
    assert details["to_state"] == "closed" and details["from_state"] == "response_assigned"
    record = e_issue.as_record()
    assert record["to_state"] == "issued" and record["at"] == (T0 + H).isoformat()


def test_refused_transitions_say_why() -> None:
    alert, _ = admit(candidate(), [], mission="M", at=T0)
    with pytest.raises(InvalidTransition, match="cannot acknowledge an alert that is draft"):
        acknowledge(alert, actor="user:a", at=T0)
    with pytest.raises(InvalidTransition, match="cannot close"):
        close(alert, actor="user:a", at=T0, outcome=Outcome.AVERTED)
    issued, _ = issue(alert, actor="user:a", at=T0, ladder=LADDER)
    with pytest.raises(InvalidTransition, match="cannot issue"):
        issue(issued, actor="user:a", at=T0, ladder=LADDER)
    with pytest.raises(InvalidTransition, match="cannot reject"):
        close(issued, actor="user:a", at=T0, outcome=Outcome.REJECTED)
    closed, _ = close(issued, actor="user:a", at=T0, outcome=Outcome.FALSE_ALARM)
    with pytest.raises(InvalidTransition):
        assign_response(closed, actor="user:a", at=T0, task_id="t", task_kind="patrol")
    with pytest.raises(ValueError, match="actor"):
        acknowledge(issued, actor="amira", at=T0)
    with pytest.raises(ValueError, match="timezone-aware"):
        acknowledge(issued, actor="user:a", at=T0.replace(tzinfo=None))
    with pytest.raises(ValueError, match="5000"):
        close(issued, actor="user:a", at=T0, outcome=Outcome.OCCURRED, note="x" * 5001)


def test_held_candidates_need_a_person() -> None:
    alert, _ = admit(candidate(requires_confirmation=True), [], mission="M", at=T0)
    with pytest.raises(InvalidTransition, match="confirmed by a person"):
        issue(alert, actor="system:triggers", at=T0, ladder=LADDER)
    issued, event = issue(alert, actor="user:analyst", at=T0, ladder=LADDER)
    assert event.details["confirmed_by_person"] is True
    rejected, event = close(alert, actor="user:analyst", at=T0, outcome=Outcome.REJECTED)
    assert rejected.state is AlertState.CLOSED and event.from_state is AlertState.DRAFT


def test_assigning_a_response_acknowledges_implicitly() -> None:
    alert, _ = admit(candidate(), [], mission="M", at=T0)
    alert, _ = issue(alert, actor="user:a", at=T0, ladder=LADDER)
    alert, event = assign_response(
        alert, actor="user:b", at=T0 + H, task_id="t", task_kind="referral"
    )
    assert alert.acknowledged_at == T0 + H and alert.acknowledged_by == "user:b"
    again, _ = assign_response(
        alert, actor="user:c", at=T0 + 2 * H, task_id="t2", task_kind="patrol"
    )
    assert again.response_assigned_at == T0 + H  # the first assignment is the response time


def test_escalation_climbs_the_ladder_and_stops_on_acknowledgement() -> None:
    alert, _ = admit(candidate(urgency=Urgency.EXPECTED), [], mission="M", at=T0)
    alert, _ = issue(alert, actor="user:a", at=T0, ladder=LADDER)  # deadline T0 + 4 h
    assert due_escalations(alert, LADDER, T0 + 3 * H) == []
    alert, events = escalate_overdue(alert, LADDER, T0 + 4 * H)
    assert [e.details["notify"] for e in events] == [["duty_officer"]]
    assert alert.escalation_level == 1 and alert.state is AlertState.ISSUED
    alert, events = escalate_overdue(alert, LADDER, T0 + 5 * H)
    assert events == []  # next step only at deadline + 2 h
    # A scheduler that was down for a day takes every missed step at once, in order.
    alert, events = escalate_overdue(alert, LADDER, T0 + 24 * H)
    assert [e.details["level"] for e in events] == [2, 3]
    assert events[-1].details["overdue_by_s"] == 20 * 3600
    alert, _ = acknowledge(alert, actor="user:a", at=T0 + 25 * H)
    assert due_escalations(alert, LADDER, T0 + 100 * H) == []


def test_ladder_must_be_well_formed() -> None:
    with pytest.raises(ValueError):
        EscalationLadder(H, ())
    with pytest.raises(ValueError):
        EscalationLadder(H, (EscalationStep(2 * H, ("a",)), EscalationStep(H, ("b",))))


def test_duplicates_are_suppressed_with_a_reference() -> None:
    first, _ = admit(candidate(), [], mission="M", at=T0, alert_id="orig")
    overlapping = candidate(start=T0 + timedelta(days=3))
    dup, events = admit(overlapping, [first], mission="M", at=T0 + H)
    assert dup.state is AlertState.SUPPRESSED and dup.duplicate_of == "orig"
    assert [e.action for e in events] == ["create", "suppress"]
    assert events[1].details["duplicate_of"] == "orig"
    # A duplicate of the duplicate points at the original, not at the chain.
    third, _ = admit(
        candidate(start=T0 + timedelta(days=4)), [dup, first], mission="M", at=T0 + 2 * H
    )
    assert third.duplicate_of == "orig"
    # Different area, different trigger, or no overlap: not duplicates.
    assert find_duplicate(candidate(area_key="site:other"), [first]) is None
    assert find_duplicate(candidate(trigger_id="other"), [first]) is None
    assert find_duplicate(candidate(start=T0 + timedelta(days=7)), [first]) is None
    # A draft a person rejected does not suppress a new report.
    rejected, _ = close(first, actor="user:a", at=T0, outcome=Outcome.REJECTED)
    assert find_duplicate(overlapping, [rejected]) is None
    # Duplicates of a suppressed alert cannot be issued.
    with pytest.raises(InvalidTransition):
        issue(dup, actor="user:a", at=T0, ladder=LADDER)
