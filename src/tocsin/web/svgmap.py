"""Static maps drawn on the server as SVG: country outlines and incident points, no browser.

Used by the situation report (HTML and PDF) and as the map page's picture without JavaScript.
The outlines are the Natural Earth polygons shipped in ``tocsin.geo`` (public domain), clipped
to the map's box and simplified to half a pixel. The projection is equirectangular with the
longitude scaled by the cosine of the middle latitude, which keeps shapes true enough at the
scale of a country or a province.

Only numbers and enum values are put into path data and attributes; names go through Jinja2's
autoescaping in the template (``templates/_svgmap.html``).

Above ``max_points`` points the map switches to counts per grid cell (circles whose area is
proportional to the count), so the SVG stays small whatever the number of incidents.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import shapely

from tocsin.geo.countries import country_outline, list_countries

Box = tuple[float, float, float, float]  # west, south, east, north

MIN_SPAN_DEG = 1.0
PAD_FRACTION = 0.06
DEFAULT_MAX_POINTS = 2000
GRID_COLUMNS = 48  # cells across the map when points are aggregated


@dataclass(frozen=True, slots=True)
class MapPoint:
    lon: float
    lat: float
    category: str  # a CSS class suffix, e.g. a violence type value


@dataclass(frozen=True, slots=True)
class CountryShape:
    iso3: str
    name: str
    d: str  # SVG path data
    focus: bool


@dataclass(frozen=True, slots=True)
class Marker:
    x: float
    y: float
    r: float
    category: str
    count: int


@dataclass(frozen=True, slots=True)
class SvgMap:
    width: int
    height: int
    box: Box
    countries: tuple[CountryShape, ...]
    markers: tuple[Marker, ...]
    aggregated: bool  # True: markers are grid-cell counts, not single incidents
    points_drawn: int  # incidents represented (each once)


class _Projection:
    def __init__(self, box: Box, width: int) -> None:
        west, south, east, north = box
        self.west, self.north = west, north
        self.kx = math.cos(math.radians((south + north) / 2))
        self.scale = width / ((east - west) * self.kx)
        self.height = max(1, round((north - south) * self.scale))

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        return (
            round((lon - self.west) * self.kx * self.scale, 1),
            round((self.north - lat) * self.scale, 1),
        )


def padded_box(box: Box) -> Box:
    """``box`` with a margin, at least ``MIN_SPAN_DEG`` wide and high, within the globe."""
    west, south, east, north = box
    if not all(math.isfinite(v) for v in box) or west > east or south > north:
        raise ValueError(f"not a valid lon/lat box: {box}")
    cx, cy = (west + east) / 2, (south + north) / 2
    half_w = max(east - west, MIN_SPAN_DEG) * (0.5 + PAD_FRACTION)
    half_h = max(north - south, MIN_SPAN_DEG) * (0.5 + PAD_FRACTION)
    return (
        max(-180.0, cx - half_w),
        max(-85.0, cy - half_h),
        min(180.0, cx + half_w),
        min(85.0, cy + half_h),
    )


def box_of_country(iso3: str) -> Box:
    minx, miny, maxx, maxy = shapely.bounds(country_outline(iso3))
    return padded_box((float(minx), float(miny), float(maxx), float(maxy)))


def box_of_points(points: Iterable[MapPoint]) -> Box | None:
    lons, lats = [], []
    for p in points:
        lons.append(p.lon)
        lats.append(p.lat)
    if not lons:
        return None
    return padded_box((min(lons), min(lats), max(lons), max(lats)))


def _path(geometry: shapely.Geometry, project: _Projection) -> str:
    parts: list[str] = []
    polygons = shapely.get_parts(geometry)
    for polygon in polygons:
        if shapely.get_type_id(polygon) != 3:  # clipping can leave lines or points: skip them
            continue
        holes = shapely.get_num_interior_rings(polygon)
        rings = [shapely.get_exterior_ring(polygon)]
        rings += [shapely.get_interior_ring(polygon, k) for k in range(holes)]
        for ring in rings:
            coords = shapely.get_coordinates(ring)
            if len(coords) < 4:
                continue
            xy = [project.xy(float(lon), float(lat)) for lon, lat in coords[:-1]]
            parts.append("M" + "L".join(f"{x:g} {y:g}" for x, y in xy) + "Z")
    return "".join(parts)


def _countries(box: Box, project: _Projection, focus: set[str]) -> list[CountryShape]:
    west, south, east, north = box
    frame = shapely.box(west, south, east, north)
    tolerance = 0.5 / (project.scale * project.kx)  # half a pixel, in degrees
    shapes = []
    for country in list_countries():
        outline = country_outline(country.iso3)
        if not shapely.intersects(outline, frame):
            continue
        clipped = shapely.clip_by_rect(outline, west, south, east, north)
        simple = shapely.simplify(clipped, tolerance, preserve_topology=True)
        d = _path(simple, project)
        if d:
            shapes.append(CountryShape(country.iso3, country.name, d, country.iso3 in focus))
    # Focus countries last, so their outline is drawn on top of the neighbours' borders.
    shapes.sort(key=lambda c: c.focus)
    return shapes


def _inside(p: MapPoint, box: Box) -> bool:
    west, south, east, north = box
    return west <= p.lon <= east and south <= p.lat <= north


def _markers(
    points: Sequence[MapPoint], box: Box, project: _Projection, max_points: int, radius: float
) -> tuple[list[Marker], bool]:
    if len(points) <= max_points:
        return [Marker(*project.xy(p.lon, p.lat), radius, p.category, 1) for p in points], False
    west, south, east, north = box
    cell = (east - west) / GRID_COLUMNS
    cells: Counter[tuple[int, int]] = Counter()
    kinds: dict[tuple[int, int], Counter[str]] = {}
    for p in points:
        key = (int((p.lon - west) // cell), int((p.lat - south) // cell))
        cells[key] += 1
        kinds.setdefault(key, Counter())[p.category] += 1
    top = max(cells.values())
    cell_px = cell * project.kx * project.scale
    markers = []
    for (i, j), n in sorted(cells.items(), key=lambda kv: -kv[1]):
        x, y = project.xy(west + (i + 0.5) * cell, south + (j + 0.5) * cell)
        r = round(max(1.5, 0.5 * cell_px * 1.4 * math.sqrt(n / top)), 1)
        # The cell takes the colour of its most frequent category.
        markers.append(Marker(x, y, r, kinds[(i, j)].most_common(1)[0][0], n))
    return markers, True


def render_map(
    points: Sequence[MapPoint],
    box: Box,
    *,
    width: int = 720,
    focus: Iterable[str] = (),
    max_points: int = DEFAULT_MAX_POINTS,
    point_radius: float = 3.5,
) -> SvgMap:
    """The geometry of a static map of ``points`` over the country outlines within ``box``."""
    if width < 50 or width > 5000:
        raise ValueError("map width must be between 50 and 5000 pixels")
    project = _Projection(box, width)
    inside = [p for p in points if _inside(p, box)]
    markers, aggregated = _markers(inside, box, project, max_points, point_radius)
    return SvgMap(
        width=width,
        height=project.height,
        box=box,
        countries=tuple(_countries(box, project, set(focus))),
        markers=tuple(markers),
        aggregated=aggregated,
        points_drawn=len(inside),
    )
