"""PRIO-GRID ids follow the published formula, including at the edges of the grid."""

from __future__ import annotations

import math

import pytest

from tocsin.geo.distance import haversine_km, radius_bbox
from tocsin.geo.prio_grid import cell_bounds, cell_center, gid_for_point, neighbours


@pytest.mark.parametrize(
    ("lat", "lon"), [(5.399784, 26.486881), (-89.9, -179.9), (0.0, 0.0), (89.99, 179.99)]
)
def test_gid_matches_formula(lat: float, lon: float) -> None:
    expected = math.floor((lat + 90) / 0.5) * 720 + math.floor((lon + 180) / 0.5) + 1
    assert gid_for_point(lat, lon) == expected


def test_known_ucdp_cell() -> None:
    # GED event 36210 (CAR) lies in cell 137213 according to UCDP's own priogrid_gid.
    assert gid_for_point(5.399784, 26.486881) == 137213


def test_edges_stay_on_the_grid() -> None:
    assert gid_for_point(90.0, 180.0) == 360 * 720
    assert gid_for_point(-90.0, -180.0) == 1


def test_cell_geometry_round_trips() -> None:
    gid = gid_for_point(4.36, 18.55)
    lat, lon = cell_center(gid)
    min_lon, min_lat, max_lon, max_lat = cell_bounds(gid)
    assert min_lat <= 4.36 < max_lat and min_lon <= 18.55 < max_lon
    assert gid_for_point(lat, lon) == gid


def test_neighbours_wrap_at_the_antimeridian() -> None:
    gid = gid_for_point(0.25, 179.75)
    nbrs = neighbours(gid)
    assert len(nbrs) == 8
    assert gid_for_point(0.25, -179.75) in nbrs
    assert len(neighbours(gid_for_point(89.9, 0.1))) == 5


def test_haversine_and_radius_box() -> None:
    # One degree of latitude is ~111.2 km everywhere.
    assert haversine_km(0, 0, 1, 0) == pytest.approx(111.19, abs=0.05)
    box = radius_bbox(60.0, 10.0, 100.0)
    for bearing_lat, bearing_lon in ((60.0 + 0.899, 10.0), (60.0, 10.0 + 1.79)):
        assert box[1] <= bearing_lat <= box[3] and box[0] <= bearing_lon <= box[2]


@pytest.mark.parametrize(
    ("lat", "lon", "km"), [(60.0, 10.0, 1200.0), (-45.0, 100.0, 300.0), (0.0, 179.5, 200.0)]
)
def test_radius_box_contains_every_point_of_the_circle(lat: float, lon: float, km: float) -> None:
    min_lon, min_lat, max_lon, max_lat = radius_bbox(lat, lon, km)
    # Walk the circle: points at distance km on every bearing must be inside the box.
    ang = km / 6371.0088
    p1, l1 = math.radians(lat), math.radians(lon)
    for deg in range(0, 360, 2):
        b = math.radians(deg)
        p2 = math.asin(math.sin(p1) * math.cos(ang) + math.cos(p1) * math.sin(ang) * math.cos(b))
        l2 = l1 + math.atan2(
            math.sin(b) * math.sin(ang) * math.cos(p1), math.cos(ang) - math.sin(p1) * math.sin(p2)
        )
        plat = math.degrees(p2)
        plon = (math.degrees(l2) + 540.0) % 360.0 - 180.0
        assert min_lat - 1e-9 <= plat <= max_lat + 1e-9
        assert min_lon - 1e-9 <= plon <= max_lon + 1e-9


def test_radius_box_around_a_pole_spans_all_longitudes() -> None:
    assert radius_bbox(89.0, 0.0, 300.0) == (-180.0, pytest.approx(86.302, abs=1e-3), 180.0, 90.0)
