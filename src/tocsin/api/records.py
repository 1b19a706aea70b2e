"""Reading events for a principal: the query scope (first application of the policy), the
API record, redaction (second application), and the audit of restricted reads.

Everything in the API that returns events goes through ``load_page``/``load_one``/
``export_records``; nothing else calls the store's read functions for a viewer.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from tocsin.domain.grading import InformationCredibility, SourceReliability, format_grade
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
from tocsin.security import persons
from tocsin.security.keys import KeyRing
from tocsin.security.policies import AccessScope, FieldGroup, is_restricted_case
from tocsin.security.principal import Principal
from tocsin.security.redaction import Channel, redact_record
from tocsin.store.export import event_to_record
from tocsin.store.queries import (
    EventQuery,
    Scope,
    get_event,
    iter_events,
    search_event_rows,
)
from tocsin.store.reads import ChildRows, StoredEvent, child_rows, id_in, utc, valid
from tocsin.store.schema_security import event_owners


def store_scope(scope: AccessScope) -> Scope:
    """The store's scope: tiers x case classes and, for own-records roles, the owner; the
    query itself is scoped for every reader, field reporters included."""
    return Scope(scope.tiers, scope.case_classes, scope.owner_user_id)


def api_record(stored: StoredEvent, people: list[persons.Person] | None) -> dict[str, Any]:
    """The full API record of one event, before redaction."""
    ev = stored.event
    out: dict[str, Any] = {
        "uid": stored.uid,
        "dataset": ev.provenance.dataset,
        "dataset_version": ev.provenance.dataset_version,
        "original_id": ev.provenance.original_id,
        "date_start": ev.date_start,
        "date_end": ev.date_end,
        "date_precision": int(ev.date_precision),
        "country_iso3": ev.country_iso3,
        "country_name": ev.country_name,
        "admin1_pcode": ev.admin1_pcode,
        "admin1_name": ev.admin1_name,
        "admin2_pcode": ev.admin2_pcode,
        "admin2_name": ev.admin2_name,
        "place_name": ev.place_name,
        "latitude": ev.latitude,
        "longitude": ev.longitude,
        "location_precision": None if ev.location_precision is None else int(ev.location_precision),
        "priogrid_gid": ev.priogrid_gid,
        "violence_type": None if ev.violence_type is None else ev.violence_type.value,
        "threat_category": None if ev.threat_category is None else ev.threat_category.value,
        "act_types": [a.value for a in ev.act_types],
        "title": ev.title,
        "description": ev.description,
        "actors": [{"name": a.name, "role": a.role.value, "kind": a.kind.value} for a in ev.actors],
        "fatalities_best": ev.fatalities_best,
        "fatalities_low": ev.fatalities_low,
        "fatalities_high": ev.fatalities_high,
        "civilian_fatalities": ev.civilian_fatalities,
        "victims": [
            {
                "count": v.count,
                "female": v.female,
                "male": v.male,
                "children": v.children,
                "adults": v.adults,
            }
            for v in ev.victims
        ],
        "victim_groups": [v.description for v in ev.victims],
        "sources": [
            {
                "name": src.name,
                "reference": src.reference,
                "published": src.published,
                "reliability": src.reliability.value,
                "credibility": src.credibility.value,
            }
            for src in ev.sources
        ],
        "source_grades": [format_grade(src.reliability, src.credibility) for src in ev.sources],
        "sensitivity": ev.sensitivity.value,
        "case_class": ev.case_class.value,
        "created_at": stored.created_at,
        "updated_at": stored.updated_at,
    }
    if people is not None:
        out["persons"] = [p.as_dict() for p in people]
    return out


def api_record_from_row(
    row: Any, children: ChildRows, people: list[persons.Person] | None
) -> dict[str, Any]:
    """The same record as ``api_record(hydrate(row))``, built straight from the ``events`` row
    and its child rows: a page of 50 then skips building 50 domain events only to read them
    back. Stored values are still checked against the taxonomy (``valid``), and the record
    goes through the same ``redact_record`` as any other. tests/api/test_records_from_rows.py
    compares the two builders field by field."""
    r = row._mapping  # by key: ~4x cheaper than Row attributes, and order-independent
    event_id = r["id"]
    sources = children.sources.get(event_id, ())
    victims = children.victims.get(event_id, ())
    out: dict[str, Any] = {
        "uid": r["uid"],
        "dataset": r["dataset"],
        "dataset_version": r["dataset_version"],
        "original_id": r["original_id"],
        "date_start": r["date_start"],
        "date_end": r["date_end"],
        "date_precision": valid(DatePrecision, r["date_precision"]),
        "country_iso3": r["country_iso3"],
        "country_name": r["country_name"],
        "admin1_pcode": r["admin1_pcode"],
        "admin1_name": r["admin1_name"],
        "admin2_pcode": r["admin2_pcode"],
        "admin2_name": r["admin2_name"],
        "place_name": r["place_name"],
        "latitude": r["latitude"],
        "longitude": r["longitude"],
        "location_precision": _valid_or_none(LocationPrecision, r["location_precision"]),
        "priogrid_gid": r["priogrid_gid"],
        "violence_type": _valid_or_none(ViolenceType, r["violence_type"]),
        "threat_category": _valid_or_none(PocThreatCategory, r["threat_category"]),
        "act_types": [valid(ActType, a) for a in children.acts.get(event_id, ())],
        "title": r["title"],
        "description": r["description"],
        "actors": [
            {"name": name, "role": valid(ActorRole, role), "kind": valid(ActorKind, kind)}
            for role, name, kind in children.actors.get(event_id, ())
        ],
        "fatalities_best": r["fatalities_best"],
        "fatalities_low": r["fatalities_low"],
        "fatalities_high": r["fatalities_high"],
        "civilian_fatalities": r["civilian_fatalities"],
        "victims": [
            {"count": count, "female": female, "male": male, "children": kids, "adults": adults}
            for _, count, female, male, kids, adults in victims
        ],
        "victim_groups": [v[0] for v in victims],
        "sources": [
            {
                "name": name,
                "reference": reference,
                "published": published,
                "reliability": valid(SourceReliability, reliability),
                "credibility": valid(InformationCredibility, credibility),
            }
            for name, reference, published, reliability, credibility in sources
        ],
        # format_grade's format (reliability letter, credibility digit), from checked values.
        "source_grades": [
            valid(SourceReliability, src[3]) + valid(InformationCredibility, src[4])
            for src in sources
        ],
        "sensitivity": valid(SensitivityTier, r["sensitivity"]),
        "case_class": valid(CaseClass, r["case_class"]),
        "created_at": utc(r["created_at"]),
        "updated_at": utc(r["updated_at"]),
    }
    if people is not None:
        out["persons"] = [p.as_dict() for p in people]
    return out


def _valid_or_none(enum: type, value: object) -> object:
    return None if value is None else valid(enum, value)


def owners_of(conn: Connection, event_ids: Sequence[int]) -> dict[int, int]:
    found: dict[int, int] = {}
    ids = list(event_ids)
    for i in range(0, len(ids), 500):
        for event_id, user_id in conn.execute(
            select(event_owners.c.event_id, event_owners.c.user_id).where(
                id_in(conn, event_owners.c.event_id, ids[i : i + 500])
            )
        ):
            found[event_id] = user_id
    return found


@dataclass(slots=True)
class ReadResult:
    records: list[dict[str, Any]]
    total: int
    next_cursor: str | None
    restricted_uids: list[str]


def _people_for(
    conn: Connection, keys: KeyRing, scope: AccessScope, items: Sequence[StoredEvent]
) -> dict[int, list[persons.Person]] | None:
    # Decrypt names only for a scope that may see them: what is never loaded cannot leak.
    if FieldGroup.PERSONS not in scope.fields:
        return None
    return persons.load(conn, keys, [(i.id, i.uid) for i in items])


def _redacted(
    conn: Connection,
    keys: KeyRing | None,
    scope: AccessScope,
    items: Sequence[StoredEvent],
    channel: Channel,
) -> tuple[list[dict[str, Any]], list[str]]:
    owners = owners_of(conn, [i.id for i in items]) if scope.owner_user_id is not None else {}
    # Exports never carry names (NEVER_EXPORTED), so they never decrypt them either.
    people = (
        _people_for(conn, keys, scope, items)
        if channel is Channel.API and keys is not None
        else None
    )
    out: list[dict[str, Any]] = []
    restricted: list[str] = []
    for item in items:
        record = (
            api_record(item, None if people is None else people.get(item.id, []))
            if channel is Channel.API
            else event_to_record(item)
        )
        red = redact_record(record, scope, channel, owners.get(item.id))
        if red is None:
            continue
        out.append(red)
        if is_restricted_case(item.event.sensitivity, item.event.case_class):
            restricted.append(item.uid)
    return out, restricted


def load_page(
    conn: Connection,
    keys: KeyRing,
    principal: Principal,
    query: EventQuery,
    *,
    limit: int,
    cursor: str | None,
) -> ReadResult:
    scope = principal.record_scope()
    if scope.is_empty:
        return ReadResult([], 0, None, [])
    page = search_event_rows(conn, query, store_scope(scope), limit=limit, cursor=cursor)
    records, restricted = _redacted_rows(conn, keys, scope, page.rows)
    return ReadResult(records, page.total, page.next_cursor, restricted)


def _redacted_rows(
    conn: Connection, keys: KeyRing, scope: AccessScope, rows: Sequence[Any]
) -> tuple[list[dict[str, Any]], list[str]]:
    """``_redacted`` for the API channel, from ``events`` rows (see ``api_record_from_row``):
    the same owner lookup, the same decryption rule and the same ``redact_record``."""
    if not rows:
        return [], []
    ids = [row.id for row in rows]
    owners = owners_of(conn, ids) if scope.owner_user_id is not None else {}
    people = (
        persons.load(conn, keys, [(row.id, row.uid) for row in rows])
        if FieldGroup.PERSONS in scope.fields  # names are decrypted only for who may see them
        else None
    )
    children = child_rows(conn, ids)
    out: list[dict[str, Any]] = []
    restricted: list[str] = []
    for row in rows:
        names = None if people is None else people.get(row.id, [])
        record = api_record_from_row(row, children, names)
        red = redact_record(record, scope, Channel.API, owners.get(row.id))
        if red is None:
            continue
        out.append(red)
        if is_restricted_case(record["sensitivity"], record["case_class"]):
            restricted.append(record["uid"])
    return out, restricted


def load_one(
    conn: Connection, keys: KeyRing, principal: Principal, uid: str
) -> tuple[dict[str, Any], StoredEvent, bool] | None:
    """(redacted record, stored event, restricted?) or None if absent or out of scope."""
    scope = principal.record_scope()
    if scope.is_empty:
        return None
    stored = get_event(conn, uid, store_scope(scope))
    if stored is None:
        return None
    records, restricted = _redacted(conn, keys, scope, [stored], Channel.API)
    if not records:
        return None
    return records[0], stored, bool(restricted)


def export_records(
    conn: Connection, principal: Principal, query: EventQuery, restricted_out: list[str]
) -> Iterator[dict[str, Any]]:
    """Flat, redacted export records of every matching event in scope, in constant memory.
    The uids of restricted cases read are appended to ``restricted_out`` for the audit."""
    scope = principal.record_scope()
    if scope.is_empty:
        return
    stream = iter_events(conn, query, store_scope(scope))
    batch: list[StoredEvent] = []
    for item in stream:
        batch.append(item)
        if len(batch) >= 500:
            yield from _export_batch(conn, scope, batch, restricted_out)
            batch = []
    if batch:
        yield from _export_batch(conn, scope, batch, restricted_out)


def _export_batch(
    conn: Connection, scope: AccessScope, batch: list[StoredEvent], restricted_out: list[str]
) -> list[dict[str, Any]]:
    records, restricted = _redacted(conn, None, scope, batch, Channel.EXPORT)
    restricted_out.extend(restricted)
    return records
