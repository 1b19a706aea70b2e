"""Outbound delivery: signed webhooks to a real local server, SMTP to a real local server, SMS
through the adapter protocol, the durable queue with backoff and a dead-letter queue."""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from tests.alerts.helpers import LADDER, SECRET, T0, candidate
from tocsin.alerts import repository as repo
from tocsin.alerts.cap import validate_cap
from tocsin.alerts.delivery import queue as q
from tocsin.alerts.delivery.dispatch import Channel, enqueue_alert
from tocsin.alerts.delivery.senders import DeliveryError
from tocsin.alerts.delivery.signing import SignatureError, sign, verify
from tocsin.alerts.delivery.sms import SmsSender, fit_sms, sms_capacity
from tocsin.alerts.delivery.smtp import SmtpSender, SmtpSettings
from tocsin.alerts.delivery.webhook import WebhookSender
from tocsin.alerts.delivery.worker import DeliveryWorker
from tocsin.alerts.lifecycle import issue
from tocsin.domain.taxonomy import SensitivityTier as Tier
from tocsin.intake.gateways import DeliveryReceipt, InMemoryOutbound

KEY = b"0123456789abcdef-test-secret"
EPOCH_NOW = int(T0.timestamp())


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


class Receiver(BaseHTTPRequestHandler):
    """Answers the first ``fail_first`` requests with 503, then 200; keeps what it received."""

    server: ReceiverServer

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        srv = self.server
        with srv.lock:
            srv.received.append((dict(self.headers), body))
            failing = len(srv.received) <= srv.fail_first
        self.send_response(srv.fail_status if failing else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class ReceiverServer(ThreadingHTTPServer):
    def __init__(self, fail_first: int, fail_status: int = 503) -> None:
        super().__init__(("127.0.0.1", 0), Receiver)
        self.fail_first, self.fail_status = fail_first, fail_status
        self.received: list[tuple[dict, bytes]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


def serve(fail_first: int, fail_status: int = 503) -> Iterator[ReceiverServer]:
    server = ReceiverServer(fail_first, fail_status)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def flaky_receiver() -> Iterator[ReceiverServer]:
    yield from serve(fail_first=2)


def issued_alert(conn, c=None):  # noqa: ANN001, ANN201
    alert, _ = repo.admit_candidate(conn, c or candidate(), mission="MINUSCA", at=T0)
    after, event = issue(alert, actor="user:duty", at=T0, ladder=LADDER)
    repo.save_transition(conn, alert, after, [event])
    return after


def test_signatures() -> None:
    header = sign(KEY, b"body", EPOCH_NOW)
    verify(KEY, header, b"body", EPOCH_NOW + 10)
    with pytest.raises(SignatureError, match="does not match"):
        verify(KEY, header, b"b0dy", EPOCH_NOW)
    with pytest.raises(SignatureError, match="does not match"):
        verify(b"another-secret-of-16+", header, b"body", EPOCH_NOW)
    with pytest.raises(SignatureError, match="off"):
        verify(KEY, header, b"body", EPOCH_NOW + 3600)  # a replay an hour later
    with pytest.raises(SignatureError, match="malformed"):
        verify(KEY, "t=1,v1=zz", b"body", EPOCH_NOW)
    with pytest.raises(ValueError, match="16 bytes"):
        sign(b"short", b"body", EPOCH_NOW)


def test_retry_policy_backs_off_with_jitter_and_a_cap() -> None:
    policy = q.RetryPolicy(base=timedelta(seconds=30), cap=timedelta(minutes=10))
    rng = random.Random(1)
    for n, full in [(1, 30), (2, 60), (3, 120), (6, 600), (20, 600)]:
        delays = [policy.delay(n, rng).total_seconds() for _ in range(50)]
        assert all(full / 2 <= d <= full for d in delays)
        assert len(set(delays)) > 40  # jittered, not synchronised
    with pytest.raises(ValueError):
        policy.delay(0, rng)


def test_webhook_fails_twice_then_succeeds(engine, flaky_receiver: ReceiverServer) -> None:
    clock = Clock(T0)
    channel = Channel("ops-hook", "webhook", flaky_receiver.url, Tier.INTERNAL, allow_http=True)
    with engine.begin() as conn:
        alert = issued_alert(conn)
        result = enqueue_alert(conn, alert, [channel], sender="tocsin.test", now=T0)
        again = enqueue_alert(conn, alert, [channel], sender="tocsin.test", now=T0)
    (delivery_id,) = result.enqueued
    assert again.enqueued == [] and again.already_queued == [delivery_id]  # idempotent
    sender = WebhookSender({"ops-hook": KEY}, allow_http=True, clock=lambda: EPOCH_NOW)
    worker = DeliveryWorker(engine, {"webhook": sender}, rng=random.Random(5), clock=clock)
    try:
        assert worker.run_once().retried == 1
        assert worker.run_once().retried == 0  # not due yet: backing off
        for expected in ("retried", "delivered"):
            with engine.connect() as conn:
                clock.now = q.status_of(conn, delivery_id)["next_attempt_at"]
            assert getattr(worker.run_once(), expected) == 1
    finally:
        sender.close()
    with engine.connect() as conn:
        row = q.status_of(conn, delivery_id)
    assert row["status"] == "delivered" and row["attempts"] == 3 and row["last_error"] == "HTTP 503"
    assert len(flaky_receiver.received) == 3
    headers, body = flaky_receiver.received[-1]
    verify(KEY, headers["X-Tocsin-Signature"], body, EPOCH_NOW)  # what a receiver would do
    assert headers["Content-Type"] == "application/cap+xml"
    assert headers["X-Tocsin-Delivery"] == str(delivery_id)
    validate_cap(body)
    assert SECRET.encode() not in body  # internal channel: restricted details withheld


def test_dead_letter_after_max_attempts_and_requeue(engine) -> None:
    gen = serve(fail_first=100)
    receiver = next(gen)
    clock = Clock(T0)
    channel = Channel(
        "down", "webhook", receiver.url, Tier.INTERNAL, max_attempts=3, allow_http=True
    )
    sender = WebhookSender({"down": KEY}, allow_http=True)
    worker = DeliveryWorker(engine, {"webhook": sender}, rng=random.Random(2), clock=clock)
    try:
        with engine.begin() as conn:
            (delivery_id,) = enqueue_alert(
                conn, issued_alert(conn), [channel], sender="s", now=T0
            ).enqueued
        reports = []
        for _ in range(3):
            reports.append(worker.run_once())
            with engine.connect() as conn:
                clock.now = q.status_of(conn, delivery_id)["next_attempt_at"]
        assert [(r.retried, r.dead) for r in reports] == [(1, 0), (1, 0), (0, 1)]
        with engine.connect() as conn:
            (dead,) = q.dead_letters(conn)
        assert (dead.id, dead.attempts, dead.last_error) == (delivery_id, 3, "HTTP 503")
        clock.now += timedelta(days=1)
        assert worker.run_once().retried == 0  # dead letters are not retried by themselves
        receiver.fail_first = 0
        with engine.begin() as conn:
            assert q.requeue_dead(conn, delivery_id, clock.now)
            assert not q.requeue_dead(conn, delivery_id, clock.now)  # only dead rows
        assert worker.run_once().delivered == 1
    finally:
        sender.close()
        next(gen, None)


def test_permanent_refusals_go_straight_to_the_dead_letter_queue(engine) -> None:
    gen = serve(fail_first=100, fail_status=410)
    receiver = next(gen)
    sender = WebhookSender({"gone": KEY}, allow_http=True)
    worker = DeliveryWorker(engine, {"webhook": sender}, clock=Clock(T0))
    try:
        with engine.begin() as conn:
            alert = issued_alert(conn)
            enqueue_alert(
                conn,
                alert,
                [Channel("gone", "webhook", receiver.url, Tier.INTERNAL, allow_http=True)],
                sender="s",
                now=T0,
            )
            # No secret for this channel, and an https-only sender: both permanent too.
            enqueue_alert(
                conn,
                alert,
                [Channel("nosecret", "webhook", receiver.url, Tier.INTERNAL, allow_http=True)],
                sender="s",
                now=T0,
            )
        report = worker.run_once()
        assert (report.delivered, report.retried, report.dead) == (0, 0, 2)
        with engine.connect() as conn:
            errors = sorted(d.last_error for d in q.dead_letters(conn))
        assert errors == ["HTTP 410", "no signing secret configured for channel 'nosecret'"]
        assert len(receiver.received) == 1
    finally:
        sender.close()
        next(gen, None)


def test_unreachable_receiver_is_retried(engine) -> None:
    probe = ReceiverServer(0)
    url = probe.url
    probe.server_close()  # nothing listens there any more
    sender = WebhookSender({"c": KEY}, allow_http=True, timeout_s=2)
    worker = DeliveryWorker(engine, {"webhook": sender}, clock=Clock(T0))
    try:
        with engine.begin() as conn:
            enqueue_alert(
                conn,
                issued_alert(conn),
                [Channel("c", "webhook", url, Tier.INTERNAL, allow_http=True)],
                sender="s",
                now=T0,
            )
        assert worker.run_once().retried == 1
    finally:
        sender.close()


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        if any(r.startswith("refuse") for r in envelope.rcpt_tos):
            return "550 mailbox unavailable"
        self.messages.append(
            (envelope.mail_from, envelope.rcpt_tos, message_from_bytes(envelope.content))
        )
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, Inbox]]:
    inbox = Inbox()
    with socket.socket() as probe:  # aiosmtpd needs a concrete port to check it started
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


