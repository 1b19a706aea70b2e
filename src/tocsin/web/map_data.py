"""Incident points for the map: a lean read of the events in the viewer's scope, redacted.

The map draws tens of thousands of incidents, so it does not hydrate full events the way the
API does. Two reads, both with the store's own filter clauses (``tocsin.store.queries``), so a
filter means exactly what it means in the API:

- **points** (:func:`map_points`): per incident only its uid, position and type of violence,
  encoded straight to GeoJSON text. Nothing else travels in bulk, so the payload that sits in
  the browser holds no place names or dates of tens of thousands of incidents;
- **one incident** (:func:`incident_detail`): date, type, fatalities and place of one incident,
  fetched when its marker is opened; the latest incidents are listed the same way.

Every row passes the same redaction as any other output (``tocsin.security.redaction``): a
record outside the scope is dropped, a forbidden field is absent. Redaction depends only on a
record's tier and case class (and, for own-records roles, its owner), so :class:`Redactor` asks
``redact_record`` once per (tier, case class) with a probe holding every key and applies the
answer to each row: the decision stays the security module's, without paying for it 50,000
times.

A restricted case whose precise location the viewer may not see keeps no coordinates. If its
PRIO-GRID cell is visible (it is not a protected field), it is drawn at the cell's centre,
marked ``approx``; otherwise it is counted as "without a mappable location" and not drawn.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from json.encoder import encode_basestring as _encode_string  # C; keeps UTF-8 as is
from typing import Any

from sqlalchemy import Connection, String, cast, func, literal_column, select

from tocsin.domain.taxonomy import CaseClass, SensitivityTier
from tocsin.geo.prio_grid import cell_center
from tocsin.security.policies import AccessScope, is_restricted_case
from tocsin.security.redaction import Channel, redact_record
from tocsin.store import queries
from tocsin.store import schema as s
from tocsin.store.queries import EventQuery, Scope
from tocsin.store.schema_security import event_owners

e = s.events.c
# Dates as ISO text straight from the database (CAST gives the same text on SQLite and
# PostgreSQL). Every column a record may carry, with the API's field names.
_RECORD_COLUMNS = (
    e.id,
    e.uid,
    cast(e.date_start, String).label("date_start"),
    cast(e.date_end, String).label("date_end"),
    e.latitude,
    e.longitude,
    e.priogrid_gid,
    e.violence_type,
    e.fatalities_best,
    e.place_name,
    e.admin1_name,
    e.country_iso3,
    e.sensitivity,
    e.case_class,
)
RECORD_KEYS = tuple(c.key for c in _RECORD_COLUMNS[1:])
# What a point needs; positions in the row tuple are fixed below.
_POINT_COLUMNS = (
    e.uid,
    e.latitude,
    e.longitude,
    e.priogrid_gid,
    e.violence_type,
    e.sensitivity,
    e.case_class,
)
_LOCATION_KEYS = frozenset({"latitude", "longitude"})


# Types of violence by their code in the compact encoding (index in this tuple).
TYPE_CODES: tuple[str, ...] = ("state_based", "non_state", "one_sided", "unknown")
_TYPE_INDEX = {name: i for i, name in enumerate(TYPE_CODES)}
_APPROX = ',"approx":true'


@dataclass(slots=True)
class MapPoints:
    """The drawable incidents (uid, position, type, approximate?), encoded on demand either as
    GeoJSON or as compact parallel arrays; plus the positions and types for the server-drawn
    picture."""

    uids: list[str] = field(default_factory=list)
    points: list[tuple[float, float, str]] = field(default_factory=list)  # lon, lat, type
    approx: list[int] = field(default_factory=list)  # indices drawn at their grid cell
    unmapped: int = 0  # in scope, but no location the viewer may see
    truncated: bool = False
    restricted_uids: list[str] = field(default_factory=list)  # for the read audit

    @property
    def features(self) -> list[str]:
        """Each incident as GeoJSON feature text."""
        approx = set(self.approx)
        return [
            f'{{"type":"Feature","id":{_encode_string(uid)},"geometry":{{"type":"Point",'
            f'"coordinates":[{lon!r},{lat!r}]}},"properties":{{"type":{_encode_string(kind)}'
            + (_APPROX if i in approx else "")
            + "}}"
            for i, (uid, (lon, lat, kind)) in enumerate(zip(self.uids, self.points, strict=True))
        ]

    def to_json(self) -> str:
        """An RFC 7946 FeatureCollection; ``unmapped`` and ``truncated`` are foreign members
        (section 6.1) saying plainly what the map cannot draw."""
        tail = f'],"unmapped":{self.unmapped},"truncated":{"true" if self.truncated else "false"}}}'
        return '{"type":"FeatureCollection","features":[' + ",".join(self.features) + tail

    def to_compact_json(self) -> str:
        """What the interactive map loads: parallel arrays, about a third of the GeoJSON's
        size and far cheaper to encode and parse. ``coords`` is ``[lon0, lat0, lon1, ...]``;
        ``types`` holds one digit per incident, an index into ``type_names``."""
        coords = [c for lon, lat, _kind in self.points for c in (lon, lat)]
        types = "".join(str(_TYPE_INDEX.get(kind, 3)) for _lon, _lat, kind in self.points)
        return json.dumps(
            {
                "ids": self.uids,
                "coords": coords,
                "types": types,
                "type_names": TYPE_CODES,
                "approx": self.approx,
                "unmapped": self.unmapped,
                "truncated": self.truncated,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )


class Redactor:
    """``redact_record`` for map rows, decided once per (tier, case class)."""

    def __init__(self, scope: AccessScope, channel: Channel = Channel.API) -> None:
        self.scope = scope
        self.channel = channel
        self._hidden: dict[tuple[str, str], frozenset[str] | None] = {}
        self._restricted: dict[tuple[str, str], bool] = {}

    def hidden_keys(self, tier: str, case_class: str) -> frozenset[str] | None:
        """Keys the viewer may not see on such a record; None if the record is out of scope."""
        key = (tier, case_class)
        if key not in self._hidden:
            probe = dict.fromkeys(RECORD_KEYS, 0)
            probe.update(sensitivity=tier, case_class=case_class)
            kept = redact_record(probe, self.scope, self.channel)
            self._hidden[key] = None if kept is None else frozenset(probe.keys() - kept.keys())
        return self._hidden[key]

    def restricted(self, tier: str, case_class: str) -> bool:
        """A restricted case: its reads are audited one by one."""
        key = (tier, case_class)
        if key not in self._restricted:
            self._restricted[key] = is_restricted_case(tier, case_class)
        return self._restricted[key]

    def record(self, row: Any, owner_user_id: int | None = None) -> dict[str, Any] | None:
        """The redacted record of one full row (``_RECORD_COLUMNS``)."""
        return redact_record(record_of(row), self.scope, self.channel, owner_user_id)


def where_clauses(conn: Connection, query: EventQuery, scope: AccessScope) -> list[Any]:
    # The store's filter semantics, reused rather than re-implemented (see module docstring).
    clauses = queries.where_clauses(conn, query, Scope(scope.tiers, scope.case_classes))
    if scope.owner_user_id is not None:
        clauses.append(
            e.id.in_(
                select(event_owners.c.event_id).where(event_owners.c.user_id == scope.owner_user_id)
            )
        )
    return clauses


def record_of(row: Any) -> dict[str, Any]:
    """The record of one full row, with the API's field names (the redaction keys)."""
    return dict(zip(RECORD_KEYS, row[1:], strict=True))  # row[0] is the row id


