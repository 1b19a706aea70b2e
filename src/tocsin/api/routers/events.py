"""``/api/v1/events``: incidents and events, create / read / update / delete and search.

Reads go through ``tocsin.api.records`` (scoped query, then redaction); every restricted case
that is read is audited with its uid in the same request. Writes are audited with the names of
the fields that changed, never their values.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Response
from pydantic_core import to_json
from sqlalchemy import delete, insert, select

from tocsin.api.deps import Reader, get_services, reader, require
from tocsin.api.query_params import QueryModel
from tocsin.api.records import ReadResult, load_one, load_page
from tocsin.api.schemas.events import (
    EventFields,
    EventIn,
    EventListParams,
    EventOut,
    EventPage,
    EventPatch,
    EventReceipt,
    EventSearchIn,
)
from tocsin.api.services import Services
from tocsin.api.uow import (
    ReadOnlyRoute,
    UnitOfWork,
    UnitOfWorkRoute,
    commit_before_sending,
    get_uow,
)
from tocsin.domain.entities import ActorLink, Event, Provenance, SourceRef, VictimGroup
from tocsin.domain.taxonomy import (
    CaseClass,
    DatePrecision,
    LocationPrecision,
    SensitivityTier,
)
from tocsin.geo.prio_grid import gid_for_point
from tocsin.security import persons
from tocsin.security.policies import FIELD_GROUP_KEYS, FieldGroup, Permission
from tocsin.security.principal import Principal
from tocsin.security.redaction import Channel, forbidden_groups
from tocsin.store import schema as s
from tocsin.store.event_writer import EventWriter
from tocsin.store.schema_security import event_owners

MANUAL_DATASET = "tocsin"  # records created through Tocsin itself, not imported
router = APIRouter(prefix="/api/v1/events", tags=["events"], route_class=UnitOfWorkRoute)

# Input keys that write into a protected field group: nobody may change what they cannot see.
_INPUT_GROUPS: dict[str, FieldGroup] = {
    "persons": FieldGroup.PERSONS,
    "latitude": FieldGroup.PRECISE_LOCATION,
    "longitude": FieldGroup.PRECISE_LOCATION,
    "place_name": FieldGroup.PRECISE_LOCATION,
    "sources": FieldGroup.SOURCES,
    "title": FieldGroup.NARRATIVE,
    "description": FieldGroup.NARRATIVE,
    "victims": FieldGroup.NARRATIVE,
}
assert all(  # the table above must cover every protected output key
    key in _INPUT_GROUPS or key in ("victim_groups",)
    for keys in FIELD_GROUP_KEYS.values()
    for key in keys
)


def audit_reads(uow: UnitOfWork, principal: Principal, uids: list[str], how: str) -> None:
    """One entry per request that read restricted cases, listing every uid read."""
    if uids:
        target = f"event:{uids[0]}" if len(uids) == 1 else "events"
        uow.audit(principal.actor(), "event.read", target, {"uids": uids, "via": how})


# The list routes return pre-serialised JSON instead of re-validating every record through
# ``EventPage``: the records are built and redacted by ``tocsin.api.records`` (forbidden
# fields are already ABSENT there), and a second pass through pydantic cost more CPU than the
# query itself (about a third of a search request). The schema stays documented in OpenAPI
# through ``responses``, and tests/api/test_events_lean.py checks every list response against
# ``EventPage`` so the two cannot drift apart unnoticed.
_PAGE_DOC: dict[int | str, dict[str, Any]] = {
    200: {"model": EventPage, "description": "one page of events in your scope"}
}


def page_json(result: ReadResult) -> Response:
    """One page as a JSON response, serialised by pydantic's own encoder (the same output
    as the response model would give: dates ISO 8601, UTC datetimes with ``Z``)."""
    body = {"items": result.records, "total": result.total, "next_cursor": result.next_cursor}
    return Response(content=to_json(body), media_type="application/json")


# The two hottest routes (bench/api_load.py) take their principal and query string through
# ``Reader`` and ``QueryModel``: the same checks in the same order (authentication, then the
# query string), without FastAPI's per-request dependency walk. They run on the worker's event
# loop, not in the thread pool (ADR 0014): a worker serves one of them at a time, which under
# load cost less CPU and far less tail latency than threads taking turns on the GIL.
_LIST_PARAMS = QueryModel(EventListParams)


@router.get(
    "",
    response_model=None,
    responses=_PAGE_DOC,
    summary="Search events",
    openapi_extra={"parameters": _LIST_PARAMS.parameters()},
)
async def list_events(acting: Reader = Depends(reader(Permission.EVENTS_READ))) -> Response:
    """Events in your scope matching every filter given, newest first, with keyset paging:
    pass ``next_cursor`` back as ``cursor`` for the next page."""
    return commit_before_sending(acting.uow, _search_page(acting))


def _search_page(acting: Reader) -> Response:
    principal = acting.principal()
    params = _LIST_PARAMS.parse(acting.request)
    result = load_page(
        acting.uow.conn,
        acting.services.keys,
        principal,
        params.to_query(),
        limit=params.limit,
        cursor=params.cursor,
    )
    audit_reads(acting.uow, principal, result.restricted_uids, "search")
    return page_json(result)


def search_events_body(
    body: EventSearchIn,
    principal: Principal = Depends(require(Permission.EVENTS_READ)),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Response:
    """The same search with the filters in the body, and a GeoJSON polygon."""
    polygon = body.polygon.model_dump() if body.polygon is not None else None
    result = load_page(
        uow.conn,
        services.keys,
        principal,
        body.to_query(polygon),
        limit=body.limit,
        cursor=body.cursor,
    )
    audit_reads(uow, principal, result.restricted_uids, "search")
    return page_json(result)


router.add_api_route(
    "/search",
    search_events_body,
    methods=["POST"],
    response_model=None,
    responses=_PAGE_DOC,
    summary="Search events (filters in the body, polygon allowed)",
    route_class_override=ReadOnlyRoute,
)


@router.get(
    "/{uid}",
    response_model=None,
    responses={
        200: {"model": EventOut, "description": "the event, without the fields you may not see"},
        404: {"description": "no such event in your scope"},
    },
    summary="Read one event",
)
async def read_event(
    uid: Annotated[str, Path(max_length=64)],
    acting: Reader = Depends(reader(Permission.EVENTS_READ)),
) -> Response:
    return commit_before_sending(acting.uow, _one_event(acting, uid))


def _one_event(acting: Reader, uid: str) -> Response:
    principal = acting.principal()
    found = load_one(acting.uow.conn, acting.services.keys, principal, uid)
    if found is None:
        raise HTTPException(404, "no such event in your scope")
    record, _, restricted = found
    if restricted:
        audit_reads(acting.uow, principal, [uid], "read")
    # Serialised as the list pages are (see page_json): the record is already redacted.
    return Response(content=to_json(record), media_type="application/json")


def _domain_changes(fields: dict[str, Any]) -> dict[str, Any]:
    """Validated input values -> keyword arguments of ``Event``."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key == "persons":
            continue
        if key == "act_types":
            out[key] = tuple(dict.fromkeys(value or ()))
        elif key == "actors":
            out[key] = tuple(ActorLink(a["name"], a["role"], a["kind"]) for a in value or ())
        elif key == "victims":
            out[key] = tuple(VictimGroup(**v) for v in value or ())
        elif key == "sources":
            out[key] = tuple(SourceRef(**src) for src in value or ())
        elif key == "date_precision":
            out[key] = DatePrecision(value) if value is not None else DatePrecision.DAY
        elif key == "location_precision":
            out[key] = None if value is None else LocationPrecision(value)
        elif key == "sensitivity":
            out[key] = SensitivityTier(value)
        elif key == "case_class":
            out[key] = CaseClass(value)
        elif key in ("country_iso3", "admin1_pcode", "admin2_pcode") and value is not None:
            out[key] = value.upper()
        else:
            out[key] = value
    return out


