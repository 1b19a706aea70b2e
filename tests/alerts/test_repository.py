"""Alerts, events and tasks in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.alerts.helpers import LADDER, T0, candidate
from tocsin.alerts import repository as repo
from tocsin.alerts.lifecycle import AlertState, acknowledge, escalate_overdue, issue
from tocsin.alerts.responses import TaskKind, TaskStatus, new_task, start_task
from tocsin.store.schema_alerts import alert_events, alerts

H = timedelta(hours=1)


def test_round_trip_transitions_and_history(engine) -> None:
    c = candidate()
    with engine.begin() as conn:
        alert, events = repo.admit_candidate(conn, c, mission="MINUSCA", at=T0)
    with engine.begin() as conn:
        loaded = repo.load_alert(conn, alert.id)
        assert loaded == alert  # every field, including the tiered explanation and areas
        after, event = issue(loaded, actor="user:duty", at=T0 + H, ladder=LADDER)
        repo.save_transition(conn, loaded, after, [event])
    with engine.begin() as conn:
        stored = repo.load_alert(conn, alert.id)
        assert stored.state is AlertState.ISSUED and stored.ack_deadline == T0 + 2 * H
        history = repo.alert_history(conn, alert.id)
    assert [e.action for e in history] == ["create", "issue"]
    assert history[1].details["confirmed_by_person"] is True


def test_concurrent_acknowledgements_cannot_both_win(engine) -> None:
    with engine.begin() as conn:
        alert, _ = repo.admit_candidate(conn, candidate(), mission="M", at=T0)
        issued, event = issue(alert, actor="user:a", at=T0, ladder=LADDER)
        repo.save_transition(conn, alert, issued, [event])
    first, e1 = acknowledge(issued, actor="user:a", at=T0 + H)
    second, e2 = acknowledge(issued, actor="user:b", at=T0 + H)
    with engine.begin() as conn:
        repo.save_transition(conn, issued, first, [e1])
    with pytest.raises(repo.ConcurrentUpdate), engine.begin() as conn:
        repo.save_transition(conn, issued, second, [e2])
    with engine.connect() as conn:
        assert repo.load_alert(conn, issued.id).acknowledged_by == "user:a"
        assert conn.scalar(select(func.count()).select_from(alert_events)) == 3
    with pytest.raises(ValueError, match="audit events"):
        repo.save_transition(engine.connect(), issued, first, [])


def test_duplicate_suppression_through_the_store(engine) -> None:
    with engine.begin() as conn:
        first, _ = repo.admit_candidate(conn, candidate(), mission="M", at=T0)
        dup, events = repo.admit_candidate(
            conn, candidate(start=T0 + timedelta(days=2)), mission="M", at=T0 + H
        )
        other, _ = repo.admit_candidate(conn, candidate(area_key="site:x"), mission="M", at=T0 + H)
    assert dup.state is AlertState.SUPPRESSED and dup.duplicate_of == first.id
    assert other.state is AlertState.DRAFT
    with engine.connect() as conn:
        assert repo.load_alert(conn, dup.id).duplicate_of == first.id
        assert conn.scalar(select(func.count()).select_from(alerts)) == 3
    with pytest.raises(repo.AlertNotFound), engine.connect() as conn:
        repo.load_alert(conn, "nope")


def test_overdue_query_feeds_escalation(engine) -> None:
    with engine.begin() as conn:
        alert, _ = repo.admit_candidate(conn, candidate(), mission="M", at=T0)
        issued, event = issue(alert, actor="user:a", at=T0, ladder=LADDER)
        repo.save_transition(conn, alert, issued, [event])
    with engine.begin() as conn:
        assert repo.overdue_alerts(conn, T0 + 0.5 * H) == []
        (overdue,) = repo.overdue_alerts(conn, T0 + 3 * H)
        escalated, events = escalate_overdue(overdue, LADDER, T0 + 3 * H)
        repo.save_transition(conn, overdue, escalated, events)
    with engine.connect() as conn:
        assert repo.load_alert(conn, alert.id).escalation_level == 2
        assert [e.action for e in repo.alert_history(conn, alert.id)][-2:] == [
            "escalate",
            "escalate",
        ]


def test_tasks_round_trip(engine) -> None:
    with engine.begin() as conn:
        alert, _ = repo.admit_candidate(conn, candidate(), mission="M", at=T0)
        issued, event = issue(alert, actor="user:a", at=T0, ladder=LADDER)
        repo.save_transition(conn, alert, issued, [event])
        task = new_task(
            issued,
            kind=TaskKind.PATROL,
            description="Day patrol to the site",
            assigned_to="Bambari TOB",
            at=T0 + H,
        )
        repo.insert_task(conn, task)
    started = start_task(task, T0 + 3 * H)
    with engine.begin() as conn:
        repo.save_task(conn, task, started)
    with pytest.raises(repo.ConcurrentUpdate), engine.begin() as conn:
        repo.save_task(conn, task, started)  # 'task' is stale: already in progress
    with engine.connect() as conn:
        (stored,) = repo.tasks_for(conn, [alert.id])
    assert stored == started and stored.status is TaskStatus.IN_PROGRESS


def test_listing_by_case_class_pages_over_hidden_alerts(engine) -> None:
    """Hidden classes are skipped before paging: every page is full, none repeats."""
    from dataclasses import replace

    from tocsin.domain.taxonomy import CaseClass

    stored: list[tuple[str, CaseClass]] = []
    with engine.begin() as conn:
        for i in range(130):
            klass = CaseClass.GENERAL if i % 5 == 0 else CaseClass.CHILDREN
            c = replace(candidate(area_key=f"site:s{i}"), case_class=klass)
            alert, _ = repo.admit_candidate(conn, c, mission="M", at=T0 + i * H)
            stored.append((alert.id, klass))
    general = [a for a, k in reversed(stored) if k is CaseClass.GENERAL]  # newest first
    with engine.connect() as conn:
        pages = [
            repo.list_alerts(conn, case_classes={CaseClass.GENERAL}, limit=10, offset=o)
            for o in (0, 10, 20)
        ]
    assert [len(p) for p in pages] == [10, 10, 6]
    assert [a.id for p in pages for a in p] == general
    assert all(a.candidate.case_class is CaseClass.GENERAL for p in pages for a in p)
