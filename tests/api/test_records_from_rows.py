"""The API's list path builds records straight from ``events`` rows (``api_record_from_row``);
the single-record path builds them from hydrated domain events (``api_record``). Both must
give the same record, field for field, on both backends, and both must refuse a stored value
outside the taxonomy. Redaction of what they build is covered by the role x tier x field
matrix (tests/api/test_roles_matrix.py, tests/security)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine, select, update

from tests.store.builders import make_event, store
from tocsin.api.records import api_record, api_record_from_row
from tocsin.domain.entities import ActorLink, SourceRef, VictimGroup
from tocsin.domain.grading import InformationCredibility, SourceReliability
from tocsin.domain.taxonomy import (
    ActorKind,
    ActorRole,
    ActType,
    CaseClass,
    DatePrecision,
    LocationPrecision,
    PocThreatCategory,
    SensitivityTier,
    ViolenceType,
)
from tocsin.store import schema as s
from tocsin.store.queries import EventQuery, Scope, search_event_rows, search_events
from tocsin.store.reads import child_rows, hydrate


def _events() -> list:
    rich = make_event(
        "rich",
        date_start=date(2020, 5, 1),
        date_end=date(2020, 5, 3),
        date_precision=DatePrecision.WITHIN_WEEK,
        latitude=4.25,
        longitude=18.5,
        location_precision=LocationPrecision.NEAR,
        country_iso3="CAF",
        country_name="Central African Republic",
        admin1_pcode="CF11",
        admin1_name="Ouham",
        place_name="Bossangoa",
        priogrid_gid=123456,
        violence_type=ViolenceType.ONE_SIDED,
        threat_category=PocThreatCategory.ATTACK_ON_CIVILIANS,
        # given out of the store's order: both builders must sort them the same way
        act_types=(ActType.INJURY, ActType.KILLING, ActType.ABDUCTION),
        actors=(
            ActorLink("Zeta militia", ActorRole.TARGET, ActorKind.CIVILIANS),
            ActorLink("Beta group", ActorRole.PERPETRATOR, ActorKind.ARMED_GROUP),
            ActorLink("Alpha group", ActorRole.PERPETRATOR, ActorKind.MILITIA),
        ),
        victims=(
            VictimGroup("villagers", count=7, female=3, male=4, children=2, adults=5),
            VictimGroup("herders"),
        ),
        fatalities_best=5,
        fatalities_low=4,
        fatalities_high=9,
        civilian_fatalities=5,
        sources=(
            SourceRef(
                "Radio Ndeke Luka",
                "https://example.org/a",
                date(2020, 5, 4),
                SourceReliability.B,
                InformationCredibility.PROBABLY_TRUE,
            ),
            SourceRef("Local monitor"),
        ),
        sensitivity=SensitivityTier.RESTRICTED,
        case_class=CaseClass.CHILDREN,
        title="Attack on a village",
        description="Armed men entered at dawn.",
    )
    bare = make_event("bare", latitude=4.5, longitude=18.75)
    nowhere = make_event("nowhere", sensitivity=SensitivityTier.INTERNAL)
    return [rich, bare, nowhere]


def test_list_records_equal_single_records_on_both_backends(engine: Engine) -> None:
    store(engine, _events())
    with engine.connect() as conn:
        rows = conn.execute(select(s.events).order_by(s.events.c.id)).all()
        assert len(rows) == 3
        children = child_rows(conn, [r.id for r in rows])
        for row, stored in zip(rows, hydrate(conn, rows), strict=True):
            for people in (None, []):
                direct = api_record_from_row(row, children, people)
                assert direct == api_record(stored, people)
                assert list(direct) == list(api_record(stored, people))  # same key order
        rich = api_record_from_row(rows[0], children, None)
        assert rich["act_types"] == ["killing", "injury", "abduction"]
        assert [a["name"] for a in rich["actors"]] == ["Alpha group", "Beta group", "Zeta militia"]
        assert rich["source_grades"] == ["B2", "F6"]
        assert rich["created_at"].tzinfo is not None


def test_search_rows_are_the_rows_of_search_events(engine: Engine) -> None:
    store(engine, _events())
    query = EventQuery(bbox=(18.0, 4.0, 19.0, 5.0))
    scopes = [Scope.everything(), Scope.up_to(SensitivityTier.INTERNAL, [CaseClass.GENERAL])]
    with engine.connect() as conn:
        for scope in scopes:
            rows = search_event_rows(conn, query, scope, limit=1)
            page = search_events(conn, query, scope, limit=1)
            assert [r.uid for r in rows.rows] == [i.uid for i in page.items]
            assert (rows.total, rows.next_cursor) == (page.total, page.next_cursor)
        assert search_event_rows(conn, query, scopes[1], limit=5).total == 1


@pytest.mark.parametrize(
    ("table", "column", "value"),
    [
        ("events", "violence_type", "massacre"),
        ("events", "sensitivity", "top_secret"),
        ("event_sources", "reliability", "Z"),
        ("event_actors", "role", "bystander"),
    ],
)
def test_a_stored_value_outside_the_taxonomy_is_refused(
    engine: Engine, table: str, column: str, value: str
) -> None:
    store(engine, _events()[:1])
    t = s.metadata.tables[table]
    with engine.begin() as conn:
        conn.execute(update(t).values({column: value}))
    with engine.connect() as conn:
        rows = conn.execute(select(s.events)).all()
        with pytest.raises(ValueError):
            api_record_from_row(rows[0], child_rows(conn, [rows[0].id]), None)
