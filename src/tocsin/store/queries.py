"""Reading events: filters, access scope, stable ordering, keyset paging and counts.

Every read takes an explicit :class:`Scope` (the sensitivity tiers and case classes the caller
may see). There is no default: the API's policy layer builds it from the viewer's roles, and
trusted internal jobs say so in the code with ``Scope.everything()``.

Filter semantics (identical on SQLite and PostGIS; ``tests/store/test_queries*.py`` run both):

- ``bbox`` (min_lon, min_lat, max_lon, max_lat): edges inclusive. Boxes crossing the
  antimeridian are refused (see ``query_geometry.validate_bbox``).
- ``radius`` (lat, lon, km): great-circle distance on a sphere of radius 6371.0088 km is at
  most ``km``. Works across the antimeridian and around the poles.
- ``polygon``: a GeoJSON Polygon/MultiPolygon (holes allowed), planar lon/lat; points on the
  boundary match.
- ``pcode``: P-codes are hierarchical (``CF`` country, ``CF11`` admin 1, ``CF111`` admin 2), so
  the filter is a *prefix* match on ``admin1_pcode`` or ``admin2_pcode``: ``CF11`` finds events
  in CF11 and in all its admin-2 areas. The query is upper-cased and compared with the stored
  codes as they are; P-codes are upper case by OCHA convention, so importers store them so.
- ``start``/``end``: an event matches when its own period ``[date_start, date_end]`` overlaps
  ``[start, end]`` (both inclusive), so a week-long event that began before ``start`` counts.
- ``violence_types``, ``act_types``, ``threat_categories``: any of the listed values (an event
  matches ``act_types`` when it has at least one of them).
- ``actor``: the name or any alias of an actor, compared after ``normalize_name`` (case,
  accents and spacing ignored); an exact match, not a substring. ``actor_role`` narrows it.
- ``min_fatalities``: ``fatalities_best >= min_fatalities``; unknown fatalities never match.
- All filters combine with AND.

Paging: results are ordered by ``sort`` with the row id as tie-breaker, so the order is total
and stable. ``next_cursor`` is an opaque keyset cursor: walking it visits every matching row
exactly once, even while rows with equal dates are present. ``offset`` exists for simple page
numbers and cannot be combined with a cursor.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Float,
    Integer,
    MetaData,
    Select,
    Table,
    TextClause,
    and_,
    column,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    union_all,
)

from tocsin.domain.taxonomy import (
    ActorRole,
    ActType,
    CaseClass,
    PocThreatCategory,
    SensitivityTier,
    ViolenceType,
)
from tocsin.store import dbapi
from tocsin.store import schema as s
from tocsin.store import schema_security as s_security
from tocsin.store.names import normalize_name
from tocsin.store.query_geometry import (
    Box,
    PolygonFilter,
    QueryError,
    cap_boxes,
    validate_bbox,
    validate_polygon,
    validate_radius,
)
from tocsin.store.reads import StoredEvent, by_ids, hydrate, ids_value

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "DataSource",
    "EventQuery",
    "GroupCount",
    "Page",
    "QueryError",
    "RowPage",
    "Scope",
    "SortOrder",
    "count_by",
    "count_events",
    "data_sources",
    "get_event",
    "iter_events",
    "latest_events",
    "search_event_rows",
    "search_events",
    "where_clauses",
]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
MAX_OFFSET = 100_000
MAX_FATALITY_THRESHOLD = 10_000_000
_MAX_CURSOR_CHARS = 256
# Below this many matching rows, SQLite sorts them rather than walking the date index.
_SQLITE_SORT_LIMIT = 20_000
_PCODE = re.compile(r"^[A-Za-z0-9_-]{2,32}$")
_ISO3 = re.compile(r"^[A-Za-z]{3}$")

E = TypeVar("E", bound=StrEnum)

# Backend-specific objects created by migration 0001. They are deliberately not in the shared
# metadata (the schema comparison ignores them), so they are described here for querying only.
_rtree = Table(
    "events_rtree",
    MetaData(),
    Column("id", Integer),
    Column("min_lon", Float),
    Column("max_lon", Float),
    Column("min_lat", Float),
    Column("max_lat", Float),
    Column("min_day", Float),
    Column("max_day", Float),
    Column("min_scope", Float),
    Column("max_scope", Float),
    # Auxiliary (unindexed) columns: the exact coordinates.
    Column("lon", Float),
    Column("lat", Float),
)
_GEOM = literal_column("events.geom")
# The event's closed period, exactly as indexed by ix_events_geom_period (GiST on geom, period).
_PERIOD = func.daterange(s.events.c.date_start, s.events.c.date_end, literal_column("'[]'"))
_EPOCH = date(1970, 1, 1)

DayRange = tuple[int | None, int | None]  # epoch days, inclusive; None = unbounded
_GEOG = literal_column("events.geom::geography")  # matches the GiST index ix_events_geog


class SortOrder(StrEnum):
    DATE_DESC = "date_desc"  # newest first (by date_start), the default
    DATE_ASC = "date_asc"
    FATALITIES_DESC = "fatalities_desc"  # unknown fatalities last


@dataclass(frozen=True, slots=True)
class Scope:
    """What a reader may see: events whose tier AND case class are both allowed and, when
    ``owner_user_id`` is set, that this user filed (``event_owners``): a field reporter's
    "own records" are scoped in the query itself, like every other reader's."""

    tiers: frozenset[SensitivityTier]
    case_classes: frozenset[CaseClass]
    owner_user_id: int | None = None

    def __post_init__(self) -> None:
        owner = self.owner_user_id
        if owner is not None and (isinstance(owner, bool) or not isinstance(owner, int)):
            raise QueryError("scope owner_user_id must be a user id (a whole number)")
        object.__setattr__(
            self, "tiers", frozenset(_members(SensitivityTier, self.tiers, "scope tiers"))
        )
        object.__setattr__(
            self,
            "case_classes",
            frozenset(_members(CaseClass, self.case_classes, "scope case_classes")),
        )

    @classmethod
    def everything(cls) -> Scope:
        """Every tier and case class. Only for trusted internal jobs, never for a viewer."""
        return cls(frozenset(SensitivityTier), frozenset(CaseClass))

    @classmethod
    def public(cls) -> Scope:
        """What an anonymous visitor may see: public, general-case events only."""
        return cls(frozenset({SensitivityTier.PUBLIC}), frozenset({CaseClass.GENERAL}))

    @classmethod
    def up_to(
        cls, max_tier: SensitivityTier | str, case_classes: Iterable[CaseClass | str] | None = None
    ) -> Scope:
        """All tiers up to and including ``max_tier``; all case classes unless given."""
        top = _member(SensitivityTier, max_tier, "max_tier")
        tiers = frozenset(t for t in SensitivityTier if t <= top)
        classes = frozenset(CaseClass) if case_classes is None else frozenset(case_classes)
        return cls(tiers, classes)  # type: ignore[arg-type]

    def allows(self, tier: SensitivityTier, case_class: CaseClass) -> bool:
        """Tier and case class only; ownership needs the store (see ``_scope_clauses``)."""
        return tier in self.tiers and case_class in self.case_classes


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Filters for reading events; every field is optional and they combine with AND.

    Values are validated on construction: a bad one raises :class:`QueryError`. Enum fields
    accept members or their string values; a single value is accepted for the tuple fields.
    """

    bbox: tuple[float, float, float, float] | None = None
    radius: tuple[float, float, float] | None = None  # (lat, lon, km)
    polygon: Mapping[str, Any] | None = None  # GeoJSON Polygon / MultiPolygon geometry
    pcode: str | None = None
    country_iso3: str | None = None
    start: date | None = None
    end: date | None = None
    violence_types: tuple[ViolenceType, ...] = ()
    act_types: tuple[ActType, ...] = ()
    threat_categories: tuple[PocThreatCategory, ...] = ()
    actor: str | None = None
    actor_role: ActorRole | None = None
    min_fatalities: int | None = None
    dataset: str | None = None
    sort: SortOrder = SortOrder.DATE_DESC
    _polygon: PolygonFilter | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        put = object.__setattr__
        if self.bbox is not None:
            put(self, "bbox", validate_bbox(self.bbox))
        if self.radius is not None:
            put(self, "radius", validate_radius(self.radius))
        if self.polygon is not None:
            put(self, "_polygon", validate_polygon(self.polygon))
        if self.pcode is not None:
            if not isinstance(self.pcode, str) or not _PCODE.match(self.pcode):
                raise QueryError(
                    "pcode must be 2-32 letters, digits, '-' or '_' (an OCHA P-code like CF11)"
                )
            put(self, "pcode", self.pcode.upper())
        if self.country_iso3 is not None:
            if not isinstance(self.country_iso3, str) or not _ISO3.match(self.country_iso3):
                raise QueryError("country_iso3 must be a 3-letter ISO 3166 code like CAF")
            put(self, "country_iso3", self.country_iso3.upper())
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
                raise QueryError(f"{name} must be a date (YYYY-MM-DD)")
        if self.start is not None and self.end is not None and self.start > self.end:
            raise QueryError(f"start {self.start} is after end {self.end}")
        put(self, "violence_types", _members(ViolenceType, self.violence_types, "violence type"))
        put(self, "act_types", _members(ActType, self.act_types, "act type"))
        put(
            self,
            "threat_categories",
            _members(PocThreatCategory, self.threat_categories, "threat category"),
        )
        if self.actor is not None:
            if not isinstance(self.actor, str) or not normalize_name(self.actor):
                raise QueryError("actor must be a non-empty name")
            if len(self.actor) > 255:
                raise QueryError("actor name is longer than 255 characters")
        if self.actor_role is not None:
            if self.actor is None:
                raise QueryError("actor_role needs an actor")
            put(self, "actor_role", _member(ActorRole, self.actor_role, "actor role"))
        if self.min_fatalities is not None:
            value = self.min_fatalities
            if isinstance(value, bool) or not isinstance(value, int):
                raise QueryError("min_fatalities must be a whole number")
            if not 0 <= value <= MAX_FATALITY_THRESHOLD:
                raise QueryError(f"min_fatalities must be between 0 and {MAX_FATALITY_THRESHOLD}")
        if self.dataset is not None and (
            not isinstance(self.dataset, str) or not 0 < len(self.dataset) <= 64
        ):
            raise QueryError("dataset must be a name of 1-64 characters")
        put(self, "sort", _member(SortOrder, self.sort, "sort"))

    @property
    def polygon_filter(self) -> PolygonFilter | None:
        return self._polygon


@dataclass(frozen=True, slots=True)
class Page:
    items: list[StoredEvent]
    total: int  # all matching events in scope, not just this page
    next_cursor: str | None  # None on the last page


@dataclass(frozen=True, slots=True)
class RowPage:
    """A page as ``events`` rows, not yet hydrated (see ``search_event_rows``)."""

    rows: list[Any]
    total: int
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class GroupCount:
    key: tuple[str | None, ...]  # one value per dimension of ``by``; None = unknown
    events: int
    fatalities: int  # sum of fatalities_best (unknown counts as 0)


@dataclass(frozen=True, slots=True)
class DataSource:
    dataset: str
    events: int  # in the reader's scope
    first_date: date | None
    last_date: date | None
    version: str | None  # of the latest finished import, else the newest seen on events
    last_import_at: datetime | None


# --- public functions ---------------------------------------------------------------------


def search_events(
    conn: Connection,
    query: EventQuery,
    scope: Scope,
    *,
    limit: int = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
    offset: int | None = None,
) -> Page:
    """One page of matching events in scope, the total count, and the cursor to the next."""
    page = search_event_rows(conn, query, scope, limit=limit, cursor=cursor, offset=offset)
    return Page(items=hydrate(conn, page.rows), total=page.total, next_cursor=page.next_cursor)


def search_event_rows(
    conn: Connection,
    query: EventQuery,
    scope: Scope,
    *,
    limit: int = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
    offset: int | None = None,
) -> RowPage:
    """``search_events`` before hydration: the page's full ``events`` rows (same scope, order,
    total and cursor), for readers that build their output straight from the rows."""
    limit = _check_limit(limit)
    if offset is not None:
        if cursor is not None:
            raise QueryError("use either a cursor or an offset, not both")
        if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
            raise QueryError(f"offset must be a whole number between 0 and {MAX_OFFSET}")
    after = _decode_cursor(cursor, query.sort)
    if after is None and not offset and _rtree_applies(conn, query, scope) and _any_scope(scope):
        # The first page (nearly every map and API search): the page's rows and the total in
        # ONE statement and one pass over the R*Tree matches.
        rows, total = _rtree_first_page(conn, query, scope, limit)
    elif after is None and not offset and _postgis_box_applies(conn, query, scope):
        rows, total = _postgis_first_page(conn, query, scope, limit)
    else:
        in_rtree = _rtree_where(conn, query, scope)
        if in_rtree is not None:
            total = conn.scalar(select(func.count()).select_from(_rtree).where(*in_rtree)) or 0
            rows = _rtree_page_rows(conn, query, in_rtree, limit, after, offset)
        else:
            where = _where(conn, query, scope)
            total = conn.scalar(select(func.count()).select_from(s.events).where(*where)) or 0
            rows = _page_rows(conn, query, where, limit, after, offset, matches=int(total))
    next_cursor = _encode_cursor(query.sort, rows[limit - 1]) if len(rows) > limit else None
    return RowPage(rows=rows[:limit], total=int(total), next_cursor=next_cursor)


def count_events(conn: Connection, query: EventQuery, scope: Scope) -> int:
    in_rtree = _rtree_where(conn, query, scope)
    if in_rtree is not None:
        return int(conn.scalar(select(func.count()).select_from(_rtree).where(*in_rtree)) or 0)
    where = _where(conn, query, scope)
    return int(conn.scalar(select(func.count()).select_from(s.events).where(*where)) or 0)


def iter_events(
    conn: Connection, query: EventQuery, scope: Scope, *, batch_size: int = 500
) -> Iterator[StoredEvent]:
    """Every matching event in scope, in ``query.sort`` order, in constant memory.

    Walks keyset pages, so no server-side cursor stays open between batches.
    """
    batch_size = _check_limit(batch_size)
    where = _where(conn, query, scope)
    matches = int(conn.scalar(select(func.count()).select_from(s.events).where(*where)) or 0)
    after: tuple[Any, int] | None = None
    while True:
        rows = _page_rows(conn, query, where, batch_size, after, None, matches=matches)
        yield from hydrate(conn, rows[:batch_size])
        if len(rows) <= batch_size:
            return
        after = _key_of(query.sort, rows[batch_size - 1])


def get_event(conn: Connection, uid: str, scope: Scope) -> StoredEvent | None:
    """The event with this uid, or None when it does not exist *or* is outside the scope
    (the two are indistinguishable on purpose, so existence does not leak)."""
    if not isinstance(uid, str):
        raise QueryError("uid must be a string")
    if len(uid) > 36:
        return None
    row = conn.execute(
        select(s.events).where(s.events.c.uid == uid, *_scope_clauses(scope))
    ).first()
    return None if row is None else hydrate(conn, [row])[0]


def latest_events(
    conn: Connection, scope: Scope, *, limit: int = 20, query: EventQuery | None = None
) -> list[StoredEvent]:
    """The most recent events by date (date_start, then id), without counting them all."""
    query = query or EventQuery()
    if query.sort is not SortOrder.DATE_DESC:
        raise QueryError("latest_events is ordered newest first; leave sort as date_desc")
    limit = _check_limit(limit)
    rows = _page_rows(conn, query, _where(conn, query, scope), limit, None, None, matches=None)
    return hydrate(conn, rows[:limit])


DIMENSIONS = (
    "violence_type",
    "threat_category",
    "country_iso3",
    "admin1_pcode",
    "dataset",
    "sensitivity",
    "month",
    "year",
)


def count_by(
    conn: Connection,
    query: EventQuery,
    scope: Scope,
    by: Sequence[str] = ("violence_type", "month"),
) -> list[GroupCount]:
    """Event counts and fatality sums grouped by up to three of :data:`DIMENSIONS`.

    ``month`` (``YYYY-MM``) and ``year`` (``YYYY``) are those of ``date_start``. Rows are
    sorted by key with unknown (None) first, the same on both backends.
    """
    if isinstance(by, str) or not 1 <= len(by) <= 3 or len(set(by)) != len(by):
        raise QueryError("count_by needs one to three distinct dimensions")
    exprs = [_dimension(conn, name) for name in by]
    rows = conn.execute(
        select(
            *exprs,
            func.count().label("n"),
            func.coalesce(func.sum(s.events.c.fatalities_best), 0).label("f"),
        )
        .where(*_where(conn, query, scope))
        .group_by(*exprs)
    ).all()
    out = [
        GroupCount(key=tuple(row[: len(by)]), events=int(row.n), fatalities=int(row.f))
        for row in rows
    ]
    out.sort(key=lambda g: tuple((v is not None, v or "") for v in g.key))
    return out


def data_sources(conn: Connection, scope: Scope) -> list[DataSource]:
    """Datasets with at least one event in scope: counts, date span, version, last import."""
    e, r = s.events.c, s.import_runs.c
    rows = conn.execute(
        select(
            e.dataset,
            func.count().label("n"),
            func.min(e.date_start).label("first"),
            func.max(e.date_end).label("last"),
            func.max(e.dataset_version).label("version"),
        )
        .where(*_scope_clauses(scope))
        .group_by(e.dataset)
        .order_by(e.dataset)
    ).all()
    latest_run: dict[str, tuple[str | None, datetime]] = {}
    names = [row.dataset for row in rows]
    if names:
        for dataset, version, finished in conn.execute(
            select(r.dataset, r.dataset_version, r.finished_at)
            .where(r.finished_at.is_not(None), r.dataset.in_(names))
            .order_by(r.finished_at.desc(), r.id.desc())
        ):
            latest_run.setdefault(dataset, (version, finished))
    out = []
    for row in rows:
        run_version, finished = latest_run.get(row.dataset, (None, None))
        out.append(
            DataSource(
                dataset=row.dataset,
                events=int(row.n),
                first_date=_as_date(row.first),
                last_date=_as_date(row.last),
                version=run_version or row.version,
                last_import_at=_utc(finished),
            )
        )
    return out


# --- building the WHERE clause ------------------------------------------------------------


def where_clauses(conn: Connection, query: EventQuery, scope: Scope) -> list[ColumnElement[bool]]:
    """The filter and scope conditions on ``schema.events``, for callers that build their own
    SELECT (map layers, aggregates). Combine them with AND; they need ``events`` in FROM."""
    return _where(conn, query, scope)


def _scope_clauses(scope: Scope) -> list[ColumnElement[bool]]:
    if not isinstance(scope, Scope):
        raise TypeError("scope must be a tocsin.store.queries.Scope")
    if not scope.tiers or not scope.case_classes:
        return [false()]
    e = s.events.c
    clauses = []
    # A filter that allows every value of a NOT NULL enum column is left out, so trusted jobs
    # can count from an index instead of reading every row.
    if scope.tiers != _ALL_TIERS:
        clauses.append(e.sensitivity.in_(sorted(t.value for t in scope.tiers)))
    if scope.case_classes != _ALL_CASE_CLASSES:
        clauses.append(e.case_class.in_(sorted(c.value for c in scope.case_classes)))
    if scope.owner_user_id is not None:
        owned = s_security.event_owners.c
        clauses.append(e.id.in_(select(owned.event_id).where(owned.user_id == scope.owner_user_id)))
    return clauses


def _where(conn: Connection, query: EventQuery, scope: Scope) -> list[ColumnElement[bool]]:
    if not isinstance(query, EventQuery):
        raise TypeError("query must be a tocsin.store.queries.EventQuery")
    e = s.events.c
    postgis = conn.dialect.name == "postgresql"
    clauses = _scope_clauses(scope)
    days = _day_range(query)
    if query.bbox is not None:
        clauses += _bbox_clauses(query.bbox, postgis, days)
    if query.radius is not None:
        clauses += _radius_clauses(*query.radius, postgis=postgis, days=days)
    if query.polygon_filter is not None:
        clauses += _polygon_clauses(query.polygon_filter, postgis, days)
    if query.pcode is not None:
        clauses.append(
            or_(
                _prefix(e.admin1_pcode, query.pcode, postgis),
                _prefix(e.admin2_pcode, query.pcode, postgis),
            )
        )
    if query.country_iso3 is not None:
        clauses.append(e.country_iso3 == query.country_iso3)
    if query.start is not None:
        clauses.append(e.date_end >= query.start)
    if query.end is not None:
        clauses.append(e.date_start <= query.end)
    if query.violence_types:
        clauses.append(e.violence_type.in_([v.value for v in query.violence_types]))
    if query.threat_categories:
        clauses.append(e.threat_category.in_([v.value for v in query.threat_categories]))
    if query.act_types:
        acts = s.event_acts.c
        # An IN-subquery rather than EXISTS: the planner may then start from the (indexed)
        # acts when they are rare, instead of testing every event.
        clauses.append(
            e.id.in_(
                select(acts.event_id).where(acts.act_type.in_([a.value for a in query.act_types]))
            )
        )
    if query.actor is not None:
        clauses.append(_actor_clause(query.actor, query.actor_role))
    if query.min_fatalities is not None:
        clauses.append(e.fatalities_best >= query.min_fatalities)
    if query.dataset is not None:
        clauses.append(e.dataset == query.dataset)
    return clauses


def epoch_day(day: date) -> int:
    """Days since 1970-01-01: the day axis of the SQLite R*Tree (see migration 0001)."""
    return (day - _EPOCH).days


def _day_range(query: EventQuery) -> DayRange:
    return (
        None if query.start is None else epoch_day(query.start),
        None if query.end is None else epoch_day(query.end),
    )


def _rtree_prefilter(boxes: Sequence[Box], days: DayRange) -> ColumnElement[bool]:
    # Overlap (not containment) tests: the R*Tree stores 32-bit floats rounded outwards, so a
    # point exactly on an edge still overlaps; the exact tests on the real columns follow.
    # The day axis holds each event's [date_start, date_end], so box + period is one probe.
    first, last = days
    r = _rtree.c
    selects = []
    for w, so, e, n in boxes:
        conds = [r.max_lon >= w, r.min_lon <= e, r.max_lat >= so, r.min_lat <= n]
        if first is not None:
            conds.append(r.max_day >= first)
        if last is not None:
            conds.append(r.min_day <= last)
        selects.append(select(r.id).where(*conds))
    ids = selects[0] if len(selects) == 1 else union_all(*selects)
    return s.events.c.id.in_(ids)


def _period_overlaps(days: DayRange) -> list[ColumnElement[bool]]:
    """On PostGIS, the period test in the form the two-column GiST index can use. It repeats
    the exact date clauses of ``_where``, which stay as they are."""
    if days == (None, None):
        return []
    first, last = days
    lower = None if first is None else _EPOCH.fromordinal(_EPOCH.toordinal() + first)
    upper = None if last is None else _EPOCH.fromordinal(_EPOCH.toordinal() + last)
    wanted = func.daterange(lower, upper, literal_column("'[]'"))
    return [_PERIOD.op("&&")(wanted)]


def _bbox_clauses(box: Box, postgis: bool, days: DayRange) -> list[ColumnElement[bool]]:
    west, south, east, north = box
    e = s.events.c
    # The exact test is the same on both backends (inclusive edges); the index prefilter differs.
    exact = [e.longitude.between(west, east), e.latitude.between(south, north)]
    if postgis:
        envelope = func.ST_MakeEnvelope(west, south, east, north, 4326)
        return [_GEOM.op("&&")(envelope), *_period_overlaps(days), *exact]
    return [_rtree_prefilter([box], days), *exact]


def _radius_clauses(
    lat: float, lon: float, km: float, *, postgis: bool, days: DayRange
) -> list[ColumnElement[bool]]:
    if postgis:
        centre = func.geography(func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326))
        # use_spheroid=false: the same sphere as haversine_km, so both backends agree.
        return [func.ST_DWithin(_GEOG, centre, km * 1000.0, literal(False))]
    e = s.events.c
    return [
        _rtree_prefilter(cap_boxes(lat, lon, km), days),
        func.tocsin_haversine_km(e.latitude, e.longitude, lat, lon) <= km,
    ]


def _polygon_clauses(
    polygon: PolygonFilter, postgis: bool, days: DayRange
) -> list[ColumnElement[bool]]:
    if postgis:
        shape = func.ST_SetSRID(func.ST_GeomFromGeoJSON(polygon.geojson), 4326)
        return [func.ST_Intersects(_GEOM, shape), *_period_overlaps(days)]
    e = s.events.c
    return [
        _rtree_prefilter([polygon.bounds], days),
        func.tocsin_in_geojson(polygon.geojson, e.longitude, e.latitude) == 1,
    ]


def _actor_clause(actor: str, role: ActorRole | None) -> ColumnElement[bool]:
    key = normalize_name(actor)
    a, al, ea = s.actors.c, s.actor_aliases.c, s.event_actors.c
    actor_ids = union_all(
        select(a.id).where(a.normalized_name == key),
        select(al.actor_id).where(al.normalized_alias == key),
    )
    links = select(ea.event_id).where(ea.actor_id.in_(actor_ids))
    if role is not None:
        links = links.where(ea.role == role.value)
    return s.events.c.id.in_(links)


def _prefix(column: ColumnElement[Any], prefix: str, postgis: bool) -> ColumnElement[bool]:
    """``column`` starts with ``prefix`` (already upper case, letters, digits, '-', '_').

    SQLite compares text bytewise, so the half-open range [prefix, next) is exactly the set of
    strings with that prefix, and it can use the P-code indexes. PostgreSQL compares with the
    database's linguistic collation, where that equivalence does not hold, so there the test
    is an exact substring comparison.
    """
    if postgis:
        return func.substr(column, 1, len(prefix)) == prefix
    upper_bound = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return and_(column >= prefix, column < upper_bound)


# --- box + period queries answered by the SQLite R*Tree alone -----------------------------
# The commonest map/API query is a box, maybe a period, in the viewer's scope, newest first.
# The R*Tree holds everything such a query tests (the period exactly as whole day numbers, the
# exact coordinates and the scope columns as auxiliary columns; see migration 0001), so it
# is counted and ordered there, and only the rows of the page are read from ``events``: a
# dense box then costs one index probe instead of one table lookup per match.


def _rtree_applies(conn: Connection, query: EventQuery, scope: Scope) -> bool:
    """Whether the R*Tree alone answers the query (a box, maybe a period, no other filter)."""
    if not isinstance(query, EventQuery):
        raise TypeError("query must be a tocsin.store.queries.EventQuery")
    if not isinstance(scope, Scope):
        raise TypeError("scope must be a tocsin.store.queries.Scope")
    return not (
        conn.dialect.name != "sqlite"
        or query.bbox is None
        or scope.owner_user_id is not None
        or query.sort is SortOrder.FATALITIES_DESC
        or any(
            value is not None
            for value in (
                query.radius,
                query.polygon,
                query.pcode,
                query.country_iso3,
                query.actor,
                query.min_fatalities,
                query.dataset,
            )
        )
        or query.violence_types
        or query.threat_categories
        or query.act_types
    )


def _rtree_where(
    conn: Connection, query: EventQuery, scope: Scope
) -> list[ColumnElement[bool]] | None:
    """The query as conditions on the R*Tree, or None when it needs the events table."""
    if not _rtree_applies(conn, query, scope):
        return None
    if query.bbox is None:  # _rtree_applies refused it already; this narrows the type
        return None
    r = _rtree.c
    west, south, east, north = query.bbox
    first, last = _day_range(query)
    clauses: list[ColumnElement[bool]] = [
        r.max_lon >= west,
        r.min_lon <= east,
        r.max_lat >= south,
        r.min_lat <= north,
        # The exact test (edges inclusive, as in _bbox_clauses). A point whose rounded-outwards
        # interval lies strictly inside the box is inside; only the few within rounding
        # distance of an edge need the unrounded auxiliary columns, which cost a lookup.
        or_(
            and_(r.min_lon > west, r.max_lon < east, r.min_lat > south, r.max_lat < north),
            and_(r.lon.between(west, east), r.lat.between(south, north)),
        ),
    ]
    if first is not None:
        clauses.append(r.max_day >= first)  # date_end >= start
    if last is not None:
        clauses.append(r.min_day <= last)  # date_start <= end
    if not scope.tiers or not scope.case_classes:
        return [false()]
    if scope != Scope.everything():
        codes = sorted(scope_code(t, c) for t in scope.tiers for c in scope.case_classes)
        clauses += [r.max_scope >= codes[0], r.min_scope <= codes[-1]]
        if len(codes) != codes[-1] - codes[0] + 1:  # not one range: test the exact set
            clauses.append(r.min_scope.in_(codes))
    return clauses


def scope_code(tier: SensitivityTier, case_class: CaseClass) -> int:
    """The R*Tree's scope axis: tier rank * 4 + case class index (as in migration 0001)."""
    return _TIER_CODE[tier] * 4 + _CLASS_CODE[case_class]