def rows_newest_first(conn: Connection, where: list[Any], limit: int) -> list[Any]:
    """Up to ``limit`` full rows, newest first by start date (the table of the latest)."""
    stmt = select(*_RECORD_COLUMNS).where(*where).order_by(e.date_start.desc(), e.id.desc())
    return list(conn.execute(stmt.limit(limit)).all())


def owners_of(conn: Connection, ids: Sequence[int]) -> dict[int, int]:
    found: dict[int, int] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        found.update(
            conn.execute(
                select(event_owners.c.event_id, event_owners.c.user_id).where(
                    event_owners.c.event_id.in_(chunk)
                )
            ).all()
        )
    return found


def encode_point(
    uid: str, lat: float | None, lon: float | None, gid: int | None, vtype: str | None
) -> tuple[str, float, float, str, bool] | None:
    """One incident as (uid, lon, lat, type, approximate?); None when it has no location to
    draw. ``lat``/``lon`` are None when missing *or* redacted."""
    approx = False
    if lat is None or lon is None:
        if gid is None:
            return None
        lat, lon = cell_center(int(gid))
        approx = True
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    return uid, round(lon, 5), round(lat, 5), vtype or "unknown", approx


def map_points(
    conn: Connection, query: EventQuery, scope: AccessScope, *, limit: int = 200_000
) -> MapPoints:
    """The incidents in ``scope`` matching ``query``, as redacted GeoJSON points."""
    out = MapPoints()
    if scope.is_empty:
        return out
    where = where_clauses(conn, query, scope)
    if scope.owner_user_id is not None:
        return _own_points(conn, where, scope, limit)
    if _unfiltered(query) and conn.dialect.name == "sqlite":
        where = _scan_scope_clauses(scope)
    redactor = Redactor(scope)
    # Row-id order: cheap on both backends, and the map needs none. Streamed in batches.
    # (Options on the statement, not the connection: the request's audit entries are written
    # on the same connection afterwards and must not inherit a server-side cursor.)
    stmt = (
        select(*_POINT_COLUMNS)
        .where(*where)
        .order_by(e.id.desc())
        .limit(limit + 1)
        .execution_options(yield_per=5000)
    )
    # The redaction's answer per (tier, case class), looked up once per pair and applied to
    # every row: (restricted?, hide location, hide grid cell, hide type), or None (dropped).
    decisions: dict[tuple[str, str], tuple[bool, bool, bool, bool] | None] = {}
    uids, points = out.uids, out.points
    isfinite = math.isfinite
    n = 0
    result = conn.execute(stmt)
    try:
        for uid, lat, lon, gid, vtype, tier, case_class in result:
            n += 1
            if n > limit:
                out.truncated = True
                break
            key = (tier, case_class)
            if key not in decisions:
                hidden = redactor.hidden_keys(tier, case_class)
                decisions[key] = (
                    None
                    if hidden is None
                    else (
                        redactor.restricted(tier, case_class),
                        not hidden.isdisjoint(_LOCATION_KEYS),
                        "priogrid_gid" in hidden,
                        "violence_type" in hidden,
                    )
                )
            decision = decisions[key]
            if decision is None:
                continue
            restricted, hide_location, hide_gid, hide_type = decision
            if restricted:
                out.restricted_uids.append(uid)
            if hide_type:
                vtype = None
            if hide_location or lat is None or lon is None or not (isfinite(lat) and isfinite(lon)):
                # The slow path (grid-cell centre, or nothing to draw) for the few such rows.
                _add(out, encode_point(uid, None, None, None if hide_gid else gid, vtype))
                continue
            uids.append(uid)
            points.append((round(lon, 5), round(lat, 5), vtype or "unknown"))
    finally:
        result.close()  # a truncated read leaves no server-side cursor open
    return out


