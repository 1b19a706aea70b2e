"""Rows of the ``events`` table back into domain objects, with their children loaded in batches.

One query per child table per batch of events (never one per event), so a page of 50 and an
export of 150,000 cost the same number of round trips per row.

What does not round-trip exactly, by design of the store: act types come back in the order of
:class:`ActType`, actor links sorted by role then name, with the actor's canonical stored name
(the writer merges names that normalise alike, e.g. "Séléka" and "seleka").
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Date,
    Integer,
    Row,
    Select,
    String,
    Text,
    any_,
    bindparam,
    cast,
    func,
    literal,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY

from tocsin.domain.entities import ActorLink, Event, Provenance, SourceRef, VictimGroup
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
from tocsin.store import dbapi
from tocsin.store import schema as s

# Well under SQLite's bound-parameter limit and PostgreSQL's comfortable IN-list size.
_ID_CHUNK = 500

_ACT_ORDER = {act: i for i, act in enumerate(ActType)}
_ROLE_ORDER = {role: i for i, role in enumerate(ActorRole)}


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as stored: its row id, uid, the domain event and store bookkeeping."""

    id: int
    uid: str
    event: Event
    import_run_id: int | None
    content_hash: str
    created_at: datetime
    updated_at: datetime


def hydrate(conn: Connection, rows: Sequence[Row]) -> list[StoredEvent]:
    """``rows`` are full ``events`` rows (``select(schema.events)``), in the order to keep."""
    if not rows:
        return []
    ids = [row.id for row in rows]
    acts = _acts(conn, ids)
    actors = _actor_links(conn, ids)
    sources = _sources(conn, ids)
    victims = _victims(conn, ids)
    return [
        _stored(row, acts.get(row.id, ()), actors.get(row.id, ()), sources, victims) for row in rows
    ]


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), _ID_CHUNK):
        yield ids[i : i + _ID_CHUNK]


