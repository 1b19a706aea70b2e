"""Writing back to a reporter, and break-glass unsealing of their contact details."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from tests.api.support import Env, add_token, add_user, login
from tests.intake.channel_support import TWILIO_TOKEN, intake_env, ledger
from tocsin.intake.gateways import DeliveryReceipt, twilio_signature
from tocsin.intake.report import IntakeReport
from tocsin.security.policies import Role
from tocsin.store.schema_intake import intake_reports

PHONE = "+23672123456"
REASON = "Reporter asked for protection; the team must call her before the patrol."


def sms(env: Env, sid: str, text: str) -> str:
    """Sends an SMS through the Twilio webhook; returns the stored report id."""
    url = "http://testserver/api/v1/intake/sms/twilio"
    pairs = [("MessageSid", sid), ("From", PHONE), ("To", "+23670000000"), ("Body", text)]
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, url, pairs),
    }
    response = env.client.post(url, content=urlencode(pairs).encode(), headers=headers)
    assert response.status_code == 200, response.text
    with env.engine.connect() as conn:
        return conn.execute(
            select(intake_reports.c.id).where(intake_reports.c.external_id == f"twilio:{sid}")
        ).scalar_one()


@pytest.fixture
def world(engine: Engine, tmp_path: Path):
    with intake_env(engine, tmp_path / "home") as (env, outbound):
        general = sms(env, "SM" + "1" * 32, "ALERT Bria ATK 4")
        violence = sms(env, "SM" + "2" * 32, "ALERT Kaga SV 1")  # sexual violence: restricted
        outbound.sent.clear()
        yield env, outbound, general, violence


def session_for(env: Env, username: str, role: Role) -> tuple[TestClient, dict[str, str]]:
    account = add_user(env, username, role)
    client = TestClient(env.app, base_url="http://testserver")
    return client, login(env, account, client)


def get_intake_of(env: Env):
    return env.app.state.intake  # the app's intake service, built by the first request


def actions(engine: Engine) -> list[str]:
    return [action for _, action, _, _ in ledger(engine)]


# -- TM-38 messages ---------------------------------------------------------------------------


def test_tm_38_analyst_writes_to_the_reporter_without_seeing_the_number(world) -> None:
    env, outbound, general, _ = world
    client, csrf = session_for(env, "ana", Role.ANALYST)
    response = client.post(
        f"/api/v1/reports/{general}/messages",
        json={"text": "Thank you. Is the road to Bria open?"},
        headers=csrf,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    pseudonym = get_intake_of(env).pseudonymizer.pseudonym(PHONE)
    assert body["reporter"] == pseudonym and body["sent"] is True
    assert PHONE not in response.text and PHONE[1:] not in response.text
    [sent] = outbound.sent
    assert (sent.to, sent.text) == (PHONE, "Thank you. Is the road to Bria open?")
    entries = ledger(env.engine)
    sent_entry = next(e for e in entries if e[1] == "report.message_sent")
    assert sent_entry[0] == "ana" and sent_entry[2] == f"report:{general}"
    opened = next(e for e in entries if e[1] == "vault.opened_for_delivery")
    assert json.loads(opened[3])["requested_by"] == "ana"
    assert all(PHONE not in json.dumps(e) and PHONE[1:] not in json.dumps(e) for e in entries)


def test_tm_38_case_class_scope_applies_to_messages(world) -> None:
    env, outbound, _, violence = world
    analyst, csrf = session_for(env, "ana", Role.ANALYST)
    hidden = analyst.post(
        f"/api/v1/reports/{violence}/messages", json={"text": "hello"}, headers=csrf
    )
    assert hidden.status_code == 404  # as if it did not exist: analysts see general cases only
    officer, csrf_po = session_for(env, "pro", Role.PROTECTION_OFFICER)
    allowed = officer.post(
        f"/api/v1/reports/{violence}/messages", json={"text": "We can help."}, headers=csrf_po
    )
    assert allowed.status_code == 200
    assert len(outbound.sent) == 1
    missing = officer.post(
        "/api/v1/reports/doesnotexist/messages", json={"text": "x"}, headers=csrf_po
    )
    assert missing.status_code == 404


def test_tm_38_who_may_not_write_to_reporters(world) -> None:
    env, outbound, general, _ = world
    commander, csrf = session_for(env, "cmd", Role.COMMANDER)
    url = f"/api/v1/reports/{general}/messages"
    assert commander.post(url, json={"text": "x"}, headers=csrf).status_code == 403
    analyst = add_user(env, "scripted", Role.ANALYST)
    token = add_token(env, analyst, ("read", "write"))
    assert env.client.post(url, json={"text": "x"}, headers=token).status_code == 403
    anonymous = TestClient(env.app, base_url="http://testserver")
    assert anonymous.post(url, json={"text": "x"}).status_code == 401
    assert outbound.sent == []
    assert "report.message_sent" not in actions(env.engine)


BAD_MESSAGES = [
    {"text": ""},
    {"text": "x" * 460},
    {"text": "hello\x07"},
    {"text": "abc\u202edef"},
    {"text": "hi", "to": "+1555"},  # unknown field: nobody picks the number
    {},
]


def test_tm_38_bad_messages_are_refused(world) -> None:
    env, outbound, general, _ = world
    client, csrf = session_for(env, "ana", Role.ANALYST)
    for payload in BAD_MESSAGES:
        response = client.post(f"/api/v1/reports/{general}/messages", json=payload, headers=csrf)
        assert response.status_code == 422, payload
    assert outbound.sent == []


def test_tm_38_report_without_a_number_and_failing_gateway(world) -> None:
    env, outbound, general, _ = world
    anonymous_report = IntakeReport(
        channel="web",
        external_id="web-test-1",
        received_at=datetime(2026, 3, 1, tzinfo=UTC),
        text="no contact left",
    )
    stored = get_intake_of(env).accept(anonymous_report)
    client, csrf = session_for(env, "ana", Role.ANALYST)
    response = client.post(
        f"/api/v1/reports/{stored.report_id}/messages", json={"text": "hi"}, headers=csrf
    )
    assert response.status_code == 409 and "no phone number" in response.json()["detail"]

    class Refusing:
        def send(self, to: str, text: str, *, reference: str) -> DeliveryReceipt:
            return DeliveryReceipt(accepted=False, error=f"number {to} unreachable")

    env.app.state.sms_outbound = Refusing()
    failed = client.post(f"/api/v1/reports/{general}/messages", json={"text": "hi"}, headers=csrf)
    assert failed.status_code == 502
    assert actions(env.engine)[-3:] == [
        "report.message_sent",
        "vault.opened_for_delivery",
        "report.message_failed",
    ]
    assert all(PHONE not in json.dumps(e) for e in ledger(env.engine))


# -- TM-39 break-glass ------------------------------------------------------------------------


def test_tm_39_protection_officer_unseals_with_a_reason_and_it_is_in_the_ledger(world) -> None:
    env, _, _, violence = world
    officer, csrf = session_for(env, "pro", Role.PROTECTION_OFFICER)
    response = officer.post(
        f"/api/v1/reports/{violence}/contact/unseal", json={"reason": REASON}, headers=csrf
    )
    assert response.status_code == 200, response.text
    assert response.json()["phone"] == PHONE
    assert response.headers["cache-control"] == "no-store"
    entry = next(e for e in ledger(env.engine) if e[1] == "vault.unsealed")
    actor, _, target, details = entry
    assert actor == "pro" and target == f"report:{violence}"
    assert json.loads(details)["reason"] == REASON and json.loads(details)["break_glass"] is True
    assert PHONE not in details


def test_tm_39_unseal_needs_the_role_a_session_and_a_reason(world) -> None:
    env, _, general, violence = world
    url = f"/api/v1/reports/{general}/contact/unseal"
    analyst, csrf = session_for(env, "ana", Role.ANALYST)
    assert analyst.post(url, json={"reason": REASON}, headers=csrf).status_code == 403
    hro, csrf_h = session_for(env, "hro", Role.HUMAN_RIGHTS_OFFICER)
    assert hro.post(url, json={"reason": REASON}, headers=csrf_h).status_code == 403
    admin = add_user(env, "root", Role.ADMIN)
    token = add_token(env, admin, ("read",))
    assert env.client.post(url, json={"reason": REASON}, headers=token).status_code == 403
    officer, csrf_po = session_for(env, "pro", Role.PROTECTION_OFFICER)
    assert officer.post(url, json={}, headers=csrf_po).status_code == 422
    short = officer.post(url, json={"reason": "because"}, headers=csrf_po)
    assert short.status_code == 400 and "reason" in short.json()["detail"]
    no_csrf = officer.post(url, json={"reason": REASON})
    assert no_csrf.status_code == 403
    assert "vault.unsealed" not in actions(env.engine)
    # An administrator in a session may, for any case class.
    admin_client = TestClient(env.app, base_url="http://testserver")
    csrf_a = login(env, admin, admin_client)
    ok = admin_client.post(
        f"/api/v1/reports/{violence}/contact/unseal", json={"reason": REASON}, headers=csrf_a
    )
    assert ok.status_code == 200
    assert actions(env.engine).count("vault.unsealed") == 1