def test_email_over_smtp_with_redaction_and_cap_attachment(sqlite_engine, smtp_server) -> None:
    controller, inbox = smtp_server
    port = controller.port
    settings = SmtpSettings("127.0.0.1", port, "alerts@tocsin.example", starttls=False)
    worker = DeliveryWorker(sqlite_engine, {"email": SmtpSender(settings)}, clock=Clock(T0))
    channels = [
        Channel("field-office", "email", "bambari@mission.example", Tier.INTERNAL),
        Channel("poc-unit", "email", "poc@mission.example", Tier.RESTRICTED),
        Channel("bounce", "email", "refuse@mission.example", Tier.INTERNAL),
    ]
    with sqlite_engine.begin() as conn:
        enqueue_alert(conn, issued_alert(conn), channels, sender="s", now=T0)
    report = worker.run_once()
    assert (report.delivered, report.dead) == (2, 1)  # 550 is permanent
    by_rcpt = {rcpt[0]: msg for _, rcpt, msg in inbox.messages}
    internal, restricted = by_rcpt["bambari@mission.example"], by_rcpt["poc@mission.example"]
    assert internal["Subject"] == "[Tocsin Extreme] Violence near a protected IDP site in Ouaka"
    assert internal["From"] == "alerts@tocsin.example"

    def text_and_cap(msg: Message) -> tuple[str, bytes]:
        parts = list(msg.walk())
        text = next(p for p in parts if p.get_content_type() == "text/plain").get_payload(
            decode=True
        )
        cap = next(p for p in parts if p.get_content_type() == "application/cap+xml").get_payload(
            decode=True
        )
        return text.decode(), cap

    text, cap = text_and_cap(internal)
    assert SECRET not in text and SECRET.encode() not in cap
    assert "Need-to-know: tier 'internal'. Do not forward." in text
    validate_cap(cap)
    text, cap = text_and_cap(restricted)
    assert SECRET in text and SECRET.encode() in cap


