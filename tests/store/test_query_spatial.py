"""Bounding box, radius and polygon filters agree with plain geometry, on both backends."""

from __future__ import annotations

import math

from shapely.geometry import Point, shape

from tests.store.builders import make_event, store
from tocsin.geo.distance import EARTH_RADIUS_KM, haversine_km
from tocsin.store.queries import EventQuery, Scope, count_events, iter_events
from tocsin.store.query_geometry import cap_boxes

EVERYTHING = Scope.everything()


def _ids(engine, query: EventQuery) -> set[str]:
    with engine.connect() as conn:
        found = {s.event.provenance.original_id for s in iter_events(conn, query, EVERYTHING)}
        assert count_events(conn, query, EVERYTHING) == len(found)
    return found


def _points(engine, points: dict[str, tuple[float, float] | None]) -> None:
    store(
        engine,
        [
            make_event(
                name, latitude=None if p is None else p[0], longitude=None if p is None else p[1]
            )
            for name, p in points.items()
        ],
    )


def _destination(lat: float, lon: float, bearing_deg: float, km: float) -> tuple[float, float]:
    """The point ``km`` from (lat, lon) along a great circle (spherical formula)."""
    d = km / EARTH_RADIUS_KM
    p1, l1, b = math.radians(lat), math.radians(lon), math.radians(bearing_deg)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(
        math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    lon2 = (math.degrees(l2) + 540.0) % 360.0 - 180.0
    return (math.degrees(p2), lon2)


def test_bbox_edges_are_inclusive_and_outside_is_out(engine) -> None:
    _points(
        engine,
        {
            "inside": (4.5, 18.5),
            "west-edge": (4.5, 18.0),
            "east-edge": (4.5, 19.0),
            "south-edge": (4.0, 18.5),
            "north-edge": (5.0, 18.5),
            "corner": (5.0, 19.0),
            "just-west": (4.5, 17.999999),
            "just-north": (5.000001, 18.5),
            "far": (-4.5, -18.5),
            "no-coordinates": None,
        },
    )
    assert _ids(engine, EventQuery(bbox=(18.0, 4.0, 19.0, 5.0))) == {
        "inside",
        "west-edge",
        "east-edge",
        "south-edge",
        "north-edge",
        "corner",
    }
    # Negative coordinates (south-west quadrant) behave the same.
    assert _ids(engine, EventQuery(bbox=(-19.0, -5.0, -18.0, -4.0))) == {"far"}
    # A box touching the antimeridian from the east side.
    assert _ids(engine, EventQuery(bbox=(-180.0, -90.0, 180.0, 90.0))) == {
        "inside",
        "west-edge",
        "east-edge",
        "south-edge",
        "north-edge",
        "corner",
        "just-west",
        "just-north",
        "far",
    }


# (lat, lon, km): ordinary, high latitude (where r/cos(lat) underestimates the width), around
# both poles, across the antimeridian from either side, and a tiny circle.
CIRCLES = {
    "bangui": (4.36, 18.55, 50.0),
    "helsinki": (60.0, 25.0, 1200.0),
    "north-pole": (89.5, 0.0, 200.0),
    "south-pole": (-89.0, 45.0, 300.0),
    "fiji": (-16.5, 179.8, 100.0),
    "date-line-west": (10.0, -179.9, 80.0),
    "tiny": (0.0, 0.0, 0.5),
}


def _circle_points() -> dict[str, tuple[float, float]]:
    points: dict[str, tuple[float, float]] = {}
    for name, (lat, lon, km) in CIRCLES.items():
        points[f"{name}/centre"] = (lat, lon)
        for bearing in range(0, 360, 30):
            # Just inside and just outside the circle, all around it.
            points[f"{name}/{bearing}/in"] = _destination(lat, lon, bearing, km * 0.995)
            points[f"{name}/{bearing}/out"] = _destination(lat, lon, bearing, km * 1.005)
    points.update(
        {
            # Written by hand: across the date line from Fiji, beyond the poles, the pole itself.
            "hand/fiji-east": (-16.4, -179.7),
            "hand/fiji-far": (-16.5, -178.0),
            "hand/behind-north-pole": (89.0, 180.0),
            "hand/north-pole": (90.0, 0.0),
            "hand/behind-south-pole": (-88.5, -135.0),
            "hand/lon-180": (10.0, 180.0),
            "hand/lon-minus-180": (10.0, -180.0),
        }
    )
    return points


def test_radius_matches_haversine_truth(engine) -> None:
    points = _circle_points()
    _points(engine, points)
    for name, (lat, lon, km) in CIRCLES.items():
        truth = {pid for pid, p in points.items() if haversine_km(p[0], p[1], lat, lon) <= km}
        found = _ids(engine, EventQuery(radius=(lat, lon, km)))
        assert found == truth, name
        assert f"{name}/centre" in found and f"{name}/0/out" not in found
    # The hand-written dateline and pole points are where a naive box would lose them.
    assert "hand/fiji-east" in _ids(engine, EventQuery(radius=CIRCLES["fiji"]))
    assert "hand/behind-north-pole" in _ids(engine, EventQuery(radius=CIRCLES["north-pole"]))
    assert "hand/behind-south-pole" in _ids(engine, EventQuery(radius=CIRCLES["south-pole"]))
    assert {"hand/lon-180", "hand/lon-minus-180"} <= _ids(
        engine, EventQuery(radius=CIRCLES["date-line-west"])
    )


def test_cap_boxes_contain_every_point_of_the_circle() -> None:
    for lat, lon, km in CIRCLES.values():
        boxes = cap_boxes(lat, lon, km)
        for bearing in range(0, 360, 5):
            plat, plon = _destination(lat, lon, bearing, km * 0.9999)
            assert any(w <= plon <= e and s <= plat <= n for w, s, e, n in boxes), (lat, bearing)


SQUARE_WITH_HOLE = {
    "type": "Polygon",
    "coordinates": [
        [[18.0, 4.0], [20.0, 4.0], [20.0, 6.0], [18.0, 6.0], [18.0, 4.0]],
        [[18.8, 4.8], [18.8, 5.2], [19.2, 5.2], [19.2, 4.8], [18.8, 4.8]],  # a hole
    ],
}


def test_polygon_with_a_hole(engine) -> None:
    points = {
        "in-shell": (4.5, 18.5),
        "in-hole": (5.0, 19.0),
        "on-shell-edge": (5.0, 18.0),
        "on-hole-edge": (5.0, 18.8),
        "outside": (6.5, 19.0),
        "in-bbox-of-other-part": (8.5, 22.5),
    }
    _points(engine, points)
    truth = {
        k for k, (lat, lon) in points.items() if shape(SQUARE_WITH_HOLE).intersects(Point(lon, lat))
    }
    found = _ids(engine, EventQuery(polygon=SQUARE_WITH_HOLE))
    assert found == truth == {"in-shell", "on-shell-edge", "on-hole-edge"}
    multi = {
        "type": "MultiPolygon",
        "coordinates": [
            SQUARE_WITH_HOLE["coordinates"],
            [[[22.0, 8.0], [23.0, 8.0], [23.0, 9.0], [22.0, 9.0], [22.0, 8.0]]],
        ],
    }
    assert _ids(engine, EventQuery(polygon=multi)) == truth | {"in-bbox-of-other-part"}


def test_spatial_filters_combine_with_and(engine) -> None:
    _points(engine, {"a": (4.5, 18.5), "b": (4.5, 19.5), "c": (5.5, 18.5)})
    query = EventQuery(
        bbox=(18.0, 4.0, 20.0, 5.0), radius=(4.5, 18.5, 80.0), polygon=SQUARE_WITH_HOLE
    )
    assert _ids(engine, query) == {"a"}


def test_box_plus_period_uses_each_events_whole_period_across_backends(engine) -> None:
    """The spatial index also holds each event's [date_start, date_end] (3-D R*Tree on SQLite,
    GiST on geom + daterange on PostGIS): box + period must still be an overlap test on the
    event's whole period, with inclusive ends, including before 1970 (negative day numbers)."""
    from datetime import date

    at = {"latitude": 4.5, "longitude": 18.5}
    store(
        engine,
        [
            make_event("in-year", date_start=date(2020, 6, 1), **at),
            make_event("first-day", date_start=date(2020, 1, 1), **at),
            make_event("last-day", date_start=date(2020, 12, 31), **at),
            make_event("spans-in", date_start=date(2019, 12, 20), date_end=date(2020, 1, 3), **at),
            make_event("year-before", date_start=date(2019, 12, 31), **at),
            make_event("year-after", date_start=date(2021, 1, 1), **at),
            make_event("old", date_start=date(1960, 5, 5), **at),
            make_event("elsewhere", date_start=date(2020, 6, 1), latitude=-4.5, longitude=-18.5),
        ],
    )
    box = (18.0, 4.0, 19.0, 5.0)
    year = EventQuery(bbox=box, start=date(2020, 1, 1), end=date(2020, 12, 31))
    assert _ids(engine, year) == {"in-year", "first-day", "last-day", "spans-in"}
    assert _ids(engine, EventQuery(bbox=box, end=date(1969, 12, 31))) == {"old"}
    assert _ids(engine, EventQuery(bbox=box, start=date(2020, 12, 31))) == {
        "last-day",
        "year-after",
    }
    assert len(_ids(engine, EventQuery(bbox=box))) == 7
    radius = EventQuery(radius=(4.5, 18.5, 20.0), start=date(2021, 1, 1), end=date(2021, 1, 1))
    assert _ids(engine, radius) == {"year-after"}


def test_moving_an_event_in_time_moves_it_in_the_index(engine) -> None:
    from datetime import date

    at = {"latitude": 4.5, "longitude": 18.5}
    store(engine, [make_event("moved", date_start=date(2010, 3, 1), **at)])
    store(engine, [make_event("moved", date_start=date(2015, 3, 1), **at)])
    box = (18.0, 4.0, 19.0, 5.0)
    assert _ids(engine, EventQuery(bbox=box, start=date(2015, 1, 1), end=date(2015, 12, 31))) == {
        "moved"
    }
    assert (
        _ids(engine, EventQuery(bbox=box, start=date(2010, 1, 1), end=date(2010, 12, 31))) == set()
    )
