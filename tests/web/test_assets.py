"""The shipped front-end files: vendored libraries with their licences and versions, the
offline basemap, the colour palette, and templates without inline scripts or styles."""

from __future__ import annotations

import json
import re
from pathlib import Path

import shapely

from tocsin.geo.countries import list_countries
from tocsin.web import palette

WEB = Path(__file__).resolve().parents[2] / "src" / "tocsin" / "web"
STATIC = WEB / "static"
VENDOR = STATIC / "vendor"
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "dev" / "vendor_frontend.sh"


def test_vendored_libraries_match_the_recorded_versions() -> None:
    versions = json.loads((VENDOR / "VERSIONS.json").read_text())
    script = SCRIPT.read_text()
    for name, variable in (
        ("leaflet", "LEAFLET_VERSION"),
        ("leaflet.markercluster", "MARKERCLUSTER_VERSION"),
    ):
        recorded = versions[name]["version"]
        assert f'{variable}="{recorded}"' in script
        assert versions[name]["integrity"].startswith("sha512-")
    assert (
        f"Leaflet {versions['leaflet']['version']}"
        in (VENDOR / "leaflet" / "leaflet.js").read_text()[:300]
    )
    for path in (
        "leaflet/LICENSE",
        "leaflet/leaflet.css",
        "leaflet/images/marker-icon.png",
        "leaflet.markercluster/MIT-LICENCE.txt",
        "leaflet.markercluster/leaflet.markercluster.js",
        "leaflet.markercluster/MarkerCluster.css",
    ):
        assert (VENDOR / path).is_file(), path


def test_nothing_is_loaded_from_a_cdn() -> None:
    pattern = re.compile(r"""(src|href)\s*=\s*["']?(https?:)?//""", re.IGNORECASE)
    templates = [p for p in WEB.glob("templates/**/*") if p.is_file()]
    for path in [*templates, *STATIC.glob("js/*.js"), *STATIC.glob("css/*.css")]:
        assert not pattern.search(path.read_text(encoding="utf-8")), path


def test_templates_have_no_inline_script_handler_or_style() -> None:
    for path in (p for p in WEB.glob("templates/**/*") if p.is_file()):
        text = path.read_text(encoding="utf-8")
        for script in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in script, f"{path.name}: inline script {script}"
        assert not re.search(r"\son[a-z]+\s*=", text), f"{path.name}: inline event handler"
        if path.name != "sitrep.html":  # a standalone file, not served under the CSP
            assert not re.search(r"\sstyle\s*=", text), f"{path.name}: inline style"
            assert "<style" not in text, path.name


def test_basemap_covers_every_shipped_country_compactly() -> None:
    path = STATIC / "basemap" / "countries.geojson"
    assert path.stat().st_size < 1_200_000
    collection = json.loads(path.read_text(encoding="utf-8"))
    codes = {f["properties"]["iso3"] for f in collection["features"]}
    assert codes == {c.iso3 for c in list_countries()}
    shapes = [shapely.from_geojson(json.dumps(f["geometry"])) for f in collection["features"]]
    assert all(shapely.is_valid(s) for s in shapes)
    minx, miny, maxx, maxy = shapely.total_bounds(shapes)
    assert minx >= -180 and maxx <= 180 and miny >= -90 and maxy <= 90
    caf = next(
        s
        for f, s in zip(collection["features"], shapes, strict=True)
        if f["properties"]["iso3"] == "CAF"
    )
    assert caf.contains(shapely.Point(18.56, 4.36))  # Bangui


def test_css_palette_matches_the_server_palette() -> None:
    css = (STATIC / "css" / "tocsin.css").read_text()
    for key, colour in palette.VIOLENCE_COLOURS.items():
        assert f"--vt-{key}: {colour};" in css
    for i, colour in enumerate(palette.RISK_COLOURS):
        assert f"--risk-{i}: {colour};" in css
    for key, colour in palette.MAP_COLOURS.items():
        assert f"--{key}: {colour};" in css
    assert ":focus-visible" in css and "outline: 3px solid" in css


def test_map_script_sets_text_only_through_text_content() -> None:
    js = (STATIC / "js" / "map.js").read_text()
    assert "innerHTML" not in js and "insertAdjacentHTML" not in js and "eval(" not in js
    assert 'performance.mark("tocsin:map-rendered")' in js
