"""The optional admin-boundaries layer: read from an operator's file, simplified, and served
with only names and P-codes."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from tests.api.support import add_user, login, make_env
from tocsin.security.policies import Role
from tocsin.web.boundaries import BoundariesCache, BoundariesError, load_boundaries
from tocsin.web.settings import WebSettings


def _write(tmp_path: Path, name: str = "areas.geojson") -> Path:
    frame = gpd.GeoDataFrame(
        {
            "adm1_name": ["North", "South"],
            "adm1_pcode": ["XX01", "XX02"],
            "secret_note": ["do not publish", "do not publish"],
        },
        geometry=[shapely.box(0, 1, 2, 2), shapely.box(0, 0, 2, 1)],
        crs=4326,
    )
    path = tmp_path / name
    frame.to_file(path, driver="GeoJSON")
    return path


def test_boundaries_keep_names_and_pcodes_only(tmp_path: Path) -> None:
    result = load_boundaries(_write(tmp_path))
    data = json.loads(result.geojson)
    assert result.areas == 2 and result.level == 1
    assert [f["properties"] for f in data["features"]] == [
        {"name": "North", "pcode": "XX01"},
        {"name": "South", "pcode": "XX02"},
    ]
    assert "do not publish" not in result.geojson


def test_bad_boundary_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BoundariesError, match="not found"):
        load_boundaries(tmp_path / "missing.gpkg")
    junk = tmp_path / "junk.geojson"
    junk.write_text("{not json")
    with pytest.raises(BoundariesError, match="cannot read"):
        load_boundaries(junk)
    nameless = tmp_path / "nameless.geojson"
    gpd.GeoDataFrame({"x": [1]}, geometry=[shapely.box(0, 0, 1, 1)], crs=4326).to_file(nameless)
    with pytest.raises(BoundariesError, match="no name column"):
        load_boundaries(nameless)


def test_cache_reloads_when_the_file_changes(tmp_path: Path) -> None:
    path = _write(tmp_path)
    cache = BoundariesCache(path)
    first = cache.get()
    assert cache.get() is first
    gpd.GeoDataFrame({"adm1_name": ["Only"]}, geometry=[shapely.box(0, 0, 3, 3)], crs=4326).to_file(
        path, driver="GeoJSON"
    )
    assert cache.get().areas == 1


def test_layer_is_served_to_signed_in_users(sqlite_engine, tmp_path: Path) -> None:
    env = make_env(sqlite_engine, tmp_path / "home")
    path = _write(tmp_path)
    env.app.state.web_settings = WebSettings(admin_boundaries=path)
    env.app.state.admin_boundaries = BoundariesCache(path)
    assert env.client.get("/map/admin-boundaries.geojson").status_code == 401
    login(env, add_user(env, "ana", Role.ANALYST))
    layer = env.client.get("/map/admin-boundaries.geojson")
    assert layer.status_code == 200 and layer.json()["features"][0]["properties"]["pcode"] == "XX01"
    assert 'data-admin-url="/map/admin-boundaries.geojson"' in env.client.get("/map").text


def test_real_ocha_admin1_boundaries(shared_file) -> None:
    path = shared_file("ocha_caf/caf_admin1.parquet")
    result = load_boundaries(path)
    data = json.loads(result.geojson)
    assert result.areas == 17 and result.level == 1
    assert {f["properties"]["pcode"][:2] for f in data["features"]} == {"CF"}
    assert len(result.geojson) < 400_000  # simplified for the browser
