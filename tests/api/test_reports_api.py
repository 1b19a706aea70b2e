"""``/api/v1/reports``: filing, the scoped queue, redaction, the workflow actions, suggestions
and merges, with the per-role matrix for restricted case classes (TM-40..TM-47, TM-49)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.api.support import Env, add_token, add_user, login, make_env
from tocsin.cli import app as cli_app
from tocsin.security import audit
from tocsin.security.policies import Role
from tocsin.security.txn import write_transaction
from tocsin.store.db import make_engine
from tocsin.store.schema_security import audit_log

BASE = "/api/v1/reports"
GENERAL = {
    "text": "Armed men attacked the market in Ndele; three people killed.",
    "occurred_on": "2026-03-01",
    "latitude": 8.41234,
    "longitude": 20.65432,
    "place_name": "Ndele market",
    "threat": "attack_on_civilians",
    "act_types": ["killing"],
    "killed": 3,
}
SEXUAL_VIOLENCE = {
    "text": "Two women assaulted near the water point of Kaga-Bandoro.",
    "latitude": 6.98765,
    "longitude": 19.18765,
    "place_name": "Water point K-B",
    "act_types": ["sexual_violence"],
}
ROLES = (
    Role.ADMIN,
    Role.ANALYST,
    Role.HUMAN_RIGHTS_OFFICER,
    Role.PROTECTION_OFFICER,
    Role.COMMANDER,
    Role.FIELD_REPORTER,
    Role.PARTNER,
)


@pytest.fixture
def env(engine, tmp_path: Path) -> Env:  # noqa: ANN001
    return make_env(engine, tmp_path / "home")


@pytest.fixture
def people(env: Env) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for role in ROLES:
        account = add_user(env, role.value.replace("_", ""), role)
        out[role.value] = {"account": account, "h": add_token(env, account)}
    other = add_user(env, "otherreporter", Role.FIELD_REPORTER)
    out["other_reporter"] = {"account": other, "h": add_token(env, other)}
    return out


def _h(people: dict[str, Any], who: str) -> dict[str, str]:
    return people[who]["h"]


def _file(env: Env, people: dict, who: str, body: dict) -> str:
    r = env.client.post(BASE, json=body, headers=_h(people, who))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _post(env: Env, people: dict, who: str, rid: str, action: str, body: dict) -> Any:
    return env.client.post(f"{BASE}/{rid}/{action}", json=body, headers=_h(people, who))


def _ledger(env: Env, target: str) -> list[str]:
    with env.engine.connect() as conn:
        return list(
            conn.scalars(
                select(audit_log.c.action)
                .where(audit_log.c.target == target)
                .order_by(audit_log.c.seq)
            )
        )


def test_tm_43_every_transition_is_in_the_ledger(env: Env, people: dict) -> None:
    rid = _file(env, people, "field_reporter", GENERAL)
    ana = "analyst"
    steps = [
        ("triage", {"expected_version": 1}),
        ("assign", {"expected_version": 2, "assignee_id": people[ana]["account"].id}),
        ("comment", {"expected_version": 3, "text": "<script>alert(1)</script> checked"}),
        ("grade", {"expected_version": 4, "reliability": "B", "credibility": "2"}),
        ("verify", {"expected_version": 5}),
        ("link", {"expected_version": 7, "incident": "new"}),
    ]
    for action, body in steps:
        r = _post(env, people, ana, rid, action, body)
        assert r.status_code == 200, (action, r.text)
    record = r.json()
    assert record["state"] == "verified" and record["grade"] == "B2"
    assert record["comments"][0]["text"] == "<script>alert(1)</script> checked"
    uid = record["incident_id"]
    incident = env.client.get(f"/api/v1/events/{uid}", headers=_h(people, ana))
    assert incident.status_code == 200
    assert incident.json()["dataset"] == "tocsin-report"
    assert _ledger(env, f"report:{rid}") == [
        "report.received",
        "report.filed",
        "report.triaged",
        "report.assigned",
        "report.commented",
        "report.graded",
        "report.verification_started",
        "report.verified",
        "report.linked",
    ]
    with env.engine.connect() as conn:
        assert audit.verify(conn, None).ok


def test_tm_43_audit_verify_command_passes_after_the_workflow(tmp_path: Path) -> None:
    engine = make_engine()  # the default database under the isolated TOCSIN_HOME
    from tocsin import config

    env = make_env(engine, config.home())
    analyst = add_user(env, "ana", Role.ANALYST)
    h = add_token(env, analyst)
    rid = env.client.post(BASE, json=GENERAL, headers=h).json()["id"]
    for action, body in (
        ("triage", {"expected_version": 1}),
        ("discard", {"expected_version": 2, "note": "test message from a trainer"}),
        ("reopen", {"expected_version": 3, "reason": "not a test after all"}),
    ):
        assert env.client.post(f"{BASE}/{rid}/{action}", json=body, headers=h).status_code == 200
    runner = CliRunner()
    assert runner.invoke(cli_app, ["audit", "checkpoint"]).exit_code == 0
    result = runner.invoke(cli_app, ["audit", "verify", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["ok"] is True
    engine.dispose()


# Who sees a sexual-violence report filed by the field reporter, and who may act on it.
RESTRICTED_SEES = {
    "admin": 200,
    "protection_officer": 200,
    "analyst": 404,
    "human_rights_officer": 404,
    "commander": 404,
    "partner": 404,
    "field_reporter": 200,  # its submitter
    "other_reporter": 404,
}
RESTRICTED_ACTS = {"admin": 200, "protection_officer": 200}


def test_tm_40_restricted_class_routing_matrix(env: Env, people: dict) -> None:
    rid = _file(env, people, "field_reporter", SEXUAL_VIOLENCE)
    general = _file(env, people, "field_reporter", GENERAL)
    # Those who may not act first (refused before the version is even looked at), then the
    # two roles the class is routed to, one after the other.
    order = sorted(RESTRICTED_SEES, key=lambda w: (w in RESTRICTED_ACTS, w))
    version = 1
    for who in order:
        read = env.client.get(f"{BASE}/{rid}", headers=_h(people, who))
        assert read.status_code == RESTRICTED_SEES[who], (who, read.text)
        queue = env.client.get(BASE, headers=_h(people, who)).json()["items"]
        assert (rid in {c["id"] for c in queue}) is (RESTRICTED_SEES[who] == 200), who
        if who in ("analyst", "human_rights_officer"):
            assert general in {c["id"] for c in queue}  # they keep the general queue
        body = {"expected_version": version, "text": f"checked by {who}"}
        act = _post(env, people, who, rid, "comment", body)
        expected = RESTRICTED_ACTS.get(who, 403 if RESTRICTED_SEES[who] == 200 else 404)
        assert act.status_code == expected, (who, act.text)
        if act.status_code == 200:
            version += 1
    assert version == 3


def test_tm_40_restricted_case_cannot_be_assigned_outside_its_route(env: Env, people: dict) -> None:
    rid = _file(env, people, "field_reporter", SEXUAL_VIOLENCE)
    r = _post(
        env,
        people,
        "protection_officer",
        rid,
        "assign",
        {"expected_version": 1, "assignee_id": people["analyst"]["account"].id},
    )
    assert r.status_code == 403 and "handles" in r.json()["detail"]


def test_tm_41_location_coarsened_and_fields_absent_below_the_tier(env: Env, people: dict) -> None:
    rid = _file(env, people, "field_reporter", GENERAL)
    # The analyst raises the general report to the restricted tier.
    r = _post(
        env, people, "analyst", rid, "triage", {"expected_version": 1, "sensitivity": "restricted"}
    )
    assert r.status_code == 200
    full = r.json()
    assert full["latitude"] == GENERAL["latitude"] and full["text"] == GENERAL["text"]
    assert "reporter_pseudonym" not in full  # the analyst holds no "sources" grant
    for who in ("commander", "field_reporter"):
        got = env.client.get(f"{BASE}/{rid}", headers=_h(people, who))
        assert got.status_code == 200, who
        body = got.json()
        for key in ("latitude", "longitude", "place_name", "text", "comments"):
            assert key not in body, (who, key)
        assert body["coarse_location"] == {"latitude": 8.4, "longitude": 20.7, "precision_deg": 0.1}
        raw = got.text
        assert "8.41234" not in raw and "Ndele market" not in raw and "three people" not in raw
    # Restricted reads are audited.
    assert "report.read" in _ledger(env, f"report:{rid}")


def test_tm_42_field_reporter_sees_only_own_reports_without_officer_notes(
    env: Env, people: dict
) -> None:
    mine = _file(env, people, "field_reporter", GENERAL)
    theirs = _file(env, people, "other_reporter", {**GENERAL, "text": "Another report"})
    _post(env, people, "analyst", mine, "triage", {"expected_version": 1})
    _post(env, people, "analyst", mine, "comment", {"expected_version": 2, "text": "Informant X"})
    queue = env.client.get(BASE, headers=_h(people, "field_reporter")).json()["items"]
    assert [c["id"] for c in queue] == [mine]
    assert (
        env.client.get(f"{BASE}/{theirs}", headers=_h(people, "field_reporter")).status_code == 404
    )
    own = env.client.get(f"{BASE}/{mine}", headers=_h(people, "field_reporter")).json()
    assert own["text"] == GENERAL["text"] and own["state"] == "triaged"
    assert "comments" not in own and "assignee" not in own and "Informant X" not in json.dumps(own)
    # Nor can they act on it.
    r = _post(
        env,
        people,
        "field_reporter",
        mine,
        "grade",
        {"expected_version": 3, "reliability": "A", "credibility": "1"},
    )
    assert r.status_code == 403


def test_tm_44_stale_version_is_409_and_nothing_changes(env: Env, people: dict) -> None:
    rid = _file(env, people, "field_reporter", GENERAL)
    assert _post(env, people, "analyst", rid, "triage", {"expected_version": 1}).status_code == 200
    stale = _post(
        env, people, "human_rights_officer", rid, "comment", {"expected_version": 1, "text": "late"}
    )
    assert stale.status_code == 409 and "version 2" in stale.json()["detail"]
    record = env.client.get(f"{BASE}/{rid}", headers=_h(people, "analyst")).json()
    assert record["version"] == 2 and record["comments"] == []
    assert "report.commented" not in _ledger(env, f"report:{rid}")


def test_tm_45_hostile_and_oversized_input(env: Env, people: dict) -> None:
    h = _h(people, "field_reporter")
    bad_bodies = [
        {**GENERAL, "surprise": 1},  # unknown field
        {**GENERAL, "text": ""},
        {**GENERAL, "text": "x" * 20_001},
        {**GENERAL, "text": "bell \x07 in text"},
        {**GENERAL, "latitude": 91},
        {**GENERAL, "latitude": None},  # lat without lon
        {**GENERAL, "killed": -1},
        {**GENERAL, "act_types": ["teleportation"]},
        {**GENERAL, "occurred_on": "1900-01-01"},
        {**GENERAL, "client_reference": "../../etc/passwd"},
    ]
    for body in bad_bodies:
        r = env.client.post(BASE, json=body, headers=h)
        assert r.status_code == 422, (body, r.text)
        assert "x" * 100 not in r.text  # errors never echo the input
    huge = env.client.post(
        BASE,
        content=b'{"text": "' + b"a" * (2 * 1024 * 1024) + b'"}',
        headers={**h, "content-type": "application/json"},
    )
    assert huge.status_code == 413
    assert env.client.post(BASE, json=GENERAL).status_code == 401
    rid = _file(env, people, "field_reporter", GENERAL)
    ana = "analyst"
    for action, body in (
        ("grade", {"expected_version": 1, "reliability": "G", "credibility": "2"}),
        ("grade", {"expected_version": 1, "reliability": "A", "credibility": "7"}),
        ("triage", {"expected_version": 0}),
        ("triage", {"expected_version": 1, "case_class": "aliens"}),
        ("comment", {"expected_version": 1, "text": "y" * 10_001}),
        ("link", {"expected_version": 1, "incident": "existing"}),
        ("verify", {"expected_version": 1}),  # received -> verified is not a move
    ):
        r = _post(env, people, ana, rid, action, body)
        assert r.status_code == 422, (action, body, r.text)
    assert env.client.get(f"{BASE}/..%2F..", headers=h).status_code in (404, 422)
    assert env.client.get(f"{BASE}?cursor=not-a-cursor", headers=_h(people, ana)).status_code == 422
    assert _ledger(env, f"report:{rid}") == ["report.received", "report.filed"]


def test_filing_is_idempotent_per_user_reference(env: Env, people: dict) -> None:
    body = {**GENERAL, "client_reference": "patrol-7:2026-03-01"}
    first = env.client.post(BASE, json=body, headers=_h(people, "field_reporter"))
    again = env.client.post(BASE, json=body, headers=_h(people, "field_reporter"))
    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == {**first.json(), "duplicate": True}
    other = env.client.post(BASE, json=body, headers=_h(people, "other_reporter"))
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    partner = env.client.post(
        BASE, json={**GENERAL, "channel": "field"}, headers=_h(people, "partner")
    )
    assert partner.status_code == 422


def test_queue_filters_and_paging(env: Env, people: dict) -> None:
    ids = [_file(env, people, "field_reporter", {**GENERAL, "text": f"r{i}"}) for i in range(5)]
    ana = _h(people, "analyst")
    _post(env, people, "analyst", ids[0], "triage", {"expected_version": 1})
    _post(
        env,
        people,
        "analyst",
        ids[0],
        "assign",
        {"expected_version": 2, "assignee_id": people["analyst"]["account"].id},
    )
    triaged = env.client.get(f"{BASE}?state=triaged", headers=ana).json()["items"]
    assert [c["id"] for c in triaged] == [ids[0]]
    mine = env.client.get(f"{BASE}?assignee=me", headers=ana).json()["items"]
    assert [c["id"] for c in mine] == [ids[0]]
    unassigned = env.client.get(f"{BASE}?assignee=none", headers=ana).json()["items"]
    assert ids[0] not in [c["id"] for c in unassigned]
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        url = f"{BASE}?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = env.client.get(url, headers=ana).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))


def test_tm_46_suggestions_with_score_and_reason_within_scope(env: Env, people: dict) -> None:
    a = _file(env, people, "field_reporter", GENERAL)
    b = _file(
        env,
        people,
        "other_reporter",
        {**GENERAL, "text": "Market of Ndele attacked by armed men, 3 dead"},
    )
    hidden = _file(
        env, people, "field_reporter", {**SEXUAL_VIOLENCE, "latitude": 8.41, "longitude": 20.65}
    )
    r = env.client.get(f"{BASE}/{a}/suggestions", headers=_h(people, "analyst"))
    assert r.status_code == 200
    items = r.json()["items"]
    assert items[0]["id"] == b and items[0]["kind"] == "report"
    assert 0 < items[0]["score"] <= 1 and items[0]["reason"]
    assert hidden not in {i["id"] for i in items}
    assert (
        env.client.get(f"{BASE}/{a}/suggestions", headers=_h(people, "field_reporter")).status_code
        == 403
    )


def test_tm_47_merge_and_undo_through_the_api(env: Env, people: dict) -> None:
    keep = _file(env, people, "field_reporter", GENERAL)
    dup = _file(env, people, "other_reporter", GENERAL)
    ana = _h(people, "analyst")
    r = env.client.post(
        f"{BASE}/{keep}/merge", json={"members": [dup], "reason": "same attack"}, headers=ana
    )
    assert r.status_code == 200, r.text
    merge_id = r.json()["merge_id"]
    assert env.client.get(f"{BASE}/{dup}", headers=ana).json()["state"] == "discarded"
    assert env.client.get(f"{BASE}/{keep}", headers=ana).status_code == 200
    undo = env.client.post(f"{BASE}/merges/{merge_id}/undo", json={}, headers=ana)
    assert undo.status_code == 200, undo.text
    back = env.client.get(f"{BASE}/{dup}", headers=ana).json()
    assert back["state"] == "received" and back["version"] == 3
    assert env.client.post(f"{BASE}/merges/{merge_id}/undo", headers=ana).status_code == 404
    assert env.client.post(f"{BASE}/merges/not-a-merge/undo", headers=ana).status_code == 422
    assert _ledger(env, f"report:{keep}")[-2:] == ["report.merged", "report.merge_undone"]


def test_tm_49_restricted_report_not_linked_under_a_less_protected_incident(
    env: Env, people: dict
) -> None:
    general = _file(env, people, "field_reporter", GENERAL)
    restricted = _file(env, people, "field_reporter", SEXUAL_VIOLENCE)
    po = "protection_officer"
    for rid, grade in ((general, "2"), (restricted, "2")):
        _post(env, people, po, rid, "triage", {"expected_version": 1})
        _post(
            env,
            people,
            po,
            rid,
            "grade",
            {"expected_version": 2, "reliability": "B", "credibility": grade},
        )
        assert _post(env, people, po, rid, "verify", {"expected_version": 3}).status_code == 200
    uid = _post(
        env, people, po, general, "link", {"expected_version": 5, "incident": "new"}
    ).json()["incident_id"]
    refused = _post(
        env,
        people,
        po,
        restricted,
        "link",
        {"expected_version": 5, "incident": "existing", "incident_uid": uid},
    )
    assert refused.status_code == 422 and "less protected" in refused.json()["detail"]
    own = _post(env, people, po, restricted, "link", {"expected_version": 5, "incident": "new"})
    assert own.status_code == 200
    incident = env.client.get(
        f"/api/v1/events/{own.json()['incident_id']}", headers=_h(people, "analyst")
    )
    assert incident.status_code == 404  # the new incident keeps the report's class


def test_session_actions_need_the_csrf_token(env: Env, people: dict) -> None:
    rid = _file(env, people, "field_reporter", GENERAL)
    account = add_user(env, "sessionanalyst", Role.ANALYST)
    csrf = login(env, account)
    no_token = env.client.post(f"{BASE}/{rid}/triage", json={"expected_version": 1})
    assert no_token.status_code == 403
    ok = env.client.post(f"{BASE}/{rid}/triage", json={"expected_version": 1}, headers=csrf)
    assert ok.status_code == 200


def test_read_only_token_cannot_act(env: Env, people: dict) -> None:
    rid = _file(env, people, "field_reporter", GENERAL)
    read_only = add_token(env, people["analyst"]["account"], ("read",))
    r = env.client.post(f"{BASE}/{rid}/triage", json={"expected_version": 1}, headers=read_only)
    assert r.status_code == 403
    with write_transaction(env.engine) as conn:
        assert audit.verify(conn, None).ok


def test_field_reporter_pages_through_own_reports(env: Env, people: dict) -> None:
    mine = []
    for i in range(3):
        mine.append(_file(env, people, "field_reporter", {**GENERAL, "text": f"mine {i}"}))
        env.clock.advance(seconds=1)
    _file(env, people, "other_reporter", GENERAL)
    seen, cursor = [], None
    for _ in range(4):
        url = f"{BASE}?limit=1" + (f"&cursor={cursor}" if cursor else "")
        page = env.client.get(url, headers=_h(people, "field_reporter")).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == mine  # oldest first, each once, nobody else's