_TIER_CODE = {
    SensitivityTier.PUBLIC: 0,
    SensitivityTier.INTERNAL: 1,
    SensitivityTier.RESTRICTED: 2,
    SensitivityTier.CONFIDENTIAL: 3,
}
_CLASS_CODE = {
    CaseClass.GENERAL: 0,
    CaseClass.SEXUAL_VIOLENCE: 1,
    CaseClass.CHILDREN: 2,
    CaseClass.MISSION_PERSONNEL_MISCONDUCT: 3,
}


def _rtree_order(query: EventQuery) -> list[ColumnElement[Any]]:
    r = _rtree.c
    if query.sort is SortOrder.DATE_DESC:
        return [r.min_day.desc(), r.id.desc()]
    return [r.min_day.asc(), r.id.asc()]


def _rtree_first_page(
    conn: Connection, query: EventQuery, scope: Scope, limit: int
) -> tuple[list[Any], int]:
    """(``limit + 1`` full ``events`` rows of the first page, the number of all matches), in
    ONE statement: the page's ids ordered and counted on the R*Tree (``count(*) OVER ()``:
    with no cursor and no offset every match is a row of the window), joined to ``events``.

    The conditions are exactly those of ``_rtree_where``; the SQL is written out and kept per
    shape of query (period ends given, scope codes, order) because building it as SQLAlchemy
    expressions cost more CPU per search than SQLite's own work on a page."""
    if query.bbox is None:
        raise QueryError("the R*Tree page needs a bbox")
    first, last = _day_range(query)
    codes: tuple[int, ...] = ()
    if scope != Scope.everything():
        codes = tuple(sorted(scope_code(t, c) for t in scope.tiers for c in scope.case_classes))
    shape = (first is not None, last is not None, codes, query.sort is SortOrder.DATE_DESC)
    stmt = _FIRST_PAGE.get(shape)
    if stmt is None:
        stmt = _first_page_statement(*shape)
        if len(_FIRST_PAGE) < 256:  # one entry per role's scope and period shape: few
            _FIRST_PAGE[shape] = stmt
    west, south, east, north = query.bbox
    params: dict[str, Any] = {
        "west": west,
        "south": south,
        "east": east,
        "north": north,
        "first": first,
        "last": last,
        "limit": limit + 1,
    }
    rows = dbapi.fetch(conn, stmt, params)
    return rows, (int(rows[0].total) if rows else 0)


