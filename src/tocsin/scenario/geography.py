"""The invented human geography of a scenario: admin units and a gazetteer of towns.

Real admin boundaries cannot be shipped for every country, so each country gets a synthetic
two-level partition: first-order units of about ``ADM1_KM2`` (the size of a CAR prefecture),
each split into about ``ADM2_PER_ADM1`` second-order units, as Voronoi cells of random seeds cut
to the real outline. The layout is seeded by the ISO3 code alone, so a country looks the same in
every scenario. Towns depend on the scenario: they are drawn from its background density, so hot
spots are where people live.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import shapely
from scipy.spatial import cKDTree

from tocsin.geo.countries import Country
from tocsin.scenario.hawkes import BackgroundSampler
from tocsin.scenario.names import NameMaker
from tocsin.scenario.spatial import OutlineSampler, km_for_chord, unit_vectors

ADM1_KM2 = 36_000.0
MAX_ADM1 = 40
ADM2_PER_ADM1 = 4
TOWN_KM2 = 2_500.0
MAX_TOWNS = 3_000
TOWN_SHARE = 0.15  # of the gazetteer: towns; the rest are villages, plus one city
COORD_DECIMALS = 6  # as GED writes coordinates


def country_seed(iso3: str) -> int:
    return int.from_bytes(hashlib.blake2b(iso3.encode(), digest_size=8).digest(), "big")


def round_coordinates(values: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(values, dtype=float), COORD_DECIMALS)


@dataclass(frozen=True)
class AdminLayout:
    adm1_names: tuple[str, ...]
    adm1_lat: np.ndarray  # anchor ("centroid" GED reports), rounded and inside the outline
    adm1_lon: np.ndarray
    adm2_names: tuple[str, ...]
    adm2_parent: np.ndarray  # adm1 index of each adm2 unit
    adm2_lat: np.ndarray
    adm2_lon: np.ndarray
    adm2_polygons: np.ndarray
    country_lat: float
    country_lon: float

    def locate(self, latitude: np.ndarray, longitude: np.ndarray) -> np.ndarray:
        """adm2 index of each point (nearest unit for points on no polygon)."""
        tree = shapely.STRtree(self.adm2_polygons)
        points = shapely.points(longitude, latitude)
        out = np.full(len(points), -1)
        point_idx, unit_idx = tree.query(points, predicate="intersects")
        out[point_idx[::-1]] = unit_idx[::-1]  # first match wins
        missing = np.flatnonzero(out < 0)
        if missing.size:
            near_point, near_unit = tree.query_nearest(points[missing], all_matches=False)
            out[missing[near_point]] = near_unit
        return out


def _anchor(
    polygon: shapely.Geometry, seed_lat: float, seed_lon: float, sampler: OutlineSampler
) -> tuple[float, float]:
    """A point GED-style "centroid" that lies inside the polygon and the country."""
    surface = shapely.point_on_surface(polygon)
    for lat, lon in ((surface.y, surface.x), (seed_lat, seed_lon)):
        r_lat, r_lon = round_coordinates([lat])[0], round_coordinates([lon])[0]
        if sampler.contains(np.array([r_lat]), np.array([r_lon]))[0]:
            return float(r_lat), float(r_lon)
    return float(seed_lat), float(seed_lon)  # the seed was drawn strictly inside


def _cells(seeds_lat: np.ndarray, seeds_lon: np.ndarray, region: shapely.Geometry) -> list:
    if len(seeds_lat) == 1:
        return [region]
    points = shapely.multipoints(np.column_stack([seeds_lon, seeds_lat]))
    diagram = shapely.voronoi_polygons(points, extend_to=region, ordered=True)
    cells = []
    for cell in shapely.get_parts(diagram):
        piece = shapely.intersection(cell, region)
        parts = [p for p in shapely.get_parts(piece) if p.geom_type == "Polygon"]
        cells.append(shapely.union_all(parts) if parts else shapely.Polygon())
    return cells


def _inside_seeds(
    sampler: OutlineSampler, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Seeds with rounded coordinates strictly inside the outline."""
    lat, lon = sampler.uniform(n, rng)
    lat, lon = round_coordinates(lat), round_coordinates(lon)
    bad = ~sampler.contains(lat, lon)
    while bad.any():
        lat[bad], lon[bad] = (round_coordinates(v) for v in sampler.uniform(int(bad.sum()), rng))
        bad = ~sampler.contains(lat, lon)
    return lat, lon


