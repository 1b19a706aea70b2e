"""Turn simulated points into what GED reports: a place, its coordinates and ``where_prec``.

GED codes the known place an event is tied to, not the exact spot, so coordinates repeat:

1. the town or village where it happened: a gazetteer place, or a village an earlier event
   created, within ``SNAP_PRECISE_KM``; else a new village at the point itself, which later
   events can reuse (so places repeat, as in GED);
2. within 25 km of a known place: that place's coordinates (or a village as in 1);
3. only the second-order admin unit: its anchor point ("centroid");
4. only the first-order admin unit: its anchor point;
5. a road or stretch between two places: the midpoint of the two nearest places;
6. only the country: the country's anchor point.

Every reported point is rounded as GED writes it (6 decimals) and checked to lie inside the
country outline; anything that would fall outside after rounding is tied to a place instead.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from tocsin.scenario.geography import AdminLayout, Gazetteer, round_coordinates
from tocsin.scenario.names import NameMaker
from tocsin.scenario.spatial import OutlineSampler, chord_for_km, great_circle_km, unit_vectors

SNAP_PRECISE_KM = 5.0
SNAP_NEAR_KM = 25.0


@dataclass(frozen=True)
class ReportedPlaces:
    latitude: np.ndarray
    longitude: np.ndarray
    where_coordinates: list[str]
    where_description: list[str]
    adm_1: list[str]
    adm_2: list[str]


def _midpoints(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Great-circle midpoints (safe across the antimeridian)."""
    v = unit_vectors(lat1, lon1) + unit_vectors(lat2, lon2)
    v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    return np.degrees(np.arcsin(np.clip(v[:, 2], -1, 1))), np.degrees(np.arctan2(v[:, 1], v[:, 0]))


class _Villages:
    """Villages created by earlier events, hashed on a 3-D grid of cells ``SNAP_PRECISE_KM``
    wide so that the nearest one is found in constant time anywhere on the globe."""

    def __init__(self) -> None:
        self.lat: list[float] = []
        self.lon: list[float] = []
        self.names: list[str] = []
        self._cells: dict[tuple[int, int, int], list[int]] = {}
        self._size = chord_for_km(SNAP_PRECISE_KM)

    def _cell(self, lat: float, lon: float) -> tuple[int, int, int]:
        x, y, z = unit_vectors(np.array([lat]), np.array([lon]))[0] / self._size
        return int(np.floor(x)), int(np.floor(y)), int(np.floor(z))

    def add(self, lat: float, lon: float, name: str) -> None:
        self._cells.setdefault(self._cell(lat, lon), []).append(len(self.names))
        self.lat.append(lat)
        self.lon.append(lon)
        self.names.append(name)

    def nearest(self, lat: float, lon: float) -> tuple[int | None, float]:
        """The closest village within ``SNAP_PRECISE_KM``, if any, and its distance."""
        cx, cy, cz = self._cell(lat, lon)
        found: list[int] = []
        for dx, dy, dz in itertools.product((-1, 0, 1), repeat=3):
            found.extend(self._cells.get((cx + dx, cy + dy, cz + dz), ()))
        if not found:
            return None, float("inf")
        km = great_circle_km(
            np.full(len(found), lat), np.full(len(found), lon),
            np.array([self.lat[j] for j in found]), np.array([self.lon[j] for j in found]),
        )  # fmt: skip
        best = int(np.argmin(km))
        if km[best] > SNAP_PRECISE_KM:
            return None, float("inf")
        return found[best], float(km[best])


