"""Reading events for a principal: the query scope (first application of the policy), the
API record, redaction (second application), and the audit of restricted reads.

Everything in the API that returns events goes through ``load_page``/``load_one``/
``export_records``; nothing else calls the store's read functions for a viewer.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from tocsin.domain.grading import format_grade
from tocsin.security import persons
from tocsin.security.keys import KeyRing
from tocsin.security.policies import AccessScope, FieldGroup, is_restricted_case
from tocsin.security.principal import Principal
from tocsin.security.redaction import Channel, redact_record
from tocsin.store import schema as s
from tocsin.store.export import event_to_record
from tocsin.store.queries import (
    EventQuery,
    Page,
    QueryError,
    Scope,
    get_event,
    iter_events,
    search_events,
)
from tocsin.store.reads import StoredEvent, hydrate
from tocsin.store.schema_security import event_owners


def store_scope(scope: AccessScope) -> Scope:
    """The store's scope (tiers x case classes). Ownership is applied separately."""
    return Scope(scope.tiers, scope.case_classes)


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


def owners_of(conn: Connection, event_ids: Sequence[int]) -> dict[int, int]:
    found: dict[int, int] = {}
    ids = list(event_ids)
    for i in range(0, len(ids), 500):
        for event_id, user_id in conn.execute(
            select(event_owners.c.event_id, event_owners.c.user_id).where(
                event_owners.c.event_id.in_(ids[i : i + 500])
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
    if scope.owner_user_id is not None:
        page = _own_events(conn, scope, query, limit, cursor)
    else:
        page = search_events(conn, query, store_scope(scope), limit=limit, cursor=cursor)
    records, restricted = _redacted(conn, keys, scope, page.items, Channel.API)
    return ReadResult(records, page.total, page.next_cursor, restricted)


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
    if scope.owner_user_id is not None:
        stream: Iterator[StoredEvent] = _iter_own(conn, scope, query)
    else:
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


# -- own records (field reporters) -----------------------------------------------------------
# The store's Scope has no owner dimension, so records of own-records roles are listed here:
# newest first by row id, keyset paging, and only the filters that make sense for one's own
# reports. Any other filter is refused rather than silently ignored.


def _check_own_query(query: EventQuery) -> None:
    for name in (
        "bbox",
        "radius",
        "polygon",
        "pcode",
        "country_iso3",
        "actor",
        "min_fatalities",
        "dataset",
    ):
        if getattr(query, name) is not None:
            raise QueryError(f"the filter {name!r} is not available when listing your own reports")
    for name in ("violence_types", "act_types", "threat_categories"):
        if getattr(query, name):
            raise QueryError(f"the filter {name!r} is not available when listing your own reports")


def _own_where(scope: AccessScope, query: EventQuery) -> list[Any]:
    e = s.events.c
    clauses: list[Any] = [
        e.id.in_(
            select(event_owners.c.event_id).where(event_owners.c.user_id == scope.owner_user_id)
        ),
        e.sensitivity.in_(sorted(t.value for t in scope.tiers)),
        e.case_class.in_(sorted(c.value for c in scope.case_classes)),
    ]
    if query.start is not None:
        clauses.append(e.date_end >= query.start)
    if query.end is not None:
        clauses.append(e.date_start <= query.end)
    return clauses


def _decode_own_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        value = data["own"]
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError
        return value
    except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise QueryError(
            "invalid cursor: pass back the next_cursor of the previous page unchanged"
        ) from exc


def _own_events(
    conn: Connection, scope: AccessScope, query: EventQuery, limit: int, cursor: str | None
) -> Page:
    _check_own_query(query)
    where = _own_where(scope, query)
    total = conn.scalar(select(func.count()).select_from(s.events).where(*where)) or 0
    stmt = select(s.events).where(*where)
    after = _decode_own_cursor(cursor)
    if after is not None:
        stmt = stmt.where(s.events.c.id < after)
    rows = list(conn.execute(stmt.order_by(s.events.c.id.desc()).limit(limit + 1)))
    items = hydrate(conn, rows[:limit])
    next_cursor = None
    if len(rows) > limit:
        payload = json.dumps({"own": rows[limit - 1].id}).encode()
        next_cursor = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return Page(items, int(total), next_cursor)


def _iter_own(conn: Connection, scope: AccessScope, query: EventQuery) -> Iterator[StoredEvent]:
    _check_own_query(query)
    where = _own_where(scope, query)
    last: int | None = None
    while True:
        stmt = select(s.events).where(*where)
        if last is not None:
            stmt = stmt.where(s.events.c.id < last)
        rows = list(conn.execute(stmt.order_by(s.events.c.id.desc()).limit(500)))
        if not rows:
            return
        yield from hydrate(conn, rows)
        last = rows[-1].id
