"""Actors, places, sources and aggregates: scoped like the events they come from."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.api.support import add_token, add_user, make_env, matrix_event, store_events
from tocsin.domain.entities import ActorLink
from tocsin.domain.taxonomy import ActorKind, ActorRole, CaseClass, SensitivityTier
from tocsin.security.policies import Role


@pytest.fixture
def env(engine, tmp_path: Path):  # noqa: ANN201
    env = make_env(engine, tmp_path / "home")
    public = [matrix_event(SensitivityTier.PUBLIC, CaseClass.GENERAL, f"p{i}") for i in range(6)]
    internal = [
        matrix_event(SensitivityTier.INTERNAL, CaseClass.GENERAL, f"i{i}") for i in range(3)
    ]
    misconduct = replace(
        matrix_event(SensitivityTier.CONFIDENTIAL, CaseClass.MISSION_PERSONNEL_MISCONDUCT, "m"),
        actors=(ActorLink("Contingent Z", ActorRole.PERPETRATOR, ActorKind.MISSION_PERSONNEL),),
    )
    store_events(env, [*public, *internal, misconduct])
    return env


def test_actor_named_only_in_confidential_cases_stays_hidden(env) -> None:
    analyst = add_token(env, add_user(env, "ann", Role.ANALYST))
    po = add_token(env, add_user(env, "po", Role.PROTECTION_OFFICER))
    names = {a["name"] for a in env.client.get("/api/v1/actors", headers=analyst).json()}
    assert names == {"Armed Group X"}
    po_names = {a["name"] for a in env.client.get("/api/v1/actors", headers=po).json()}
    assert po_names == {"Armed Group X", "Contingent Z"}
    found = env.client.get("/api/v1/actors", params={"q": "contingent"}, headers=analyst).json()
    assert found == []


def test_actor_crud_with_aliases_and_conflicts(env) -> None:
    token = add_token(env, add_user(env, "ann", Role.ANALYST))
    r = env.client.post(
        "/api/v1/actors",
        json={"name": "Front Populaire", "kind": "armed_group", "aliases": ["FPRC"]},
        headers=token,
    )
    assert r.status_code == 201, r.text
    uid = r.json()["uid"]
    dup = env.client.post("/api/v1/actors", json={"name": "fprc"}, headers=token)
    assert dup.status_code == 409
    by_alias = env.client.get("/api/v1/actors", params={"q": "fprc"}, headers=token).json()
    assert [a["uid"] for a in by_alias] == [uid]
    patched = env.client.patch(
        f"/api/v1/actors/{uid}", json={"aliases": ["FPRC", "Front"]}, headers=token
    )
    assert patched.json()["aliases"] == ["FPRC", "Front"]
    linked = env.client.get("/api/v1/actors", params={"q": "armed group x"}, headers=token).json()
    assert env.client.delete(f"/api/v1/actors/{linked[0]['uid']}", headers=token).status_code == 409
    assert env.client.delete(f"/api/v1/actors/{uid}", headers=token).status_code == 204
    commander = add_token(env, add_user(env, "cmd", Role.COMMANDER))
    assert (
        env.client.post("/api/v1/actors", json={"name": "x"}, headers=commander).status_code == 403
    )


def test_places_gazetteer(env) -> None:
    token = add_token(env, add_user(env, "ann", Role.ANALYST))
    r = env.client.post(
        "/api/v1/places",
        json={
            "name": "Bambari",
            "country_iso3": "caf",
            "admin_level": 2,
            "pcode": "CF531",
            "latitude": 5.76,
            "longitude": 20.67,
            "alt_names": ["Bambary"],
        },
        headers=token,
    )
    assert r.status_code == 201, r.text
    assert (
        env.client.post(
            "/api/v1/places",
            json={"name": "Other", "country_iso3": "CAF", "admin_level": 2, "pcode": "cf531"},
            headers=token,
        ).status_code
        == 409
    )
    hits = env.client.get("/api/v1/places", params={"q": "bambary"}, headers=token).json()
    assert [p["pcode"] for p in hits] == ["CF531"]
    uid = hits[0]["uid"]
    half = env.client.patch(f"/api/v1/places/{uid}", json={"latitude": None}, headers=token)
    assert half.status_code == 422
    assert env.client.delete(f"/api/v1/places/{uid}", headers=token).status_code == 204


def test_tm08_sources_listing_leaves_out_restricted_cases(env) -> None:
    admin = add_token(env, add_user(env, "root", Role.ADMIN))
    names = {
        s["name"]
        for s in env.client.get("/api/v1/sources", params={"limit": 500}, headers=admin).json()
    }
    assert "Informant-p0" in names and "Informant-i0" in names
    assert "Informant-m" not in names


def test_tm12_partner_sees_aggregates_with_small_counts_suppressed(env) -> None:
    partner = add_token(env, add_user(env, "pat", Role.PARTNER))
    r = env.client.get("/api/v1/aggregates/events", params={"by": ["sensitivity"]}, headers=partner)
    assert r.status_code == 200, r.text
    body = r.json()
    groups = {g["key"]["sensitivity"]: g for g in body["groups"]}
    assert body["suppression_threshold"] == 5
    assert groups["public"]["events"] == 6 and groups["public"]["suppressed"] is False
    assert groups["internal"]["suppressed"] is True and "events" not in groups["internal"]
    assert "confidential" not in groups
    analyst = add_token(env, add_user(env, "ann", Role.ANALYST))
    full = env.client.get(
        "/api/v1/aggregates/events", params={"by": ["sensitivity", "month"]}, headers=analyst
    ).json()
    assert {g["key"]["sensitivity"]: g["events"] for g in full["groups"]} == {
        "public": 6,
        "internal": 3,
    }
    bad = env.client.get("/api/v1/aggregates/events", params={"by": "nope"}, headers=analyst)
    assert bad.status_code == 422
