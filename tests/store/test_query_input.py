"""Malformed and hostile query input is refused with a clear QueryError, before any SQL runs."""

from __future__ import annotations

import math
from datetime import date, datetime

import pytest

from tests.store.builders import make_event, store
from tocsin.domain.taxonomy import SensitivityTier, ViolenceType
from tocsin.store.queries import EventQuery, QueryError, Scope, count_events, search_events
from tocsin.store.query_geometry import MAX_POLYGON_VERTICES


def _square(w: float, s: float, e: float, n: float) -> list[list[float]]:
    return [[w, s], [e, s], [e, n], [w, n], [w, s]]


BAD_QUERIES = [
    # bounding boxes
    ({"bbox": (19.0, 4.0, 18.0, 5.0)}, "antimeridian"),
    ({"bbox": (18.0, 5.0, 19.0, 4.0)}, "min_lat"),
    ({"bbox": (18.0, 4.0, 19.0, 95.0)}, "out of range"),
    ({"bbox": (-181.0, 4.0, 19.0, 5.0)}, "out of range"),
    ({"bbox": (18.0, 4.0, 19.0)}, "four numbers"),
    ({"bbox": "18,4,19,5"}, "four numbers"),
    ({"bbox": (18.0, math.nan, 19.0, 5.0)}, "finite"),
    ({"bbox": (18.0, "4", 19.0, 5.0)}, "number"),
    ({"bbox": (True, 4.0, 19.0, 5.0)}, "number"),
    # radius
    ({"radius": (95.0, 18.0, 10.0)}, "out of range"),
    ({"radius": (4.0, 18.0, -5.0)}, "greater than 0"),
    ({"radius": (4.0, 18.0, 0.0)}, "greater than 0"),
    ({"radius": (4.0, 18.0, 1e9)}, "limit"),
    ({"radius": (4.0, 18.0, math.inf)}, "finite"),
    ({"radius": (4.0, 18.0)}, "three numbers"),
    # polygons
    ({"polygon": {"type": "Point", "coordinates": [18.0, 4.0]}}, "Polygon or MultiPolygon"),
    ({"polygon": {"type": "LineString", "coordinates": [[18, 4], [19, 5]]}}, "Polygon or Multi"),
    (
        {"polygon": {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": []}}},
        "Polygon or MultiPolygon",
    ),
    ({"polygon": "POLYGON((18 4, 19 4, 19 5, 18 4))"}, "geometry object"),
    ({"polygon": {"type": "Polygon", "coordinates": []}}, "exterior ring"),
    ({"polygon": {"type": "Polygon", "coordinates": "abc"}}, "must be a list"),
    (
        {"polygon": {"type": "Polygon", "coordinates": [[[18, 4], [19, 4], [19, 5], [18, 5]]]}},
        "not closed",
    ),
    ({"polygon": {"type": "Polygon", "coordinates": [[[18, 4], [19, 4], [18, 4]]]}}, "at least 4"),
    (  # a bow tie: the ring crosses itself
        {"polygon": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}},
        "Self-intersection",
    ),
    (
        {
            "polygon": {
                "type": "Polygon",
                "coordinates": [_square(18, 4, 19, 5), _square(30, 4, 31, 5)],
            }
        },
        "not a valid geometry",  # a hole outside its shell
    ),
    (
        {"polygon": {"type": "Polygon", "coordinates": [[[18, 4], [19, 4], [19, 95], [18, 4]]]}},
        "out of range",
    ),
    (
        {"polygon": {"type": "Polygon", "coordinates": [[[18, 4], [19, "4"], [19, 5], [18, 4]]]}},
        "number",
    ),
    (
        {
            "polygon": {
                "type": "Polygon",
                "coordinates": [[[18, 4, 0, 0], [19, 4], [19, 5], [18, 4]]],
            }
        },
        "position",
    ),
    (
        {"polygon": {"type": "Polygon", "coordinates": [[[18, 4], [18, 4], [18, 4], [18, 4]]]}},
        "valid geometry|no area",
    ),
    (
        {
            "polygon": {
                "type": "Polygon",
                "coordinates": [[[0.0, i / 1e5] for i in range(100_000)] + [[0.0, 0.0]]],
            }
        },
        "positions; the limit",
    ),
    (
        {"polygon": {"type": "MultiPolygon", "coordinates": [[_square(0, 0, 1, 1)]] * 5000}},
        "rings; the limit",
    ),
    # attributes
    ({"pcode": "CF11%"}, "pcode"),
    ({"pcode": "' OR 1=1 --"}, "pcode"),
    ({"pcode": "C"}, "pcode"),
    ({"country_iso3": "CA"}, "3-letter"),
    ({"country_iso3": "C4F"}, "3-letter"),
    ({"start": date(2021, 2, 1), "end": date(2021, 1, 1)}, "after end"),
    ({"start": "2021-01-01"}, "must be a date"),
    ({"end": datetime(2021, 1, 1, 12, 0)}, "must be a date"),
    ({"violence_types": ("genocide",)}, "unknown violence type"),
    ({"act_types": ("killing", "teleportation")}, "unknown act type"),
    ({"threat_categories": (3,)}, "unknown threat category"),
    ({"violence_types": 3}, "list of values"),
    ({"actor": "   "}, "non-empty"),
    ({"actor": "x" * 256}, "255"),
    ({"actor_role": "perpetrator"}, "needs an actor"),
    ({"actor": "UPC", "actor_role": "bystander"}, "unknown actor role"),
    ({"min_fatalities": -1}, "between 0"),
    ({"min_fatalities": 2.5}, "whole number"),
    ({"min_fatalities": True}, "whole number"),
    ({"min_fatalities": 10**12}, "between 0"),
    ({"dataset": ""}, "dataset"),
    ({"dataset": "d" * 65}, "dataset"),
    ({"sort": "random"}, "unknown sort"),
]


@pytest.mark.parametrize(("fields", "message"), BAD_QUERIES, ids=[m for _, m in BAD_QUERIES])
def test_bad_query_input_is_a_clear_query_error(fields: dict, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        EventQuery(**fields)


def test_query_error_is_a_value_error() -> None:
    assert issubclass(QueryError, ValueError)


def test_good_input_is_normalised() -> None:
    query = EventQuery(
        bbox=[18, 4, 19, 5],
        radius=[4, 18, 10],
        pcode="cf11",
        country_iso3="caf",
        violence_types="one_sided",
        act_types=["killing", "killing"],
        polygon={
            "type": "Polygon",
            "coordinates": [[[18, 4, 300.0], [19, 4], [19, 5], [18, 4]]],
            "crs": {"type": "name", "properties": {"name": "EPSG:3857"}},  # ignored, RFC 7946
        },
    )
    assert query.bbox == (18.0, 4.0, 19.0, 5.0)
    assert query.radius == (4.0, 18.0, 10.0)
    assert (query.pcode, query.country_iso3) == ("CF11", "CAF")
    assert query.violence_types == (ViolenceType.ONE_SIDED,)
    assert len(query.act_types) == 1
    assert query.polygon_filter is not None
    assert "crs" not in query.polygon_filter.geojson
    assert query.polygon_filter.bounds == (18.0, 4.0, 19.0, 5.0)


def test_scope_values_are_checked_and_required() -> None:
    with pytest.raises(QueryError, match="unknown scope tiers"):
        Scope(frozenset({"top_secret"}), frozenset({"general"}))
    assert Scope.up_to("restricted").tiers == {
        SensitivityTier.PUBLIC,
        SensitivityTier.INTERNAL,
        SensitivityTier.RESTRICTED,
    }
    assert Scope.public().tiers == {SensitivityTier.PUBLIC}


def test_hostile_text_is_data_not_sql(engine) -> None:
    store(engine, [make_event("a", dataset="x'; DROP TABLE events; --", place_name="Bria")])
    with engine.connect() as conn:
        everything = Scope.everything()
        assert count_events(conn, EventQuery(actor="'; DROP TABLE events; --"), everything) == 0
        assert count_events(conn, EventQuery(dataset="x'; DROP TABLE events; --"), everything) == 1
        page = search_events(conn, EventQuery(actor="Robert'); --"), everything)
        assert page.total == 0 and page.items == []
        assert count_events(conn, EventQuery(), everything) == 1


def test_polygon_vertex_limit_is_inclusive() -> None:
    n = MAX_POLYGON_VERTICES - 1
    ring = [[math.cos(2 * math.pi * i / n), math.sin(2 * math.pi * i / n)] for i in range(n)]
    EventQuery(polygon={"type": "Polygon", "coordinates": [[*ring, ring[0]]]})