def report_locations(
    latitude: np.ndarray,
    longitude: np.ndarray,
    where_prec: np.ndarray,
    *,
    country_name: str,
    layout: AdminLayout,
    gazetteer: Gazetteer,
    outline: OutlineSampler,
    names: NameMaker,
) -> ReportedPlaces:
    n = latitude.size
    lat = round_coordinates(latitude)
    lon = round_coordinates(longitude)
    prec = where_prec.copy()
    dist, nearest = gazetteer.nearest(latitude, longitude, k=2)
    if dist.ndim == 1:  # a one-place gazetteer
        dist, nearest = dist[:, None], nearest[:, None]
    d1, p1 = dist[:, 0], nearest[:, 0]
    p2 = nearest[:, -1]
    g_lat, g_lon = gazetteer.latitude, gazetteer.longitude
    place_label = [
        f"{name} {kind}" for name, kind in zip(gazetteer.names, gazetteer.kinds, strict=True)
    ]

    inside = outline.contains(lat, lon)
    snap = ((prec == 1) & (d1 <= SNAP_PRECISE_KM)) | ((prec == 2) & (d1 <= SNAP_NEAR_KM))
    snap |= np.isin(prec, (1, 2)) & ~inside
    villages = _Villages()

    road_lat, road_lon = _midpoints(g_lat[p1], g_lon[p1], g_lat[p2], g_lon[p2])
    road_lat, road_lon = round_coordinates(road_lat), round_coordinates(road_lon)
    road_ok = (p1 != p2) & outline.contains(road_lat, road_lon)

    unit2 = layout.locate(latitude, longitude)
    unit1 = layout.adm2_parent[unit2]

    coords_text: list[str] = [""] * n
    description: list[str] = [""] * n
    out_lat, out_lon = lat.copy(), lon.copy()
    for i in range(n):
        code = int(prec[i])
        if code in (1, 2):
            reuse, reuse_km = villages.nearest(lat[i], lon[i])
            near = "near " if code == 2 else ""
            if snap[i] and not (reuse is not None and reuse_km < d1[i] and code == 1):
                place = p1[i]
                out_lat[i], out_lon[i] = g_lat[place], g_lon[place]
                coords_text[i] = place_label[place]
                description[i] = f"{near}{gazetteer.names[place]} (synthetic)"
            elif reuse is not None:
                out_lat[i], out_lon[i] = villages.lat[reuse], villages.lon[reuse]
                coords_text[i] = f"{villages.names[reuse]} village"
                description[i] = f"{near}{villages.names[reuse]} (synthetic)"
            else:
                village = names.place()
                villages.add(lat[i], lon[i], village)
                coords_text[i] = f"{village} village"
                description[i] = (
                    f"village of {village}, {d1[i]:.0f} km from {gazetteer.names[p1[i]]} "
                    "(synthetic)"
                )
        elif code == 3:
            out_lat[i], out_lon[i] = layout.adm2_lat[unit2[i]], layout.adm2_lon[unit2[i]]
            coords_text[i] = f"{layout.adm2_names[unit2[i]]} region"
            description[i] = f"{layout.adm2_names[unit2[i]]} area (synthetic)"
        elif code == 5 and road_ok[i]:
            out_lat[i], out_lon[i] = road_lat[i], road_lon[i]
            a, b = gazetteer.names[p1[i]], gazetteer.names[p2[i]]
            coords_text[i] = f"{a}-{b} road"
            description[i] = f"on the road between {a} and {b} (synthetic)"
        elif code in (4, 5):
            out_lat[i], out_lon[i] = layout.adm1_lat[unit1[i]], layout.adm1_lon[unit1[i]]
            coords_text[i] = f"{layout.adm1_names[unit1[i]]} province"
            description[i] = f"{layout.adm1_names[unit1[i]]} province (synthetic)"
        else:  # 6: the country as a whole
            out_lat[i], out_lon[i] = layout.country_lat, layout.country_lon
            coords_text[i] = country_name
            description[i] = f"{country_name} (synthetic)"

    # Admin columns follow the reported point, as in GED: none for a country-level location,
    # no second-order unit for a province-level one or a road.
    reported_unit2 = layout.locate(out_lat, out_lon)
    reported_unit1 = layout.adm2_parent[reported_unit2]
    adm_1 = [f"{layout.adm1_names[u]} province" for u in reported_unit1]
    adm_2 = [f"{layout.adm2_names[u]} region" for u in reported_unit2]
    for i in range(n):
        if prec[i] == 3:
            adm_1[i] = f"{layout.adm1_names[unit1[i]]} province"
            adm_2[i] = f"{layout.adm2_names[unit2[i]]} region"
        elif prec[i] in (4, 5):
            adm_2[i] = ""
            if prec[i] == 4:
                adm_1[i] = f"{layout.adm1_names[unit1[i]]} province"
        elif prec[i] == 6:
            adm_1[i] = adm_2[i] = ""
    return ReportedPlaces(out_lat, out_lon, coords_text, description, adm_1, adm_2)
