#!/usr/bin/env python3
"""Rebuild the offline basemap ``src/tocsin/web/static/basemap/countries.geojson``.

The map page draws country outlines without any network: this file is derived from the Natural
Earth 1:50m outlines already shipped in ``src/tocsin/geo/data/countries_50m.parquet`` (see
``scripts/dev/build_country_outlines.py``; Natural Earth is in the public domain). Steps:

1. read the outlines (one (multi)polygon per ISO3 code);
2. simplify them *as a coverage* (``shapely.coverage_simplify``), so neighbouring countries keep
   their shared borders exactly: no gaps or overlaps appear between them;
3. snap coordinates to 0.01 degree (about 1 km), which is below the simplification error;
4. write compact GeoJSON with ``iso3`` and ``name`` properties, sorted by ISO3.

Land is drawn as the fill of these polygons, so no separate land layer is needed.

Usage::

    .venv/bin/python scripts/dev/build_basemap.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import shapely

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "src" / "tocsin" / "geo" / "data" / "countries_50m.parquet"
OUT = REPO / "src" / "tocsin" / "web" / "static" / "basemap" / "countries.geojson"
TOLERANCE = 0.05  # coverage_simplify tolerance, degrees
GRID = 0.01  # coordinate precision, degrees


def build() -> dict:
    table = pq.read_table(SOURCE).to_pydict()
    geometries = shapely.from_wkb(np.asarray(table["geometry"], dtype=object))
    if not shapely.coverage_is_valid(geometries):
        raise SystemExit("the shipped outlines are not a valid coverage; cannot simplify safely")
    simple = shapely.set_precision(shapely.coverage_simplify(geometries, TOLERANCE), GRID)
    features = []
    for iso3, name, geometry in sorted(
        zip(table["iso3"], table["name"], simple, strict=True), key=lambda row: row[0]
    ):
        if shapely.is_empty(geometry):
            continue
        features.append(
            {
                "type": "Feature",
                "properties": {"iso3": iso3, "name": name},
                "geometry": json.loads(shapely.to_geojson(geometry)),
            }
        )
    return {"type": "FeatureCollection", "features": features}


def main() -> None:
    collection = build()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(collection, ensure_ascii=False, separators=(",", ":"))
    OUT.write_text(text + "\n", encoding="utf-8")
    count = len(collection["features"])
    print(f"wrote {OUT.relative_to(REPO)}: {count} countries, {len(text) // 1024} KiB")


if __name__ == "__main__":
    main()