def _any_scope(scope: Scope) -> bool:
    return bool(scope.tiers) and bool(scope.case_classes)


_FIRST_PAGE: dict[tuple[bool, bool, tuple[int, ...], bool], TextClause] = {}


def _first_page_statement(
    has_first: bool, has_last: bool, codes: tuple[int, ...], desc: bool
) -> TextClause:
    conds = [
        "max_lon >= :west",
        "min_lon <= :east",
        "max_lat >= :south",
        "min_lat <= :north",
        # The exact test, edges inclusive (see _rtree_where for why the two branches).
        "((min_lon > :west AND max_lon < :east AND min_lat > :south AND max_lat < :north)"
        " OR (lon BETWEEN :west AND :east AND lat BETWEEN :south AND :north))",
    ]
    if has_first:
        conds.append("max_day >= :first")
    if has_last:
        conds.append("min_day <= :last")
    if codes:
        # Integers from scope_code, never user text, so they are written into the SQL.
        conds += [f"max_scope >= {int(codes[0])}", f"min_scope <= {int(codes[-1])}"]
        if len(codes) != codes[-1] - codes[0] + 1:
            conds.append(f"min_scope IN ({', '.join(str(int(c)) for c in codes)})")
    order = "DESC" if desc else "ASC"
    columns = ", ".join(f"e.{c.name}" for c in s.events.c)
    sql = (
        f"SELECT {columns}, p.total FROM ("  # noqa: S608 - no user text in the SQL
        f"SELECT id, min_day, count(*) OVER () AS total FROM events_rtree"
        f" WHERE {' AND '.join(conds)}"
        f" ORDER BY min_day {order}, id {order} LIMIT :limit"
        f") AS p JOIN events AS e ON e.id = p.id ORDER BY p.min_day {order}, p.id {order}"
    )
    return text(sql).columns(*s.events.c, column("total", Integer))


