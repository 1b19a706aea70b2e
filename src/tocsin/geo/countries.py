"""Country outlines (Natural Earth 1:50m, public domain) with ISO3 codes, shipped with Tocsin.

The file ``geo/data/countries_50m.parquet`` is built once, from the npm package ``world-atlas``,
by ``scripts/dev/build_country_outlines.py``; it holds one (multi)polygon per ISO3 code, the
Gleditsch-Ward code UCDP uses as ``country_id``, the UCDP region and the geodesic area. It is
loaded lazily on first use and cached; geometries are prepared and indexed in an STRtree so that
point look-ups take microseconds.

Disputed areas follow the Gleditsch-Ward state system UCDP uses (Somaliland in Somalia, northern
Cyprus in Cyprus); Siachen Glacier belongs to no country here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import pyarrow.parquet as pq
import shapely

DATA_FILE = "countries_50m.parquet"


class UnknownCountryError(ValueError):
    """An ISO3 code that is not in the shipped outlines."""


@dataclass(frozen=True)
class Country:
    iso3: str
    iso_numeric: str
    name: str
    gw_code: int | None  # Gleditsch-Ward code (UCDP ``country_id``); None for most territories
    ged_region: str  # UCDP region: Africa, Americas, Asia, Europe, Middle East (or "")
    area_km2: float


@dataclass(frozen=True)
class _Catalogue:
    countries: tuple[Country, ...]
    geometries: np.ndarray  # shapely geometries, prepared, same order as ``countries``
    index: dict[str, int]
    tree: shapely.STRtree


@cache
def _catalogue() -> _Catalogue:
    source = resources.files("tocsin.geo") / "data" / DATA_FILE
    with resources.as_file(source) as path:
        table = pq.read_table(path).to_pydict()
    geometries = shapely.from_wkb(np.asarray(table["geometry"], dtype=object))
    shapely.prepare(geometries)
    countries = tuple(
        Country(
            iso3=iso3,
            iso_numeric=iso_numeric,
            name=name,
            gw_code=None if gw is None else int(gw),
            ged_region=region,
            area_km2=float(area),
        )
        for iso3, iso_numeric, name, gw, region, area in zip(
            table["iso3"],
            table["iso_numeric"],
            table["name"],
            table["gw_code"],
            table["ged_region"],
            table["area_km2"],
            strict=True,
        )
    )
    index = {country.iso3: i for i, country in enumerate(countries)}
    return _Catalogue(countries, geometries, index, shapely.STRtree(geometries))


def _position(iso3: str) -> int:
    if not isinstance(iso3, str):
        raise UnknownCountryError(f"country code must be a string, got {type(iso3).__name__}")
    code = iso3.strip().upper()
    position = _catalogue().index.get(code)
    if position is None:
        shown = iso3[:20] + ("..." if len(iso3) > 20 else "")
        raise UnknownCountryError(
            f"unknown country code {shown!r}: expected an ISO 3166-1 alpha-3 code such as 'CAF' "
            "(see list_countries())"
        )
    return position


def list_countries() -> list[Country]:
    """Every country in the shipped outlines, ordered by ISO3 code."""
    return list(_catalogue().countries)


def country_info(iso3: str) -> Country:
    """Codes, name, region and area of one country; ``UnknownCountryError`` if not shipped."""
    return _catalogue().countries[_position(iso3)]


def country_outline(iso3: str) -> shapely.Geometry:
    """The (multi)polygon of one country in WGS84 longitude/latitude, prepared for fast tests."""
    return _catalogue().geometries[_position(iso3)]


def _check_coordinates(latitude: np.ndarray, longitude: np.ndarray) -> None:
    if not (np.all(np.isfinite(latitude)) and np.all(np.isfinite(longitude))):
        raise ValueError("coordinates must be finite numbers")
    if np.any(np.abs(latitude) > 90) or np.any(np.abs(longitude) > 180):
        raise ValueError("latitude must be within [-90, 90] and longitude within [-180, 180]")


def country_of_point(latitude: float, longitude: float) -> str | None:
    """ISO3 of the country containing the point (boundary included), or None at sea."""
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        raise ValueError("coordinates must be finite numbers")
    found = countries_of_points(np.array([latitude]), np.array([longitude]))[0]
    return found or None


def countries_of_points(latitudes: np.ndarray, longitudes: np.ndarray) -> np.ndarray:
    """Vectorised ``country_of_point``: an array of ISO3 codes, "" where no country contains it."""
    lat = np.asarray(latitudes, dtype=float)
    lon = np.asarray(longitudes, dtype=float)
    if lat.shape != lon.shape:
        raise ValueError("latitudes and longitudes must have the same shape")
    _check_coordinates(lat, lon)
    catalogue = _catalogue()
    out = np.full(lat.shape, "", dtype=object)
    if lat.size == 0:
        return out
    points = shapely.points(lon.ravel(), lat.ravel())
    point_idx, geom_idx = catalogue.tree.query(points, predicate="intersects")
    codes = np.array([c.iso3 for c in catalogue.countries], dtype=object)
    areas = np.array([c.area_km2 for c in catalogue.countries])
    flat = out.ravel()
    # A point can match two outlines: on a shared border, or in an enclave that the 1:50m outline
    # of the surrounding country does not cut out (the Vatican in Italy). The smallest country
    # wins, written last; ties go to the first ISO3 code.
    order = np.lexsort((-geom_idx, -areas[geom_idx], point_idx))
    flat[point_idx[order]] = codes[geom_idx[order]]
    return flat.reshape(lat.shape)
