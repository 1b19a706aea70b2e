"""Escalation reaches people: every active user of a notified role, at the addresses of the staff
directory, at the detail their role may read (both backends; e-mail through a local SMTP
server, SMS through a recording gateway)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from tests.alerts.helpers import SECRET, T0, candidate
from tests.alerts.store_helpers import CONFIG, ledger
from tests.alerts.test_delivery import Clock, RecordingGateway, smtp_server  # noqa: F401
from tocsin.alerts import repository as repo
from tocsin.alerts import service
from tocsin.alerts.actions import issue_stored
from tocsin.alerts.delivery import queue as q
from tocsin.alerts.delivery.sms import SmsSender
from tocsin.alerts.delivery.smtp import SmtpSender, SmtpSettings
from tocsin.alerts.delivery.worker import DeliveryWorker
from tocsin.alerts.directory import ContactIn, recipients_for_roles, set_contact
from tocsin.alerts.triggers.config import TriggerConfigError, parse_triggers
from tocsin.domain.taxonomy import CaseClass
from tocsin.domain.taxonomy import SensitivityTier as Tier
from tocsin.security import users as accounts
from tocsin.security.audit import Actor
from tocsin.security.keys import KeyRing
from tocsin.security.passwords import fast_passwords_for_tests
from tocsin.security.policies import Role
from tocsin.store.db import make_engine
from tocsin.store.schema_alerts import alert_deliveries
from tocsin.store.schema_user_contacts import user_contacts

NOTIFIED = "[protection_officer, commander, human_rights_officer, field_reporter, analyst]"
LADDER_CONFIG = CONFIG.replace(
    "    - {after: 0m, notify: [duty_officer]}\n",
    f"    - {{after: 0m, notify: {NOTIFIED}}}\n",
)
PASSWORD = "plover-quantum-ledger-47"


def _cfg():  # noqa: ANN202
    cfg = parse_triggers(LADDER_CONFIG)
    return cfg.model_copy(update={"triggers": cfg.triggers[:1], "channels": ()})


def _user(conn, keys: KeyRing, name: str, role: Role, **contact: str) -> int:  # noqa: ANN001
    user, _ = accounts.create_user(
        conn,
        fast_passwords_for_tests(),
        keys,
        username=name,
        display_name=name,
        role=role,
        password=PASSWORD,
        actor=Actor("test-setup"),
        now=T0,
    )
    if contact:
        set_contact(conn, user.id, ContactIn(**contact), Actor("test-setup"), keys, T0)
    return user.id


def _staff(engine, tmp_path: Path) -> dict[str, int]:  # noqa: ANN001
    keys = KeyRing(tmp_path / "keys")
    with engine.begin() as conn:
        ids = {
            "po": _user(
                conn,
                keys,
                "po1",
                Role.PROTECTION_OFFICER,
                email="po1@mission.example",
                phone="+236700000101",
            ),  # fmt: skip
            "cmd": _user(conn, keys, "cmd1", Role.COMMANDER, email="cmd1@mission.example"),
            "hro": _user(
                conn, keys, "hro1", Role.HUMAN_RIGHTS_OFFICER, email="refuse-hro@mission.example"
            ),
            "fr": _user(conn, keys, "fr1", Role.FIELD_REPORTER, phone="+236700000104"),
            "gone": _user(conn, keys, "po2", Role.PROTECTION_OFFICER, email="po2@mission.example"),
            "silent": _user(conn, keys, "an1", Role.ANALYST),  # no contact: reached by nothing
        }
        accounts.set_disabled(
            conn, accounts.require_user(conn, "po2"), True, Actor("test-setup"), T0
        )
    return ids


def _plain(msg) -> str:  # noqa: ANN001 - email.message.Message from the test server
    part = next(p for p in msg.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode()


def _issued(engine, tier: Tier, case_class: CaseClass) -> str:  # noqa: ANN001
    cfg = _cfg()
    c = replace(candidate(tier=tier), case_class=case_class)
    with engine.begin() as conn:
        draft, _ = repo.admit_candidate(conn, c, mission="M", at=T0)
        issue_stored(
            conn, draft.id, actor="user:po1", now=T0, ladder=cfg.ladder(), channels=(), sender="s"
        )
    return draft.id


def test_tm_84_escalation_reaches_directory_addresses_redacted_to_each_role(
    engine,  # noqa: ANN001
    tmp_path: Path,
    smtp_server,  # noqa: ANN001, F811
) -> None:
    controller, inbox = smtp_server
    ids = _staff(engine, tmp_path)
    alert_id = _issued(engine, Tier.RESTRICTED, CaseClass.CHILDREN)
    # Immediate urgency: acknowledgement due within 1 h; the first step is due at once after.
    report = service.evaluate_round(engine, _cfg(), now=T0 + timedelta(hours=1, minutes=1))
    assert report.escalated == [alert_id]
    assert report.queued == 5  # po e-mail + SMS, commander, human-rights officer, field reporter
    with engine.connect() as conn:
        rows = conn.execute(select(alert_deliveries.c.channel, alert_deliveries.c.payload)).all()
        entries = [d for a, _t, d in ledger(conn) if a == "alert.escalation_delivery"]
        ledger_text = json.dumps(ledger(conn))
    channels = {r.channel for r in rows}
    assert channels == {
        f"user-{ids['po']}-email",
        f"user-{ids['po']}-sms",
        f"user-{ids['cmd']}-email",
        f"user-{ids['hro']}-email",
        f"user-{ids['fr']}-sms",
    }  # not the disabled officer, not the analyst without a contact
    detail = {(e["user_id"], e["kind"]): e["detail"] for e in entries}
    assert detail == {
        (ids["po"], "email"): "full",  # confidential, every case class
        (ids["po"], "sms"): "full",
        (ids["cmd"], "email"): "notice",  # restricted tier, but general cases only
        (ids["hro"], "email"): "notice",  # confidential, general only
        (ids["fr"], "sms"): "notice",  # reads no alerts at all
    }
    for secret in ("mission.example", "+2367000001", "po1@", "cmd1@"):
        assert secret not in ledger_text, secret  # addresses never reach the ledger

    # Deliver: e-mail to the local SMTP server, SMS to the gateway; the 550 is dead-lettered.
    gateway = RecordingGateway()
    settings = SmtpSettings("127.0.0.1", controller.port, "alerts@tocsin.example", starttls=False)
    worker = DeliveryWorker(
        engine,
        {"email": SmtpSender(settings), "sms": SmsSender(gateway)},
        clock=Clock(T0 + timedelta(hours=1, minutes=2)),
        keys=KeyRing(tmp_path / "keys"),
    )
    result = worker.run_once()
    assert (result.delivered, result.dead) == (4, 1)
    with engine.connect() as conn:
        (dead,) = q.dead_letters(conn)
    assert dead.channel == f"user-{ids['hro']}-email"
    mail = {rcpt[0]: msg for _, rcpt, msg in inbox.messages}
    full = _plain(mail["po1@mission.example"])
    assert SECRET in full and "Need-to-know: tier 'confidential'" in full
    notice_msg = mail["cmd1@mission.example"]
    notice = _plain(notice_msg)
    assert "An alert needs attention" in notice and "Sign in" in notice
    assert notice_msg["Subject"] == "[Tocsin] An alert needs attention"
    for leak in (SECRET, "Ouaka", "IDP", "Violence", "Extreme", "Contact the site"):
        assert leak not in notice and leak not in str(notice_msg["Subject"])
    assert not [p for p in notice_msg.walk() if p.get_content_type() == "application/cap+xml"]
    sms = {to: text for to, text, _ref in gateway.sent}
    assert "IDP" in sms["+236700000101"]  # the officer's SMS carries the headline
    assert sms["+236700000104"].startswith("An alert needs attention")
    assert "IDP" not in sms["+236700000104"]
    # The next round takes no step again: nothing is queued twice.
    again = service.evaluate_round(engine, _cfg(), now=T0 + timedelta(hours=1, minutes=30))
    assert again.queued == 0 and not again.escalated


def test_a_general_alert_reaches_cleared_roles_in_full(engine, tmp_path: Path) -> None:  # noqa: ANN001
    ids = _staff(engine, tmp_path)
    _issued(engine, Tier.INTERNAL, CaseClass.GENERAL)
    service.evaluate_round(engine, _cfg(), now=T0 + timedelta(hours=2))
    with engine.connect() as conn:
        entries = [d for a, _t, d in ledger(conn) if a == "alert.escalation_delivery"]
    detail = {(e["user_id"], e["kind"]): e["detail"] for e in entries}
    assert detail[(ids["cmd"], "email")] == "full"
    assert detail[(ids["hro"], "email")] == "full"
    assert detail[(ids["fr"], "sms")] == "notice"
    assert all(user != ids["gone"] for user, _ in detail)


def test_recipients_skip_disabled_users_and_non_account_roles(engine, tmp_path: Path) -> None:  # noqa: ANN001
    ids = _staff(engine, tmp_path)
    with engine.connect() as conn:
        found = recipients_for_roles(conn, ["protection_officer", "duty_officer"])
        assert [r.user_id for r in found] == [ids["po"]]
        assert recipients_for_roles(conn, ["duty_officer"]) == []


runner = CliRunner()


def test_tm_83_contact_cli_set_show_clear_and_bad_input(tmp_path: Path) -> None:
    from tocsin.cli import app

    def run(*args: str, stdin: str | None = None):  # noqa: ANN202
        return runner.invoke(app, list(args), input=stdin)

    created = run(
        "users", "create", "po9", "--role", "protection_officer", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    ok = run("users", "contact", "set", "po9", "--email", "po9@mission.example")
    assert ok.exit_code == 0, ok.output
    assert "po9@mission.example" not in ok.output  # confirmed without echoing the address
    ok = run("users", "contact", "set", "po9", "--phone", "+236700000909")  # keeps the e-mail
    assert ok.exit_code == 0, ok.output
    shown = json.loads(run("users", "contact", "show", "po9", "--json").output)
    assert (shown["email"], shown["phone"]) == ("po9@mission.example", "+236700000909")
    bad = run("users", "contact", "set", "po9", "--phone", "0700-SECRET-99")
    assert bad.exit_code == 2 and "E.164" in bad.output and "SECRET" not in bad.output
    bad = run("users", "contact", "set", "po9", "--email", "x" * 300 + "@a.example")
    assert bad.exit_code == 2
    assert run("users", "contact", "set", "po9").exit_code == 2
    assert run("users", "contact", "set", "nobody", "--email", "a@b.example").exit_code == 1
    assert run("users", "contact", "show", "nobody").exit_code == 1
    # A stored value that does not open (another row's ciphertext): a clear error, and the way
    # out is to give both fields again.
    with make_engine().begin() as conn:
        conn.execute(update(user_contacts).values(phone_enc=None))
        email_enc = conn.scalar(select(user_contacts.c.email_enc))
        conn.execute(update(user_contacts).values(phone_enc=email_enc))
    shown = run("users", "contact", "show", "po9")
    assert shown.exit_code == 1 and "does not open" in shown.output
    partial = run("users", "contact", "set", "po9", "--email", "po9@mission.example")
    assert partial.exit_code == 1 and "give both --email and" in " ".join(partial.output.split())
    both = run("users", "contact", "set", "po9", "--email", "a@b.example", "--phone", "+23670000")
    assert both.exit_code == 0, both.output
    assert run("users", "contact", "clear", "po9").exit_code == 0
    assert "has no alert contact" in run("users", "contact", "show", "po9").output
    audit = run("audit", "verify", "--json")
    assert audit.exit_code == 0 and json.loads(audit.output)["ok"] is True


def test_notices_link_to_the_alerts_page_when_the_public_url_is_set(engine, tmp_path: Path) -> None:  # noqa: ANN001
    ids = _staff(engine, tmp_path)
    alert_id = _issued(engine, Tier.RESTRICTED, CaseClass.CHILDREN)
    cfg = parse_triggers(LADDER_CONFIG + "public_url: https://tocsin.mission.example/\n")
    cfg = cfg.model_copy(update={"triggers": cfg.triggers[:1], "channels": ()})
    service.evaluate_round(engine, cfg, now=T0 + timedelta(hours=1, minutes=1))
    with engine.connect() as conn:
        query = select(alert_deliveries.c.channel, alert_deliveries.c.payload)
        payloads = {r.channel: r.payload for r in conn.execute(query)}
    link = "Sign in to see it: https://tocsin.mission.example/alerts Ref "
    assert link in payloads[f"user-{ids['cmd']}-email"]  # a notice, by e-mail
    sms = payloads[f"user-{ids['fr']}-sms"]  # a notice, by SMS: the link is never cut
    assert link in sms and sms.endswith("on purpose.") and alert_id not in sms
    assert "mission.example/alerts" not in payloads[f"user-{ids['po']}-sms"]  # the full alert


def test_the_public_url_is_checked() -> None:
    def parsed(value: str) -> str | None:
        return parse_triggers(LADDER_CONFIG + f"public_url: '{value}'\n").public_url

    assert parsed("https://tocsin.mission.example/") == "https://tocsin.mission.example"
    assert parsed("https://mission.example/tocsin") == "https://mission.example/tocsin"
    assert parsed("http://127.0.0.1:8000") == "http://127.0.0.1:8000"
    for bad in (
        "http://tocsin.mission.example",  # clear text off this machine
        "javascript:alert(1)",
        "https://user:pw@tocsin.mission.example",
        "https://tocsin.mission.example/?next=https://evil.example",
        "https://tocsin.mission.example/#x",
        "https:///alerts",
        "https://tocsin.mission.example/a b",
        "https://tocsin.mission.example/" + "a" * 200,
    ):
        with pytest.raises(TriggerConfigError):
            parsed(bad)