# --- box + period first pages on PostGIS, one statement --------------------------------------


def _postgis_box_applies(conn: Connection, query: EventQuery, scope: Scope) -> bool:
    """A box (maybe a period) and nothing else, newest or oldest first, on PostGIS."""
    return (
        conn.dialect.name == "postgresql"
        and query.bbox is not None
        and query.sort is not SortOrder.FATALITIES_DESC
        and scope.owner_user_id is None
        and _any_scope(scope)
        and all(
            value is None
            for value in (
                query.radius,
                query.polygon,
                query.pcode,
                query.country_iso3,
                query.actor,
                query.min_fatalities,
                query.dataset,
            )
        )
        and not (query.violence_types or query.threat_categories or query.act_types)
    )


def _postgis_first_page(
    conn: Connection, query: EventQuery, scope: Scope, limit: int
) -> tuple[list[Any], int]:
    """(``limit + 1`` full ``events`` rows of the first page, the number of all matches) in
    ONE statement and one index scan: the matches' (id, date) are materialised once, counted
    by a window, and the page is the top of them (not a sort of every wide row). Conditions
    as in ``_where`` with ``_bbox_clauses``; the SQL is kept per query shape (see
    ``_first_page_statement``)."""
    if query.bbox is None:
        raise QueryError("the box page needs a bbox")
    tiers = tuple(sorted(t.value for t in scope.tiers))
    classes = tuple(sorted(c.value for c in scope.case_classes))
    shape = (
        query.start is not None,
        query.end is not None,
        tiers if scope.tiers != _ALL_TIERS else (),
        classes if scope.case_classes != _ALL_CASE_CLASSES else (),
        query.sort is SortOrder.DATE_DESC,
    )
    stmt = _PG_FIRST_PAGE.get(shape)
    if stmt is None:
        stmt = _postgis_first_page_statement(*shape)
        if len(_PG_FIRST_PAGE) < 256:
            _PG_FIRST_PAGE[shape] = stmt
    west, south, east, north = (float(v) for v in query.bbox)
    params: dict[str, Any] = {
        "west": west,
        "south": south,
        "east": east,
        "north": north,
        "start": query.start,
        "end": query.end,
        "limit": limit + 1,
    }
    rows = dbapi.fetch(conn, stmt, params)
    return rows, (int(rows[0].total) if rows else 0)


