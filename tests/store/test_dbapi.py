"""``store.dbapi`` runs the hot statements on the DB-API cursor (SQLite and PostgreSQL): they
must read what SQLAlchemy returns, value for value and type for type, inside the caller's
transaction."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Integer, bindparam, column, insert, select, text

from tests.store.builders import make_event, store
from tocsin.store import dbapi
from tocsin.store import schema as s

EVENTS_BY_DAY = select(s.events).where(s.events.c.date_start >= bindparam("day"))
COUNTED = text("SELECT id, uid, date_start, count(*) OVER () AS total FROM events").columns(
    column("id", Integer), column("uid"), column("date_start"), column("total", Integer)
)


def test_rows_are_those_sqlalchemy_returns(engine) -> None:
    store(engine, [make_event(f"e{i}", date_start=date(2020, 1, 1 + i)) for i in range(3)])
    with engine.connect() as conn:
        expected = conn.execute(EVENTS_BY_DAY, {"day": date(2020, 1, 2)}).all()
        got = dbapi.fetch(conn, EVENTS_BY_DAY, {"day": date(2020, 1, 2)})
        assert len(got) == len(expected) == 2
        for mine, theirs in zip(got, expected, strict=True):
            assert dict(mine._mapping) == dict(theirs._mapping)
            assert [type(v) for v in mine._mapping.values()] == [
                type(v) for v in theirs._mapping.values()
            ]
            assert mine.uid == theirs.uid and mine[0] == theirs[0] and len(mine) == len(theirs)
        with pytest.raises(AttributeError):
            _ = got[0].no_such_column
        # Textual statements with declared columns, and the statement cached from the first run.
        everything = sorted(conn.scalars(select(s.events.c.uid)).all())
        for _ in range(2):
            counted = dbapi.fetch(conn, COUNTED, {})
            assert sorted(r.uid for r in counted) == everything
            assert {r.total for r in counted} == {3}


def test_parameters_go_through_the_same_type_processing(engine) -> None:
    """A datetime parameter (text on SQLite, as SQLAlchemy writes it) and a date result; a
    statement SQLAlchemy rewrites at execution (an expanding IN) goes through SQLAlchemy."""
    store(engine, [make_event(f"e{i}", date_start=date(2021, 3, 1 + i)) for i in range(2)])
    recent = select(s.events.c.uid, s.events.c.date_start).where(
        s.events.c.created_at <= bindparam("now"), s.events.c.date_start >= bindparam("day")
    )
    in_list = select(s.events.c.uid).where(s.events.c.id.in_([1, 2, 3])).order_by(s.events.c.uid)
    with engine.connect() as conn:
        for _ in range(2):
            got = dbapi.fetch(conn, recent, {"now": datetime.now(UTC), "day": date(2021, 3, 2)})
            assert [(r.uid, r.date_start) for r in got] == [
                (r.uid, r.date_start)
                for r in conn.execute(
                    recent, {"now": datetime.now(UTC), "day": date(2021, 3, 2)}
                ).all()
            ]
            assert len(got) == 1 and type(got[0].date_start) is date
            assert [r.uid for r in dbapi.fetch(conn, in_list, {})] == [
                r.uid for r in conn.execute(in_list).all()
            ]


def test_runs_in_the_callers_transaction(engine) -> None:
    """A row written earlier in the same transaction is seen; the caller's rollback decides."""
    with engine.connect() as conn:
        conn.execute(
            insert(s.actors).values(
                uid="a-1", name="Group A", normalized_name="group a", kind="armed_group"
            )
        )
        found = dbapi.fetch(conn, select(s.actors.c.name), {})
        assert [r.name for r in found] == ["Group A"]
        conn.rollback()
        assert dbapi.fetch(conn, select(s.actors.c.name), {}) == []
        conn.rollback()


def test_a_cursor_begun_first_is_committed_by_the_caller(engine) -> None:
    with engine.connect() as conn:
        cur = dbapi.cursor(conn)  # nothing ran through SQLAlchemy yet
        assert conn.in_transaction()
        marker = "%s" if engine.dialect.name == "postgresql" else "?"
        cur.execute(
            f"INSERT INTO actors (uid, name, normalized_name, kind) VALUES ({marker}, {marker}, {marker}, {marker})",  # noqa: E501, S608 - placeholders only
            ("a-2", "Group B", "group b", "armed_group"),
        )
        cur.close()
        conn.commit()
    with engine.connect() as conn:
        assert conn.scalar(select(s.actors.c.name).where(s.actors.c.uid == "a-2")) == "Group B"


def test_execute_many_writes_every_parameter_set_in_the_callers_transaction(engine) -> None:
    add = insert(s.actors).values(
        uid=bindparam("uid"), name=bindparam("name"), normalized_name=bindparam("n"), kind="group"
    )
    rows = [{"uid": f"m-{i}", "name": f"Group {i}", "n": f"group {i}"} for i in range(3)]
    with engine.connect() as conn:
        dbapi.execute_many(conn, add, rows)
        conn.rollback()
        assert conn.scalar(select(s.actors.c.name).where(s.actors.c.uid == "m-0")) is None
        dbapi.execute_many(conn, add, rows)
        conn.commit()
    with engine.connect() as conn:
        found = conn.execute(select(s.actors.c.uid, s.actors.c.kind).order_by(s.actors.c.uid))
        assert [tuple(r) for r in found] == [(f"m-{i}", "group") for i in range(3)]
