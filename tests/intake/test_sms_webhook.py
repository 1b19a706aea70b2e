"""``POST /api/v1/intake/sms/{gateway}`` end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.api.support import Env
from tests.intake.channel_support import (
    GENERIC_SECRET,
    TELERIVET_SECRET,
    TWILIO_TOKEN,
    count_reports,
    intake_env,
    ledger,
    report_texts,
)
from tocsin.api.routers import intake_sms
from tocsin.api.settings import INTAKE_BODY_LIMITS
from tocsin.intake import gateways
from tocsin.intake.gateways import InMemoryOutbound, sign_generic, twilio_signature
from tocsin.intake.sms_syntax import HELP_TEXT

PHONE = "+23672123456"
OTHER_PHONE = "+23675000111"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
RECEIPT = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}")


@pytest.fixture
def env(engine: Engine, tmp_path: Path):
    with intake_env(engine, tmp_path / "home") as pair:
        yield pair


def generic_post(
    env: Env,
    fields: dict[str, str],
    *,
    nonce: str,
    secret: bytes = GENERIC_SECRET,
    ts: int | None = None,
    body: bytes | None = None,
):
    body = urlencode(fields).encode() if body is None else body
    ts = int(env.clock().timestamp()) if ts is None else ts
    headers = {
        **FORM,
        "X-Tocsin-Timestamp": str(ts),
        "X-Tocsin-Nonce": nonce,
        "X-Tocsin-Signature": sign_generic(secret, ts, nonce, body),
    }
    return env.client.post("/api/v1/intake/sms/generic", content=body, headers=headers)


def twilio_post(env: Env, fields: dict[str, str], *, token: str = TWILIO_TOKEN):
    url = "http://testserver/api/v1/intake/sms/twilio"
    pairs = list(fields.items())
    headers = {**FORM, "X-Twilio-Signature": twilio_signature(token, url, pairs)}
    return env.client.post(url, content=urlencode(pairs).encode(), headers=headers)


def telerivet_post(env: Env, fields: dict[str, str]):
    body = urlencode(fields).encode()
    return env.client.post("/api/v1/intake/sms/telerivet", content=body, headers=FORM)


def telerivet_fields(env: Env, message_id: str, text: str, **extra: str) -> dict[str, str]:
    return {
        "event": "incoming_message",
        "secret": TELERIVET_SECRET,
        "id": message_id,
        "from_number": PHONE,
        "to_number": "+23670000000",
        "content": text,
        "time_created": str(int(env.clock().timestamp())),
        **extra,
    }


def twilio_fields(sid: str, text: str, sender: str = PHONE) -> dict[str, str]:
    return {"MessageSid": sid, "From": sender, "To": "+23670000000", "Body": text}


# -- happy paths ------------------------------------------------------------------------------


def test_generic_structured_alert_is_stored_and_acknowledged(env) -> None:
    app_env, outbound = env
    response = generic_post(
        app_env, {"from": PHONE, "text": "ALERT Bria KIL 3", "id": "m-1"}, nonce="n" * 20
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "stored", "format": "structured"}
    assert count_reports(app_env.engine) == 1
    [sent] = outbound.sent
    assert sent.to == PHONE
    assert RECEIPT.search(sent.text) and "Bria" not in sent.text  # nothing the sender wrote
    assert PHONE not in response.text
    assert any(action == "report.received" for _, action, _, _ in ledger(app_env.engine))


def test_twilio_free_text_is_stored_and_answered_with_empty_twiml(env) -> None:
    app_env, outbound = env
    response = twilio_post(app_env, twilio_fields("SM" + "a1" * 16, "men with guns near the well"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    assert "<Response/>" in response.text  # Twilio itself sends nothing; our adapter replies
    assert report_texts(app_env.engine) == ["men with guns near the well"]
    assert len(outbound.sent) == 1 and RECEIPT.search(outbound.sent[0].text)


def test_telerivet_french_alert_is_answered_in_french(env) -> None:
    app_env, outbound = env
    response = telerivet_post(app_env, telerivet_fields(app_env, "msg-0001", "ALERTE Ndele TUE 2"))
    assert response.status_code == 200, response.text
    assert count_reports(app_env.engine) == 1
    assert outbound.sent[0].text.startswith("Message reçu")


def test_help_is_answered_and_nothing_is_stored(env) -> None:
    app_env, outbound = env
    response = telerivet_post(app_env, telerivet_fields(app_env, "msg-help-1", "AIDE"))
    assert response.json() == {"status": "help_sent"}
    assert count_reports(app_env.engine) == 0
    assert outbound.sent[0].text == HELP_TEXT["fr"]


def test_overlong_sms_is_refused_with_a_hint(env) -> None:
    app_env, outbound = env
    response = telerivet_post(app_env, telerivet_fields(app_env, "msg-long-1", "x " * 1000))
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    assert count_reports(app_env.engine) == 0
    assert "HELP" in outbound.sent[0].text


def test_unknown_disabled_and_wrongly_typed_requests(env, engine: Engine, tmp_path: Path) -> None:
    app_env, _ = env
    assert (
        app_env.client.post("/api/v1/intake/sms/nexmo", content=b"a=b", headers=FORM).status_code
        == 404
    )
    wrong_type = app_env.client.post(
        "/api/v1/intake/sms/generic", json={"from": PHONE, "text": "hi"}
    )
    assert wrong_type.status_code == 415
    app_env.app.state.sms_gateways = intake_sms.SmsGatewayConfig()  # nothing configured
    response = telerivet_post(app_env, telerivet_fields(app_env, "msg-0002", "hello"))
    assert response.status_code == 404 and "not enabled" in response.json()["detail"]
    assert count_reports(app_env.engine) == 0


# -- TM-30 signatures -------------------------------------------------------------------------


def test_tm_30_invalid_signatures_are_refused_and_nothing_is_stored(env) -> None:
    app_env, outbound = env
    fields = {"from": PHONE, "text": "ALERT Bria KIL 3", "id": "m-2"}
    assert generic_post(app_env, fields, nonce="b" * 20, secret=b"wrong").status_code == 403
    forged = twilio_post(app_env, twilio_fields("SM" + "b2" * 16, "hello"), token="guess")
    assert forged.status_code == 403
    bad_secret = telerivet_fields(app_env, "msg-0003", "hello", secret="guess")
    assert telerivet_post(app_env, bad_secret).status_code == 403
    # Tampering with a correctly signed body breaks the signature as well.
    body = urlencode(fields).encode()
    ts = int(app_env.clock().timestamp())
    headers = {
        **FORM,
        "X-Tocsin-Timestamp": str(ts),
        "X-Tocsin-Nonce": "c" * 20,
        "X-Tocsin-Signature": sign_generic(GENERIC_SECRET, ts, "c" * 20, body),
    }
    tampered = body.replace(b"KIL+3", b"KIL+30")
    response = app_env.client.post("/api/v1/intake/sms/generic", content=tampered, headers=headers)
    assert response.status_code == 403
    assert count_reports(app_env.engine) == 0 and outbound.sent == []


# -- TM-31 replays ----------------------------------------------------------------------------


def test_tm_31_replayed_webhook_is_refused_for_every_gateway(env) -> None:
    app_env, outbound = env
    fields = {"from": PHONE, "text": "ALERT Bria KIL 3", "id": "m-3"}
    assert generic_post(app_env, fields, nonce="d" * 20).status_code == 200
    replay = generic_post(app_env, fields, nonce="d" * 20)
    assert replay.status_code == 409 and "already received" in replay.json()["detail"]

    twilio = twilio_fields("SM" + "c3" * 16, "second report")
    assert twilio_post(app_env, twilio).status_code == 200
    assert twilio_post(app_env, twilio).status_code == 409

    telerivet = telerivet_fields(app_env, "msg-0004", "third report")
    assert telerivet_post(app_env, telerivet).status_code == 200
    assert telerivet_post(app_env, telerivet).status_code == 409
    assert count_reports(app_env.engine) == 3
    assert len(outbound.sent) == 3  # no second acknowledgement either


def test_tm_31_redelivery_after_a_restart_is_stored_once(env) -> None:
    """Even with the nonce forgotten (an in-memory cache, as a test double), storage is
    idempotent on the gateway's message id."""
    app_env, outbound = env
    twilio = twilio_fields("SM" + "d4" * 16, "report sent twice")
    assert twilio_post(app_env, twilio).status_code == 200
    app_env.app.state.sms_nonces = gateways.InMemoryNonceCache()  # as after a restart
    again = twilio_post(app_env, twilio)
    assert again.status_code == 200
    assert count_reports(app_env.engine) == 1
    assert len(outbound.sent) == 1  # the duplicate gets no second receipt


