"""Geometry the scenario needs: km offsets on the sphere and uniform points inside an outline."""

from __future__ import annotations

import numpy as np
import shapely

from tocsin.geo.distance import EARTH_RADIUS_KM

_MIN_COS_LAT = 1e-3  # keeps longitude offsets finite next to the poles (Antarctica)


def offset_km(
    latitude: np.ndarray, longitude: np.ndarray, east_km: np.ndarray, north_km: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Move points by small east/north distances on the local tangent plane; wraps longitude."""
    lat = np.asarray(latitude, dtype=float)
    cos_lat = np.maximum(np.cos(np.radians(lat)), _MIN_COS_LAT)
    new_lat = lat + np.degrees(np.asarray(north_km) / EARTH_RADIUS_KM)
    new_lon = np.asarray(longitude) + np.degrees(np.asarray(east_km) / (EARTH_RADIUS_KM * cos_lat))
    new_lat = np.clip(new_lat, -90.0, 90.0)
    new_lon = (new_lon + 180.0) % 360.0 - 180.0
    return new_lat, new_lon


def to_local_km(
    latitude: np.ndarray, longitude: np.ndarray, lat0: float, lon0: float
) -> tuple[np.ndarray, np.ndarray]:
    """Equirectangular projection about (lat0, lon0): fine for one country's events."""
    dlon = (np.asarray(longitude) - lon0 + 180.0) % 360.0 - 180.0
    x = np.radians(dlon) * np.cos(np.radians(lat0)) * EARTH_RADIUS_KM
    y = np.radians(np.asarray(latitude) - lat0) * EARTH_RADIUS_KM
    return x, y


def great_circle_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = (
        np.sin((p2 - p1) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin(np.radians(np.asarray(lon2) - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(a)))


def unit_vectors(latitude: np.ndarray, longitude: np.ndarray) -> np.ndarray:
    """Points as 3-D vectors on the unit sphere, for k-d trees that ignore the antimeridian."""
    lat, lon = np.radians(latitude), np.radians(longitude)
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def chord_for_km(km: float) -> float:
    """Distance through the unit sphere between points ``km`` apart on the surface."""
    return 2.0 * np.sin(km / (2.0 * EARTH_RADIUS_KM))


def km_for_chord(chord: np.ndarray) -> np.ndarray:
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.asarray(chord) / 2.0))


class OutlineSampler:
    """Uniform random points (by area on the sphere) inside a country outline.

    The outline is cut into triangles (constrained Delaunay), a triangle is picked in proportion
    to its area times cos(latitude), and a point is drawn uniformly inside it. This works as well
    for Kiribati's atolls spread over the Pacific as for a compact country, where drawing in the
    bounding box and rejecting would take forever.
    """

    def __init__(self, outline: shapely.Geometry) -> None:
        self.outline = outline
        shapely.prepare(self.outline)
        triangles = []
        for part in shapely.get_parts(outline):
            triangles.extend(shapely.get_parts(shapely.constrained_delaunay_triangles(part)))
        coords = np.array([np.asarray(t.exterior.coords)[:3] for t in triangles])  # (n, 3, 2)
        a, b, c = coords[:, 0], coords[:, 1], coords[:, 2]
        planar = 0.5 * np.abs(
            (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1])
        )
        weight = planar * np.cos(np.radians(coords[:, :, 1].mean(axis=1)))
        keep = weight > 0
        self._a, self._b, self._c = a[keep], b[keep], c[keep]
        self._cumulative = np.cumsum(weight[keep])
        self._cumulative /= self._cumulative[-1]

    def contains(self, latitude: np.ndarray, longitude: np.ndarray) -> np.ndarray:
        return shapely.contains_xy(self.outline, longitude, latitude)

    def uniform(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` points strictly inside the outline (latitude, longitude)."""
        lat = np.empty(n)
        lon = np.empty(n)
        todo = np.arange(n)
        while todo.size:
            pick = np.minimum(
                np.searchsorted(self._cumulative, rng.random(todo.size)), len(self._cumulative) - 1
            )
            r1, r2 = rng.random(todo.size), rng.random(todo.size)
            flip = r1 + r2 > 1.0
            r1[flip], r2[flip] = 1.0 - r1[flip], 1.0 - r2[flip]
            a, b, c = self._a[pick], self._b[pick], self._c[pick]
            points = a + r1[:, None] * (b - a) + r2[:, None] * (c - a)
            lon[todo], lat[todo] = points[:, 0], points[:, 1]
            # Points exactly on the outline's edge are not "inside"; draw those again.
            todo = todo[~self.contains(lat[todo], lon[todo])]
        return lat, lon
