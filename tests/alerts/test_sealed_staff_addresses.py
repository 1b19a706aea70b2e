"""TM-88: staff alert addresses are encrypted at rest, and escalation deliveries name a user, not
an address; the worker opens the address when it sends (both backends)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from tests.alerts.helpers import T0
from tests.alerts.test_delivery import Clock, RecordingGateway
from tests.alerts.test_escalation_directory import _cfg, _issued, _staff
from tocsin.alerts import service
from tocsin.alerts.delivery import queue as q
from tocsin.alerts.delivery.addressing import target_user, user_target
from tocsin.alerts.delivery.sms import SmsSender
from tocsin.alerts.delivery.worker import DeliveryWorker
from tocsin.alerts.directory import ContactIn, get_contact, set_contact
from tocsin.domain.taxonomy import CaseClass
from tocsin.domain.taxonomy import SensitivityTier as Tier
from tocsin.security import users as accounts
from tocsin.security.audit import Actor
from tocsin.security.keys import KeyRing
from tocsin.store.schema_alerts import alert_deliveries
from tocsin.store.schema_user_contacts import user_contacts

ADDRESSES = ("po1@mission.example", "+236700000101", "cmd1@mission.example", "+236700000104")
ESCALATED = T0 + timedelta(hours=1, minutes=1)


def _dump(engine, table) -> str:  # noqa: ANN001
    with engine.connect() as conn:
        return "\n".join(repr(tuple(r)) for r in conn.execute(select(table)))


def _escalate(engine, tmp_path: Path) -> dict[str, int]:  # noqa: ANN001
    ids = _staff(engine, tmp_path)
    _issued(engine, Tier.INTERNAL, CaseClass.GENERAL)
    report = service.evaluate_round(engine, _cfg(), now=ESCALATED)
    assert report.queued == 5
    return ids


def _sms_worker(engine, keys: KeyRing | None, gateway: RecordingGateway) -> DeliveryWorker:  # noqa: ANN001
    return DeliveryWorker(engine, {"sms": SmsSender(gateway)}, clock=Clock(ESCALATED), keys=keys)


def _status(engine, channel: str) -> tuple[str, str | None]:  # noqa: ANN001
    with engine.connect() as conn:
        row = conn.execute(
            select(alert_deliveries.c.status, alert_deliveries.c.last_error).where(
                alert_deliveries.c.channel == channel
            )
        ).one()
    return row.status, row.last_error


def test_tm_88_directory_and_outbox_hold_no_staff_address(engine, tmp_path: Path) -> None:  # noqa: ANN001
    ids = _escalate(engine, tmp_path)
    contacts, outbox = _dump(engine, user_contacts), _dump(engine, alert_deliveries)
    for address in ADDRESSES:
        assert address not in contacts, address
        assert address not in outbox, address
    assert "mission.example" not in contacts + outbox
    with engine.connect() as conn:
        targets = {
            r.channel: r.target
            for r in conn.execute(select(alert_deliveries.c.channel, alert_deliveries.c.target))
        }
        # The admin's view still opens them, with the key.
        contact = get_contact(conn, ids["po"], KeyRing(tmp_path / "keys"))
    assert targets[f"user-{ids['po']}-sms"] == f"directory:user:{ids['po']}"
    assert {target_user(t) for t in targets.values()} == {
        ids["po"], ids["cmd"], ids["hro"], ids["fr"]
    }  # fmt: skip
    assert contact is not None
    assert (contact.email, contact.phone) == ("po1@mission.example", "+236700000101")


def test_tm_88_a_delivery_goes_to_the_address_of_the_moment(engine, tmp_path: Path) -> None:  # noqa: ANN001
    ids = _escalate(engine, tmp_path)
    keys = KeyRing(tmp_path / "keys")
    with engine.begin() as conn:
        # After the rows were queued: the officer's number changes, the field reporter leaves.
        set_contact(
            conn, ids["po"], ContactIn(phone="+236700000999"), Actor("test"), keys, ESCALATED
        )
        accounts.set_disabled(conn, accounts.require_user(conn, "fr1"), True, Actor("t"), T0)
    gateway = RecordingGateway()
    report = _sms_worker(engine, keys, gateway).run_once(only_equipped=True)
    assert [to for to, _text, _ref in gateway.sent] == ["+236700000999"]
    assert (report.delivered, report.dead) == (1, 1)
    status, error = _status(engine, f"user-{ids['fr']}-sms")
    assert status == q.DEAD and "disabled or has no sms address" in (error or "")
    assert "+23670000010" not in (error or "")


def test_tm_88_an_address_copied_onto_another_user_does_not_open(engine, tmp_path: Path) -> None:  # noqa: ANN001
    ids = _escalate(engine, tmp_path)
    with engine.begin() as conn:
        stolen = conn.scalar(
            select(user_contacts.c.phone_enc).where(user_contacts.c.user_id == ids["po"])
        )
        # Someone with write access to the database redirects the reporter's SMS to the
        # officer's number: the ciphertext is bound to its user and field, so it fails instead.
        conn.execute(
            update(user_contacts)
            .where(user_contacts.c.user_id == ids["fr"])
            .values(phone_enc=stolen)
        )
    gateway = RecordingGateway()
    _sms_worker(engine, KeyRing(tmp_path / "keys"), gateway).run_once(only_equipped=True)
    assert [to for to, _t, _r in gateway.sent] == ["+236700000101"]  # the officer's own row
    status, error = _status(engine, f"user-{ids['fr']}-sms")
    assert status == q.DEAD and "does not open" in (error or "")


def test_tm_88_without_the_key_nothing_is_sent_and_the_rows_wait(engine, tmp_path: Path) -> None:  # noqa: ANN001
    ids = _escalate(engine, tmp_path)
    gateway = RecordingGateway()
    report = _sms_worker(engine, None, gateway).run_once(only_equipped=True)
    assert gateway.sent == [] and report.retried == 2 and report.dead == 0
    assert _status(engine, f"user-{ids['po']}-sms")[0] == q.PENDING
    # The wrong key is no better: it fails to open, and is not retried forever.
    wrong = KeyRing(tmp_path / "other-keys")
    with engine.begin() as conn:
        conn.execute(update(alert_deliveries).values(next_attempt_at=ESCALATED))
    report = _sms_worker(engine, wrong, gateway).run_once(only_equipped=True)
    assert gateway.sent == [] and report.dead == 2


def test_directory_targets_are_strict() -> None:
    assert target_user(user_target(42)) == 42
    for bad in ("directory:user:0", "directory:user:-1", "directory:user:1 ", "directory:user:x",
                "directory:user:12345678901", "po1@mission.example", "+236700000101"):  # fmt: skip
        assert target_user(bad) is None, bad


class _QuotingGateway(RecordingGateway):
    """A gateway whose failure quotes the number it was given, as real ones do."""

    def send(self, to: str, text: str, *, reference: str):  # noqa: ANN201
        raise RuntimeError(f"gateway timeout sending to {to}")


def test_tm_88_a_failure_that_quotes_the_address_does_not_store_it(engine, tmp_path: Path) -> None:  # noqa: ANN001
    _escalate(engine, tmp_path)
    report = _sms_worker(engine, KeyRing(tmp_path / "keys"), _QuotingGateway()).run_once(
        only_equipped=True
    )
    assert report.retried == 2
    with engine.connect() as conn:
        errors = list(
            conn.scalars(
                select(alert_deliveries.c.last_error).where(alert_deliveries.c.kind == "sms")
            )
        )
    assert errors == ["RuntimeError: gateway timeout sending to <directory address>"] * 2
    assert "+23670000010" not in _dump(engine, alert_deliveries)