_PG_FIRST_PAGE: dict[tuple[Any, ...], TextClause] = {}
# Built once: iterating an Enum costs microseconds, on every search.
_ALL_TIERS = frozenset(SensitivityTier)
_ALL_CASE_CLASSES = frozenset(CaseClass)


def _postgis_first_page_statement(
    has_start: bool,
    has_end: bool,
    tiers: tuple[str, ...],
    classes: tuple[str, ...],
    desc: bool,
) -> TextClause:
    conds = [
        "geom && ST_MakeEnvelope(:west, :south, :east, :north, 4326)",
        "longitude BETWEEN :west AND :east",
        "latitude BETWEEN :south AND :north",
    ]
    if has_start or has_end:
        # The form the (geom, period) GiST index was built on (see _period_overlaps).
        lower = "CAST(:start AS date)" if has_start else "NULL"
        upper = "CAST(:end AS date)" if has_end else "NULL"
        conds.append(f"daterange(date_start, date_end, '[]') && daterange({lower}, {upper}, '[]')")
    # "+ 0" keeps these two as filters on the index matches: as plain column comparisons the
    # planner, which expects a box to match about one row, AND-ed the GiST bitmap with a
    # b-tree bitmap of every event in the period (45k rows for one year), about a sixth of
    # a large box's time for nothing.
    if has_start:
        conds.append("date_end + 0 >= CAST(:start AS date)")
    if has_end:
        conds.append("date_start + 0 <= CAST(:end AS date)")
    # Enum values of our own taxonomy, never user text, so they are written into the SQL.
    if tiers:
        conds.append(f"sensitivity IN ({', '.join(_sql_word(t) for t in tiers)})")
    if classes:
        conds.append(f"case_class IN ({', '.join(_sql_word(c) for c in classes)})")
    order = "DESC" if desc else "ASC"
    columns = ", ".join(f"e.{c.name}" for c in s.events.c)
    # The total is a window count over the matches, taken before the LIMIT: a count in a
    # cross-joined subquery was re-run once per page row (the planner guesses one match).
    sql = (
        "WITH m AS MATERIALIZED (SELECT id, date_start FROM events"  # noqa: S608 - no user text
        f" WHERE {' AND '.join(conds)}), "
        "p AS (SELECT id, date_start, count(*) OVER () AS total FROM m"
        f" ORDER BY date_start {order}, id {order} LIMIT :limit) "
        f"SELECT {columns}, p.total FROM p JOIN events AS e ON e.id = p.id"
        f" ORDER BY p.date_start {order}, p.id {order}"
    )
    return text(sql).columns(*s.events.c, column("total", Integer))


