"""``/api/v1/actors``, ``/api/v1/places``, ``/api/v1/sources``: reference data.

Actors are listed only when linked to at least one event in the caller's scope (or to none):
an armed group or a mission unit named only in confidential cases stays out of view. The
gazetteer is public information. Sources are listed from non-restricted cases only: who
reported a restricted case is identifying data (threat model TM-08).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from pydantic import Field
from sqlalchemy import ColumnElement, delete, exists, false, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from tocsin.api.deps import require
from tocsin.api.schemas.common import Message, Out, Strict
from tocsin.api.schemas.events import Iso3, Pcode, Text
from tocsin.api.uow import UnitOfWork, UnitOfWorkRoute, get_uow
from tocsin.domain.entities import stable_uid
from tocsin.domain.taxonomy import ActorKind, CaseClass, SensitivityTier
from tocsin.security.policies import AccessScope, Permission
from tocsin.security.principal import Principal
from tocsin.store import schema as s
from tocsin.store.names import normalize_name
from tocsin.store.schema_security import event_owners

router = APIRouter(prefix="/api/v1", tags=["reference"], route_class=UnitOfWorkRoute)
Uid = Annotated[str, Path(max_length=64)]


def _scope_clauses(scope: AccessScope) -> list[ColumnElement[bool]]:
    e = s.events.c
    if scope.is_empty:
        return [false()]
    clauses: list[ColumnElement[bool]] = [
        e.sensitivity.in_(sorted(t.value for t in scope.tiers)),
        e.case_class.in_(sorted(c.value for c in scope.case_classes)),
    ]
    if scope.owner_user_id is not None:
        clauses.append(
            e.id.in_(
                select(event_owners.c.event_id).where(event_owners.c.user_id == scope.owner_user_id)
            )
        )
    return clauses


def _not_restricted_case() -> list[ColumnElement[bool]]:
    e = s.events.c
    return [
        e.sensitivity.in_([SensitivityTier.PUBLIC.value, SensitivityTier.INTERNAL.value]),
        e.case_class == CaseClass.GENERAL.value,
    ]


# -- actors -------------------------------------------------------------------------------


class ActorCreate(Strict):
    name: Text = Field(min_length=1, max_length=255)
    kind: ActorKind = ActorKind.UNKNOWN
    country_iso3: Iso3 | None = None
    aliases: list[Annotated[Text, Field(min_length=1, max_length=255)]] = Field(
        default_factory=list, max_length=50
    )


class ActorPatch(Strict):
    name: Text | None = Field(default=None, min_length=1, max_length=255)
    kind: ActorKind | None = None
    country_iso3: Iso3 | None = None
    aliases: list[Annotated[Text, Field(min_length=1, max_length=255)]] | None = Field(
        default=None, max_length=50
    )


class ActorOut(Out):
    uid: str
    name: str
    kind: str
    country_iso3: str | None
    aliases: list[str]


class ActorParams(Strict):
    q: Text | None = Field(default=None, min_length=1, max_length=100)
    kind: ActorKind | None = None
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=100_000)


def _visible_actor(scope: AccessScope) -> ColumnElement[bool]:
    a, ea = s.actors.c, s.event_actors.c
    linked_in_scope = exists().where(
        ea.actor_id == a.id, s.events.c.id == ea.event_id, *_scope_clauses(scope)
    )
    unlinked = ~exists().where(ea.actor_id == a.id)
    return or_(linked_in_scope, unlinked)


def _actor_dicts(uow: UnitOfWork, rows: list[Any]) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    aliases: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        for actor_id, alias in uow.conn.execute(
            select(s.actor_aliases.c.actor_id, s.actor_aliases.c.alias)
            .where(s.actor_aliases.c.actor_id.in_(ids))
            .order_by(s.actor_aliases.c.alias)
        ):
            aliases[actor_id].append(alias)
    return [
        {
            "uid": r.uid,
            "name": r.name,
            "kind": r.kind,
            "country_iso3": r.country_iso3,
            "aliases": aliases[r.id],
        }
        for r in rows
    ]


@router.get("/actors", response_model=list[ActorOut], summary="List actors")
def list_actors(
    params: Annotated[ActorParams, Query()],
    principal: Principal = Depends(require(Permission.EVENTS_READ)),
    uow: UnitOfWork = Depends(get_uow),
) -> list[dict[str, Any]]:
    a = s.actors.c
    stmt = select(s.actors).where(_visible_actor(principal.record_scope()))
    if params.q is not None:
        key = normalize_name(params.q)
        alias_hit = select(s.actor_aliases.c.actor_id).where(
            s.actor_aliases.c.normalized_alias.contains(key, autoescape=True)
        )
        stmt = stmt.where(
            or_(a.normalized_name.contains(key, autoescape=True), a.id.in_(alias_hit))
        )
    if params.kind is not None:
        stmt = stmt.where(a.kind == params.kind.value)
    rows = list(
        uow.conn.execute(stmt.order_by(a.normalized_name).limit(params.limit).offset(params.offset))
    )
    return _actor_dicts(uow, rows)


def _actor_row(uow: UnitOfWork, principal: Principal, uid: str) -> Any:
    row = uow.conn.execute(
        select(s.actors).where(s.actors.c.uid == uid, _visible_actor(principal.record_scope()))
    ).first()
    if row is None:
        raise HTTPException(404, "no such actor in your scope")
    return row


@router.get(
    "/actors/{uid}",
    response_model=ActorOut,
    responses={404: {"model": Message}},
    summary="Read an actor",
)
def read_actor(
    uid: Uid,
    principal: Principal = Depends(require(Permission.EVENTS_READ)),
    uow: UnitOfWork = Depends(get_uow),
) -> dict[str, Any]:
    return _actor_dicts(uow, [_actor_row(uow, principal, uid)])[0]


def _names_free(uow: UnitOfWork, keys: list[str], own_id: int | None) -> None:
    a, al = s.actors.c, s.actor_aliases.c
    taken_name = select(a.id).where(a.normalized_name.in_(keys))
    taken_alias = select(al.actor_id).where(al.normalized_alias.in_(keys))
    if own_id is not None:
        taken_name = taken_name.where(a.id != own_id)
        taken_alias = taken_alias.where(al.actor_id != own_id)
    if uow.conn.execute(taken_name).first() or uow.conn.execute(taken_alias).first():
        raise HTTPException(409, "an actor with this name or alias already exists")


def _set_aliases(uow: UnitOfWork, actor_id: int, name_key: str, aliases: list[str]) -> None:
    uow.conn.execute(delete(s.actor_aliases).where(s.actor_aliases.c.actor_id == actor_id))
    seen = {name_key}
    rows = []
    for alias in aliases:
        key = normalize_name(alias)
        if key and key not in seen:
            seen.add(key)
            rows.append({"actor_id": actor_id, "alias": alias, "normalized_alias": key})
    if rows:
        uow.conn.execute(insert(s.actor_aliases), rows)


@router.post(
    "/actors",
    status_code=201,
    response_model=ActorOut,
    responses={409: {"model": Message}, 422: {"model": Message}},
    summary="Create an actor",
)
def create_actor(
    body: ActorCreate,
    principal: Principal = Depends(require(Permission.REFERENCE_WRITE)),
    uow: UnitOfWork = Depends(get_uow),
) -> dict[str, Any]:
    key = normalize_name(body.name)
    if not key:
        raise HTTPException(422, "actor name has no letters or digits")
    alias_keys = [k for k in (normalize_name(x) for x in body.aliases) if k]
    _names_free(uow, [key, *alias_keys], None)
    try:
        actor_id = uow.conn.execute(
            insert(s.actors).returning(s.actors.c.id),
            {
                "uid": stable_uid("actor", key),
                "name": body.name,
                "normalized_name": key,
                "kind": body.kind.value,
                "country_iso3": None if body.country_iso3 is None else body.country_iso3.upper(),
            },
        ).scalar_one()
    except IntegrityError as exc:
        raise HTTPException(409, "an actor with this name already exists") from exc
    _set_aliases(uow, actor_id, key, body.aliases)
    row = uow.conn.execute(select(s.actors).where(s.actors.c.id == actor_id)).one()
    uow.audit(principal.actor(), "actor.create", f"actor:{row.uid}", {"kind": body.kind.value})
    return _actor_dicts(uow, [row])[0]


@router.patch(
    "/actors/{uid}",
    response_model=ActorOut,
    responses={404: {"model": Message}, 409: {"model": Message}},
    summary="Update an actor",
)
def update_actor(
    uid: Uid,
    body: ActorPatch,
    principal: Principal = Depends(require(Permission.REFERENCE_WRITE)),
    uow: UnitOfWork = Depends(get_uow),
) -> dict[str, Any]:
    row = _actor_row(uow, principal, uid)
    given = body.model_dump(exclude_unset=True)
    values: dict[str, Any] = {}
    key = row.normalized_name
    if given.get("name") is not None:
        key = normalize_name(given["name"])
        if not key:
            raise HTTPException(422, "actor name has no letters or digits")
        values.update(name=given["name"], normalized_name=key)
    if given.get("kind") is not None:
        values["kind"] = given["kind"].value if hasattr(given["kind"], "value") else given["kind"]
    if "country_iso3" in given:
        values["country_iso3"] = given["country_iso3"] and given["country_iso3"].upper()
    aliases = given.get("aliases")
    check = [key] + [k for k in (normalize_name(x) for x in aliases or []) if k]
    _names_free(uow, check, row.id)
    if values:
        uow.conn.execute(update(s.actors).where(s.actors.c.id == row.id).values(**values))
    if aliases is not None:
        _set_aliases(uow, row.id, key, aliases)
    uow.audit(principal.actor(), "actor.update", f"actor:{uid}", {"fields": sorted(given)})
    fresh = uow.conn.execute(select(s.actors).where(s.actors.c.id == row.id)).one()
    return _actor_dicts(uow, [fresh])[0]


@router.delete(
    "/actors/{uid}",
    status_code=204,
    responses={404: {"model": Message}, 409: {"model": Message}},
    summary="Delete an actor no event refers to",
)
def delete_actor(
    uid: Uid,
    principal: Principal = Depends(require(Permission.REFERENCE_WRITE)),
    uow: UnitOfWork = Depends(get_uow),
) -> Response:
    row = _actor_row(uow, principal, uid)
    linked = uow.conn.execute(
        select(s.event_actors.c.event_id).where(s.event_actors.c.actor_id == row.id).limit(1)
    ).first()
    if linked is not None:
        raise HTTPException(409, "events refer to this actor; merge or relink them first")
    uow.conn.execute(delete(s.actors).where(s.actors.c.id == row.id))
    uow.audit(principal.actor(), "actor.delete", f"actor:{uid}", {})
    return Response(status_code=204)


# -- places -------------------------------------------------------------------------------


class PlaceCreate(Strict):
    name: Text = Field(min_length=1, max_length=255)
    country_iso3: Iso3
    admin_level: int = Field(ge=0, le=5)
    pcode: Pcode | None = None
    parent_pcode: Pcode | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    longitude: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    alt_names: list[Annotated[Text, Field(min_length=1, max_length=255)]] = Field(
        default_factory=list, max_length=50
    )


class PlacePatch(Strict):
    name: Text | None = Field(default=None, min_length=1, max_length=255)
    parent_pcode: Pcode | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    longitude: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)


class PlaceOut(Out):
    uid: str
    name: str
    country_iso3: str
    admin_level: int
    pcode: str | None
    parent_pcode: str | None
    latitude: float | None
    longitude: float | None
    alt_names: list[str]


class PlaceParams(Strict):
    q: Text | None = Field(default=None, min_length=1, max_length=100)
    country_iso3: Iso3 | None = None
    admin_level: int | None = Field(default=None, ge=0, le=5)
    pcode: Pcode | None = None
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=100_000)


def _place_dicts(uow: UnitOfWork, rows: list[Any]) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    names: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        for place_id, name in uow.conn.execute(
            select(s.place_names.c.place_id, s.place_names.c.name)
            .where(s.place_names.c.place_id.in_(ids))
            .order_by(s.place_names.c.name)
        ):
            names[place_id].append(name)
    return [
        {
            "uid": r.uid,
            "name": r.name,
            "country_iso3": r.country_iso3,
            "admin_level": r.admin_level,
            "pcode": r.pcode,
            "parent_pcode": r.parent_pcode,
            "latitude": r.latitude,
            "longitude": r.longitude,
            "alt_names": names[r.id],
        }
        for r in rows
    ]


@router.get("/places", response_model=list[PlaceOut], summary="Search the gazetteer")
def list_places(
    params: Annotated[PlaceParams, Query()],
    _principal: Principal = Depends(require(Permission.EVENTS_READ)),
    uow: UnitOfWork = Depends(get_uow),
) -> list[dict[str, Any]]:
    p = s.places.c
    stmt = select(s.places)
    if params.q is not None:
        key = normalize_name(params.q)
        alt = select(s.place_names.c.place_id).where(
            s.place_names.c.normalized_name.contains(key, autoescape=True)
        )
        stmt = stmt.where(or_(p.normalized_name.contains(key, autoescape=True), p.id.in_(alt)))
    if params.country_iso3 is not None:
        stmt = stmt.where(p.country_iso3 == params.country_iso3.upper())
    if params.admin_level is not None:
        stmt = stmt.where(p.admin_level == params.admin_level)
    if params.pcode is not None:
        stmt = stmt.where(func.upper(p.pcode).startswith(params.pcode.upper(), autoescape=True))
    rows = list(
        uow.conn.execute(
            stmt.order_by(p.normalized_name, p.id).limit(params.limit).offset(params.offset)
        )
    )
    return _place_dicts(uow, rows)


def _place_row(uow: UnitOfWork, uid: str) -> Any:
    row = uow.conn.execute(select(s.places).where(s.places.c.uid == uid)).first()
    if row is None:
        raise HTTPException(404, "no such place")
    return row


@router.get(
    "/places/{uid}",
    response_model=PlaceOut,
    responses={404: {"model": Message}},
    summary="Read a place",
)
def read_place(
    uid: Uid,
    _principal: Principal = Depends(require(Permission.EVENTS_READ)),
    uow: UnitOfWork = Depends(get_uow),
) -> dict[str, Any]:
    return _place_dicts(uow, [_place_row(uow, uid)])[0]


@router.post(
    "/places",
    status_code=201,
    response_model=PlaceOut,
    responses={409: {"model": Message}, 422: {"model": Message}},
    summary="Add a place to the gazetteer",
)
def create_place(
    body: PlaceCreate,
    principal: Principal = Depends(require(Permission.REFERENCE_WRITE)),
    uow: UnitOfWork = Depends(get_uow),
) -> dict[str, Any]:
    if (body.latitude is None) != (body.longitude is None):
        raise HTTPException(422, "latitude and longitude go together")
    key = normalize_name(body.name)
    if not key:
        raise HTTPException(422, "place name has no letters or digits")
    ident = (
        body.pcode.upper()
        if body.pcode
        else f"{body.country_iso3.upper()}:{key}:{body.admin_level}"
    )
    try:
        place_id = uow.conn.execute(
            insert(s.places).returning(s.places.c.id),
            {
                "uid": stable_uid("place", ident),
                "name": body.name,
                "normalized_name": key,
                "country_iso3": body.country_iso3.upper(),
                "admin_level": body.admin_level,
                "pcode": body.pcode.upper() if body.pcode else None,
                "parent_pcode": body.parent_pcode.upper() if body.parent_pcode else None,
                "latitude": body.latitude,
                "longitude": body.longitude,
            },
        ).scalar_one()
    except IntegrityError as exc:
        raise HTTPException(409, "a place with this P-code (or name and level) exists") from exc
    rows = [
        {"place_id": place_id, "name": n, "normalized_name": normalize_name(n)}
        for n in dict.fromkeys(body.alt_names)
        if normalize_name(n)
    ]
    if rows:
        uow.conn.execute(insert(s.place_names), rows)
    row = uow.conn.execute(select(s.places).where(s.places.c.id == place_id)).one()
    uow.audit(principal.actor(), "place.create", f"place:{row.uid}", {})
    return _place_dicts(uow, [row])[0]


@router.patch(
    "/places/{uid}",
    response_model=PlaceOut,
    responses={404: {"model": Message}, 422: {"model": Message}},
    summary="Update a place",
)
def update_place(
    uid: Uid,
    body: PlacePatch,
    principal: Principal = Depends(require(Permission.REFERENCE_WRITE)),
    uow: UnitOfWork = Depends(get_uow),
) -> dict[str, Any]:
    row = _place_row(uow, uid)
    given = body.model_dump(exclude_unset=True)
    lat = given.get("latitude", row.latitude)
    lon = given.get("longitude", row.longitude)
    if (lat is None) != (lon is None):
        raise HTTPException(422, "latitude and longitude go together")
    values = dict(given)
    if values.get("name") is not None:
        key = normalize_name(values["name"])
        if not key:
            raise HTTPException(422, "place name has no letters or digits")
        values["normalized_name"] = key
    elif "name" in values:
        raise HTTPException(422, "name cannot be cleared")
    if values.get("parent_pcode"):
        values["parent_pcode"] = values["parent_pcode"].upper()
    if values:
        uow.conn.execute(update(s.places).where(s.places.c.id == row.id).values(**values))
    uow.audit(principal.actor(), "place.update", f"place:{uid}", {"fields": sorted(given)})
    return _place_dicts(
        uow, [uow.conn.execute(select(s.places).where(s.places.c.id == row.id)).one()]
    )[0]


@router.delete(
    "/places/{uid}",
    status_code=204,
    responses={404: {"model": Message}},
    summary="Remove a place from the gazetteer",
)
def delete_place(
    uid: Uid,
    principal: Principal = Depends(require(Permission.REFERENCE_WRITE)),
    uow: UnitOfWork = Depends(get_uow),
) -> Response:
    row = _place_row(uow, uid)
    uow.conn.execute(delete(s.places).where(s.places.c.id == row.id))
    uow.audit(principal.actor(), "place.delete", f"place:{uid}", {})
    return Response(status_code=204)


# -- sources ------------------------------------------------------------------------------


class SourceSummary(Out):
    name: str
    events: int
    first_published: str | None
    last_published: str | None


class SourceParams(Strict):
    q: Text | None = Field(default=None, min_length=1, max_length=100)
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=100_000)


@router.get("/sources", response_model=list[SourceSummary], summary="Sources of events")
def list_sources(
    params: Annotated[SourceParams, Query()],
    principal: Principal = Depends(require(Permission.EVENTS_READ)),
    uow: UnitOfWork = Depends(get_uow),
) -> list[dict[str, Any]]:
    """Distinct source names with event counts, over non-restricted events in your scope."""
    src = s.event_sources.c
    stmt = (
        select(
            src.name,
            func.count(func.distinct(src.event_id)).label("n"),
            func.min(src.published).label("first"),
            func.max(src.published).label("last"),
        )
        .join(s.events, s.events.c.id == src.event_id)
        .where(*_scope_clauses(principal.record_scope()), *_not_restricted_case())
        .group_by(src.name)
    )
    if params.q is not None:
        stmt = stmt.where(func.lower(src.name).contains(params.q.lower(), autoescape=True))
    rows = uow.conn.execute(
        stmt.order_by(func.count(func.distinct(src.event_id)).desc(), src.name)
        .limit(params.limit)
        .offset(params.offset)
    )
    return [
        {
            "name": r.name,
            "events": int(r.n),
            "first_published": None if r.first is None else str(r.first)[:10],
            "last_published": None if r.last is None else str(r.last)[:10],
        }
        for r in rows
    ]
