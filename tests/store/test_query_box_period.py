"""Box + period queries: on SQLite they are counted and paged from the 3-D R*Tree alone (a fast
path), everywhere else through the events table. Both must give exactly the plain-Python truth,
in the same order, for every scope, with cursors and offsets."""

from __future__ import annotations

import random
from datetime import date, timedelta

from tests.store.builders import make_event, store
from tocsin.domain.taxonomy import CaseClass, SensitivityTier
from tocsin.store.queries import EventQuery, Scope, SortOrder, count_events, iter_events
from tocsin.store.queries import search_events as search

SCOPES = (
    Scope.everything(),
    Scope.public(),
    Scope.up_to(SensitivityTier.INTERNAL),
    Scope(frozenset({SensitivityTier.RESTRICTED}), frozenset({CaseClass.GENERAL})),
    Scope(frozenset(), frozenset(CaseClass)),
)


def _events(rng: random.Random) -> list:
    out = []
    for i in range(160):
        start = date(1965, 1, 1) + timedelta(days=rng.randrange(0, 365 * 60))
        out.append(
            make_event(
                f"e{i}",
                # a coarse grid, so many points sit exactly on box edges
                latitude=rng.choice((4.0, 4.5, 5.0, 5.25, 6.0)) + rng.choice((0.0, 1e-7)),
                longitude=rng.choice((18.0, 18.5, 19.0, 20.0)),
                date_start=start,
                date_end=start + timedelta(days=rng.choice((0, 0, 3, 40))),
                sensitivity=rng.choice(list(SensitivityTier)),
                case_class=rng.choice(list(CaseClass)),
            )
        )
    return out


def _truth(events: list, query: EventQuery, scope: Scope) -> list[str]:
    west, south, east, north = query.bbox
    hits = [
        ev
        for ev in events
        if west <= ev.longitude <= east
        and south <= ev.latitude <= north
        and (query.start is None or ev.date_end >= query.start)
        and (query.end is None or ev.date_start <= query.end)
        and scope.allows(ev.sensitivity, ev.case_class)
    ]
    return [ev.provenance.original_id for ev in hits]


def test_box_and_period_in_scope_match_the_truth_with_paging(engine) -> None:
    rng = random.Random(7)
    events = _events(rng)
    store(engine, events)
    order_of = {}  # original id -> row id, for the id tie-break
    with engine.connect() as conn:
        for stored in iter_events(conn, EventQuery(), Scope.everything()):
            order_of[stored.event.provenance.original_id] = stored.id
    by_id = {ev.provenance.original_id: ev for ev in events}
    for _ in range(25):
        west, south = rng.choice((17.5, 18.0, 18.5)), rng.choice((3.5, 4.0, 4.5))
        box = (west, south, west + rng.choice((0.5, 1.0, 2.0)), south + rng.choice((0.5, 1.0)))
        start = rng.choice((None, date(1970, 1, 1), date(1999, 6, 1)))
        end = rng.choice((None, date(1969, 12, 31), date(2010, 1, 1)))
        if start and end and start > end:
            start, end = end, start
        sort = rng.choice((SortOrder.DATE_DESC, SortOrder.DATE_ASC))
        query = EventQuery(bbox=box, start=start, end=end, sort=sort)
        scope = rng.choice(SCOPES)
        want = sorted(
            _truth(events, query, scope),
            key=lambda oid: (by_id[oid].date_start, order_of[oid]),
            reverse=sort is SortOrder.DATE_DESC,
        )
        with engine.connect() as conn:
            assert count_events(conn, query, scope) == len(want)
            walked, cursor = [], None
            while True:
                page = search(conn, query, scope, limit=7, cursor=cursor)
                assert page.total == len(want)
                walked += [s.event.provenance.original_id for s in page.items]
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
            assert walked == want
            generic = [s.event.provenance.original_id for s in iter_events(conn, query, scope)]
            assert generic == want
            if len(want) > 3:
                page = search(conn, query, scope, limit=2, offset=3)
                assert [s.event.provenance.original_id for s in page.items] == want[3:5]


def test_changing_scope_columns_and_coordinates_updates_the_index(engine) -> None:
    at = {"latitude": 4.5, "longitude": 18.5, "date_start": date(2020, 1, 1)}
    store(engine, [make_event("x", sensitivity=SensitivityTier.PUBLIC, **at)])
    query = EventQuery(bbox=(18.0, 4.0, 19.0, 5.0))
    with engine.connect() as conn:
        assert count_events(conn, query, Scope.public()) == 1
    store(engine, [make_event("x", sensitivity=SensitivityTier.RESTRICTED, **at)])
    with engine.connect() as conn:
        assert count_events(conn, query, Scope.public()) == 0
        assert count_events(conn, query, Scope.everything()) == 1
    moved = {**at, "latitude": 10.0}
    store(engine, [make_event("x", sensitivity=SensitivityTier.RESTRICTED, **moved)])
    with engine.connect() as conn:
        assert count_events(conn, query, Scope.everything()) == 0
        assert search(conn, query, Scope.everything()).items == []
