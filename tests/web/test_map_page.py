"""The map page and its data follow the API's policy: login required, the viewer's scope, the
field redaction, the audit of restricted reads; and bad filter input gets a clear answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.api.support import (
    Env,
    add_user,
    login,
    make_env,
    matrix_event,
    secret_values,
    store_events,
)
from tests.web.support import store_forecast
from tocsin.domain.taxonomy import CaseClass, SensitivityTier, ViolenceType
from tocsin.forecast.registry.partitions import month_id
from tocsin.geo.prio_grid import cell_center, gid_for_point
from tocsin.security.policies import Role
from tocsin.store.schema_security import audit_log
from tocsin.web.settings import WebSettings

TAGS = {
    "pub": (SensitivityTier.PUBLIC, CaseClass.GENERAL),
    "int": (SensitivityTier.INTERNAL, CaseClass.GENERAL),
    "res": (SensitivityTier.RESTRICTED, CaseClass.GENERAL),
    "kid": (SensitivityTier.INTERNAL, CaseClass.CHILDREN),
}


def _seeded(engine, home: Path) -> Env:
    env = make_env(engine, home)
    events = []
    for tag, (tier, case_class) in TAGS.items():
        ev = matrix_event(tier, case_class, tag)
        v = secret_values(tag)
        ev.priogrid_gid = gid_for_point(v["latitude"], v["longitude"])
        events.append(ev)
    store_events(env, events)
    return env


@pytest.fixture
def env(sqlite_engine, tmp_path: Path) -> Env:
    return _seeded(sqlite_engine, tmp_path / "home")


@pytest.fixture
def env_both(engine, tmp_path: Path) -> Env:
    """On SQLite and PostGIS: the map reuses the store's filter clauses on both."""
    return _seeded(engine, tmp_path / "home")


def _features(env: Env, query: str = "") -> dict:
    response = env.client.get("/map/events.geojson" + query)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    return response.json()


UIDS = {matrix_event(tier, case_class, tag).uid: tag for tag, (tier, case_class) in TAGS.items()}


def _tags(collection: dict) -> set[str]:
    """The incidents on the map, by tag (the bulk data holds uids, positions and types)."""
    return {UIDS.get(f["id"], f["id"]) for f in collection["features"]}


def _detail(env: Env, tag: str) -> dict:
    uid = next(u for u, t in UIDS.items() if t == tag)
    response = env.client.get(f"/map/incidents/{uid}.json")
    assert response.status_code == 200, response.text
    return response.json()


def _audited_uids(env: Env) -> list[str]:
    with env.engine.connect() as conn:
        rows = conn.execute(
            select(audit_log.c.details).where(audit_log.c.action == "event.read")
        ).scalars()
        return [uid for details in rows for uid in json.loads(details).get("uids", [])]