def admin_layout(country: Country, sampler: OutlineSampler) -> AdminLayout:
    rng = np.random.default_rng(country_seed(country.iso3))
    names = NameMaker(rng)
    n_adm1 = int(np.clip(round(country.area_km2 / ADM1_KM2), 1, MAX_ADM1))
    n_adm2 = n_adm1 * ADM2_PER_ADM1 if country.area_km2 > n_adm1 * ADM2_PER_ADM1 * 100 else n_adm1
    s1_lat, s1_lon = _inside_seeds(sampler, n_adm1, rng)
    s2_lat, s2_lon = _inside_seeds(sampler, n_adm2, rng)
    adm1_cells = _cells(s1_lat, s1_lon, sampler.outline)
    # Each adm2 seed belongs to the adm1 cell that holds it; every adm1 keeps at least its own seed.
    owner = np.full(n_adm2, -1)
    seed_idx, cell_idx = shapely.STRtree(adm1_cells).query(
        shapely.points(s2_lon, s2_lat), predicate="intersects"
    )
    owner[seed_idx[::-1]] = cell_idx[::-1]
    adm1_names, adm1_lat, adm1_lon = [], [], []
    adm2_names, adm2_parent, adm2_lat, adm2_lon, adm2_polys = [], [], [], [], []
    for i, cell in enumerate(adm1_cells):
        adm1_names.append(names.place())
        lat, lon = _anchor(cell, s1_lat[i], s1_lon[i], sampler)
        adm1_lat.append(lat)
        adm1_lon.append(lon)
        mine = np.flatnonzero(owner == i)
        if mine.size:
            sub_lat, sub_lon = s2_lat[mine], s2_lon[mine]
        else:
            sub_lat, sub_lon = s1_lat[i : i + 1], s1_lon[i : i + 1]
        for j, sub in enumerate(_cells(sub_lat, sub_lon, cell)):
            if sub.is_empty:
                continue
            adm2_names.append(names.place())
            adm2_parent.append(i)
            lat, lon = _anchor(sub, sub_lat[j], sub_lon[j], sampler)
            adm2_lat.append(lat)
            adm2_lon.append(lon)
            adm2_polys.append(sub)
    c_lat, c_lon = _anchor(sampler.outline, s1_lat[0], s1_lon[0], sampler)
    return AdminLayout(
        adm1_names=tuple(adm1_names),
        adm1_lat=np.array(adm1_lat),
        adm1_lon=np.array(adm1_lon),
        adm2_names=tuple(adm2_names),
        adm2_parent=np.array(adm2_parent),
        adm2_lat=np.array(adm2_lat),
        adm2_lon=np.array(adm2_lon),
        adm2_polygons=np.array(adm2_polys, dtype=object),
        country_lat=c_lat,
        country_lon=c_lon,
    )


@dataclass(frozen=True)
class Gazetteer:
    names: tuple[str, ...]
    kinds: tuple[str, ...]  # "city", "town" or "village"
    latitude: np.ndarray
    longitude: np.ndarray

    def nearest(
        self, latitude: np.ndarray, longitude: np.ndarray, k: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        """Great-circle distances (km) to the ``k`` nearest places, and their indices."""
        tree = cKDTree(unit_vectors(self.latitude, self.longitude))
        k = min(k, len(self.names))
        chord, index = tree.query(unit_vectors(latitude, longitude), k=k)
        return km_for_chord(chord), index


def build_gazetteer(
    country: Country,
    background: BackgroundSampler,
    names: NameMaker,
    rng: np.random.Generator,
) -> Gazetteer:
    n = int(np.clip(round(country.area_km2 / TOWN_KM2), 3, MAX_TOWNS))
    lat = np.empty(0)
    lon = np.empty(0)
    while lat.size < n:
        cand_lat, cand_lon = background.sample(2 * n, rng)
        cand_lat, cand_lon = round_coordinates(cand_lat), round_coordinates(cand_lon)
        inside = background.outline.contains(cand_lat, cand_lon)
        lat = np.concatenate([lat, cand_lat[inside]])
        lon = np.concatenate([lon, cand_lon[inside]])
    lat, lon = lat[:n], lon[:n]
    if len(background.weights):  # the city sits at the strongest hot spot's centre
        top = int(np.argmax(background.weights))
        c_lat = round_coordinates([background.centers_lat[top]])
        c_lon = round_coordinates([background.centers_lon[top]])
        if background.outline.contains(c_lat, c_lon)[0]:
            lat[0], lon[0] = c_lat[0], c_lon[0]
    n_towns = max(1, int(round(TOWN_SHARE * n)))
    kinds = tuple("city" if i == 0 else "town" if i <= n_towns else "village" for i in range(n))
    return Gazetteer(tuple(names.place() for _ in range(n)), kinds, lat, lon)
