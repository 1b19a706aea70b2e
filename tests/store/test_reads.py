"""Stored rows come back as the domain events that were written, in a fixed number of queries."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import event as sa_event

from tests.store.builders import make_event, store
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
from tocsin.store.queries import EventQuery, Scope, get_event, search_events


def _full_event(i: int):  # noqa: ANN202
    return make_event(
        f"full-{i}",
        dataset="ucdp_ged",
        date_start=date(2021, 3, 1),
        date_end=date(2021, 3, 4),
        date_precision=DatePrecision.WITHIN_WEEK,
        latitude=4.3612,
        longitude=18.5550,
        location_precision=LocationPrecision.NEAR,
        country_iso3="CAF",
        country_name="Central African Republic",
        admin1_pcode="CF71",
        admin1_name="Bangui",
        admin2_pcode="CF711",
        admin2_name="Bangui",
        place_name="PK5, Bangui",
        priogrid_gid=135_397,
        violence_type=ViolenceType.ONE_SIDED,
        threat_category=PocThreatCategory.ATTACK_ON_CIVILIANS,
        act_types=(ActType.KILLING, ActType.LOOTING),  # in ActType order
        actors=(
            ActorLink("Séléka", ActorRole.PERPETRATOR, ActorKind.ARMED_GROUP),
            ActorLink("Civilians (CAR)", ActorRole.TARGET, ActorKind.CIVILIANS),
        ),
        victims=(
            VictimGroup("traders", count=5, female=1, male=4),
            VictimGroup("children", count=2, children=2),
        ),
        fatalities_best=7,
        fatalities_low=5,
        fatalities_high=9,
        civilian_fatalities=7,
        sources=(
            SourceRef(
                "Radio Ndeke Luka",
                "https://example.org/rnl/1",
                date(2021, 3, 5),
                SourceReliability.B,
                InformationCredibility.PROBABLY_TRUE,
            ),
            SourceRef(
                "MINUSCA JOC", None, None, SourceReliability.A, InformationCredibility.CONFIRMED
            ),
        ),
        sensitivity=SensitivityTier.INTERNAL,
        case_class=CaseClass.CHILDREN,
        title="Attack on PK5 market",
        description="Armed men looted the market; 7 killed.",
    )


def test_stored_event_round_trips_every_field(engine) -> None:
    written = _full_event(0)
    store(engine, [written], dataset_version="23.1")
    with engine.connect() as conn:
        stored = get_event(conn, written.uid, Scope.everything())
    assert stored is not None
    assert stored.uid == written.uid
    assert stored.event == written  # dataclass equality: every field, children included
    assert stored.import_run_id is not None
    assert stored.created_at.tzinfo == UTC and stored.updated_at.tzinfo == UTC
    assert abs((datetime.now(UTC) - stored.updated_at).total_seconds()) < 300
    assert stored.content_hash == written.content_hash()


def test_a_page_costs_the_same_number_of_queries_whatever_its_size(engine) -> None:
    store(engine, [_full_event(i) for i in range(60)])
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # noqa: ANN001
        statements.append(statement)

    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        with engine.connect() as conn:
            statements.clear()
            small = search_events(conn, EventQuery(), Scope.everything(), limit=2)
            n_small = len(statements)
            statements.clear()
            big = search_events(conn, EventQuery(), Scope.everything(), limit=60)
            n_big = len(statements)
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    assert len(small.items) == 2 and len(big.items) == 60
    assert all(len(item.event.sources) == 2 for item in big.items)
    # count + page + four child tables, independent of the page size
    assert n_small == n_big == 6