def test_anonymous_visitors_are_sent_to_the_login_page(env: Env) -> None:
    page = env.client.get("/map?actor=Armed+Group+X", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fmap"  # the path only, no filters
    assert env.client.get("/map/events.geojson").status_code == 401
    assert env.client.get("/map/picture.svg").status_code == 401
    assert env.client.get("/map/admin-boundaries.geojson").status_code == 401
    uid = matrix_event(*TAGS["pub"], "pub").uid
    assert env.client.get(f"/map/incidents/{uid}.json").status_code == 401


def test_analyst_sees_general_cases_with_locations_and_reads_are_audited(env_both: Env) -> None:
    env = env_both
    login(env, add_user(env, "ana", Role.ANALYST))
    data = _features(env)
    assert _tags(data) == {"pub", "int", "res"}
    assert set(data["features"][0]["properties"]) == {"type"}  # nothing else in bulk
    assert _detail(env, "res")["place"] == "Village-res"
    assert data["unmapped"] == 0 and data["truncated"] is False
    page = env.client.get("/map")
    assert page.status_code == 200
    assert "3 incidents match." in page.text
    assert "Village-res" in page.text and "Village-kid" not in page.text
    res_uid = matrix_event(*TAGS["res"], "res").uid
    assert res_uid in _audited_uids(env)
    assert _audited_uids(env).count(res_uid) >= 3  # the map data, the popup and the table


def test_commander_gets_restricted_cases_only_at_their_grid_cell(env_both: Env) -> None:
    env = env_both
    login(env, add_user(env, "cmd", Role.COMMANDER))
    data = _features(env)
    text = json.dumps(data)
    secret = secret_values("res")
    assert str(secret["latitude"]) not in text and str(secret["longitude"]) not in text
    res_uid = matrix_event(*TAGS["res"], "res").uid
    (feature,) = [f for f in data["features"] if f["id"] == res_uid]
    assert feature["properties"]["approx"] is True
    detail = _detail(env, "res")
    assert "place" not in detail and detail["approx"] is True  # absent, not blank
    assert detail["admin1"] == "Ombella-M'Poko" and detail["fatalities"] == 2
    assert _detail(env, "pub")["place"] == "Village-pub"
    kid_uid = matrix_event(*TAGS["kid"], "kid").uid
    assert env.client.get(f"/map/incidents/{kid_uid}.json").status_code == 404
    lat, lon = cell_center(gid_for_point(secret["latitude"], secret["longitude"]))
    assert feature["geometry"]["coordinates"] == [round(lon, 5), round(lat, 5)]
    page = env.client.get("/map")
    assert "Village-res" not in page.text and "exact location withheld" in page.text


def test_protection_officer_sees_restricted_case_classes(env: Env) -> None:
    login(env, add_user(env, "pro", Role.PROTECTION_OFFICER))
    assert _tags(_features(env)) == {"pub", "int", "res", "kid"}
    assert _detail(env, "kid")["place"] == "Village-kid"


def test_partner_sees_public_records_only(env: Env) -> None:
    login(env, add_user(env, "ngo", Role.PARTNER))
    assert _tags(_features(env)) == {"pub"}
    svg = env.client.get("/map/picture.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.count("<circle") == 1


def test_field_reporter_sees_only_their_own_reports(env: Env) -> None:
    reporter = add_user(env, "rep", Role.FIELD_REPORTER)
    mine = matrix_event(SensitivityTier.INTERNAL, CaseClass.GENERAL, "mine")
    store_events(env, [mine], owner=reporter)
    login(env, reporter)
    data = _features(env)
    assert _tags(data) == {mine.uid}
    assert env.client.get(f"/map/incidents/{mine.uid}.json").json()["place"] == "Village-mine"
    other = matrix_event(*TAGS["pub"], "pub").uid
    assert env.client.get(f"/map/incidents/{other}.json").status_code == 404


def test_tier_filter_narrows_and_never_widens(env: Env) -> None:
    login(env, add_user(env, "ana", Role.ANALYST))
    assert _tags(_features(env, "?tier=public")) == {"pub"}
    assert _tags(_features(env, "?tier=internal")) == {"pub", "int"}
    refused = env.client.get("/map/events.geojson?tier=confidential")
    assert refused.status_code == 422
    assert "You may not see this tier" in refused.json()["detail"]
    page = env.client.get("/map?tier=confidential")
    assert page.status_code == 400
    assert "You may not see this tier." in page.text
    assert 'aria-invalid="true"' in page.text


def test_type_date_and_actor_filters(env_both: Env) -> None:
    env = env_both
    login(env, add_user(env, "ana", Role.ANALYST))
    one_sided = ViolenceType.ONE_SIDED.value
    assert len(_features(env, f"?type={one_sided}")["features"]) == 3
    assert _features(env, "?type=state_based")["features"] == []
    assert len(_features(env, "?start=2024-05-02&end=2024-05-02")["features"]) == 3
    assert _features(env, "?start=2024-06-01")["features"] == []
    assert len(_features(env, "?actor=armed+group+x")["features"]) == 3  # names normalised
    assert _features(env, "?actor=Nobody")["features"] == []


BAD_FILTERS = [
    ("?start=2024-13-45", "start"),
    ("?start=24-1-1", "start"),
    ("?end=1900-01-01", "end"),
    ("?start=2024-05-10&end=2024-05-01", "end"),
    ("?type=genocide", "type"),
    ("?tier=secret", "tier"),
    ("?actor=" + "x" * 400, "actor"),
    ("?actor=%20%20", None),  # blank: no filter at all
    ("?" + "&".join(["type=one_sided"] * 25), "type"),
]


def test_bad_filters_get_a_clear_answer_not_an_error(env: Env) -> None:
    login(env, add_user(env, "ana", Role.ANALYST))
    for query, field in BAD_FILTERS:  # one signed-in client for all cases: fast
        page = env.client.get("/map" + query)
        data = env.client.get("/map/events.geojson" + query)
        if field is None:
            assert page.status_code == 200 and data.status_code == 200, query
            continue
        assert page.status_code == 400, query
        assert "Some filters could not be used" in page.text, query
        assert data.status_code == 422, query
        assert field in data.json()["detail"], query
        assert "x" * 100 not in page.text  # the bad value is not echoed back


def test_hostile_text_is_escaped(env: Env) -> None:
    login(env, add_user(env, "ana", Role.ANALYST))
    page = env.client.get("/map", params={"actor": '<script>alert("x")</script>'})
    assert page.status_code == 200
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;" in page.text


def test_map_page_has_no_inline_script_and_links_vendored_leaflet(env: Env) -> None:
    login(env, add_user(env, "ana", Role.ANALYST))
    page = env.client.get("/map")
    assert "/static/vendor/leaflet/leaflet.js" in page.text
    assert "/static/js/map.js" in page.text
    assert "<script>" not in page.text  # every script has a src (CSP: no inline scripts)
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    for asset in (
        "/static/vendor/leaflet/leaflet.js",
        "/static/vendor/leaflet.markercluster/leaflet.markercluster.js",
        "/static/js/map.js",
        "/static/basemap/countries.geojson",
        "/static/css/tocsin.css",
    ):
        response = env.client.get(asset)
        assert response.status_code == 200, asset
        assert response.headers.get("cache-control") != "no-store"


def test_static_files_cannot_be_escaped(env: Env) -> None:
    for path in ("/static/../web/map_page.py", "/static/%2e%2e/map_page.py", "/static/css/x.css"):
        assert env.client.get(path).status_code == 404


def test_admin_boundaries_are_404_until_configured(env: Env) -> None:
    login(env, add_user(env, "ana", Role.ANALYST))
    assert env.client.get("/map/admin-boundaries.geojson").status_code == 404
    assert 'data-admin-url=""' in env.client.get("/map").text


def test_too_many_incidents_are_truncated_and_said_so(env_both: Env) -> None:
    env = env_both
    env.app.state.web_settings = WebSettings(map_max_features=2)
    login(env, add_user(env, "ana", Role.ANALYST))
    data = _features(env)
    assert len(data["features"]) == 2 and data["truncated"] is True
    assert "Too many incidents to draw" in env.client.get("/map").text  # the message is ready


def test_risk_layer_is_internal_and_comes_from_the_latest_run(env: Env) -> None:
    login(env, add_user(env, "ana", Role.ANALYST))
    assert env.client.get("/map/risk.json").status_code == 404  # no run stored
    assert 'data-risk-url=""' in env.client.get("/map").text
    now = env.settings.clock().date()
    this_month = month_id(now.year, now.month)
    store_forecast(env.engine, "cm", {"CAF": 0.9, "TCD": 0.1}, this_month - 1, this_month + 2)
    risk = env.client.get("/map/risk.json").json()
    assert risk["level"] == "cm" and risk["values"] == {"CAF": 0.9, "TCD": 0.1}
    assert risk["month"] == f"{now.year:04d}-{now.month:02d}"
    page = env.client.get("/map").text
    assert 'data-risk-url="/map/risk.json"' in page and "80–100%" in page
    env.client.cookies.clear()
    login(env, add_user(env, "ngo", Role.PARTNER))  # public tier only
    assert env.client.get("/map/risk.json").status_code == 403
    assert 'data-risk-url=""' in env.client.get("/map").text


def test_risk_layer_of_a_priogrid_run(env: Env) -> None:
    login(env, add_user(env, "ana", Role.ANALYST))
    now = env.settings.clock().date()
    this_month = month_id(now.year, now.month)
    store_forecast(env.engine, "pgm", {"140680": 0.7, "140681": 0.05}, this_month, this_month)
    risk = env.client.get("/map/risk.json").json()
    assert risk["level"] == "pgm" and risk["values"] == {"140680": 0.7, "140681": 0.05}


@pytest.mark.parametrize("role", [Role.ANALYST, Role.COMMANDER, Role.PARTNER])
def test_compact_map_data_holds_exactly_what_the_geojson_holds(env: Env, role: Role) -> None:
    login(env, add_user(env, "viewer", role))
    geo = _features(env)
    response = env.client.get("/map/events.json", headers={"accept-encoding": "identity"})
    assert response.status_code == 200
    compact = response.json()
    assert set(compact) == {
        "ids",
        "coords",
        "types",
        "type_names",
        "approx",
        "unmapped",
        "truncated",
    }
    assert compact["ids"] == [f["id"] for f in geo["features"]]
    assert compact["coords"] == [c for f in geo["features"] for c in f["geometry"]["coordinates"]]
    names = [compact["type_names"][int(c)] for c in compact["types"]]
    assert names == [f["properties"]["type"] for f in geo["features"]]
    approx = [i for i, f in enumerate(geo["features"]) if f["properties"].get("approx")]
    assert compact["approx"] == approx
    assert compact["unmapped"] == geo["unmapped"]


def test_compact_map_data_is_gzipped_when_accepted(env: Env) -> None:
    from tocsin.web import map_data

    login(env, add_user(env, "ana", Role.ANALYST))
    many = map_data.MapPoints()
    for i in range(500):
        map_data._add(many, map_data.encode_point(f"uid-{i}", 4.0 + i / 1000, 18.0, None, None))
    assert len(many.to_compact_json()) > 1400
    response = env.client.get("/map/events.json", headers={"accept-encoding": "gzip"})
    assert response.status_code == 200 and response.headers["vary"] == "Accept-Encoding"
    assert env.client.get("/map/events.json").json()["ids"]  # httpx decodes either way
    anonymous = type(env.client)(env.app)
    assert anonymous.get("/map/events.json").status_code == 401
    assert anonymous.get("/map/events.json?start=bad").status_code == 401
