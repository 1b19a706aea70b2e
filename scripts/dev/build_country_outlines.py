#!/usr/bin/env python3
"""Rebuild ``src/tocsin/geo/data/countries_50m.parquet`` from Natural Earth (npm ``world-atlas``).

This is a one-off converter kept in the repository so that the shipped file is reproducible.
Nothing at run time needs it (or node, or npm). What it does:

1. installs ``world-atlas@2.0.2`` (Natural Earth 1:50m, TopoJSON) and ``topojson-client@3.1.0``
   with npm into a temporary folder, never into the repository;
2. converts the ``countries`` object to GeoJSON with ``topo2geo`` (the reference decoder);
3. maps world-atlas ids (ISO 3166-1 numeric) to ISO3, names and Gleditsch-Ward (GW) codes with the
   table of ``country_converter`` (coco), read directly from its TSV because its import breaks
   with recent pandas. coco is not a project dependency: install it into a temporary folder and
   point ``--coco-dir`` at it (see Usage);
4. fixes the few GW codes where coco differs from the Gleditsch-Ward list that UCDP uses
   (``GW_OVERRIDES``) and folds the de-facto entities Natural Earth draws separately into the
   state UCDP counts them in (``MERGE_INTO``);
5. writes a GeoParquet file (WKB geometry, zstd) with one row per ISO3 country: ``iso3``,
   ``iso_numeric``, ``name``, ``gw_code`` (nullable), ``ged_region`` (UCDP region), ``area_km2``
   (geodesic, WGS84) and ``geometry``.

Usage::

    pip install --no-deps --target /tmp/coco country_converter==1.3.2
    .venv/bin/python scripts/dev/build_country_outlines.py --coco-dir /tmp/coco

Natural Earth is in the public domain; world-atlas is ISC-licensed (Mike Bostock).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.affinity
from pyproj import Geod

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "src" / "tocsin" / "geo" / "data" / "countries_50m.parquet"
WORLD_ATLAS = "world-atlas@2.0.2"
TOPOJSON_CLIENT = "topojson-client@3.1.0"

# Gleditsch & Ward (1999) codes as UCDP uses them, where coco's table differs.
GW_OVERRIDES = {"CZE": 316, "YEM": 678, "VNM": 816, "SRB": 345, "RUS": 365}

# Natural Earth features without an ISO numeric id (or sharing one): fold them into the state that
# the Gleditsch-Ward system (and so UCDP) counts them in. Siachen Glacier is disputed between India
# and Pakistan and is left out.
MERGE_INTO = {
    "Somaliland": "SOM",
    "N. Cyprus": "CYP",
    "Indian Ocean Ter.": "AUS",
    "Ashmore and Cartier Is.": "AUS",
}
NO_NUMERIC_ID = {"Kosovo": "XKX"}
SKIPPED = {"Siachen Glacier"}

# UCDP regions follow Gleditsch-Ward code ranges; territories without a GW code: coco's continent.
CONTINENT_TO_REGION = {
    "Africa": "Africa",
    "America": "Americas",
    "Europe": "Europe",
    "Asia": "Asia",
    "Oceania": "Asia",  # UCDP counts Oceania (GW 900-999) in its Asia region
    "Antarctica": "",
}
COORDINATE_GRID = 1e-5  # degrees; the 1:50m TopoJSON is quantized far coarser (~0.002 degrees)


def ged_region(gw_code: int | None, continent: str) -> str:
    if gw_code is None:
        return CONTINENT_TO_REGION.get(continent, "")
    if gw_code < 200:
        return "Americas"
    if gw_code < 400:
        return "Europe"
    if gw_code < 630:
        return "Africa"
    if gw_code < 700:
        return "Middle East"
    return "Asia"


def topojson_to_geojson(workdir: Path) -> dict:
    subprocess.run(
        [
            "npm",
            "install",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(workdir),
            WORLD_ATLAS,
            TOPOJSON_CLIENT,
        ],
        check=True,
    )
    topo = workdir / "node_modules" / "world-atlas" / "countries-50m.json"
    out = workdir / "countries.geojson"
    with topo.open("rb") as src, out.open("wb") as dst:
        subprocess.run(
            [str(workdir / "node_modules" / ".bin" / "topo2geo"), "countries=-"],
            stdin=src,
            stdout=dst,
            check=True,
        )
    return json.loads(out.read_text(encoding="utf-8"))


def unwrap_ring(ring: list[list[float]]) -> tuple[np.ndarray, int]:
    """Make longitudes continuous where a ring jumps across the antimeridian (d3 draws spherical
    polygons; planar shapely needs them cut). Returns the ring and its net turns around the pole."""
    coords = np.asarray(ring, dtype=float)[:, :2].copy()
    jumps = np.diff(coords[:, 0])
    offsets = np.concatenate([[0.0], np.cumsum(-360.0 * np.sign(jumps) * (np.abs(jumps) > 180))])
    coords[:, 0] += offsets
    return coords, int(round(offsets[-1] / 360.0))


def planar_polygon(rings: list[list[list[float]]]) -> shapely.Geometry:
    """One GeoJSON polygon as planar shapely geometry, cut at the antimeridian if it crosses it."""
    if not any(
        abs(a[0] - b[0]) > 180 for ring in rings for a, b in zip(ring, ring[1:], strict=False)
    ):
        return shapely.make_valid(shapely.Polygon(rings[0], rings[1:]))
    unwrapped = []
    for ring in rings:
        coords, turns = unwrap_ring(ring)
        if turns:  # a ring around a pole (Antarctica): close it along the pole
            pole = -90.0 if coords[:, 1].mean() < 0 else 90.0
            coords = np.vstack([coords, [[coords[-1, 0], pole], [coords[0, 0], pole]]])
        unwrapped.append(coords)
    shape = shapely.make_valid(shapely.Polygon(unwrapped[0], unwrapped[1:]))
    pieces = []
    for shift in (-360.0, 0.0, 360.0):
        window = shapely.box(-180.0 + shift, -90.0, 180.0 + shift, 90.0)
        piece = shapely.intersection(shape, window)
        if not piece.is_empty:
            pieces.append(shapely.affinity.translate(piece, xoff=-shift))
    return shapely.make_valid(shapely.union_all(pieces))


def feature_geometry(geometry: dict) -> shapely.Geometry:
    polygons = (
        geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    )
    return shapely.union_all([planar_polygon(rings) for rings in polygons])


def polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Drop the slivers of lines and points that make_valid can leave."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts)


def country_table(coco_dir: Path) -> pd.DataFrame:
    table = pd.read_csv(
        coco_dir / "country_converter" / "country_data.tsv",
        sep="\t",
        dtype=str,
        keep_default_na=False,  # "NA" is Namibia
    )
    table = table[table["ISOnumeric"] != ""].copy()
    table["iso_numeric"] = table["ISOnumeric"].str.zfill(3)
    return table.set_index("iso_numeric")


def build(coco_dir: Path) -> gpd.GeoDataFrame:
    codes = country_table(coco_dir)
    by_iso3 = codes.reset_index().set_index("ISO3")
    with tempfile.TemporaryDirectory() as tmp:
        collection = topojson_to_geojson(Path(tmp))
    parts: dict[str, list] = {}
    for feature in collection["features"]:
        name = feature["properties"]["name"]
        if name in SKIPPED or feature["geometry"] is None:
            continue
        if name in MERGE_INTO:
            iso3 = MERGE_INTO[name]
        elif name in NO_NUMERIC_ID:
            iso3 = NO_NUMERIC_ID[name]
        else:
            iso3 = codes.loc[feature["id"], "ISO3"]
        parts.setdefault(iso3, []).append(feature_geometry(feature["geometry"]))
    geod = Geod(ellps="WGS84")
    rows = []
    for iso3, geoms in sorted(parts.items()):
        geom = polygonal(shapely.set_precision(shapely.union_all(geoms), COORDINATE_GRID))
        info = by_iso3.loc[iso3]
        gw_raw = GW_OVERRIDES.get(iso3, info["GWcode"])
        gw_code = int(gw_raw) if str(gw_raw) else None
        area_km2 = abs(geod.geometry_area_perimeter(geom)[0]) / 1e6
        rows.append(
            {
                "iso3": iso3,
                "iso_numeric": info["iso_numeric"],
                "name": info["name_short"],
                "gw_code": gw_code,
                "ged_region": ged_region(gw_code, info["continent"]),
                "area_km2": round(area_km2, 1),
                "geometry": geom,
            }
        )
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    frame["gw_code"] = frame["gw_code"].astype("Int32")
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coco-dir", type=Path, required=True, help="folder coco was installed to")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    frame = build(args.coco_dir)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(args.out, compression="zstd", index=False, write_covering_bbox=False)
    print(f"wrote {len(frame)} countries to {args.out} ({args.out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
