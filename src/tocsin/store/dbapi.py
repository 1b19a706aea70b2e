"""The statements every API read runs, on the DB-API cursor of the caller's transaction.

A search costs a token lookup, the page and its child rows; a single read and the audit entry
of a restricted read a few more. For each, SQLAlchemy's per-statement work (execution context,
result metadata built from the cursor's description, row objects) cost a third to a half of the
Python time of the statement itself (bench/api_load.py). On PostgreSQL psycopg already returns
what SQLAlchemy would (dates, aware datetimes, arrays), so ``fetch`` runs a statement compiled
once for the connection's own dialect, with the same SQL and parameters, on the same
connection and transaction. SQLite keeps SQLAlchemy: its dates come back as text that
SQLAlchemy parses, so ``fetch`` runs the statement through SQLAlchemy there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql import Executable


class MappedRow:
    """A result row read by column name (``row.id``, ``row._mapping["uid"]``) or position
    (``row[0]``), like SQLAlchemy's ``Row`` for the uses here."""

    __slots__ = ("_mapping", "_values")

    def __init__(self, names: tuple[str, ...], values: tuple[Any, ...]) -> None:
        self._values = values
        self._mapping = dict(zip(names, values, strict=True))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._mapping[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, index: Any) -> Any:
        return self._values[index]

    def __len__(self) -> int:
        return len(self._values)


class _Compiled:
    __slots__ = ("names", "params", "sql")

    def __init__(self, sql: str, params: dict[str, Any]) -> None:
        self.sql = sql
        self.params = params  # the statement's own bound literals
        self.names: tuple[str, ...] | None = None  # read from the first result's description


# By statement: each entry keeps its statement alive, so an id is never reused while cached.
_COMPILED: dict[int, tuple[Executable, _Compiled]] = {}
_MAX_COMPILED = 512


def cursor(conn: Connection) -> Any:
    """A DB-API cursor inside ``conn``'s transaction (begun here if nothing ran yet, so that
    the caller's ``commit`` or ``rollback`` still decides for what this cursor does)."""
    if not conn.in_transaction():
        conn.begin()
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


def fetch(conn: Connection, stmt: Executable, params: Mapping[str, Any]) -> list[Any]:
    """Every row of ``stmt`` (a statement built once, at import) with ``params``, read by
    column name or position."""
    if conn.dialect.name != "postgresql":
        return list(conn.execute(stmt, dict(params)).all())
    names, rows = _run(conn, stmt, params)
    return [MappedRow(names, values) for values in rows]


def fetch_tuples(conn: Connection, stmt: Executable, params: Mapping[str, Any]) -> list[Any]:
    """``fetch`` for readers that only index rows by position (no name lookup built)."""
    if conn.dialect.name != "postgresql":
        return list(conn.execute(stmt, dict(params)).all())
    return _run(conn, stmt, params)[1]


def _run(
    conn: Connection, stmt: Executable, params: Mapping[str, Any]
) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    entry = _COMPILED.get(id(stmt))
    if entry is not None and entry[0] is stmt:
        compiled = entry[1]
    else:
        done = stmt.compile(dialect=conn.dialect)
        compiled = _Compiled(done.string, dict(done.params))
        if len(_COMPILED) < _MAX_COMPILED:
            _COMPILED[id(stmt)] = (stmt, compiled)
    cur = cursor(conn)
    try:
        cur.execute(compiled.sql, {**compiled.params, **params})
        if compiled.names is None:
            compiled.names = tuple(d.name for d in cur.description)
        return compiled.names, cur.fetchall()
    finally:
        cur.close()