def _sql_word(value: str) -> str:
    if not re.fullmatch(r"[a-z_]+", value):  # taxonomy values are; anything else is a bug
        raise ValueError(f"unexpected scope value {value!r}")
    return f"'{value}'"


def _events_by_ids(conn: Connection, ids: list[int]) -> list[Any]:
    """The ``events`` rows of ``ids``, in that order."""
    rows = {
        row.id: row for row in conn.execute(by_ids(conn, "events"), {"ids": ids_value(conn, ids)})
    }
    return [rows[i] for i in ids if i in rows]


def _rtree_page_rows(
    conn: Connection,
    query: EventQuery,
    in_rtree: list[ColumnElement[bool]],
    limit: int,
    after: tuple[Any, int] | None,
    offset: int | None,
) -> list[Any]:
    """Like ``_page_rows`` (``limit + 1`` rows, same order), ordered on the R*Tree's day."""
    r = _rtree.c
    desc = query.sort is SortOrder.DATE_DESC
    stmt = select(r.id).where(*in_rtree)
    if after is not None:
        day, last_id = epoch_day(after[0]), after[1]
        if desc:
            stmt = stmt.where(or_(r.min_day < day, and_(r.min_day == day, r.id < last_id)))
        else:
            stmt = stmt.where(or_(r.min_day > day, and_(r.min_day == day, r.id > last_id)))
    stmt = stmt.order_by(*_rtree_order(query)).limit(limit + 1)
    if offset:
        stmt = stmt.offset(offset)
    ids = list(conn.execute(stmt).scalars())
    if not ids:
        return []
    return _events_by_ids(conn, ids)