def test_tm_31_stale_timestamps_are_refused(env) -> None:
    app_env, _ = env
    old = int(app_env.clock().timestamp()) - gateways.TIMESTAMP_WINDOW_S - 5
    response = generic_post(
        app_env, {"from": PHONE, "text": "late", "id": "m-4"}, nonce="e" * 20, ts=old
    )
    assert response.status_code == 403 and "window" in response.json()["detail"]
    stale = telerivet_fields(app_env, "msg-0005", "late", time_created=str(old))
    assert telerivet_post(app_env, stale).status_code == 403
    assert count_reports(app_env.engine) == 0


def test_tm_31_a_failed_store_does_not_burn_the_nonce(env, monkeypatch) -> None:
    """The gateway's retry of a request we could not store must not look like a replay."""
    app_env, _ = env
    app_env.client = TestClient(app_env.app, raise_server_exceptions=False)
    assert twilio_post(app_env, twilio_fields("SM" + "f6" * 16, "first")).status_code == 200
    service = app_env.app.state.intake  # built by the first request

    async def failing(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("database unavailable")

    fields = twilio_fields("SM" + "e5" * 16, "stored on the second try")
    monkeypatch.setattr(service, "accept_async", failing)
    assert twilio_post(app_env, fields).status_code == 500
    monkeypatch.undo()
    assert twilio_post(app_env, fields).status_code == 200
    assert sorted(report_texts(app_env.engine)) == ["first", "stored on the second try"]


# -- TM-32 flood from one sender ---------------------------------------------------------------


def test_tm_32_flood_from_one_sender_is_limited_while_others_get_through(env) -> None:
    app_env, outbound = env
    burst = intake_sms.SENDER_RULE.burst
    statuses = [
        twilio_post(app_env, twilio_fields(f"SM{i:032d}", f"flood {i}")).status_code
        for i in range(burst + 5)
    ]
    assert statuses == [200] * burst + [429] * 5
    limited = twilio_post(app_env, twilio_fields("SM" + "9" * 32, "still flooding"))
    assert limited.status_code == 429
    assert "too many messages" in limited.json()["detail"]
    assert int(limited.headers["Retry-After"]) >= 1
    # Another reporter on the same gateway (same client address) is not affected.
    other = twilio_post(app_env, twilio_fields("SM" + "8" * 32, "ALERT Bria ATK", OTHER_PHONE))
    assert other.status_code == 200
    assert count_reports(app_env.engine) == burst + 1
    notices = [m for m in outbound.sent if m.to == PHONE and "Too many" in m.text]
    assert len(notices) == 1  # told once, not once per refused message
    # The bucket refills: after a minute the gateway's retry of a refused message is accepted
    # (a refused message was not received, so its retry is no replay).
    app_env.clock.advance(seconds=61)
    retry = twilio_post(app_env, twilio_fields(f"SM{burst:032d}", f"flood {burst}"))
    assert retry.status_code == 200


# -- TM-33 sizes ------------------------------------------------------------------------------


def test_tm_33_oversized_bodies_are_413(env) -> None:
    app_env, _ = env
    big = urlencode({"from": PHONE, "text": "x" * (gateways.MAX_BODY_BYTES + 10)}).encode()
    response = generic_post(app_env, {}, nonce="f" * 20, body=big)
    assert response.status_code == 413

    # Chunked, without Content-Length: stopped while reading.
    def chunks():
        for _ in range(40):
            yield b"a" * 1024

    chunked = app_env.client.post("/api/v1/intake/sms/telerivet", content=chunks(), headers=FORM)
    assert chunked.status_code == 413
    assert count_reports(app_env.engine) == 0


def test_tm_33_body_limits_agree_with_the_intake_modules() -> None:
    assert INTAKE_BODY_LIMITS["/api/v1/intake/sms/"] == gateways.MAX_BODY_BYTES


# -- TM-34 nothing identifying or executable leaks ----------------------------------------------


def test_tm_34_script_in_text_is_stored_verbatim_and_never_echoed(env) -> None:
    app_env, outbound = env
    text = '<script>alert("x")</script> ALERT <img src=x onerror=alert(1)>'
    response = twilio_post(app_env, twilio_fields("SM" + "ab" * 16, text))
    assert response.status_code == 200
    assert report_texts(app_env.engine) == [text]  # escaping is the display's job
    assert "<script" not in response.text and "onerror" not in response.text
    assert all("<script" not in m.text for m in outbound.sent)


def test_tm_34_logs_name_the_sender_by_pseudonym_only(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with intake_env(engine, tmp_path / "home") as (app_env, _):
        del app_env.app.state.sms_outbound  # the default adapter: LoggingOutbound
        caplog.set_level(logging.DEBUG)
        response = twilio_post(app_env, twilio_fields("SM" + "cd" * 16, "ALERT Kaga ATK 4"))
        assert response.status_code == 200
        assert isinstance(app_env.app.state.sms_outbound, gateways.LoggingOutbound)
        pseudonym = app_env.app.state.intake.pseudonymizer.pseudonym(PHONE)
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert pseudonym in logged
        assert PHONE not in logged and PHONE[1:] not in logged and "Kaga" not in logged


def test_outbound_setting_is_checked(monkeypatch, env) -> None:
    app_env, _ = env
    del app_env.app.state.sms_outbound
    monkeypatch.setenv(intake_sms.ENV_OUTBOUND, "none")
    response = telerivet_post(app_env, telerivet_fields(app_env, "msg-0006", "hello"))
    assert response.status_code == 200
    assert count_reports(app_env.engine) == 1  # stored even though no reply can go out
    assert not isinstance(app_env.app.state.sms_outbound, InMemoryOutbound)


def test_gateway_config_reads_the_environment() -> None:
    config = intake_sms.SmsGatewayConfig.from_env(
        {
            intake_sms.ENV_GENERIC_SECRET: "abc",
            intake_sms.ENV_TWILIO_TOKEN: "tok",
            intake_sms.ENV_TWILIO_URL: "https://tocsin.example.org/api/v1/intake/sms/twilio",
        }
    )
    assert config.generic_secret == b"abc" and config.twilio_auth_token == "tok"
    assert config.telerivet_secret is None
    assert config.twilio_url == "https://tocsin.example.org/api/v1/intake/sms/twilio"


def test_tm_34_a_failing_reply_keeps_the_report_and_logs_no_number(
    env, caplog: pytest.LogCaptureFixture
) -> None:
    app_env, _ = env

    class Broken:
        def send(self, to: str, text: str, *, reference: str) -> gateways.DeliveryReceipt:
            raise ValueError(f"gateway refused {to}")

    app_env.app.state.sms_outbound = Broken()
    caplog.set_level(logging.DEBUG)
    response = twilio_post(app_env, twilio_fields("SM" + "ef" * 16, "ALERT Bria ATK"))
    assert response.status_code == 200
    assert count_reports(app_env.engine) == 1
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "reply to an inbound SMS failed: ValueError" in logged
    assert PHONE not in logged