def test_email_refuses_header_injection() -> None:
    for bad in (
        "a@b.example\r\nBcc: x@y.example",
        "Name <a@b.example>",
        "a@b",
        "a,b@c.example",
        "",
    ):
        with pytest.raises(ValueError):
            Channel("x", "email", bad, Tier.INTERNAL)
    sender = SmtpSender(SmtpSettings("127.0.0.1", 1, "alerts@tocsin.example"))
    job = q.DeliveryJob(
        1, "a", "c", "email", "x@y.example\nBcc: z@z.example", Tier.INTERNAL, "t", "s", "{}", 0, 3
    )
    with pytest.raises(DeliveryError) as info:
        sender.build_message(job)
    assert info.value.permanent


class RecordingGateway:
    """An ``OutboundSms`` (``tocsin.intake.gateways``) that fails first: once by raising, then
    by refusing, then accepts."""

    def __init__(self, fail: int = 0, refuse: int = 0) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.fail = fail
        self.refuse = refuse

    def send(self, to: str, text: str, *, reference: str) -> DeliveryReceipt:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("gateway timeout")
        if self.refuse:
            self.refuse -= 1
            return DeliveryReceipt(accepted=False, error="rate limited")
        self.sent.append((to, text, reference))
        return DeliveryReceipt(accepted=True, provider_id=f"msg-{len(self.sent)}")


