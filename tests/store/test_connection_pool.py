"""PostgreSQL connections are pinged only after they sat idle (``tocsin.store.db``): a
connection killed by the server while idle is replaced, not handed to a request."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.conftest import fresh_postgres_database
from tocsin.store import db


@pytest.fixture
def pg_engine(pg_cluster):  # noqa: ANN001, ANN201
    engine = db.make_engine(fresh_postgres_database(pg_cluster), migrate=False)
    yield engine
    engine.dispose()


def _backend_pid(engine) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return int(conn.scalar(text("SELECT pg_backend_pid()")))


def _kill(engine, pid: int) -> None:  # noqa: ANN001
    other = engine.pool.__class__(engine.pool._creator)  # a connection outside the pool
    try:
        raw = other.connect()
        try:
            cur = raw.cursor()
            cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
            raw.commit()
        finally:
            raw.close()
    finally:
        other.dispose()


def test_a_connection_killed_while_idle_is_replaced(
    pg_engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = _backend_pid(pg_engine)
    _kill(pg_engine, pid)
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)  # it has been idle "long enough"
    assert _backend_pid(pg_engine) != pid  # pinged, found dead, replaced: no error


def test_a_connection_in_use_a_moment_ago_is_not_pinged(
    pg_engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings: list[object] = []
    real = pg_engine.dialect.do_ping
    monkeypatch.setattr(pg_engine.dialect, "do_ping", lambda c: pings.append(c) or real(c))
    for _ in range(3):
        _backend_pid(pg_engine)
    assert pings == []
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)
    _backend_pid(pg_engine)
    assert len(pings) == 1