def _unfiltered(query: EventQuery) -> bool:
    """The map as first opened: no filter but the viewer's scope."""
    return replace(query, sort=EventQuery().sort) == EventQuery()


def _scan_scope_clauses(scope: AccessScope) -> list[Any]:
    """The store's scope clauses (``queries._scope_clauses``: tier, then case class, each left
    out when every value is allowed) with the columns behind a unary ``+``, which tells SQLite
    not to use an index for them. Nothing else narrows an unfiltered read, so walking the table
    in row-id order beats the (sensitivity, case class, date) index plus a sort by 2-3 times
    (``bench/map_load.py``). Both columns are NOT NULL: the meaning is unchanged."""
    clauses = []
    if scope.tiers != frozenset(SensitivityTier):
        column = literal_column("+events.sensitivity", String)
        clauses.append(column.in_(sorted(t.value for t in scope.tiers)))
    if scope.case_classes != frozenset(CaseClass):
        column = literal_column("+events.case_class", String)
        clauses.append(column.in_(sorted(c.value for c in scope.case_classes)))
    return clauses


def _add(out: MapPoints, encoded: tuple[str, float, float, str, bool] | None) -> None:
    if encoded is None:
        out.unmapped += 1
        return
    uid, lon, lat, kind, approx = encoded
    if approx:
        out.approx.append(len(out.uids))
    out.uids.append(uid)
    out.points.append((lon, lat, kind))


def _own_points(conn: Connection, where: list[Any], scope: AccessScope, limit: int) -> MapPoints:
    """Own-records roles: few rows, and the owner is part of each decision."""
    out = MapPoints()
    rows = list(
        conn.execute(select(*_RECORD_COLUMNS).where(*where).order_by(e.id.desc()).limit(limit + 1))
    )
    if len(rows) > limit:
        out.truncated = True
        rows = rows[:limit]
    owners = owners_of(conn, [r.id for r in rows])
    redactor = Redactor(scope)
    for row in rows:
        record = redactor.record(row, owners.get(row.id))
        if record is None:
            continue
        if redactor.restricted(record["sensitivity"], record["case_class"]):
            out.restricted_uids.append(record["uid"])
        _add(
            out,
            encode_point(
                record["uid"],
                record.get("latitude"),
                record.get("longitude"),
                record.get("priogrid_gid"),
                record.get("violence_type"),
            ),
        )
    return out


def incident_detail(
    conn: Connection, uid: str, scope: AccessScope
) -> tuple[dict[str, Any], bool] | None:
    """(redacted record, restricted case?) of one incident, or None when it does not exist or
    is outside the scope (the two look the same, so existence does not leak)."""
    if scope.is_empty or not isinstance(uid, str) or len(uid) > 64:
        return None
    where = where_clauses(conn, EventQuery(), scope)
    row = conn.execute(select(*_RECORD_COLUMNS).where(*where, e.uid == uid)).first()
    if row is None:
        return None
    owner = owners_of(conn, [row.id]).get(row.id) if scope.owner_user_id is not None else None
    redactor = Redactor(scope)
    record = redactor.record(row, owner)
    if record is None:
        return None
    return record, redactor.restricted(record["sensitivity"], record["case_class"])


def count_matching(conn: Connection, query: EventQuery, scope: AccessScope) -> int:
    """How many events in ``scope`` match ``query`` (mappable or not)."""
    if scope.is_empty:
        return 0
    where = where_clauses(conn, query, scope)
    return int(conn.scalar(select(func.count()).select_from(s.events).where(*where)) or 0)
