"""Attribute filters (P-code, time, type, act, actor, fatalities, country, dataset) and the access
scope, checked against a plain-Python reading of the documented semantics."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from sqlalchemy import insert, select

from tests.store.builders import make_event, store
from tocsin.domain.entities import ActorLink, Event
from tocsin.domain.taxonomy import (
    ActorRole,
    ActType,
    CaseClass,
    PocThreatCategory,
    SensitivityTier,
    ViolenceType,
)
from tocsin.store import schema as s
from tocsin.store.names import normalize_name
from tocsin.store.queries import (
    EventQuery,
    Scope,
    count_by,
    count_events,
    data_sources,
    get_event,
    iter_events,
    latest_events,
)

EVERYTHING = Scope.everything()


def _ids(engine, query: EventQuery, scope: Scope = EVERYTHING) -> set[str]:
    with engine.connect() as conn:
        found = {e.event.provenance.original_id for e in iter_events(conn, query, scope)}
        assert count_events(conn, query, scope) == len(found)
    return found


def test_pcode_is_a_case_insensitive_prefix_on_admin1_or_admin2(engine) -> None:
    store(
        engine,
        [
            make_event("bangui-area", admin1_pcode="CF11", admin2_pcode="CF111"),
            make_event("lobaye", admin1_pcode="CF12", admin2_pcode="CF121"),
            make_event("admin1-only", admin1_pcode="CF11"),
            make_event("admin2-only", admin2_pcode="CF112"),
            make_event("no-codes"),
            make_event("sudan", admin1_pcode="SD01", admin2_pcode="SD01001"),
            make_event("wildcard-bait", admin1_pcode="CFX1"),
        ],
    )
    assert _ids(engine, EventQuery(pcode="CF11")) == {"bangui-area", "admin1-only", "admin2-only"}
    assert _ids(engine, EventQuery(pcode="cf111")) == {"bangui-area"}
    assert _ids(engine, EventQuery(pcode="CF1")) == {
        "bangui-area",
        "lobaye",
        "admin1-only",
        "admin2-only",
    }
    assert _ids(engine, EventQuery(pcode="CF")) == {
        "bangui-area",
        "lobaye",
        "admin1-only",
        "admin2-only",
        "wildcard-bait",
    }
    assert _ids(engine, EventQuery(pcode="CF2")) == set()
    # "_" is a LIKE wildcard: it must be matched literally, never as "any character".
    assert _ids(engine, EventQuery(pcode="CF_1")) == set()


def test_time_range_matches_overlapping_periods(engine) -> None:
    d = date
    store(
        engine,
        [
            make_event("ten-days", date_start=d(2020, 1, 1), date_end=d(2020, 1, 10)),
            make_event("one-day", date_start=d(2020, 1, 5), date_end=d(2020, 1, 5)),
            make_event("after", date_start=d(2020, 1, 11), date_end=d(2020, 1, 20)),
            make_event("ends-on-start", date_start=d(2019, 12, 25), date_end=d(2020, 1, 1)),
            make_event("before", date_start=d(2019, 12, 1), date_end=d(2019, 12, 31)),
        ],
    )
    assert _ids(engine, EventQuery(start=d(2020, 1, 1), end=d(2020, 1, 5))) == {
        "ten-days",
        "one-day",
        "ends-on-start",
    }
    assert _ids(engine, EventQuery(start=d(2020, 1, 6), end=d(2020, 1, 6))) == {"ten-days"}
    assert _ids(engine, EventQuery(start=d(2020, 1, 10))) == {"ten-days", "after"}
    assert _ids(engine, EventQuery(end=d(2019, 12, 31))) == {"ends-on-start", "before"}


ACTORS = ["Séléka", "Anti-balaka", "FACA", "3R", "UPC"]


def _random_events(n: int, seed: int) -> list[Event]:
    rng = random.Random(seed)
    events = []
    for i in range(n):
        start = date(2020, 1, 1) + timedelta(days=rng.randrange(400))
        actors = tuple(
            ActorLink(rng.choice(ACTORS), rng.choice(list(ActorRole)))
            for _ in range(rng.randrange(3))
        )
        events.append(
            make_event(
                i,
                dataset=rng.choice(["alpha", "beta"]),
                date_start=start,
                date_end=start + timedelta(days=rng.choice([0, 0, 0, 3, 20])),
                latitude=rng.uniform(2, 11),
                longitude=rng.uniform(14, 27),
                country_iso3=rng.choice(["CAF", "TCD", None]),
                violence_type=rng.choice([*ViolenceType, None]),
                threat_category=rng.choice([*PocThreatCategory, None]),
                act_types=tuple(rng.sample(list(ActType), rng.randrange(3))),
                actors=actors,
                fatalities_best=rng.choice([None, 0, 1, 2, 5, 12, 40]),
                sensitivity=rng.choice(list(SensitivityTier)),
                case_class=rng.choice(list(CaseClass)),
            )
        )
    return events


def _reference(ev: Event, q: EventQuery, scope: Scope, aliases: dict[str, str]) -> bool:
    """The documented semantics, in plain Python."""
    if not scope.allows(ev.sensitivity, ev.case_class):
        return False
    if q.bbox is not None:
        w, so, e, n = q.bbox
        if ev.latitude is None or not (w <= ev.longitude <= e and so <= ev.latitude <= n):
            return False
    if q.start is not None and ev.date_end < q.start:
        return False
    if q.end is not None and ev.date_start > q.end:
        return False
    if q.violence_types and ev.violence_type not in q.violence_types:
        return False
    if q.threat_categories and ev.threat_category not in q.threat_categories:
        return False
    if q.act_types and not set(ev.act_types) & set(q.act_types):
        return False
    if q.actor is not None:
        wanted = aliases.get(normalize_name(q.actor), normalize_name(q.actor))
        if not any(
            normalize_name(a.name) == wanted and (q.actor_role in (None, a.role)) for a in ev.actors
        ):
            return False
    if q.min_fatalities is not None and (
        ev.fatalities_best is None or ev.fatalities_best < q.min_fatalities
    ):
        return False
    if q.country_iso3 is not None and ev.country_iso3 != q.country_iso3:
        return False
    return q.dataset is None or ev.provenance.dataset == q.dataset


QUERIES = [
    EventQuery(violence_types=("one_sided",), min_fatalities=5),
    EventQuery(act_types=(ActType.KILLING, ActType.ABDUCTION), actor="seleka"),
    EventQuery(actor="ex-séléka coalition", actor_role="perpetrator"),  # an alias
    EventQuery(actor="  anti-BALAKA ", act_types=("looting",), start=date(2020, 6, 1)),
    EventQuery(
        violence_types=(ViolenceType.STATE_BASED, ViolenceType.NON_STATE),
        threat_categories=(PocThreatCategory.ATTACK_ON_CIVILIANS,),
        end=date(2020, 9, 30),
    ),
    EventQuery(country_iso3="caf", dataset="alpha", min_fatalities=0),
    EventQuery(bbox=(15.0, 3.0, 22.0, 8.0), min_fatalities=2, actor="FACA", actor_role="side_a"),
    EventQuery(start=date(2020, 3, 1), end=date(2020, 3, 31), act_types=("abduction",)),
    EventQuery(min_fatalities=41),
]

SCOPES = [
    EVERYTHING,
    Scope.public(),
    Scope.up_to(SensitivityTier.RESTRICTED, [CaseClass.GENERAL, CaseClass.CHILDREN]),
    Scope(frozenset({"confidential"}), frozenset({"sexual_violence"})),
]


def test_combined_filters_and_scopes_match_reference(engine) -> None:
    events = _random_events(800, seed=7)
    store(engine, events)
    with engine.begin() as conn:
        actor_id = conn.scalar(select(s.actors.c.id).where(s.actors.c.normalized_name == "seleka"))
        conn.execute(
            insert(s.actor_aliases),
            {
                "actor_id": actor_id,
                "alias": "Ex-Séléka coalition",
                "normalized_alias": "ex-seleka coalition",
            },
        )
    aliases = {"ex-seleka coalition": "seleka"}
    for query in QUERIES:
        for scope in SCOPES:
            truth = {
                e.provenance.original_id for e in events if _reference(e, query, scope, aliases)
            }
            assert _ids(engine, query, scope) == truth, (query, scope)
    # The test is only worth something if the filters actually select something.
    assert _ids(engine, QUERIES[2]) and _ids(engine, QUERIES[1])


def test_scope_hides_events_everywhere(engine) -> None:
    store(
        engine,
        [
            make_event("open", place_name="Bria", fatalities_best=3),
            make_event(
                "secret",
                dataset="mission",
                sensitivity=SensitivityTier.RESTRICTED,
                fatalities_best=9,
                violence_type=ViolenceType.ONE_SIDED,
            ),
            make_event("sv-case", case_class=CaseClass.SEXUAL_VIOLENCE),
        ],
    )
    public = Scope.public()
    nothing = Scope(frozenset(), frozenset(CaseClass))
    with engine.connect() as conn:
        secret_uid = next(
            e.uid for e in iter_events(conn, EventQuery(dataset="mission"), EVERYTHING)
        )
        assert get_event(conn, secret_uid, EVERYTHING) is not None
        assert get_event(conn, secret_uid, public) is None
        assert get_event(conn, "no-such-uid", EVERYTHING) is None
        assert get_event(conn, "x" * 10_000, EVERYTHING) is None
        assert [e.event.provenance.original_id for e in latest_events(conn, public)] == ["open"]
        assert count_events(conn, EventQuery(), nothing) == 0
        assert sum(g.fatalities for g in count_by(conn, EventQuery(), public)) == 3
        assert [d.dataset for d in data_sources(conn, public)] == ["test"]
        assert {d.dataset for d in data_sources(conn, EVERYTHING)} == {"test", "mission"}
    with pytest.raises(TypeError):
        _ids(engine, EventQuery(), scope=None)  # type: ignore[arg-type]
