"""Protected sites on the map: from the alerts' trigger file, each shown only to viewers whose
scope includes its tier; a site above the viewer's tier is left out entirely (TM-63)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.support import Env, add_user, login, make_env
from tocsin.security.policies import Role
from tocsin.web.protected_sites import SitesSource

TRIGGERS = """\
mission: TEST
sender: tocsin.test.example
escalation:
  ack_deadline: {default: 4h}
  ladder:
    - {after: 0m, notify: [duty_officer]}
sites:
  - {id: clinic, name: Clinic-public, kind: health_facility, point: {lat: 4.4, lon: 18.6},
      tier: public}
  - {id: school, name: School-internal, kind: school, point: {lat: 5.7, lon: 20.6}, tier: internal}
  - {id: idp, name: Camp-restricted, kind: idp_site, point: {lat: 5.76, lon: 20.67},
      tier: restricted}
  - {id: base, name: Base-confidential, kind: base, point: {lat: 6.1, lon: 21.0},
      tier: confidential}
  - id: msr
    name: Route-restricted
    kind: route
    route: [{lat: 4.36, lon: 18.55}, {lat: 4.75, lon: 18.6}]
    tier: restricted
triggers:
  - id: high
    kind: forecast_risk
    name: High risk
    outcome: p_ge_1
    level: 0.6
    severity: Severe
    urgency: Future
    tier: internal
"""
NAMES = {
    "Clinic-public",
    "School-internal",
    "Camp-restricted",
    "Base-confidential",
    "Route-restricted",
}


@pytest.fixture
def env(sqlite_engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    config = tmp_path / "triggers.yaml"
    config.write_text(TRIGGERS, encoding="utf-8")
    monkeypatch.setenv("TOCSIN_ALERTS_CONFIG", str(config))
    return make_env(sqlite_engine, tmp_path / "home")


def _names(env: Env) -> set[str]:
    response = env.client.get("/map/sites.geojson")
    assert response.status_code == 200, response.text
    return {f["properties"]["name"] for f in response.json()["features"]}


@pytest.mark.parametrize(
    ("role", "visible"),
    [
        (Role.PARTNER, {"Clinic-public"}),
        (Role.FIELD_REPORTER, {"Clinic-public", "School-internal"}),
        (Role.ANALYST, {"Clinic-public", "School-internal", "Camp-restricted", "Route-restricted"}),
        (
            Role.COMMANDER,
            {"Clinic-public", "School-internal", "Camp-restricted", "Route-restricted"},
        ),
        (Role.PROTECTION_OFFICER, NAMES),
        (Role.ADMIN, NAMES),
    ],
)
def test_tm_63_each_role_sees_only_sites_of_its_tiers(
    env: Env, role: Role, visible: set[str]
) -> None:
    login(env, add_user(env, "user1", role))
    assert _names(env) == visible
    page = env.client.get("/map").text
    for name in NAMES - visible:
        assert name not in page  # neither on the layer nor in the no-JavaScript list
    for name in visible:
        assert name in page
    assert f"Protected sites you may see: {len(visible)}" in page


def test_anonymous_visitors_get_no_sites(env: Env) -> None:
    response = env.client.get("/map/sites.geojson")
    assert response.status_code == 401
    assert "Clinic" not in response.text


def test_routes_are_lines_and_points_are_points(env: Env) -> None:
    login(env, add_user(env, "po", Role.PROTECTION_OFFICER))
    features = {f["id"]: f for f in env.client.get("/map/sites.geojson").json()["features"]}
    assert features["msr"]["geometry"]["type"] == "LineString"
    assert features["msr"]["geometry"]["coordinates"][0] == [18.55, 4.36]  # lon, lat
    assert features["idp"]["geometry"] == {"type": "Point", "coordinates": [20.67, 5.76]}
    assert features["idp"]["properties"]["symbol"] == "I"


def test_missing_or_invalid_config_means_no_layer(tmp_path: Path) -> None:
    assert SitesSource(tmp_path / "absent.yaml").sites() == ()
    bad = tmp_path / "bad.yaml"
    bad.write_text("mission: [unclosed\n", encoding="utf-8")
    assert SitesSource(bad).sites() == ()
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text("a: &x [1]\nb: *x\n", encoding="utf-8")  # aliases are refused
    assert SitesSource(hostile).sites() == ()


def test_the_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "triggers.yaml"
    path.write_text(TRIGGERS, encoding="utf-8")
    source = SitesSource(path)
    assert len(source.sites()) == 5
    path.write_text(TRIGGERS.replace("  - {id: clinic", "  - {id: clinic2"), encoding="utf-8")
    assert {s.id for s in source.sites()} >= {"clinic2"}


def test_map_without_sites_has_no_layer(sqlite_engine, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TOCSIN_ALERTS_CONFIG", str(tmp_path / "none.yaml"))
    env = make_env(sqlite_engine, tmp_path / "home")
    login(env, add_user(env, "ana", Role.ANALYST))
    page = env.client.get("/map").text
    assert 'data-sites-url=""' in page and "Protected sites you may see" not in page
    assert env.client.get("/map/sites.geojson").json()["features"] == []
