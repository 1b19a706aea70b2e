"""The two hottest read routes run on the worker's event loop, not in the thread pool
(ADR 0014), and keep every guarantee of the thread-pool path: authentication first, the
audit entry committed before any record leaves, errors rolled back."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.api.support import add_token, add_user, public_and_restricted_env
from tocsin.api.routers import events as events_router
from tocsin.security.policies import Role
from tocsin.store.schema_security import audit_log


@pytest.fixture
def env(engine, tmp_path: Path):  # noqa: ANN201
    return public_and_restricted_env(engine, tmp_path / "home")


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _audited_reads(env) -> int:  # noqa: ANN001
    with env.engine.connect() as conn:
        return conn.scalar(
            select(func.count()).select_from(audit_log).where(audit_log.c.action == "event.read")
        )


def test_the_endpoints_are_coroutines() -> None:
    assert inspect.iscoroutinefunction(events_router.list_events)
    assert inspect.iscoroutinefunction(events_router.read_event)


def test_search_and_record_read_on_the_loop_and_audit_before_answering(env, monkeypatch) -> None:
    token = add_token(env, add_user(env, "cmd", Role.COMMANDER), ("read",))
    seen: list[bool] = []
    page, one = events_router.load_page, events_router.load_one

    def page_on(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        seen.append(_on_event_loop())
        return page(*args, **kwargs)

    def one_on(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        seen.append(_on_event_loop())
        return one(*args, **kwargs)

    monkeypatch.setattr(events_router, "load_page", page_on)
    monkeypatch.setattr(events_router, "load_one", one_on)
    before = _audited_reads(env)
    listed = env.client.get("/api/v1/events", headers=token)
    assert listed.status_code == 200
    restricted = [e["uid"] for e in listed.json()["items"] if e["sensitivity"] == "restricted"]
    assert len(restricted) == 1
    assert _audited_reads(env) == before + 1  # committed before the page was sent
    single = env.client.get(f"/api/v1/events/{restricted[0]}", headers=token)
    assert single.status_code == 200
    assert _audited_reads(env) == before + 2
    assert seen == [True, True]


def test_errors_on_the_loop_are_answered_and_rolled_back(env) -> None:
    token = add_token(env, add_user(env, "cmd", Role.COMMANDER), ("read",))
    assert env.client.get("/api/v1/events").status_code == 401  # authentication first
    bad = env.client.get("/api/v1/events?limit=nope", headers=token)
    assert bad.status_code == 422
    missing = env.client.get("/api/v1/events/no-such-uid", headers=token)
    assert missing.status_code == 404
    # the worker's connections went back to the pool: the next read works as before
    assert env.client.get("/api/v1/events", headers=token).status_code == 200
    assert env.engine.pool.checkedout() == 0
