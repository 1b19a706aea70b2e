"""The optional administrative-boundaries layer of the map (``TOCSIN_ADMIN_BOUNDARIES``).

Boundaries are not shipped (OCHA COD-AB files are CC BY-IGO and per country): an operator points
the setting at a file, e.g. ``caf_admin1.parquet``. It is read once with GeoPandas (GeoParquet,
GeoPackage, GeoJSON, shapefile), reprojected to WGS 84, simplified as a coverage (neighbouring
areas keep their shared edges, no slivers) and served as compact GeoJSON with only the name and
P-code of each area: the operator's other columns never reach the browser.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import shapely

SIMPLIFY_TOLERANCE = 0.005  # degrees, about 500 m: enough for an overview layer
MAX_FILE_BYTES = 200 * 1024 * 1024
_LEVEL_COLUMN = re.compile(r"^adm(\d)_(pcode|name)$", re.IGNORECASE)


class BoundariesError(ValueError):
    """The boundaries file cannot be used (unreadable, no polygons, no name column)."""


@dataclass(frozen=True, slots=True)
class Boundaries:
    geojson: str
    areas: int
    level: int | None


def _columns(frame: gpd.GeoDataFrame) -> tuple[str | None, str | None, int | None]:
    """The (name, pcode, level) columns of the finest admin level present (OCHA naming)."""
    levels: dict[int, dict[str, str]] = {}
    for column in frame.columns:
        match = _LEVEL_COLUMN.match(str(column))
        if match:
            levels.setdefault(int(match.group(1)), {})[match.group(2).lower()] = str(column)
    if levels:
        level = max(levels)
        return levels[level].get("name"), levels[level].get("pcode"), level
    for candidate in ("name", "NAME", "shapeName"):
        if candidate in frame.columns:
            return candidate, None, None
    return None, None, None


def load_boundaries(path: Path) -> Boundaries:
    if not path.is_file():
        raise BoundariesError(f"admin boundaries file not found: {path}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise BoundariesError(f"admin boundaries file is larger than {MAX_FILE_BYTES} bytes")
    try:
        reader = gpd.read_parquet if path.suffix.lower() == ".parquet" else gpd.read_file
        frame = reader(path)
    except Exception as exc:  # GDAL, Arrow and JSON errors all mean "cannot read this file"
        raise BoundariesError(f"cannot read admin boundaries from {path.name}: {exc}") from exc
    if frame.crs is None:
        raise BoundariesError(f"{path.name} has no coordinate reference system")
    frame = frame.to_crs(4326)
    polygonal = frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
    frame = frame[polygonal & frame.geometry.notna()]
    if frame.empty:
        raise BoundariesError(f"{path.name} holds no polygons")
    name_col, pcode_col, level = _columns(frame)
    if name_col is None:
        raise BoundariesError(f"{path.name} has no name column (adm<N>_name, name or shapeName)")
    geometries = shapely.make_valid(frame.geometry.to_numpy())
    try:
        simple = shapely.coverage_simplify(geometries, SIMPLIFY_TOLERANCE)
    except shapely.errors.GEOSException:  # not a clean coverage: simplify one by one
        simple = shapely.simplify(geometries, SIMPLIFY_TOLERANCE, preserve_topology=True)
    simple = shapely.set_precision(simple, 0.0001)
    features = []
    names = frame[name_col].astype("string").fillna("").tolist()
    pcodes = frame[pcode_col].astype("string").fillna("").tolist() if pcode_col else None
    for i, geometry in enumerate(simple):
        if shapely.is_empty(geometry):
            continue
        props = {"name": names[i][:200]}
        if pcodes is not None:
            props["pcode"] = pcodes[i][:32]
        features.append(
            {
                "type": "Feature",
                "properties": props,
                "geometry": json.loads(shapely.to_geojson(geometry)),
            }
        )
    text = json.dumps(
        {"type": "FeatureCollection", "features": features},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return Boundaries(text, len(features), level)


class BoundariesCache:
    """Loads the file on first request and again only when it changes on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[float, int] | None = None
        self._value: Boundaries | None = None

    def get(self) -> Boundaries:
        stat = self.path.stat()
        stamp = (stat.st_mtime, stat.st_size)
        with self._lock:
            if self._value is None or stamp != self._stamp:
                self._value = load_boundaries(self.path)
                self._stamp = stamp
            return self._value
