"""The write path is idempotent and behaves the same on SQLite and PostGIS."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from tocsin.domain.entities import ActorLink, Event, Provenance, SourceRef
from tocsin.domain.grading import InformationCredibility, SourceReliability
from tocsin.domain.taxonomy import ActorRole, ActType, ViolenceType
from tocsin.store import schema as s
from tocsin.store.event_writer import EventWriter


def _event(i: int, fatalities: int = 1) -> Event:
    return Event(
        provenance=Provenance("test", f"ev-{i}"),
        date_start=date(2021, 3, 1),
        date_end=date(2021, 3, 2),
        latitude=4.36 + i / 1000,
        longitude=18.55,
        violence_type=ViolenceType.ONE_SIDED,
        act_types=(ActType.KILLING, ActType.LOOTING),
        actors=(ActorLink("Séléka", ActorRole.PERPETRATOR), ActorLink("seleka ", ActorRole.SIDE_A)),
        fatalities_best=fatalities,
        sources=(
            SourceRef(
                "Radio Ndeke Luka",
                None,
                None,
                SourceReliability.B,
                InformationCredibility.PROBABLY_TRUE,
            ),
        ),
    )


def test_reimport_is_idempotent_and_updates_changed_rows(engine) -> None:
    events = [_event(i) for i in range(20)]
    with engine.begin() as conn:
        first = EventWriter(conn).write(events)
    with engine.begin() as conn:
        second = EventWriter(conn).write(events)
    events[3] = _event(3, fatalities=7)
    with engine.begin() as conn:
        third = EventWriter(conn).write(events)
    assert (first.inserted, first.updated, first.unchanged) == (20, 0, 0)
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, 20)
    assert (third.inserted, third.updated, third.unchanged) == (0, 1, 19)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(s.events)) == 20
        assert conn.scalar(select(func.count()).select_from(s.actors)) == 1  # names normalised
        assert conn.scalar(select(func.count()).select_from(s.event_acts)) == 40
        assert conn.scalar(select(func.count()).select_from(s.event_sources)) == 20
        best = conn.scalar(
            select(s.events.c.fatalities_best).where(s.events.c.original_id == "ev-3")
        )
        assert best == 7


def test_rolled_back_write_leaves_nothing(engine) -> None:
    try:
        with engine.begin() as conn:
            EventWriter(conn).write([_event(i) for i in range(5)])
            raise RuntimeError("fatal error mid-file")
    except RuntimeError:
        pass
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(s.events)) == 0
        assert conn.scalar(select(func.count()).select_from(s.actors)) == 0
