"""The report queue and triage pages: plain forms with CSRF tokens, scoped like the API, nothing
sensitive in titles or URLs (TM-48), every action in the ledger."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.api.support import Env, add_token, add_user, login, make_env
from tocsin.security.policies import Role
from tocsin.store.schema_security import audit_log

GENERAL = {
    "text": "Armed men <script>alert('x')</script> attacked the market in Ndele.",
    "occurred_on": "2026-03-01",
    "latitude": 8.41234,
    "longitude": 20.65432,
    "place_name": "Ndele market",
    "act_types": ["killing"],
    "killed": 3,
}
SEXUAL_VIOLENCE = {
    "text": "Assault near the water point.",
    "latitude": 6.98765,
    "longitude": 19.18765,
    "act_types": ["sexual_violence"],
}


@pytest.fixture
def env(sqlite_engine, tmp_path: Path) -> Env:  # noqa: ANN001
    return make_env(sqlite_engine, tmp_path / "home")


@pytest.fixture
def filed(env: Env) -> dict[str, str]:
    reporter = add_user(env, "reporter", Role.FIELD_REPORTER)
    h = add_token(env, reporter)
    out = {}
    for name, body in (("general", GENERAL), ("restricted", SEXUAL_VIOLENCE)):
        r = env.client.post("/api/v1/reports", json=body, headers=h)
        assert r.status_code == 201, r.text
        out[name] = r.json()["id"]
    return out


def _session(env: Env, username: str, role: Role) -> str:
    csrf = login(env, add_user(env, username, role))
    return csrf["X-CSRF-Token"]


def _post(env: Env, rid: str, action: str, token: str, **fields: Any) -> Any:
    return env.client.post(
        f"/reports/{rid}/{action}",
        data={"csrf_token": token, **fields},
        follow_redirects=False,
    )


def _version(env: Env, rid: str) -> str:
    page = env.client.get(f"/reports/{rid}").text
    match = re.search(r'name="expected_version" value="(\d+)"', page)
    assert match, page
    return match.group(1)


def _actions(env: Env, rid: str) -> list[str]:
    with env.engine.connect() as conn:
        return list(
            conn.scalars(
                select(audit_log.c.action)
                .where(audit_log.c.target == f"report:{rid}")
                .order_by(audit_log.c.seq)
            )
        )


def test_tm_48_anonymous_visitors_go_to_login_without_the_report_in_the_url(
    env: Env, filed: dict
) -> None:
    for path in ("/reports", f"/reports/{filed['general']}"):
        r = env.client.get(path, follow_redirects=False)
        assert r.status_code == 303
        assert filed["general"] not in r.headers["location"]
    r = env.client.post(f"/reports/{filed['general']}/triage", data={}, follow_redirects=False)
    assert r.status_code == 303 and filed["general"] not in r.headers["location"]


def test_queue_is_scoped_by_role_and_titles_are_generic(env: Env, filed: dict) -> None:
    _session(env, "ana", Role.ANALYST)
    page = env.client.get("/reports")
    assert page.status_code == 200
    assert "<title>Reports · Tocsin</title>" in page.text
    assert f"/reports/{filed['general']}" in page.text
    assert filed["restricted"] not in page.text
    assert env.client.get(f"/reports/{filed['restricted']}").status_code == 404
    detail = env.client.get(f"/reports/{filed['general']}")
    assert "<title>Report · Tocsin</title>" in detail.text
    assert "&lt;script&gt;alert(" in detail.text and "<script>alert(" not in detail.text
    filtered = env.client.get("/reports?state=verified")
    assert filed["general"] not in filtered.text


def test_protection_officer_sees_the_restricted_report(env: Env, filed: dict) -> None:
    _session(env, "pro", Role.PROTECTION_OFFICER)
    queue = env.client.get("/reports?case_class=sexual_violence").text
    assert f"/reports/{filed['restricted']}" in queue and filed["general"] not in queue
    detail = env.client.get(f"/reports/{filed['restricted']}")
    assert detail.status_code == 200 and "Assault near the water point." in detail.text
    assert "Assault" not in detail.text.split("</title>")[0]
    assert "report.read" in _actions(env, filed["restricted"])


def test_triage_to_linked_incident_with_plain_forms(env: Env, filed: dict) -> None:
    token = _session(env, "ana", Role.ANALYST)
    rid = filed["general"]
    analyst_id = re.search(
        r'<option value="(\d+)"[^>]*>ana</option>', env.client.get(f"/reports/{rid}").text
    )
    steps = [
        ("triage", {"case_class": "general", "sensitivity": "internal"}),
        ("assign", {"due": "2026-03-04"}),
        ("comment", {"text": "Called the patrol <b>leader</b>"}),
        ("grade", {"reliability": "B", "credibility": "2"}),
        ("verify", {}),
        ("link", {"incident": "new"}),
    ]
    for action, fields in steps:
        if action == "assign":
            assert analyst_id is not None
            fields = {**fields, "assignee_id": analyst_id.group(1)}
        r = _post(env, rid, action, token, expected_version=_version(env, rid), **fields)
        assert r.status_code == 303, (action, r.text)
        assert r.headers["location"] == f"/reports/{rid}?done=done"
    page = env.client.get(f"/reports/{rid}?done=done").text
    assert "Saved." in page and "B2" in page and "Linked incident" in page
    assert "Called the patrol &lt;b&gt;leader&lt;/b&gt;" in page
    uid = re.search(r'href="/incidents/([^"]+)"', page).group(1)
    incident = env.client.get(f"/incidents/{uid}").text
    assert "Linked reports" in incident and f"/reports/{rid}" in incident
    assert _actions(env, rid)[-6:] == [
        "report.assigned",
        "report.commented",
        "report.graded",
        "report.verification_started",
        "report.verified",
        "report.linked",
    ]


def test_tm_48_forms_without_the_csrf_token_are_refused(env: Env, filed: dict) -> None:
    _session(env, "ana", Role.ANALYST)
    rid = filed["general"]
    r = _post(env, rid, "triage", "forged", expected_version="1")
    assert r.status_code == 403
    r = env.client.post(f"/reports/{rid}/triage", data={"expected_version": "1"})
    assert r.status_code == 403
    assert _actions(env, rid) == ["report.received", "report.filed"]


def test_stale_form_shows_the_current_state_with_a_409(env: Env, filed: dict) -> None:
    token = _session(env, "ana", Role.ANALYST)
    rid = filed["general"]
    assert _post(env, rid, "triage", token, expected_version="1").status_code == 303
    stale = _post(env, rid, "comment", token, expected_version="1", text="late")
    assert stale.status_code == 409
    assert "version 2" in stale.text and "Triaged" in stale.text
    bad = _post(env, rid, "grade", token, expected_version="2", reliability="Z", credibility="2")
    assert bad.status_code == 422 and "unknown reliability" in bad.text
    assert _post(env, rid, "teleport", token, expected_version="2").status_code == 404
    assert "report.commented" not in _actions(env, rid)


def test_commander_reads_without_forms_and_with_a_coarse_location(env: Env, filed: dict) -> None:
    token = _session(env, "ana", Role.ANALYST)
    rid = filed["general"]
    _post(env, rid, "triage", token, expected_version="1", sensitivity="restricted")
    env.client.cookies.clear()
    commander_token = _session(env, "cmd", Role.COMMANDER)
    page = env.client.get(f"/reports/{rid}")
    assert page.status_code == 200
    assert "8.4, 20.7" in page.text and "8.41234" not in page.text
    assert "Ndele market" not in page.text and "attacked the market" not in page.text
    assert 'action="/reports/' not in page.text  # no action forms for a reader
    refused = _post(env, rid, "comment", commander_token, expected_version="2", text="x")
    assert refused.status_code == 403


def test_merge_and_undo_from_the_page(env: Env, filed: dict) -> None:
    reporter = add_user(env, "reporter2", Role.FIELD_REPORTER)
    dup = env.client.post(
        "/api/v1/reports",
        json={**GENERAL, "text": "Armed men attacked Ndele market, 3 killed"},
        headers=add_token(env, reporter),
    ).json()["id"]
    token = _session(env, "ana", Role.ANALYST)
    rid = filed["general"]
    page = env.client.get(f"/reports/{rid}").text
    assert f'name="member" value="{dup}"' in page  # suggested, with score and reason
    r = _post(env, rid, "merge", token, member=dup, reason="same attack")
    assert r.status_code == 303 and r.headers["location"].endswith("done=merged")
    page = env.client.get(f"/reports/{rid}").text
    merge_id = re.search(r'name="merge_id" value="([0-9a-f-]{36})"', page).group(1)
    assert "Discarded" in env.client.get(f"/reports/{dup}").text
    assert _post(env, rid, "undo", token, merge_id=merge_id).status_code == 303
    assert "Received" in env.client.get(f"/reports/{dup}").text


def test_field_reporter_sees_own_reports_without_officer_notes(env: Env, filed: dict) -> None:
    token = _session(env, "ana", Role.ANALYST)
    _post(env, filed["general"], "comment", token, expected_version="1", text="Informant Y")
    env.client.cookies.clear()
    reporter = add_user(env, "reporter3", Role.FIELD_REPORTER)
    mine = env.client.post(
        "/api/v1/reports", json=GENERAL, headers=add_token(env, reporter)
    ).json()["id"]
    login(env, reporter)
    queue = env.client.get("/reports").text
    assert f"/reports/{mine}" in queue and filed["general"] not in queue
    assert env.client.get(f"/reports/{filed['general']}").status_code == 404


def test_pages_in_french(env: Env, filed: dict) -> None:
    _session(env, "ana", Role.ANALYST)
    env.client.cookies.set("tocsin_lang", "fr")
    page = env.client.get(f"/reports/{filed['general']}").text
    assert 'lang="fr"' in page
    assert "Signalement" in page and "Trier" in page
    queue = env.client.get("/reports").text
    assert "Signalements" in queue
