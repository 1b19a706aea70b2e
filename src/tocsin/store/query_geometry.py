"""Validation of the spatial parts of an event query, and the boxes used to prefilter them.

These are API entry points: every check raises :class:`QueryError` (a ``ValueError``) with a
message a user can act on. Limits keep one request from costing the server minutes.

Semantics are planar lon/lat for boxes and polygons (as PostGIS ``geometry`` and shapely
compute them) and great-circle for radii (``haversine_km`` on SQLite, ``ST_DWithin`` on a
sphere on PostGIS), so both backends agree.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shapely.geometry import shape
from shapely.validation import explain_validity

from tocsin.geo.distance import EARTH_RADIUS_KM

MAX_RADIUS_KM = 5000.0
MAX_POLYGON_VERTICES = 10_000
MAX_POLYGON_PARTS = 1_000  # rings over all polygons of a MultiPolygon
# Pads prefilter boxes so that float rounding can never drop a point the exact test accepts.
_PREFILTER_MARGIN_DEG = 1e-6

Box = tuple[float, float, float, float]  # (min_lon, min_lat, max_lon, max_lat)


class QueryError(ValueError):
    """A query parameter is malformed, out of range or too large. The message says which."""


def number(value: object, name: str) -> float:
    """A finite float; ``bool`` and numeric strings are refused, not guessed."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise QueryError(f"{name} must be a number, got {type(value).__name__}")
    result = float(value)
    if not math.isfinite(result):
        raise QueryError(f"{name} must be a finite number, got {value!r}")
    return result


def latitude(value: object, name: str = "latitude") -> float:
    lat = number(value, name)
    if not -90.0 <= lat <= 90.0:
        raise QueryError(f"{name} {lat} is out of range [-90, 90]")
    return lat


def longitude(value: object, name: str = "longitude") -> float:
    lon = number(value, name)
    if not -180.0 <= lon <= 180.0:
        raise QueryError(f"{name} {lon} is out of range [-180, 180]")
    return lon


def validate_bbox(value: object) -> Box:
    """``(min_lon, min_lat, max_lon, max_lat)``, as in GeoJSON; edges are inclusive.

    A box whose west edge is east of its east edge would cross the antimeridian. It is refused
    rather than guessed at, because the far more common cause is swapped coordinates, and
    reading that as "almost the whole world" would silently return the wrong events.
    """
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or len(value) != 4:
        raise QueryError("bbox must be four numbers: min_lon, min_lat, max_lon, max_lat")
    min_lon = longitude(value[0], "bbox min_lon")
    min_lat = latitude(value[1], "bbox min_lat")
    max_lon = longitude(value[2], "bbox max_lon")
    max_lat = latitude(value[3], "bbox max_lat")
    if min_lat > max_lat:
        raise QueryError(f"bbox min_lat {min_lat} is greater than max_lat {max_lat}")
    if min_lon > max_lon:
        raise QueryError(
            f"bbox min_lon {min_lon} is greater than max_lon {max_lon}: boxes crossing the "
            "antimeridian are not supported; query the two sides as two boxes, or use a radius"
        )
    return (min_lon, min_lat, max_lon, max_lat)


