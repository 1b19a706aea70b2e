"""The shipped Natural Earth outlines: look-ups by code and by point."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from tocsin.geo.countries import (
    UnknownCountryError,
    countries_of_points,
    country_info,
    country_of_point,
    country_outline,
    list_countries,
)


def test_catalogue_has_every_country_once() -> None:
    countries = list_countries()
    codes = [c.iso3 for c in countries]
    assert len(codes) > 200
    assert len(set(codes)) == len(codes)
    assert codes == sorted(codes)
    assert all(len(code) == 3 and code.isalpha() and code.isupper() for code in codes)


def test_country_info_carries_ucdp_codes() -> None:
    car = country_info("CAF")
    assert car.name == "Central African Republic"
    assert car.gw_code == 482  # UCDP country_id
    assert car.ged_region == "Africa"
    assert 600_000 < car.area_km2 < 640_000  # 622,984 km2 officially; 1:50m is coarser
    assert country_info("XKX").gw_code == 347  # Kosovo has no ISO numeric id in world-atlas
    assert country_info(" caf ") == car


@pytest.mark.parametrize(
    "code", ["XXX", "", "CA", "CAFE", "🏳️", "'; DROP TABLE events;--", "x" * 10_000]
)
def test_unknown_codes_are_a_clear_error(code: str) -> None:
    with pytest.raises(UnknownCountryError, match="unknown country code"):
        country_outline(code)


def test_non_string_code_is_rejected() -> None:
    with pytest.raises(UnknownCountryError):
        country_outline(140)  # type: ignore[arg-type]


def test_outlines_are_valid_polygons() -> None:
    for code in ("CAF", "RUS", "FJI", "ATA", "USA", "KIR"):
        outline = country_outline(code)
        assert outline.geom_type in ("Polygon", "MultiPolygon")
        assert outline.is_valid
        assert -180 <= outline.bounds[0] <= outline.bounds[2] <= 180


@pytest.mark.parametrize(
    ("lat", "lon", "iso3"),
    [
        (4.3667, 18.5833, "CAF"),  # Bangui
        (55.75, 37.62, "RUS"),  # Moscow
        (66.0, -175.0, "RUS"),  # Chukotka, west of the antimeridian
        (-17.8, 178.0, "FJI"),  # Viti Levu
        (-80.0, 0.0, "ATA"),
        (43.94, 12.45, "SMR"),  # an enclave wins over the country around it
        (0.0, 0.0, None),  # Gulf of Guinea
    ],
)
def test_country_of_point(lat: float, lon: float, iso3: str | None) -> None:
    assert country_of_point(lat, lon) == iso3


@pytest.mark.parametrize(
    ("lat", "lon"), [(91.0, 0.0), (0.0, 180.5), (float("nan"), 0.0), (0.0, float("inf"))]
)
def test_bad_coordinates_are_a_clear_error(lat: float, lon: float) -> None:
    with pytest.raises(ValueError):
        country_of_point(lat, lon)


def test_vectorised_lookup_agrees_with_the_scalar_one() -> None:
    rng = np.random.default_rng(1)
    lat, lon = rng.uniform(-60, 70, 300), rng.uniform(-180, 180, 300)
    many = countries_of_points(lat, lon)
    assert list(many) == [country_of_point(a, b) or "" for a, b in zip(lat, lon, strict=True)]
    assert (many != "").sum() > 30


def test_points_inside_an_outline_map_back_to_it() -> None:
    outline = country_outline("CAF")
    rng = np.random.default_rng(2)
    minx, miny, maxx, maxy = outline.bounds
    lon, lat = rng.uniform(minx, maxx, 2000), rng.uniform(miny, maxy, 2000)
    inside = shapely.contains_xy(outline, lon, lat)
    assert set(countries_of_points(lat[inside], lon[inside])) == {"CAF"}
