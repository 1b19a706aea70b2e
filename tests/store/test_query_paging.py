"""Ordering, keyset paging, totals, counts by group and the data-source summary."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.store.builders import make_event, store
from tocsin.domain.taxonomy import SensitivityTier, ViolenceType
from tocsin.store.queries import (
    EventQuery,
    QueryError,
    Scope,
    SortOrder,
    count_by,
    data_sources,
    iter_events,
    latest_events,
    search_events,
)

EVERYTHING = Scope.everything()


def _walk(conn, query: EventQuery, limit: int) -> tuple[list[int], set[int]]:
    """All ids in page order, and the set of totals the pages reported."""
    ids: list[int] = []
    totals: set[int] = set()
    cursor = None
    while True:
        page = search_events(conn, query, EVERYTHING, limit=limit, cursor=cursor)
        ids += [item.id for item in page.items]
        totals.add(page.total)
        assert len(page.items) <= limit
        if page.next_cursor is None:
            return ids, totals
        cursor = page.next_cursor


def _tied_events(n: int = 45) -> list:
    # Five distinct dates, so most rows tie on the sort key; fatalities tie too and are
    # sometimes unknown.
    return [
        make_event(
            i,
            date_start=date(2021, 1, 1) + timedelta(days=i % 5),
            fatalities_best=None if i % 7 == 0 else i % 4,
        )
        for i in range(n)
    ]


def test_cursor_walks_every_row_once_in_a_stable_order(engine) -> None:
    store(engine, _tied_events())
    with engine.connect() as conn:
        rows = {e.id: e.event for e in iter_events(conn, EventQuery(), EVERYTHING)}
        assert len(rows) == 45
        expectations = {
            SortOrder.DATE_DESC: lambda i: (rows[i].date_start, i),
            SortOrder.DATE_ASC: lambda i: (rows[i].date_start, i),
            SortOrder.FATALITIES_DESC: lambda i: (
                -1 if rows[i].fatalities_best is None else rows[i].fatalities_best,
                i,
            ),
        }
        for sort, key in expectations.items():
            ids, totals = _walk(conn, EventQuery(sort=sort), limit=7)
            assert totals == {45}
            assert len(ids) == len(set(ids)) == 45
            assert ids == sorted(rows, key=key, reverse=sort is not SortOrder.DATE_ASC), sort
            # The same order by offset paging and by the streaming iterator.
            by_offset = [
                item.id
                for offset in range(0, 45, 10)
                for item in search_events(
                    conn, EventQuery(sort=sort), EVERYTHING, limit=10, offset=offset
                ).items
            ]
            assert by_offset == ids
            streamed = [
                e.id for e in iter_events(conn, EventQuery(sort=sort), EVERYTHING, batch_size=4)
            ]
            assert streamed == ids


def test_cursor_survives_inserts_between_pages(engine) -> None:
    store(engine, _tied_events(30))
    seen: list[int] = []
    with engine.connect() as conn:
        page = search_events(conn, EventQuery(), EVERYTHING, limit=8)
        original = {e.id for e in iter_events(conn, EventQuery(), EVERYTHING)}
    seen += [i.id for i in page.items]
    # New rows arrive, some newer and some tying with rows not yet visited.
    store(
        engine,
        [make_event(f"late-{i}", date_start=date(2021, 1, 1 + i % 6)) for i in range(10)],
        with_run=False,
    )
    cursor = page.next_cursor
    with engine.connect() as conn:
        while cursor:
            page = search_events(conn, EventQuery(), EVERYTHING, limit=8, cursor=cursor)
            seen += [i.id for i in page.items]
            cursor = page.next_cursor
        assert page.total == 40
    assert len(seen) == len(set(seen))
    assert original <= set(seen)


def test_page_limits_cursor_and_offset_are_checked(engine) -> None:
    store(engine, _tied_events(12))
    with engine.connect() as conn:
        page = search_events(conn, EventQuery(), EVERYTHING, limit=5)
        assert page.total == 12 and len(page.items) == 5 and page.next_cursor
        last = search_events(conn, EventQuery(), EVERYTHING, limit=12)
        assert last.next_cursor is None and len(last.items) == 12
        for bad_limit in (0, -1, 1001, True, 2.5, "10"):
            with pytest.raises(QueryError, match="limit"):
                search_events(conn, EventQuery(), EVERYTHING, limit=bad_limit)  # type: ignore[arg-type]
        with pytest.raises(QueryError, match="either a cursor or an offset"):
            search_events(conn, EventQuery(), EVERYTHING, cursor=page.next_cursor, offset=5)
        for bad_offset in (-1, 10**9, True):
            with pytest.raises(QueryError, match="offset"):
                search_events(conn, EventQuery(), EVERYTHING, offset=bad_offset)
        # A cursor from another sort order, or one that was tampered with, is refused.
        with pytest.raises(QueryError, match="cursor"):
            search_events(
                conn,
                EventQuery(sort=SortOrder.FATALITIES_DESC),
                EVERYTHING,
                cursor=page.next_cursor,
            )
        for bad in (
            "",
            "not base64 !!",
            "eyJzIjoiZGF0ZV9kZXNjIn0",  # {"s":"date_desc"} without a key
            "eyJzIjoiZGF0ZV9kZXNjIiwiayI6IjIwMjEtMTMtMDEiLCJpIjoxfQ",  # month 13
            "eyJzIjoiZGF0ZV9kZXNjIiwiayI6IjIwMjEtMDEtMDEiLCJpIjoiMSBPUiAxPTEifQ",  # id injection
            "A" * 5000,
            "WyJhIl0",  # a JSON list
            "/w",  # not UTF-8
        ):
            with pytest.raises(QueryError, match="cursor"):
                search_events(conn, EventQuery(), EVERYTHING, cursor=bad)


def test_count_by_groups_and_sorts_the_same_on_both_backends(engine) -> None:
    store(
        engine,
        [
            make_event(
                1,
                date_start=date(2021, 1, 31),
                violence_type=ViolenceType.ONE_SIDED,
                fatalities_best=4,
            ),
            make_event(2, date_start=date(2021, 1, 2), violence_type=ViolenceType.ONE_SIDED),
            make_event(
                3,
                date_start=date(2021, 2, 1),
                violence_type=ViolenceType.STATE_BASED,
                fatalities_best=10,
            ),
            make_event(4, date_start=date(2020, 12, 31), fatalities_best=1),
            make_event(
                5,
                date_start=date(2021, 2, 9),
                violence_type=ViolenceType.STATE_BASED,
                fatalities_best=2,
            ),
        ],
    )
    with engine.connect() as conn:
        groups = count_by(conn, EventQuery(), EVERYTHING)
        assert [(g.key, g.events, g.fatalities) for g in groups] == [
            ((None, "2020-12"), 1, 1),
            (("one_sided", "2021-01"), 2, 4),
            (("state_based", "2021-02"), 2, 12),
        ]
        by_year = count_by(conn, EventQuery(min_fatalities=2), EVERYTHING, by=("year",))
        assert [(g.key, g.events) for g in by_year] == [(("2021",), 3)]
        for bad in ((), ("month", "month"), ("nope",), "month", ("a", "b", "c", "d")):
            with pytest.raises(QueryError):
                count_by(conn, EventQuery(), EVERYTHING, by=bad)


def test_latest_events_and_data_sources(engine) -> None:
    store(
        engine,
        [make_event(i, dataset="ucdp_ged", date_start=date(2020, 5, 1 + i)) for i in range(25)],
        dataset_version="23.1",
    )
    store(
        engine,
        [
            make_event(
                "x", dataset="acled", date_start=date(2019, 1, 1), date_end=date(2019, 1, 9)
            ),
            make_event(
                "hidden", dataset="acled", date_start=date(2022, 1, 1),
                sensitivity=SensitivityTier.CONFIDENTIAL,
            ),
        ],
    )  # fmt: skip
    with engine.connect() as conn:
        latest = latest_events(conn, Scope.public(), limit=20)
        assert len(latest) == 20
        assert [e.event.date_start.day for e in latest] == list(range(25, 5, -1))
        sources = {src.dataset: src for src in data_sources(conn, Scope.public())}
        assert sources["ucdp_ged"].events == 25
        assert sources["ucdp_ged"].version == "23.1"
        assert sources["ucdp_ged"].first_date == date(2020, 5, 1)
        assert sources["ucdp_ged"].last_date == date(2020, 5, 25)
        assert sources["ucdp_ged"].last_import_at is not None
        assert sources["ucdp_ged"].last_import_at.tzinfo is not None
        # The confidential event is neither counted nor does it widen the date span.
        assert sources["acled"].events == 1
        assert sources["acled"].last_date == date(2019, 1, 9)
        with pytest.raises(QueryError):
            latest_events(conn, Scope.public(), query=EventQuery(sort=SortOrder.DATE_ASC))
