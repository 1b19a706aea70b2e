"""The statements every API read runs, on the DB-API cursor of the caller's transaction.

A search costs a token lookup, the page and its child rows; a single read and the audit entry
of a restricted read a few more. For each, SQLAlchemy's per-statement work (execution context,
result metadata built from the cursor's description, row objects) cost a third to a half of the
Python time of the statement itself (bench/api_load.py). ``fetch`` runs such a statement,
compiled once for the connection's own dialect, with the same SQL, on the same connection and
transaction, and converts parameters and values with the same type processors SQLAlchemy
applies (on SQLite, dates travel as text; on PostgreSQL psycopg already returns Python types).
A statement SQLAlchemy would still have to rewrite at execution (expanding ``IN`` lists) goes
through SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql import Executable

Processor = Callable[[Any], Any]


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
    """A statement compiled for one dialect, with its type processors."""

    __slots__ = ("_dialect", "_types", "binds", "defaults", "names", "positional", "results", "sql")

    def __init__(self, stmt: Executable, conn: Connection) -> None:
        dialect = conn.dialect
        done = stmt.compile(dialect=dialect)
        self.sql: str = done.string
        self.defaults: dict[str, Any] = dict(done.params)  # the statement's own literals
        # Positional paramstyles (SQLite's qmark) take the values in this order.
        self.positional: tuple[str, ...] | None = (
            tuple(done.positiontup) if dialect.positional and done.positiontup else None
        )
        self.binds: dict[str, Processor] = {}
        for key, bind in done.binds.items():
            proc = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if proc is not None:
                self.binds[key] = proc
        selected = getattr(stmt, "selected_columns", ())  # a write returns no rows
        self._types = [col.type.dialect_impl(dialect) for col in selected]
        self._dialect = dialect
        # Both from the first result's description (some processors depend on its type codes).
        self.names: tuple[str, ...] | None = None
        self.results: tuple[tuple[int, Processor], ...] = ()

    def describe(self, description: Any) -> None:
        procs = []
        # A textual statement without declared columns (``text()``) has no types to apply.
        types = self._types or [None] * len(description)
        for i, (impl, column) in enumerate(zip(types, description, strict=True)):
            if impl is None:
                continue
            proc = impl.result_processor(self._dialect, column[1])
            if proc is not None:
                procs.append((i, proc))
        self.results = tuple(procs)
        self.names = tuple(column[0] for column in description)

    def parameters(self, params: Mapping[str, Any]) -> Any:
        values = {**self.defaults, **params}
        for key, proc in self.binds.items():
            values[key] = proc(values[key])
        if self.positional is None:
            return values
        return tuple(values[key] for key in self.positional)

    def convert(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        if not self.results:
            return rows
        out = []
        for row in rows:
            values = list(row)
            for i, proc in self.results:
                values[i] = proc(values[i])
            out.append(tuple(values))
        return out


# By statement: each entry keeps its statement alive, so an id is never reused while cached.
_COMPILED: dict[tuple[int, str], tuple[Executable, _Compiled | None]] = {}
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
    result = _run(conn, stmt, params)
    if result is None:
        return list(conn.execute(stmt, dict(params)).all())
    names, rows = result
    return [MappedRow(names, values) for values in rows]


def fetch_tuples(conn: Connection, stmt: Executable, params: Mapping[str, Any]) -> list[Any]:
    """``fetch`` for readers that only index rows by position (no name lookup built)."""
    result = _run(conn, stmt, params)
    if result is None:
        return list(conn.execute(stmt, dict(params)).all())
    return result[1]


def execute_many(conn: Connection, stmt: Executable, rows: Sequence[Mapping[str, Any]]) -> None:
    """``stmt`` (a write built once, at import) once per parameter set in ``rows``."""
    compiled = _compiled(conn, stmt)
    if compiled is None:
        conn.execute(stmt, [dict(row) for row in rows])
        return
    cur = cursor(conn)
    try:
        cur.executemany(compiled.sql, [compiled.parameters(row) for row in rows])
    finally:
        cur.close()


def _compiled(conn: Connection, stmt: Executable) -> _Compiled | None:
    key = (id(stmt), conn.dialect.name)
    entry = _COMPILED.get(key)
    if entry is not None and entry[0] is stmt:
        return entry[1]
    compiled: _Compiled | None = _Compiled(stmt, conn)
    if "POSTCOMPILE" in compiled.sql:  # type: ignore[union-attr]
        compiled = None  # rewritten by SQLAlchemy at each execution: not for the raw cursor
    if len(_COMPILED) < _MAX_COMPILED:
        _COMPILED[key] = (stmt, compiled)
    return compiled


def _run(
    conn: Connection, stmt: Executable, params: Mapping[str, Any]
) -> tuple[tuple[str, ...], list[tuple[Any, ...]]] | None:
    compiled = _compiled(conn, stmt)
    if compiled is None:
        return None
    cur = cursor(conn)
    try:
        cur.execute(compiled.sql, compiled.parameters(params))
        if compiled.names is None:
            compiled.describe(cur.description)
        assert compiled.names is not None
        return compiled.names, compiled.convert(cur.fetchall())
    finally:
        cur.close()
