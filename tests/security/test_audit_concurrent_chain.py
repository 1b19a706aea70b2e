"""On PostgreSQL concurrent appenders keep one linear chain: the chain lock is taken before the
head is read, so no entry of the lock's previous holder is missed (ADR 0008's ledger)."""

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