def validate_radius(value: object) -> tuple[float, float, float]:
    """``(lat, lon, km)``: a circle on the sphere; 0 < km <= MAX_RADIUS_KM."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or len(value) != 3:
        raise QueryError("radius must be three numbers: lat, lon, km")
    lat = latitude(value[0], "radius latitude")
    lon = longitude(value[1], "radius longitude")
    km = number(value[2], "radius km")
    if km <= 0:
        raise QueryError(f"radius km must be greater than 0, got {km}")
    if km > MAX_RADIUS_KM:
        raise QueryError(f"radius km {km} is larger than the limit of {MAX_RADIUS_KM:g} km")
    return (lat, lon, km)


def cap_boxes(lat: float, lon: float, km: float) -> list[Box]:
    """Boxes that together contain every point within ``km`` of (lat, lon).

    The longitude half-width of a spherical cap is asin(sin r / cos lat), slightly more than
    the r / cos lat approximation; a cap that reaches a pole spans all longitudes; a cap that
    crosses the antimeridian is split into two boxes.
    """
    r = km / EARTH_RADIUS_KM
    lat_r = math.radians(lat)
    lat_min, lat_max = lat_r - r, lat_r + r
    pad = _PREFILTER_MARGIN_DEG
    if lat_max >= math.pi / 2 or lat_min <= -math.pi / 2:
        return [
            (
                -180.0,
                max(-90.0, math.degrees(lat_min) - pad),
                180.0,
                min(90.0, math.degrees(lat_max) + pad),
            )
        ]
    dlon = math.degrees(math.asin(min(1.0, math.sin(r) / math.cos(lat_r)))) + pad
    south, north = math.degrees(lat_min) - pad, math.degrees(lat_max) + pad
    west, east = lon - dlon, lon + dlon
    if west < -180.0:
        return [(west + 360.0, south, 180.0, north), (-180.0, south, east, north)]
    if east > 180.0:
        return [(west, south, 180.0, north), (-180.0, south, east - 360.0, north)]
    return [(west, south, east, north)]


@dataclass(frozen=True, slots=True)
class PolygonFilter:
    """A validated polygon: canonical GeoJSON text (no ``crs`` or foreign members) and bounds."""

    geojson: str
    bounds: Box


def validate_polygon(value: object) -> PolygonFilter:
    """A GeoJSON Polygon or MultiPolygon geometry (RFC 7946, lon/lat), holes allowed.

    Rings must be closed, have at least four positions and must not self-intersect; the
    whole geometry may have at most MAX_POLYGON_VERTICES positions.
    """
    if not isinstance(value, Mapping):
        raise QueryError("polygon must be a GeoJSON geometry object")
    kind = value.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        raise QueryError(f"polygon must be a GeoJSON Polygon or MultiPolygon, got type {kind!r}")
    coords = value.get("coordinates")
    polygons = [coords] if kind == "Polygon" else _list(coords, "MultiPolygon coordinates")
    if not polygons:
        raise QueryError("polygon has no coordinates")
    rings_per_polygon = [_list(p, "polygon rings") for p in polygons]
    n_rings = sum(len(rings) for rings in rings_per_polygon)
    if n_rings > MAX_POLYGON_PARTS:
        raise QueryError(f"polygon has {n_rings} rings; the limit is {MAX_POLYGON_PARTS}")
    # Count before looking at any position, so a huge input is refused cheaply.
    n_vertices = sum(len(_list(ring, "ring")) for rings in rings_per_polygon for ring in rings)
    if n_vertices > MAX_POLYGON_VERTICES:
        raise QueryError(
            f"polygon has {n_vertices} positions; the limit is {MAX_POLYGON_VERTICES}: "
            "simplify it first"
        )
    clean = [[_ring(ring) for ring in rings] for rings in rings_per_polygon]
    if any(not rings for rings in clean):
        raise QueryError("every polygon needs an exterior ring")
    canonical = (
        {"type": "Polygon", "coordinates": clean[0]}
        if kind == "Polygon"
        else {"type": "MultiPolygon", "coordinates": clean}
    )
    geom = shape(canonical)
    if not geom.is_valid:
        raise QueryError(f"polygon is not a valid geometry: {explain_validity(geom)}")
    if geom.area <= 0:
        raise QueryError("polygon has no area")
    return PolygonFilter(
        geojson=json.dumps(canonical, separators=(",", ":")),
        bounds=tuple(float(v) for v in geom.bounds),  # type: ignore[arg-type]
    )


def _list(value: object, what: str) -> list[object]:
    if not isinstance(value, list | tuple):
        raise QueryError(f"{what} must be a list")
    return list(value)


def _ring(value: object) -> list[list[float]]:
    positions = _list(value, "ring")
    if len(positions) < 4:
        raise QueryError(f"a polygon ring needs at least 4 positions, got {len(positions)}")
    ring = []
    for pos in positions:
        items = _list(pos, "position")
        if len(items) not in (2, 3):  # an optional altitude is allowed and ignored
            raise QueryError("a position must be [lon, lat] (or [lon, lat, altitude])")
        ring.append(
            [longitude(items[0], "polygon longitude"), latitude(items[1], "polygon latitude")]
        )
    if ring[0] != ring[-1]:
        raise QueryError("polygon ring is not closed: its first and last positions differ")
    return ring