def test_sms_through_the_adapter_and_tier_skipping(sqlite_engine) -> None:
    gateway = RecordingGateway(fail=1, refuse=1)
    clock = Clock(T0)
    worker = DeliveryWorker(
        sqlite_engine, {"sms": SmsSender(gateway)}, rng=random.Random(0), clock=clock
    )
    channels = [
        Channel("duty-phone", "sms", "+236700000001", Tier.INTERNAL),
        Channel("community-focal-point", "sms", "+236700000002", Tier.PUBLIC),
    ]
    with sqlite_engine.begin() as conn:
        result = enqueue_alert(conn, issued_alert(conn), channels, sender="s", now=T0)
    assert result.skipped == {
        "community-focal-point": "channel tier public is below the alert's tier internal"
    }
    assert worker.run_once().retried == 1
    clock.now += timedelta(hours=1)
    assert worker.run_once().retried == 1  # refused by the gateway: retried, not lost
    clock.now += timedelta(hours=1)
    assert worker.run_once().delivered == 1
    ((to, body, reference),) = gateway.sent
    assert to == "+236700000001" and reference.startswith("alert:")
    assert body.startswith("Extreme: Violence near a protected IDP site in Ouaka (Ouaka). Ref ")
    assert SECRET not in body and len(body) <= sms_capacity(body, 3)
    for bad in ("0700000001", "+0123", "+2367000000011111111"):
        with pytest.raises(ValueError, match="E.164"):
            Channel("x", "sms", bad, Tier.INTERNAL)


def test_sms_through_the_intake_in_memory_adapter(sqlite_engine) -> None:
    outbound = InMemoryOutbound()  # intake's own adapter, unchanged
    worker = DeliveryWorker(sqlite_engine, {"sms": SmsSender(outbound)}, clock=Clock(T0))
    with sqlite_engine.begin() as conn:
        channels = [Channel("duty", "sms", "+236700000001", Tier.INTERNAL)]
        enqueue_alert(conn, issued_alert(conn), channels, sender="s", now=T0)
    assert worker.run_once().delivered == 1
    (sent,) = outbound.sent
    assert sent.to == "+236700000001" and sent.text.startswith("Extreme: ")


def test_sms_length_limits() -> None:
    assert sms_capacity("plain", 1) == 160 and sms_capacity("plain", 3) == 459
    assert sms_capacity("Ωμέγα ✓", 3) == 201  # non-GSM characters: UCS-2 segments
    long = fit_sms("word " * 200, 2)
    assert len(long) == 306 and long.endswith("...")


def test_queue_guards(sqlite_engine) -> None:
    with sqlite_engine.begin() as conn:
        alert = issued_alert(conn)
        common = {
            "alert_id": alert.id,
            "channel": "c",
            "target": "t",
            "tier": Tier.INTERNAL,
            "content_type": "text/plain",
            "now": T0,
            "idempotency_key": "k",
        }
        with pytest.raises(ValueError, match="kind"):
            q.enqueue(conn, kind="pigeon", payload="x", **common)
        with pytest.raises(ValueError, match="exceeds"):
            q.enqueue(conn, kind="sms", payload="x" * (q.MAX_PAYLOAD_CHARS + 1), **common)
        with pytest.raises(ValueError, match="max_attempts"):
            q.enqueue(conn, kind="sms", payload="x", max_attempts=0, **common)
        draft, _ = repo.admit_candidate(conn, candidate(area_key="other"), mission="M", at=T0)
        with pytest.raises(ValueError, match="only issued alerts go out"):
            enqueue_alert(conn, draft, [], sender="s", now=T0)
    for bad in (
        "ftp://x.example/hook",
        "https://user:pw@x.example/hook",
        "http://x.example/hook",
        "https:///nohost",
    ):
        with pytest.raises(ValueError):
            Channel("x", "webhook", bad, Tier.INTERNAL)


def test_expired_lease_is_claimed_again(sqlite_engine) -> None:
    with sqlite_engine.begin() as conn:
        enqueue_alert(
            conn,
            issued_alert(conn),
            [Channel("d", "sms", "+236700000001", Tier.INTERNAL)],
            sender="s",
            now=T0,
        )
        (job,) = q.claim_due(conn, T0, lease=timedelta(minutes=5))
        assert q.claim_due(conn, T0 + timedelta(minutes=1)) == []  # leased to a worker
        (again,) = q.claim_due(conn, T0 + timedelta(minutes=6))  # that worker died
    assert again.id == job.id
