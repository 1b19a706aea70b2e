"""Great-circle distance."""

from __future__ import annotations

import math

EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def radius_bbox(lat: float, lon: float, km: float) -> tuple[float, float, float, float]:
    """A (min_lon, min_lat, max_lon, max_lat) box that contains the whole circle.

    It is a prefilter, so it errs on the wide side: when the circle covers a pole or crosses the
    antimeridian, the box spans every longitude rather than wrapping.
    """
    ang = km / EARTH_RADIUS_KM  # angular radius in radians
    dlat = math.degrees(ang)
    min_lat, max_lat = lat - dlat, lat + dlat
    if min_lat <= -90.0 or max_lat >= 90.0 or ang >= math.pi / 2:
        return -180.0, max(-90.0, min_lat), 180.0, min(90.0, max_lat)
    # Widest longitude extent of a spherical cap: asin(sin r / cos lat) (tangent meridians).
    dlon = math.degrees(math.asin(min(1.0, math.sin(ang) / math.cos(math.radians(lat)))))
    if lon - dlon < -180.0 or lon + dlon > 180.0:
        return -180.0, min_lat, 180.0, max_lat
    return lon - dlon, min_lat, lon + dlon, max_lat