def _check_domain(event: Event, clock_now: datetime) -> Event:
    """Refuses an event that breaks a domain rule; fills the PRIO-GRID cell from the point."""
    problems = event.problems(clock_now.date())
    if problems:
        raise HTTPException(422, "; ".join(problems))
    if event.latitude is not None and event.longitude is not None:
        event = dataclasses.replace(
            event, priogrid_gid=gid_for_point(event.latitude, event.longitude)
        )
    return event


def _people(body: EventFields) -> list[persons.Person] | None:
    if body.persons is None:
        return None
    return [persons.Person(p.role, p.name, p.contact) for p in body.persons]


def _receipt(principal: Principal, event: Event, owner: int | None) -> dict[str, Any]:
    readable = principal.record_scope().admits(
        event.sensitivity.value, event.case_class.value, owner
    )
    return {
        "uid": event.uid,
        "url": f"/api/v1/events/{event.uid}",
        "sensitivity": event.sensitivity.value,
        "case_class": event.case_class.value,
        "readable": readable,
    }


def _event_id(uow: UnitOfWork, uid: str) -> int:
    return uow.conn.execute(select(s.events.c.id).where(s.events.c.uid == uid)).scalar_one()


@router.post(
    "",
    status_code=201,
    response_model=EventReceipt,
    summary="Create an incident",
)
def create_event(
    body: EventIn,
    response: Response,
    principal: Principal = Depends(require(Permission.EVENTS_CREATE)),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Creates a record at any tier and case class (you may file what you may not read back:
    the receipt says whether you can). Names and contacts in ``persons`` are encrypted."""
    now = services.settings.clock()
    fields = body.model_dump(exclude_unset=True, exclude={"persons"})
    fields.setdefault("date_end", body.date_start)
    if fields.get("date_end") is None:
        fields["date_end"] = body.date_start
    fields.setdefault("sensitivity", body.sensitivity)
    fields.setdefault("case_class", body.case_class)
    provenance = Provenance(MANUAL_DATASET, str(uuid.uuid4()))
    event = Event(provenance=provenance, **_domain_changes(fields))
    event = _check_domain(event, now)
    EventWriter(uow.conn).write([event])
    event_id = _event_id(uow, event.uid)
    if principal.user_id is not None:
        uow.conn.execute(insert(event_owners), {"event_id": event_id, "user_id": principal.user_id})
    people = _people(body)
    if people:
        persons.replace(uow.conn, services.keys, event_id, event.uid, people)
    uow.audit(
        principal.actor(),
        "event.create",
        f"event:{event.uid}",
        {
            "sensitivity": event.sensitivity.value,
            "case_class": event.case_class.value,
            "people": len(people or ()),
        },
    )
    response.headers["Location"] = f"/api/v1/events/{event.uid}"
    return _receipt(principal, event, principal.user_id)


@router.patch(
    "/{uid}",
    response_model=EventReceipt,
    responses={404: {"description": "no such event in your scope"}},
    summary="Update an incident",
)
def update_event(
    uid: Annotated[str, Path(max_length=64)],
    body: EventPatch,
    principal: Principal = Depends(require(Permission.EVENTS_UPDATE)),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Changes the fields given. You cannot change a field you may not see on this record."""
    now = services.settings.clock()
    found = load_one(uow.conn, services.keys, principal, uid)
    if found is None:
        raise HTTPException(404, "no such event in your scope")
    _, stored, _ = found
    old = stored.event
    given = body.model_dump(exclude_unset=True)
    if not given:
        raise HTTPException(422, "nothing to change: give at least one field")
    hidden = forbidden_groups(
        old.sensitivity.value, old.case_class.value, principal.record_scope(), Channel.API
    )
    blocked = sorted(k for k in given if _INPUT_GROUPS.get(k) in hidden)
    if blocked:
        raise HTTPException(403, f"you may not change fields you cannot see: {', '.join(blocked)}")
    for required in ("date_start", "sensitivity", "case_class"):
        if required in given and given[required] is None:
            raise HTTPException(422, f"{required} cannot be cleared")
    changes = _domain_changes({k: v for k, v in given.items() if k != "persons"})
    new = dataclasses.replace(old, **changes)
    new = _check_domain(new, now)
    EventWriter(uow.conn).write([new])
    people = _people(body)
    if people is not None:
        persons.replace(uow.conn, services.keys, stored.id, stored.uid, people)
    details: dict[str, Any] = {"fields": sorted(given)}
    if new.sensitivity is not old.sensitivity or new.case_class is not old.case_class:
        details["from"] = [old.sensitivity.value, old.case_class.value]
        details["to"] = [new.sensitivity.value, new.case_class.value]
    uow.audit(principal.actor(), "event.update", f"event:{uid}", details)
    owner = uow.conn.scalar(
        select(event_owners.c.user_id).where(event_owners.c.event_id == stored.id)
    )
    return _receipt(principal, new, owner)


@router.delete(
    "/{uid}",
    status_code=204,
    responses={404: {"description": "no such event in your scope"}},
    summary="Delete an event",
)
def delete_event(
    uid: Annotated[str, Path(max_length=64)],
    principal: Principal = Depends(require(Permission.EVENTS_DELETE)),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Response:
    found = load_one(uow.conn, services.keys, principal, uid)
    if found is None:
        raise HTTPException(404, "no such event in your scope")
    _, stored, _ = found
    uow.conn.execute(delete(s.events).where(s.events.c.id == stored.id))
    ev = stored.event
    uow.audit(
        principal.actor(),
        "event.delete",
        f"event:{uid}",
        {
            "dataset": ev.provenance.dataset,
            "original_id": ev.provenance.original_id,
            "sensitivity": ev.sensitivity.value,
            "case_class": ev.case_class.value,
            "content_hash": stored.content_hash,
        },
    )
    return Response(status_code=204)