def id_in(conn: Connection, column: ColumnElement[int], ids: list[int]) -> ColumnElement[bool]:
    """``column IN ids`` with the ids as ONE bound value (a PostgreSQL array; a JSON array
    read by SQLite's json_each), instead of an expanding IN with one parameter per id: that
    re-renders the SQL for every list length and was the largest single cost of reading a
    page of events through the API."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=ARRAY(Integer), unique=True))
    values = func.json_each(bindparam(None, json.dumps(list(ids)), unique=True)).table_valued(
        "value"
    )
    return column.in_(select(values.c.value))


def _ids_in(dialect: str, column: ColumnElement[int]) -> ColumnElement[bool]:
    """``column IN :ids``, the ids bound at execution (see ``ids_value``)."""
    if dialect == "postgresql":
        return column == any_(bindparam("ids", type_=ARRAY(Integer)))
    values = func.json_each(bindparam("ids", type_=String)).table_valued("value")
    return column.in_(select(values.c.value))


def ids_value(conn: Connection, ids: Sequence[int]) -> object:
    """The value of the ``ids`` parameter of a statement from ``by_ids``."""
    return list(ids) if conn.dialect.name == "postgresql" else json.dumps(list(ids))


def _build_by_ids(dialect: str, which: str) -> Select:
    if which == "events":
        return select(s.events).where(_ids_in(dialect, s.events.c.id))
    if which == "acts":
        t = s.event_acts
        return select(t.c.event_id, t.c.act_type).where(_ids_in(dialect, t.c.event_id))
    if which == "actors":
        ea, a = s.event_actors, s.actors
        return (
            select(ea.c.event_id, ea.c.role, a.c.name, a.c.kind)
            .join(a, a.c.id == ea.c.actor_id)
            .where(_ids_in(dialect, ea.c.event_id))
        )
    if which == "sources":
        t = s.event_sources
        return (
            select(
                t.c.event_id,
                t.c.name,
                t.c.reference,
                t.c.published,
                t.c.reliability,
                t.c.credibility,
            )
            .where(_ids_in(dialect, t.c.event_id))
            .order_by(t.c.event_id, t.c.position)
        )
    if which == "victims":
        t = s.victim_groups
        return (
            select(
                t.c.event_id,
                t.c.description,
                t.c.count,
                t.c.female,
                t.c.male,
                t.c.children,
                t.c.adults,
            )
            .where(_ids_in(dialect, t.c.event_id))
            .order_by(t.c.event_id, t.c.position)
        )
    raise KeyError(which)


_BY_IDS: dict[tuple[str, str], Select] = {}


def by_ids(conn: Connection, which: str) -> Select:
    """A statement reading ``which`` (events rows or one child table) for the ids bound as
    ``{"ids": ids_value(conn, ids)}``. Built once per dialect and reused: constructing the
    SQLAlchemy statement anew for every page cost more CPU than running it."""
    key = (conn.dialect.name, which)
    stmt = _BY_IDS.get(key)
    if stmt is None:
        stmt = _BY_IDS[key] = _build_by_ids(conn.dialect.name, which)
    return stmt


def _rows_for(conn: Connection, which: str, ids: list[int]) -> Iterable[Row]:
    stmt = by_ids(conn, which)
    for chunk in _chunks(ids):
        # .all() fetches in one DB-API call; iterating the result fetched row by row.
        yield from conn.execute(stmt, {"ids": ids_value(conn, chunk)}).all()


@dataclass(frozen=True, slots=True)
class ChildRows:
    """The child rows of a batch of events, by event id, in the order ``hydrate`` keeps:
    ``acts`` (act_type,), ``actors`` (role, name, kind), ``sources`` (name, reference,
    published, reliability, credibility), ``victims`` (description, count, female, male,
    children, adults), as plain tuples (reading a SQLAlchemy Row by attribute costs ~0.3 us a
    field). Stored values as they are: readers validate them with ``valid``."""

    acts: dict[int, list[str]]
    actors: dict[int, list[tuple[str, str, str]]]
    sources: dict[int, list[tuple[Any, ...]]]
    victims: dict[int, list[tuple[Any, ...]]]


def child_rows(conn: Connection, ids: list[int]) -> ChildRows:
    """Every child row of the events ``ids``, without building domain objects: for readers
    that serialise straight from the rows (the API's list path). One statement for all four
    child tables (``_CHILDREN_SLOTS``): four round trips cost more than the rows."""
    acts: dict[int, list[str]] = defaultdict(list)
    actors: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    sources: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    victims: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    stmt = _children_statement(conn.dialect.name)
    for chunk in _chunks(ids):
        for row in dbapi.fetch_tuples(conn, stmt, {"ids": ids_value(conn, chunk)}):
            kind, event_id = row[0], row[1]
            if kind == "t":
                acts[event_id].append(row[3])
            elif kind == "a":
                actors[event_id].append((row[4], row[5], row[6]))
            elif kind == "s":
                sources[event_id].append(tuple(row[7:12]))
            else:
                victims[event_id].append(tuple(row[12:18]))
    for found in acts.values():
        found.sort(key=lambda act: _ACT_ORDER[_member(ActType, act)])
    for links in actors.values():
        links.sort(key=lambda link: (_ROLE_ORDER[_member(ActorRole, link[0])], link[1]))
    return ChildRows(acts, actors, sources, victims)


# The columns of the one-statement child read, after (kind, event_id, position): each child
# table fills its own slots and leaves the others NULL.
_CHILDREN_SLOTS: tuple[tuple[str, Any], ...] = (
    ("act_type", String),  # 3: acts
    ("role", String),  # 4-6: actors
    ("actor_name", Text),
    ("actor_kind", String),
    ("source_name", Text),  # 7-11: sources
    ("reference", Text),
    ("published", Date),
    ("reliability", String),
    ("credibility", String),
    ("description", Text),  # 12-17: victims
    ("count", Integer),
    ("female", Integer),
    ("male", Integer),
    ("children", Integer),
    ("adults", Integer),
)
_CHILDREN: dict[str, Any] = {}


def _children_statement(dialect: str) -> Any:
    stmt = _CHILDREN.get(dialect)
    if stmt is None:
        stmt = _CHILDREN[dialect] = _build_children(dialect)
    return stmt


def _build_children(dialect: str) -> Any:
    ea, a, t, src, vg = s.event_actors, s.actors, s.event_acts, s.event_sources, s.victim_groups

    def branch(kind: str, event_id: Any, position: Any, filled: dict[str, Any]) -> Select:
        columns = [
            (filled[name] if name in filled else cast(null(), type_)).label(name)
            for name, type_ in _CHILDREN_SLOTS
        ]
        return select(
            literal(kind, String).label("kind"),
            event_id.label("event_id"),
            position.label("position"),
            *columns,
        ).where(_ids_in(dialect, event_id))

    zero = literal(0, Integer)
    acts = branch("t", t.c.event_id, zero, {"act_type": t.c.act_type})

    if dialect == "postgresql":
        # An actor's name and kind by primary key, one index lookup per link: as a join,
        # PostgreSQL hashed the whole ``actors`` table for every page (a page links ~100
        # actors; the table holds thousands), and as two scalar subqueries it looked each actor
        # up twice. The OFFSET keeps the planner from flattening the lateral lookup back into
        # that join. ``actor_id`` is a NOT NULL foreign key, so every link finds its actor.
        actor = select(a.c.name, a.c.kind).where(a.c.id == ea.c.actor_id).offset(0).lateral()
        linked = {"role": ea.c.role, "actor_name": actor.c.name, "actor_kind": actor.c.kind}
        actors = branch("a", ea.c.event_id, zero, linked).join_from(ea, actor, true())
    else:  # SQLite already looks each actor up by primary key in a nested loop
        actors = branch(
            "a",
            ea.c.event_id,
            zero,
            {"role": ea.c.role, "actor_name": a.c.name, "actor_kind": a.c.kind},
        ).join_from(ea, a, a.c.id == ea.c.actor_id)
    sources = branch(
        "s",
        src.c.event_id,
        src.c.position,
        {
            "source_name": src.c.name,
            "reference": src.c.reference,
            "published": src.c.published,
            "reliability": src.c.reliability,
            "credibility": src.c.credibility,
        },
    )
    victims = branch(
        "v",
        vg.c.event_id,
        vg.c.position,
        {
            "description": vg.c.description,
            "count": vg.c.count,
            "female": vg.c.female,
            "male": vg.c.male,
            "children": vg.c.children,
            "adults": vg.c.adults,
        },
    )
    both = union_all(acts, actors, sources, victims).subquery()
    return select(*both.c).order_by(both.c.event_id, both.c.position)


def valid(enum: type, value: object):  # noqa: ANN201 - the stored value itself
    """``value`` if it is a value of ``enum`` (as ``hydrate`` would accept it), else the
    Enum's own ValueError: a stored value outside the taxonomy never leaves silently."""
    table = _VALUES.get(enum)
    if table is None:
        table = _VALUES[enum] = {m.value: m.value for m in enum}  # type: ignore[attr-defined]
    try:
        return table[value]
    except (KeyError, TypeError):
        return enum(value).value  # the Enum's own lookup and error message


_VALUES: dict[type, dict[object, object]] = {}


def utc(value: datetime) -> datetime:
    """A stored timestamp as an aware UTC datetime, as ``hydrate`` returns it."""
    return _utc(value)


def _acts(conn: Connection, ids: list[int]) -> dict[int, tuple[ActType, ...]]:
    found: dict[int, list[ActType]] = defaultdict(list)
    for event_id, act in _rows_for(conn, "acts", ids):
        found[event_id].append(_member(ActType, act))
    return {k: tuple(sorted(v, key=_ACT_ORDER.__getitem__)) for k, v in found.items()}


def _actor_links(conn: Connection, ids: list[int]) -> dict[int, tuple[ActorLink, ...]]:
    found: dict[int, list[ActorLink]] = defaultdict(list)
    for event_id, role, name, kind in _rows_for(conn, "actors", ids):
        found[event_id].append(ActorLink(name, _member(ActorRole, role), _member(ActorKind, kind)))
    return {
        k: tuple(sorted(v, key=lambda link: (_ROLE_ORDER[link.role], link.name)))
        for k, v in found.items()
    }


def _sources(conn: Connection, ids: list[int]) -> dict[int, list[SourceRef]]:
    found: dict[int, list[SourceRef]] = defaultdict(list)
    for event_id, name, reference, published, reliability, credibility in _rows_for(
        conn, "sources", ids
    ):
        found[event_id].append(
            SourceRef(
                name=name,
                reference=reference,
                published=published,
                reliability=_member(SourceReliability, reliability),
                credibility=_member(InformationCredibility, credibility),
            )
        )
    return found


def _victims(conn: Connection, ids: list[int]) -> dict[int, list[VictimGroup]]:
    found: dict[int, list[VictimGroup]] = defaultdict(list)
    for event_id, description, count, female, male, children, adults in _rows_for(
        conn, "victims", ids
    ):
        found[event_id].append(
            VictimGroup(
                description=description,
                count=count,
                female=female,
                male=male,
                children=children,
                adults=adults,
            )
        )
    return found


def _utc(value: datetime) -> datetime:
    # SQLite returns naive datetimes (the writer stores UTC); PostgreSQL, the session's zone.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_MEMBERS: dict[type, dict[object, object]] = {}


def _member(enum: type, value: object):  # noqa: ANN202 - returns a member of ``enum``
    """``enum(value)`` through a dict: calling an Enum costs microseconds, and a page of 50
    events converts hundreds of values. Unknown values still raise ValueError."""
    table = _MEMBERS.get(enum)
    if table is None:
        table = _MEMBERS[enum] = {m.value: m for m in enum}  # type: ignore[attr-defined]
    try:
        return table[value]
    except (KeyError, TypeError):
        return enum(value)  # the Enum's own lookup and error message


def _opt(enum: type, value: object):  # noqa: ANN202 - returns a member of ``enum`` or None
    return None if value is None else _member(enum, value)


def _stored(
    row: Row,
    acts: tuple[ActType, ...],
    actors: tuple[ActorLink, ...],
    sources: dict[int, list[SourceRef]],
    victims: dict[int, list[VictimGroup]],
) -> StoredEvent:
    event = Event(
        provenance=Provenance(row.dataset, row.original_id, row.dataset_version),
        date_start=row.date_start,
        date_end=row.date_end,
        date_precision=_member(DatePrecision, row.date_precision),
        latitude=row.latitude,
        longitude=row.longitude,
        location_precision=_opt(LocationPrecision, row.location_precision),
        country_iso3=row.country_iso3,
        country_name=row.country_name,
        admin1_pcode=row.admin1_pcode,
        admin1_name=row.admin1_name,
        admin2_pcode=row.admin2_pcode,
        admin2_name=row.admin2_name,
        place_name=row.place_name,
        priogrid_gid=row.priogrid_gid,
        violence_type=_opt(ViolenceType, row.violence_type),
        threat_category=_opt(PocThreatCategory, row.threat_category),
        act_types=acts,
        actors=actors,
        victims=tuple(victims.get(row.id, ())),
        fatalities_best=row.fatalities_best,
        fatalities_low=row.fatalities_low,
        fatalities_high=row.fatalities_high,
        civilian_fatalities=row.civilian_fatalities,
        sources=tuple(sources.get(row.id, ())),
        sensitivity=_member(SensitivityTier, row.sensitivity),
        case_class=_member(CaseClass, row.case_class),
        title=row.title,
        description=row.description,
        uid=row.uid,
    )
    return StoredEvent(
        id=row.id,
        uid=row.uid,
        event=event,
        import_run_id=row.import_run_id,
        content_hash=row.content_hash,
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
    )
