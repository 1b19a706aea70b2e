"""Own-records roles are scoped in the store query itself: ``Scope.owner_user_id`` limits every
read (search, count, iteration, single reads, grouped counts) to the events that user filed,
on both backends, with and without a spatial filter."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import insert, select

from tests.store.builders import make_event, store
from tocsin.domain.taxonomy import CaseClass, SensitivityTier
from tocsin.store import schema as s
from tocsin.store.queries import (
    EventQuery,
    QueryError,
    Scope,
    count_by,
    count_events,
    get_event,
    iter_events,
    search_events,
)
from tocsin.store.schema_security import event_owners, users

GENERAL = frozenset({CaseClass.GENERAL})
TIERS = frozenset({SensitivityTier.PUBLIC, SensitivityTier.INTERNAL})


def _user(conn, name: str) -> int:  # noqa: ANN001
    now = datetime.now(UTC)
    return conn.execute(
        insert(users).values(
            username=name,
            display_name=name,
            role="field_reporter",
            password_hash="x",
            password_changed_at=now,
            created_at=now,
            updated_at=now,
        )
    ).inserted_primary_key[0]


@pytest.fixture
def owned(engine) -> tuple[int, int]:
    at = {"latitude": 4.5, "longitude": 18.5, "date_start": date(2024, 4, 3)}
    store(
        engine,
        [
            make_event("mine-1", **at),
            make_event("mine-2", **at, date_end=date(2024, 4, 5)),
            make_event("mine-secret", sensitivity=SensitivityTier.CONFIDENTIAL, **at),
            make_event("theirs", **at),
            make_event("nobodys", **at),
        ],
    )
    with engine.begin() as conn:
        me, other = _user(conn, "rep"), _user(conn, "rep2")
        ids = dict(conn.execute(select(s.events.c.original_id, s.events.c.id)).all())
        conn.execute(
            insert(event_owners),
            [
                {"event_id": ids["mine-1"], "user_id": me},
                {"event_id": ids["mine-2"], "user_id": me},
                {"event_id": ids["mine-secret"], "user_id": me},
                {"event_id": ids["theirs"], "user_id": other},
            ],
        )
    return me, other


def _names(items) -> set[str]:  # noqa: ANN001
    return {i.event.provenance.original_id for i in items}


def test_tm_78_owner_scope_limits_every_read_to_own_records(engine, owned) -> None:
    me, other = owned
    mine = Scope(TIERS, GENERAL, owner_user_id=me)
    box = EventQuery(bbox=(18.0, 4.0, 19.0, 5.0), start=date(2024, 1, 1), end=date(2024, 12, 31))
    with engine.connect() as conn:
        for query in (EventQuery(), box):
            page = search_events(conn, query, mine)
            assert _names(page.items) == {"mine-1", "mine-2"} and page.total == 2
            assert count_events(conn, query, mine) == 2
            assert _names(iter_events(conn, query, mine)) == {"mine-1", "mine-2"}
        # tier and case class still apply to one's own records (the confidential one is out)
        assert sum(g.events for g in count_by(conn, EventQuery(), mine, by=("year",))) == 2
        theirs = search_events(conn, box, Scope(TIERS, GENERAL, owner_user_id=other))
        assert _names(theirs.items) == {"theirs"}
        stranger = Scope(TIERS, GENERAL, owner_user_id=other + 1000)
        assert count_events(conn, EventQuery(), stranger) == 0
        uid = next(
            i.uid
            for i in iter_events(conn, EventQuery(), Scope.everything())
            if i.event.provenance.original_id == "theirs"
        )
        assert get_event(conn, uid, mine) is None
        assert get_event(conn, uid, Scope(TIERS, GENERAL)) is not None


def test_owner_scope_rejects_a_non_integer_owner() -> None:
    for bad in ("1", True, 1.0):
        with pytest.raises(QueryError, match="owner_user_id"):
            Scope(TIERS, GENERAL, owner_user_id=bad)  # type: ignore[arg-type]