# --- ordering and paging ------------------------------------------------------------------


def _sort_key(sort: SortOrder) -> tuple[ColumnElement[Any], bool]:
    """(key expression, descending?). The row id breaks ties in the same direction."""
    e = s.events.c
    if sort is SortOrder.DATE_DESC:
        return e.date_start, True
    if sort is SortOrder.DATE_ASC:
        return e.date_start, False
    return func.coalesce(e.fatalities_best, -1), True


def _page_rows(
    conn: Connection,
    query: EventQuery,
    where: list[ColumnElement[bool]],
    limit: int,
    after: tuple[Any, int] | None,
    offset: int | None,
    matches: int | None,
) -> list[Any]:
    """One page of rows (``limit + 1``, to tell whether another page follows).

    ``matches`` is the number of rows the filters select, when known. SQLite has no column
    statistics, so it likes to walk the date index in order and test every row, which is
    fast when matches are plentiful but reads the whole table when they are rare (a high
    fatality threshold, a rare threat category). When the matches are few and no date-ordered
    index is narrowed by the filters, the sort key is wrapped in a unary ``+`` so that SQLite
    starts from the filters' own indexes and sorts the few rows it finds instead.
    """
    key, desc = _sort_key(query.sort)
    e = s.events.c
    stmt: Select[Any] = select(s.events).where(*where)
    if after is not None:
        value, last_id = after
        if desc:
            stmt = stmt.where(or_(key < value, and_(key == value, e.id < last_id)))
        else:
            stmt = stmt.where(or_(key > value, and_(key == value, e.id > last_id)))
    if (
        matches is not None
        and matches <= _SQLITE_SORT_LIMIT
        and conn.dialect.name == "sqlite"
        and query.sort is not SortOrder.FATALITIES_DESC  # an expression already
        and not _date_ordered_index_applies(query)
    ):
        key = literal_column("+events.date_start")
    order = [key.desc(), e.id.desc()] if desc else [key.asc(), e.id.asc()]
    stmt = stmt.order_by(*order).limit(limit + 1)
    if offset:
        stmt = stmt.offset(offset)
    return list(conn.execute(stmt).all())


