"""Server-drawn maps and charts: geometry, aggregation, and bad input."""

from __future__ import annotations

import pytest

from tocsin.web import charts
from tocsin.web.svgmap import (
    DEFAULT_MAX_POINTS,
    MapPoint,
    box_of_country,
    box_of_points,
    padded_box,
    render_map,
)


def test_points_are_projected_inside_the_frame() -> None:
    box = box_of_country("CAF")
    points = [MapPoint(18.56, 4.36, "one_sided"), MapPoint(22.0, 8.0, "state_based")]
    m = render_map(points, box, width=600, focus=["CAF"])
    assert m.width == 600 and 300 < m.height < 600
    assert not m.aggregated and m.points_drawn == 2
    for marker in m.markers:
        assert 0 <= marker.x <= m.width and 0 <= marker.y <= m.height
    caf = next(c for c in m.countries if c.iso3 == "CAF")
    assert caf.focus and caf.d.startswith("M") and caf.d.endswith("Z")
    assert m.countries[-1].focus  # drawn last, on top
    assert {"CMR", "TCD", "SSD", "COD"} <= {c.iso3 for c in m.countries}


def test_points_outside_the_box_are_not_drawn() -> None:
    m = render_map([MapPoint(100.0, 10.0, "x")], box_of_country("CAF"))
    assert m.points_drawn == 0 and m.markers == ()


def test_many_points_are_aggregated_into_cells() -> None:
    points = [
        MapPoint(16 + (i % 100) * 0.1, 3 + (i // 100) * 0.1, "one_sided") for i in range(5000)
    ]
    m = render_map(points, box_of_country("CAF"))
    assert m.aggregated and len(points) > DEFAULT_MAX_POINTS
    assert sum(marker.count for marker in m.markers) == m.points_drawn == 5000
    assert len(m.markers) < 2000


def test_boxes() -> None:
    assert box_of_points([]) is None
    west, south, east, north = box_of_points([MapPoint(10.0, 10.0, "x")])
    assert east - west >= 1.0 and north - south >= 1.0
    assert padded_box((179.5, 84.0, 180.0, 85.0))[2] == 180.0
    for bad in ((1.0, 2.0, 0.0, 3.0), (float("nan"), 0.0, 1.0, 1.0)):
        with pytest.raises(ValueError):
            padded_box(bad)
    with pytest.raises(ValueError):
        render_map([], box_of_country("CAF"), width=10)


def test_stacked_bars_keep_gaps_and_order() -> None:
    chart = charts.stacked_bars(
        ["2022-01", "2022-02", "2022-03"],
        {"2022-01": {"a": 2, "b": 1}, "2022-03": {"a": 3}},
        ["a", "b"],
        width=300,
        height=100,
    )
    assert chart.peak == 3 and not chart.empty
    assert [s.category for s in chart.segments] == ["a", "b", "a"]
    first_a, first_b, last_a = chart.segments
    assert first_b.y + first_b.h == pytest.approx(first_a.y)  # stacked on top
    assert last_a.x > 200  # the empty February keeps its slot
    assert charts.stacked_bars([], {}, ["a"]).empty
    assert charts.stacked_bars(["x"], {}, ["a"]).empty


def test_horizontal_bars() -> None:
    chart = charts.horizontal_bars([("Ouham", 10), ("A" * 60, 5)])
    assert chart.bars[0].w > chart.bars[1].w > 0
    assert chart.bars[1].label.endswith("…") and len(chart.bars[1].label) == 40
    assert charts.horizontal_bars([]).bars == ()
