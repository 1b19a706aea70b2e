"""The audit ledger's group commit (ADR 0008): many requests, one transaction, one chain."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, func, select, text

from tocsin.security import audit
from tocsin.security.audit import Actor, PendingEntry
from tocsin.security.ledger_writer import LedgerBusy, LedgerWriter
from tocsin.store.schema_security import audit_log

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _entry(i: int) -> PendingEntry:
    return PendingEntry(Actor(f"reader-{i}", i), "event.read", "events", {"uids": [f"u{i}"]})


def _count(engine) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(audit_log)) or 0)


def test_concurrent_requests_share_transactions_and_keep_one_chain(engine) -> None:
    audited: list[int] = []
    writer = LedgerWriter(engine, lambda: NOW, audited.append)
    gate = threading.Barrier(40)
    results: list[int] = []

    def request(i: int) -> None:
        gate.wait()
        results.append(writer.write([_entry(i), _entry(i + 1000)]))

    threads = [threading.Thread(target=request, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    writer.stop()
    assert sorted(results) == [2] * 40  # every request learned that its two entries committed
    assert _count(engine) == 80
    assert sum(audited) == 80  # the checkpoint hook saw every entry exactly once
    assert 1 <= writer.batches <= 40
    with engine.connect() as conn:
        assert audit.verify(conn, None).ok
        rows = conn.execute(select(audit_log.c.actor).order_by(audit_log.c.seq)).scalars().all()
    # A request's entries are contiguous in the chain, in the order it gave them.
    for i in range(40):
        first = rows.index(f"reader-{i}")
        assert rows[first + 1] == f"reader-{i + 1000}"


def test_a_failing_request_fails_alone_and_the_others_commit(engine) -> None:
    writer = LedgerWriter(engine, lambda: NOW)

    def bad_write(conn: Connection) -> None:
        conn.execute(text("UPDATE no_such_table SET x = 1"))

    started = threading.Event()
    release = threading.Event()

    def slow_write(conn: Connection) -> None:  # holds the writer so the next jobs batch up
        started.set()
        release.wait(10)

    first = writer.submit([_entry(1)], [slow_write])
    started.wait(10)
    good = writer.submit([_entry(2)])
    bad = writer.submit([_entry(3)], [bad_write])
    also_good = writer.submit([_entry(4)])
    release.set()
    assert first.result(30) == 1
    assert good.result(30) == 1 and also_good.result(30) == 1
    with pytest.raises(Exception, match="no_such_table"):
        bad.result(30)
    writer.stop()
    with engine.connect() as conn:
        actors = conn.execute(select(audit_log.c.actor).order_by(audit_log.c.seq)).scalars()
        assert list(actors) == ["reader-1", "reader-2", "reader-4"]
        assert audit.verify(conn, None).ok


def test_tm_79_a_full_ledger_queue_refuses_instead_of_growing(engine) -> None:
    writer = LedgerWriter(engine, lambda: NOW, max_waiting=1)
    started = threading.Event()
    release = threading.Event()

    def hold(conn: Connection) -> None:
        started.set()
        release.wait(10)

    running = writer.submit([_entry(1)], [hold])
    started.wait(10)
    queued = writer.submit([_entry(2)])
    with pytest.raises(LedgerBusy):
        writer.submit([_entry(3)])
    release.set()
    assert running.result(30) == 1 and queued.result(30) == 1
    writer.stop()
    assert _count(engine) == 2


def test_nothing_to_write_needs_no_transaction(engine) -> None:
    writer = LedgerWriter(engine, lambda: NOW)
    assert writer.write([]) == 0
    assert writer.batches == 0
    writer.stop()


def test_append_as_the_first_statement_commits_and_rolls_back_with_the_caller(engine) -> None:
    """``append`` writes through the DBAPI cursor: its rows must still belong to the caller's
    SQLAlchemy transaction, committed by its commit and discarded by its rollback."""
    with engine.connect() as conn:
        audit.append(conn, [_entry(1)], NOW)
        conn.rollback()
    assert _count(engine) == 0
    with engine.connect() as conn:
        written = audit.append(conn, [_entry(2), _entry(3)], NOW)
        conn.commit()
    assert [e.seq for e in written] == [1, 2]
    assert _count(engine) == 2
    with engine.connect() as conn:
        assert audit.verify(conn, None).ok