def _date_ordered_index_applies(query: EventQuery) -> bool:
    """Whether the filters already narrow an index that is ordered by date (a date range,
    ``(country_iso3, date_start)``, ``(violence_type, date_start)``), so that walking it in
    order only touches rows that are likely to match."""
    return (
        query.start is not None
        or query.end is not None
        or query.country_iso3 is not None
        or len(query.violence_types) == 1
    )


def _key_of(sort: SortOrder, row: Any) -> tuple[Any, int]:
    if sort is SortOrder.FATALITIES_DESC:
        return (-1 if row.fatalities_best is None else row.fatalities_best, row.id)
    return (row.date_start, row.id)


def _encode_cursor(sort: SortOrder, row: Any) -> str:
    value, row_id = _key_of(sort, row)
    if isinstance(value, date):
        value = value.isoformat()
    payload = json.dumps({"s": sort.value, "k": value, "i": row_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None, sort: SortOrder) -> tuple[Any, int] | None:
    """A cursor is not secret (it only says where a page starts; scope still applies), but it
    comes from the client, so anything malformed is refused with one clear message."""
    if cursor is None:
        return None
    bad = QueryError("invalid cursor: pass back the next_cursor of the previous page unchanged")
    if not isinstance(cursor, str) or not 0 < len(cursor) <= _MAX_CURSOR_CHARS:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("s") != sort.value:
            raise bad
        row_id, value = data["i"], data["k"]
        if isinstance(row_id, bool) or not isinstance(row_id, int):
            raise bad
        if sort is SortOrder.FATALITIES_DESC:
            if isinstance(value, bool) or not isinstance(value, int):
                raise bad
            return (value, row_id)
        if not isinstance(value, str):
            raise bad
        return (date.fromisoformat(value), row_id)
    except (binascii.Error, UnicodeDecodeError, ValueError, KeyError) as exc:
        raise bad from exc


def _check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise QueryError(f"limit must be a whole number between 1 and {MAX_PAGE_SIZE}")
    return limit


# --- small helpers ------------------------------------------------------------------------


def _dimension(conn: Connection, name: str) -> ColumnElement[Any]:
    e = s.events.c
    if name not in DIMENSIONS:
        raise QueryError(f"unknown count dimension {name!r}; choose from {', '.join(DIMENSIONS)}")
    if name in ("month", "year"):
        n = 7 if name == "month" else 4
        if conn.dialect.name == "postgresql":
            fmt = "YYYY-MM" if name == "month" else "YYYY"
            return func.to_char(e.date_start, fmt).label(name)
        return func.substr(e.date_start, 1, n).label(name)  # SQLite stores ISO text
    return e[name].label(name)


def _member(enum: type[E], value: object, what: str) -> E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise QueryError(f"unknown {what} {value!r}; expected one of: {allowed}") from None


def _members(enum: type[E], values: object, what: str) -> tuple[E, ...]:
    if isinstance(values, str):  # one value given on its own (enum members are str too)
        values = (values,)
    if not isinstance(values, Iterable):
        raise QueryError(f"{what} must be a list of values")
    return tuple(dict.fromkeys(_member(enum, v, what) for v in values))


def _as_date(value: object) -> date | None:
    if value is None or isinstance(value, date):
        return value  # type: ignore[return-value]
    return date.fromisoformat(str(value))


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    # SQLite returns naive datetimes (stored in UTC); PostgreSQL returns the session's zone.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
