"""Read-only routes on PostgreSQL read in autocommit (ADR 0013): at READ COMMITTED each
statement has its own snapshot anyway, so the BEGIN and COMMIT round trips bought nothing.
Their writes (audit entries, bookkeeping) still commit in a transaction, with the chain lock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, func, select

from tocsin.api.uow import UnitOfWork
from tocsin.security import audit
from tocsin.security.audit import Actor
from tocsin.store.schema_security import audit_log


def _clock() -> datetime:
    return datetime.now(UTC)


def test_a_read_runs_in_autocommit_on_postgresql_only(engine) -> None:
    uow = UnitOfWork(engine, writes=False, clock=_clock)
    uow.statement_snapshots()
    conn = uow.conn
    conn.exec_driver_sql("SELECT 1")
    raw = conn.connection.dbapi_connection
    if engine.dialect.name == "postgresql":
        assert raw.autocommit is True
        assert raw.info.transaction_status.name == "IDLE"  # no transaction was opened
    else:
        assert conn.in_transaction()  # SQLite keeps its read snapshot
    uow.commit()
    assert uow.done


def test_its_audit_entries_still_commit_in_a_transaction(engine, tmp_path: Path) -> None:
    uow = UnitOfWork(engine, writes=False, clock=_clock)  # no ledger writer: direct append
    uow.statement_snapshots()
    uow.conn.exec_driver_sql("SELECT 1")
    uow.audit(Actor("reader", 1), "event.read", "events", {"uids": ["a", "b"]})
    uow.commit()
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(audit_log)) >= 1
        assert audit.verify(conn, None, tmp_path / "none.jsonl").ok
    # and the connection handed back to the pool is a transactional one again
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
        assert conn.in_transaction()
        if engine.dialect.name == "postgresql":
            assert conn.connection.dbapi_connection.autocommit is False


def test_a_write_request_or_another_isolation_level_keeps_its_transaction(engine) -> None:
    writing = UnitOfWork(engine, writes=True, clock=_clock)
    writing.statement_snapshots()
    writing.conn.exec_driver_sql("SELECT 1")
    assert writing.conn.in_transaction()
    writing.rollback()
    if engine.dialect.name != "postgresql":
        return
    repeatable = create_engine(engine.url, isolation_level="REPEATABLE READ")
    try:
        uow = UnitOfWork(repeatable, writes=False, clock=_clock)
        uow.statement_snapshots()
        uow.conn.exec_driver_sql("SELECT 1")
        assert uow.conn.connection.dbapi_connection.autocommit is False
        uow.rollback()
    finally:
        repeatable.dispose()
