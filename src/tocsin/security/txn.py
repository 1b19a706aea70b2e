"""Write transactions that take SQLite's write lock up front.

A deferred SQLite transaction that reads and then writes fails with ``database is locked``
if another connection committed in between; ``BEGIN IMMEDIATE`` waits for the lock instead
(up to the busy timeout). PostgreSQL needs nothing special.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
