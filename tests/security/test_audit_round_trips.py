"""On PostgreSQL the audit append sends the chain lock and the head read together (one round
trip), and the head is still read after the lock is granted: no entry is ever missed, so
concurrent appenders keep one linear chain (ADR 0008's ledger, ADR 0013)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tocsin.security import audit
from tocsin.security.audit import Actor, PendingEntry
from tocsin.security.txn import write_transaction

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_engine(pg_cluster) -> Engine:  # noqa: ANN001
    from tests.conftest import fresh_postgres_database
    from tocsin.store.db import make_engine

    engine = make_engine(fresh_postgres_database(pg_cluster))
    yield engine
    engine.dispose()


def _messages(trace: Path) -> list[tuple[str, str]]:
    """(direction, message type) of each protocol message in a libpq trace."""
    out = []
    for line in trace.read_text(errors="replace").splitlines():
        parts = line.split("\t")
        if len(parts) >= 4 and parts[1] in ("F", "B"):
            out.append((parts[1], parts[3].split(" ")[0]))
    return out


def _round_trips(messages: list[tuple[str, str]]) -> int:
    """How many times the client waited for the server: each turn from sending to reading."""
    trips, sending = 0, False
    for direction, _kind in messages:
        if direction == "F":
            sending = True
        elif sending:
            trips, sending = trips + 1, False
    return trips


def test_lock_and_head_travel_in_one_round_trip(pg_engine: Engine, tmp_path: Path) -> None:
    trace = tmp_path / "trace.txt"
    with pg_engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")  # the transaction's BEGIN is not part of the count
        raw = conn.connection.dbapi_connection
        with trace.open("w") as sink:
            raw.pgconn.trace(sink.fileno())
            try:
                audit.append(conn, [PendingEntry(Actor("test"), "test.rt", "x", {})])
            finally:
                raw.pgconn.untrace()
        conn.commit()
    messages = _messages(trace)
    # lock + head together, then the insert: two waits (it was three).
    assert _round_trips(messages) == 2, messages
    assert [k for d, k in messages if d == "F"].count("Execute") == 3


def test_concurrent_appenders_keep_one_chain(pg_engine: Engine, tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def appender(n: int) -> None:
        try:
            for i in range(15):
                with write_transaction(pg_engine) as conn:
                    entries = [PendingEntry(Actor(f"w{n}"), "test.chain", f"e{i}", {"i": i})]
                    audit.append(conn, entries, datetime.now(UTC))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=appender, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with pg_engine.connect() as conn:
        report = audit.verify(conn, None, tmp_path / "none.jsonl")
    assert report.ok, report.as_dict()
    assert report.entries >= 90
