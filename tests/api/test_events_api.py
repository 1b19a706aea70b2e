"""Events over HTTP: create, read, update, delete, search; scope, field rules and audit."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from tests.api.support import add_token, add_user, login, make_env, matrix_event, store_events
from tocsin.domain.taxonomy import CaseClass, SensitivityTier
from tocsin.security import audit
from tocsin.security.policies import Role
from tocsin.store import schema as s
from tocsin.store.schema_security import audit_log, event_persons

INCIDENT = {
    "date_start": "2024-04-03",
    "latitude": 4.37,
    "longitude": 18.58,
    "location_precision": 1,
    "country_iso3": "CAF",
    "admin1_pcode": "CF71",
    "place_name": "Kaga-Bandoro IDP site",
    "violence_type": "one_sided",
    "act_types": ["killing", "looting"],
    "actors": [{"name": "Armed Group Y", "role": "perpetrator", "kind": "armed_group"}],
    "victims": [{"description": "displaced families", "count": 3, "children": 1}],
    "fatalities_best": 2,
    "sources": [{"name": "Patrol report 12", "reliability": "B", "credibility": "2"}],
    "title": "Attack on IDP site",
    "description": "Night attack on the site's eastern edge.",
    "persons": [{"role": "witness", "name": "Jeanne Doe", "contact": "+236 70 00 00 00"}],
}


@pytest.fixture
def env(engine, tmp_path: Path):  # noqa: ANN201
    return make_env(engine, tmp_path / "home")


def _entries(env, action: str) -> list:  # noqa: ANN401
    with env.engine.connect() as conn:
        return list(conn.execute(select(audit_log).where(audit_log.c.action == action)))


def test_create_read_update_delete_roundtrip(env) -> None:
    po = add_user(env, "po", Role.PROTECTION_OFFICER)
    token = add_token(env, po)
    body = {**INCIDENT, "sensitivity": "restricted", "case_class": "sexual_violence"}
    created = env.client.post("/api/v1/events", json=body, headers=token)
    assert created.status_code == 201, created.text
    receipt = created.json()
    assert receipt["readable"] is True and created.headers["location"] == receipt["url"]
    uid = receipt["uid"]

    record = env.client.get(f"/api/v1/events/{uid}", headers=token).json()
    assert record["persons"] == [
        {"role": "witness", "name": "Jeanne Doe", "contact": "+236 70 00 00 00"}
    ]
    assert record["act_types"] == ["killing", "looting"] and record["latitude"] == 4.37
    assert record["sources"][0]["name"] == "Patrol report 12" and record["source_grades"] == ["B2"]

    patched = env.client.patch(
        f"/api/v1/events/{uid}", json={"fatalities_best": 3, "title": "Updated"}, headers=token
    )
    assert patched.status_code == 200, patched.text
    again = env.client.get(f"/api/v1/events/{uid}", headers=token).json()
    assert again["fatalities_best"] == 3 and again["title"] == "Updated"
    assert again["persons"][0]["name"] == "Jeanne Doe"  # untouched by the patch

    # Protection officers may not delete; admins may.
    assert env.client.delete(f"/api/v1/events/{uid}", headers=token).status_code == 403
    admin_token = add_token(env, add_user(env, "root", Role.ADMIN))
    assert env.client.delete(f"/api/v1/events/{uid}", headers=admin_token).status_code == 204
    assert env.client.get(f"/api/v1/events/{uid}", headers=admin_token).status_code == 404
    with env.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(event_persons)) == 0

    actions = [e.action for e in _all_entries(env)]
    for action in ("event.create", "event.update", "event.delete", "event.read"):
        assert action in actions
    update = _entries(env, "event.update")[0]
    assert "fatalities_best" in update.details and "Updated" not in update.details
    with env.engine.connect() as conn:
        assert audit.verify(conn, None).ok


def _all_entries(env) -> list:  # noqa: ANN401
    with env.engine.connect() as conn:
        return list(conn.execute(select(audit_log).order_by(audit_log.c.seq)))


def test_tm06_every_restricted_read_is_audited_with_its_uid(env) -> None:
    events = [
        matrix_event(SensitivityTier.PUBLIC, CaseClass.GENERAL, "pub"),
        matrix_event(SensitivityTier.RESTRICTED, CaseClass.GENERAL, "res"),
        matrix_event(SensitivityTier.CONFIDENTIAL, CaseClass.CHILDREN, "conf"),
    ]
    store_events(env, events)
    po = add_token(env, add_user(env, "po", Role.PROTECTION_OFFICER))
    listing = env.client.get("/api/v1/events", headers=po)
    assert listing.json()["total"] == 3
    reads = _entries(env, "event.read")
    assert len(reads) == 1
    assert sorted(eval_json(reads[0].details)["uids"]) == sorted([events[1].uid, events[2].uid])
    env.client.get(f"/api/v1/events/{events[0].uid}", headers=po)  # public: no entry
    env.client.get(f"/api/v1/events/{events[2].uid}", headers=po)
    reads = _entries(env, "event.read")
    assert len(reads) == 2 and reads[1].target == f"event:{events[2].uid}"


def eval_json(text_value: str) -> dict:
    import json

    return json.loads(text_value)


def test_tm06_no_restricted_data_leaves_if_the_audit_cannot_be_written(env) -> None:
    store_events(env, [matrix_event(SensitivityTier.RESTRICTED, CaseClass.GENERAL, "res")])
    analyst = add_token(env, add_user(env, "ann", Role.ANALYST))
    # Sabotage the ledger: every append now fails.
    with env.engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_log RENAME TO audit_log_moved"))
    r = env.client.get("/api/v1/events", headers=analyst)
    assert r.status_code >= 500
    assert "Title-res" not in r.text and "Village-res" not in r.text


def test_tm01_out_of_scope_record_is_404_like_a_missing_one(env) -> None:
    conf = matrix_event(SensitivityTier.CONFIDENTIAL, CaseClass.GENERAL, "conf")
    store_events(env, [conf])
    commander = add_token(env, add_user(env, "cmd", Role.COMMANDER))
    hidden = env.client.get(f"/api/v1/events/{conf.uid}", headers=commander)
    missing = env.client.get(
        "/api/v1/events/00000000-0000-0000-0000-000000000000", headers=commander
    )
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()
    assert env.client.patch(
        f"/api/v1/events/{conf.uid}", json={"title": "x"}, headers=commander
    ).status_code in (403, 404)


def test_tm03_commander_sees_restricted_incident_without_its_location(env) -> None:
    ev = matrix_event(SensitivityTier.RESTRICTED, CaseClass.GENERAL, "res")
    store_events(env, [ev])
    commander = add_token(env, add_user(env, "cmd", Role.COMMANDER))
    record = env.client.get(f"/api/v1/events/{ev.uid}", headers=commander).json()
    assert record["admin2_pcode"] == "CF111"  # where, to the district
    for key in ("latitude", "longitude", "place_name", "title", "description", "sources"):
        assert key not in record


def test_tm03_partner_cannot_see_restricted_location(env) -> None:
    restricted = matrix_event(SensitivityTier.RESTRICTED, CaseClass.GENERAL, "res")
    public = matrix_event(SensitivityTier.PUBLIC, CaseClass.GENERAL, "pub")
    store_events(env, [restricted, public])
    partner = add_token(env, add_user(env, "pat", Role.PARTNER))
    found = env.client.get("/api/v1/events", params={"bbox": "18,4,19,5"}, headers=partner).json()
    assert [r["uid"] for r in found["items"]] == [public.uid]
    assert "Village-res" not in str(found)


def test_cannot_change_fields_you_cannot_see(env) -> None:
    ev = matrix_event(SensitivityTier.RESTRICTED, CaseClass.GENERAL, "res")
    store_events(env, [ev])
    analyst = add_token(env, add_user(env, "ann", Role.ANALYST))
    r = env.client.patch(
        f"/api/v1/events/{ev.uid}", json={"sources": [{"name": "overwrite"}]}, headers=analyst
    )
    assert r.status_code == 403 and "sources" in r.json()["detail"]
    ok = env.client.patch(f"/api/v1/events/{ev.uid}", json={"fatalities_best": 9}, headers=analyst)
    assert ok.status_code == 200


def test_tm11_field_reporter_files_up_but_reads_only_own_general_records(env) -> None:
    reporter = add_user(env, "rep", Role.FIELD_REPORTER)
    other = add_user(env, "rep2", Role.FIELD_REPORTER)
    token = add_token(env, reporter)
    general = env.client.post("/api/v1/events", json=INCIDENT, headers=token).json()
    assert general["readable"] is True
    sv = env.client.post(
        "/api/v1/events",
        json={**INCIDENT, "case_class": "sexual_violence", "sensitivity": "confidential"},
        headers=token,
    ).json()
    assert sv["readable"] is False  # filed, and out of reach of a seized phone
    listing = env.client.get("/api/v1/events", headers=token).json()
    assert [r["uid"] for r in listing["items"]] == [general["uid"]]
    assert "persons" not in listing["items"][0]  # names are write-only for reporters
    assert env.client.get(f"/api/v1/events/{sv['uid']}", headers=token).status_code == 404
    theirs = env.client.get("/api/v1/events", headers=add_token(env, other)).json()
    assert theirs["total"] == 0
    # The owner is part of the store's scope, so every filter applies to one's own records.
    near = env.client.get("/api/v1/events", params={"bbox": "18,4,19,5"}, headers=token).json()
    assert [r["uid"] for r in near["items"]] == [general["uid"]] and near["total"] == 1
    far = env.client.get("/api/v1/events", params={"bbox": "0,0,1,1"}, headers=token).json()
    assert far["items"] == [] and far["total"] == 0


def test_search_filters_and_paging(env) -> None:
    events = [matrix_event(SensitivityTier.PUBLIC, CaseClass.GENERAL, f"p{i}") for i in range(5)]
    store_events(env, events)
    token = add_token(env, add_user(env, "ann", Role.ANALYST))
    first = env.client.get(
        "/api/v1/events",
        params={
            "limit": 2,
            "start": "2024-01-01",
            "end": "2024-12-31",
            "min_fatalities": 1,
            "violence_type": "one_sided",
            "pcode": "CF11",
            "actor": "armed group x",
        },
        headers=token,
    ).json()
    assert first["total"] == 5 and len(first["items"]) == 2 and first["next_cursor"]
    seen = [r["uid"] for r in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = env.client.get(
            "/api/v1/events",
            params={
                "limit": 2,
                "cursor": cursor,
                "start": "2024-01-01",
                "end": "2024-12-31",
                "min_fatalities": 1,
                "violence_type": "one_sided",
                "pcode": "CF11",
                "actor": "armed group x",
            },
            headers=token,
        ).json()
        seen += [r["uid"] for r in page["items"]]
        cursor = page["next_cursor"]
    assert sorted(seen) == sorted(e.uid for e in events)
    none = env.client.get("/api/v1/events", params={"min_fatalities": 50}, headers=token)
    assert none.json()["total"] == 0
    near = env.client.get(
        "/api/v1/events", params={"near": "4.12,18.22", "radius_km": 50}, headers=token
    )
    assert near.json()["total"] == 5
    polygon = {
        "type": "Polygon",
        "coordinates": [[[18, 4], [19, 4], [19, 5], [18, 5], [18, 4]]],
    }
    body = env.client.post(
        "/api/v1/events/search", json={"polygon": polygon, "limit": 10}, headers=token
    )
    assert body.status_code == 200 and body.json()["total"] == 5


def test_domain_problems_are_clear_422s(env) -> None:
    token = add_token(env, add_user(env, "ann", Role.ANALYST))
    future = env.client.post("/api/v1/events", json={"date_start": "2999-01-01"}, headers=token)
    assert future.status_code == 422 and "future" in future.json()["detail"]
    half = env.client.post(
        "/api/v1/events", json={"date_start": "2024-01-01", "latitude": 4.0}, headers=token
    )
    assert half.status_code == 422 and "latitude and longitude" in half.json()["detail"]
    old = env.client.post("/api/v1/events", json={"date_start": "1900-01-01"}, headers=token)
    assert old.status_code == 422 and "1946" in old.json()["detail"]
    with env.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(s.events)) == 0


def test_tm10_names_and_contacts_are_encrypted_at_rest(env) -> None:
    token = add_token(env, add_user(env, "po", Role.PROTECTION_OFFICER))
    r = env.client.post("/api/v1/events", json=INCIDENT, headers=token)
    assert r.status_code == 201
    with env.engine.connect() as conn:
        row = conn.execute(select(event_persons)).one()
        dump = " ".join(str(v) for v in row)
        everything = " ".join(str(v) for v in conn.execute(select(audit_log)).all())
    assert "Jeanne" not in dump and "+236" not in dump
    assert row.name_enc.startswith("v1:")
    assert "Jeanne" not in everything


def test_stored_ciphertext_moved_to_another_event_does_not_decrypt(env) -> None:
    token = add_token(env, add_user(env, "po", Role.PROTECTION_OFFICER))
    a = env.client.post("/api/v1/events", json=INCIDENT, headers=token).json()["uid"]
    b = env.client.post(
        "/api/v1/events",
        json={**INCIDENT, "persons": [{"role": "victim", "name": "Other"}]},
        headers=token,
    ).json()["uid"]
    with env.engine.begin() as conn:
        ids = dict(conn.execute(select(s.events.c.uid, s.events.c.id)).all())
        stolen = conn.execute(
            select(event_persons.c.name_enc).where(event_persons.c.event_id == ids[a])
        ).scalar_one()
        conn.execute(
            event_persons.update().where(event_persons.c.event_id == ids[b]).values(name_enc=stolen)
        )
    r = env.client.get(f"/api/v1/events/{b}", headers=token)
    assert r.status_code == 500 and "Jeanne" not in r.text


def test_session_login_then_create_via_browser_flow(env) -> None:
    hro = add_user(env, "hro", Role.HUMAN_RIGHTS_OFFICER)
    csrf = login(env, hro)
    r = env.client.post("/api/v1/events", json=INCIDENT, headers=csrf)
    assert r.status_code == 201, r.text
    assert _entries(env, "event.create")[0].actor == "hro"
