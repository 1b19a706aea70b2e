"""Response tasks and the response-loop indicators."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.alerts.helpers import LADDER, T0, candidate
from tocsin.alerts.lifecycle import InvalidTransition, acknowledge, admit, issue
from tocsin.alerts.responses import (
    TaskKind,
    TaskStatus,
    complete_task,
    new_task,
    response_indicators,
    start_task,
)

H = timedelta(hours=1)


def issued(i: int, at_hours: float):  # noqa: ANN201
    alert, _ = admit(candidate(area_key=f"a{i}"), [], mission="M", at=T0, alert_id=f"al-{i}")
    alert, _ = issue(alert, actor="user:x", at=T0 + at_hours * H, ladder=LADDER)
    return alert


def test_task_lifecycle_and_refusals() -> None:
    alert = issued(1, 0)
    task = new_task(
        alert,
        kind=TaskKind.EARLY_WARNING_MESSAGE,
        description="Call the CAN focal point",
        assigned_to="CAL Bria",
        at=T0 + H,
    )
    assert task.status is TaskStatus.ASSIGNED
    started = start_task(task, T0 + 2 * H)
    done = complete_task(started, T0 + 5 * H, note="message relayed")
    assert (done.status, done.started_at, done.completed_at) == (
        TaskStatus.DONE,
        T0 + 2 * H,
        T0 + 5 * H,
    )
    with pytest.raises(InvalidTransition):
        start_task(done, T0 + 6 * H)
    with pytest.raises(InvalidTransition):
        complete_task(done, T0 + 6 * H)
    with pytest.raises(ValueError, match="before it was assigned"):
        start_task(task, T0)
    cancelled = complete_task(task, T0 + 3 * H, cancelled=True)
    assert cancelled.status is TaskStatus.CANCELLED and cancelled.started_at is None
    draft, _ = admit(candidate(), [], mission="M", at=T0)
    with pytest.raises(InvalidTransition, match="no response can be added"):
        new_task(draft, kind=TaskKind.PATROL, description="x", assigned_to="y", at=T0)
    for bad in ({"description": " "}, {"assigned_to": ""}, {"description": "x" * 5001}):
        args = {"kind": TaskKind.PATROL, "description": "d", "assigned_to": "a", "at": T0} | bad
        with pytest.raises(ValueError):
            new_task(alert, **args)


def test_indicators() -> None:
    a1, a2, a3, a4 = issued(1, 0), issued(2, 0), issued(3, 0), issued(4, 40)
    a1, _ = acknowledge(a1, actor="user:x", at=T0 + 1 * H)
    a2, _ = acknowledge(a2, actor="user:x", at=T0 + 3 * H)
    tasks = [
        start_task(
            new_task(a1, kind=TaskKind.PATROL, description="p", assigned_to="u", at=T0 + H),
            T0 + 5 * H,
        ),
        # a second, later task on the same alert does not change its response time
        start_task(
            new_task(a1, kind=TaskKind.REFERRAL, description="r", assigned_to="u", at=T0 + H),
            T0 + 9 * H,
        ),
        complete_task(
            new_task(a2, kind=TaskKind.ENGAGEMENT, description="e", assigned_to="u", at=T0 + H),
            T0 + 30 * H,
        ),
        new_task(a3, kind=TaskKind.PATROL, description="never started", assigned_to="u", at=T0 + H),
    ]
    ind = response_indicators([a1, a2, a3, a4], tasks, as_of=T0 + 48 * H)
    assert ind.n_issued == 4 and ind.n_acknowledged == 2
    assert ind.median_time_to_acknowledge == 2 * H  # median of 1 h and 3 h
    assert ind.n_with_response == 2 and ind.median_time_to_response == 17.5 * H
    # a4 was issued 8 h before as_of: too young to judge, left out of the 24 h share.
    assert ind.n_judged_24h == 3 and ind.share_response_within_24h == pytest.approx(1 / 3)
    empty = response_indicators([], [], as_of=T0)
    assert empty.share_response_within_24h is None and empty.median_time_to_response is None
