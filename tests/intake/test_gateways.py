"""Webhook authentication and replay protection for the SMS gateways."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from urllib.parse import urlencode

import pytest

from tocsin.intake.gateways import (
    MAX_BODY_BYTES,
    TIMESTAMP_WINDOW_S,
    InMemoryNonceCache,
    InMemoryOutbound,
    InvalidSignature,
    LoggingOutbound,
    MalformedPayload,
    PayloadTooLarge,
    ReplayedRequest,
    StaleRequest,
    sign_generic,
    twilio_signature,
    verify_generic,
    verify_telerivet,
    verify_twilio,
)
from tocsin.intake.report import report_from_sms
from tocsin.intake.sms_syntax import parse_sms

SECRET = b"s3cret-shared-with-the-gateway"
NOW = 1_716_200_000.0
NONCE = "n0nce-abcdefghijklmnop"


def generic_request(body: bytes, *, ts: float = NOW, nonce: str = NONCE, secret=SECRET):
    return {
        "X-Tocsin-Timestamp": str(int(ts)),
        "X-Tocsin-Nonce": nonce,
        "X-Tocsin-Signature": sign_generic(secret, int(ts), nonce, body),
    }


BODY = urlencode({"from": "+23672123456", "text": "ALERT Bria KIL 3", "id": "m-1"}).encode()


def test_generic_accepts_a_signed_request() -> None:
    sms = verify_generic(
        generic_request(BODY), BODY, secret=SECRET, nonces=InMemoryNonceCache(), now=NOW
    )
    assert (sms.gateway, sms.message_id, sms.text) == ("generic", "m-1", "ALERT Bria KIL 3")
    assert sms.sender == "+23672123456"
    assert "+236" not in repr(sms) and "Bria" not in repr(sms)


def test_generic_rejects_bad_signature_tampering_and_missing_headers() -> None:
    cache = InMemoryNonceCache()
    with pytest.raises(InvalidSignature):
        verify_generic(
            generic_request(BODY, secret=b"wrong"), BODY, secret=SECRET, nonces=cache, now=NOW
        )
    tampered = BODY.replace(b"KIL+3", b"KIL+30")
    with pytest.raises(InvalidSignature):
        verify_generic(generic_request(BODY), tampered, secret=SECRET, nonces=cache, now=NOW)
    with pytest.raises(InvalidSignature, match="missing"):
        verify_generic({}, BODY, secret=SECRET, nonces=cache, now=NOW)
    bad_nonce = generic_request(BODY, nonce="short")
    with pytest.raises(InvalidSignature, match="Nonce"):
        verify_generic(bad_nonce, BODY, secret=SECRET, nonces=cache, now=NOW)
    assert len(cache) == 0  # nothing remembered for refused requests


def test_generic_replay_and_stale_requests() -> None:
    cache = InMemoryNonceCache()
    headers = generic_request(BODY)
    verify_generic(headers, BODY, secret=SECRET, nonces=cache, now=NOW)
    with pytest.raises(ReplayedRequest) as exc:
        verify_generic(headers, BODY, secret=SECRET, nonces=cache, now=NOW + 10)
    assert exc.value.status == 409
    old = generic_request(BODY, ts=NOW - TIMESTAMP_WINDOW_S - 1, nonce="another-nonce-123456")
    with pytest.raises(StaleRequest):
        verify_generic(old, BODY, secret=SECRET, nonces=cache, now=NOW)
    future = generic_request(BODY, ts=NOW + TIMESTAMP_WINDOW_S + 1, nonce="future-nonce-1234567")
    with pytest.raises(StaleRequest):
        verify_generic(future, BODY, secret=SECRET, nonces=cache, now=NOW)


def test_generic_oversized_and_malformed_bodies() -> None:
    big = b"text=" + b"a" * MAX_BODY_BYTES
    with pytest.raises(PayloadTooLarge) as exc:
        verify_generic(
            generic_request(big), big, secret=SECRET, nonces=InMemoryNonceCache(), now=NOW
        )
    assert exc.value.status == 413
    for body in (b"\xff\xfe", b"from=1&from=2&text=x", b"text=only"):
        with pytest.raises(MalformedPayload):
            verify_generic(
                generic_request(body), body, secret=SECRET, nonces=InMemoryNonceCache(), now=NOW
            )


# -- Twilio -----------------------------------------------------------------------------------

URL = "https://tocsin.example.org/api/v1/intake/sms/twilio"
TOKEN = "12345"
PARAMS = [
    ("AccountSid", "AC0000000000000000000000000000000a"),
    ("Body", "ALERTE Bria TUE 3"),
    ("From", "+23672123456"),
    ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
    ("To", "+23670000000"),
]


def test_twilio_signature_follows_the_published_algorithm() -> None:
    # Twilio: HMAC-SHA1(auth token, URL + each name and value, sorted by name), base64. The
    # expected value is built by hand here, from parameters given out of order.
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = [
        ("To", "+18005551212"),
        ("CallSid", "CA1234567890ABCDE"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("Caller", "+12349013030"),
    ]
    signed = (
        url
        + "CallSidCA1234567890ABCDE"
        + "Caller+12349013030"
        + "Digits1234"
        + "From+12349013030"
        + "To+18005551212"
    )
    expected = base64.b64encode(hmac.new(b"12345", signed.encode(), hashlib.sha1).digest())
    assert twilio_signature(TOKEN, url, params) == expected.decode()


def test_twilio_accepts_then_refuses_replay() -> None:
    body = urlencode(PARAMS).encode()
    headers = {"x-twilio-signature": twilio_signature(TOKEN, URL, PARAMS)}
    cache = InMemoryNonceCache()
    sms = verify_twilio(headers, body, url=URL, auth_token=TOKEN, nonces=cache, now=NOW)
    assert sms.text == "ALERTE Bria TUE 3" and sms.message_id.startswith("SM")
    with pytest.raises(ReplayedRequest):
        verify_twilio(headers, body, url=URL, auth_token=TOKEN, nonces=cache, now=NOW + 3600)


def test_twilio_rejects_wrong_url_token_or_body() -> None:
    body = urlencode(PARAMS).encode()
    sig = {"X-Twilio-Signature": twilio_signature(TOKEN, URL, PARAMS)}
    cache = InMemoryNonceCache()
    for kwargs in (
        {"url": URL + "?x=1", "auth_token": TOKEN},
        {"url": URL, "auth_token": "other"},
    ):
        with pytest.raises(InvalidSignature):
            verify_twilio(sig, body, nonces=cache, now=NOW, **kwargs)
    with pytest.raises(InvalidSignature):
        verify_twilio(
            sig, body.replace(b"TUE", b"ATQ"), url=URL, auth_token=TOKEN, nonces=cache, now=NOW
        )
    with pytest.raises(InvalidSignature, match="missing"):
        verify_twilio({}, body, url=URL, auth_token=TOKEN, nonces=cache, now=NOW)


# -- Telerivet --------------------------------------------------------------------------------


def telerivet_body(**over) -> bytes:
    fields = {
        "secret": "tr-webhook-secret",
        "event": "incoming_message",
        "id": "SMa1b2c3d4",
        "from_number": "+211912345678",
        "to_number": "+211900000000",
        "content": "ALERT Pibor ABD 4",
        "time_created": str(int(NOW)),
    }
    fields.update(over)
    return urlencode(fields).encode()


def test_telerivet_accepts_and_refuses_replay() -> None:
    cache = InMemoryNonceCache()
    sms = verify_telerivet(telerivet_body(), secret="tr-webhook-secret", nonces=cache, now=NOW)
    assert sms.gateway == "telerivet" and sms.text == "ALERT Pibor ABD 4"
    with pytest.raises(ReplayedRequest):
        verify_telerivet(telerivet_body(), secret="tr-webhook-secret", nonces=cache, now=NOW)


@pytest.mark.parametrize(
    ("over", "error"),
    [
        ({"secret": "guess"}, InvalidSignature),
        ({"secret": ""}, InvalidSignature),
        ({"event": "send_status"}, MalformedPayload),
        ({"time_created": str(int(NOW) - 3600)}, StaleRequest),
        ({"time_created": "yesterday"}, MalformedPayload),
        ({"id": "../../etc"}, MalformedPayload),
    ],
)
def test_telerivet_refusals(over: dict, error: type) -> None:
    with pytest.raises(error):
        verify_telerivet(
            telerivet_body(**over), secret="tr-webhook-secret", nonces=InMemoryNonceCache(), now=NOW
        )


# -- nonce cache and outbound -----------------------------------------------------------------


def test_nonce_cache_expires_and_is_bounded() -> None:
    cache = InMemoryNonceCache(max_entries=3)
    assert cache.add("a", expires_at=10, now=0)
    assert not cache.add("a", expires_at=10, now=5)
    assert cache.add("a", expires_at=30, now=11)  # expired: a new request may reuse it
    for key in "bcde":
        cache.add(key, expires_at=100, now=12)
    assert len(cache) <= 3


def test_outbound_adapters_never_log_the_number(caplog: pytest.LogCaptureFixture) -> None:
    memory = InMemoryOutbound()
    assert memory.send("+23672123456", "Message received", reference="r-1").accepted
    assert memory.sent[0].to == "+23672123456"
    logger = logging.getLogger("tocsin.test.outbound")
    adapter = LoggingOutbound(logger, pseudonym=lambda number: "R-AAAA-BBBB-CCCC")
    with caplog.at_level(logging.INFO, logger="tocsin.test.outbound"):
        adapter.send("+23672123456", "Message received. Receipt code: X", reference="r-1")
    logged = caplog.text
    assert "R-AAAA-BBBB-CCCC" in logged
    assert "23672123456" not in logged and "Receipt code" not in logged


def test_inbound_sms_becomes_a_report_with_sealed_contact_pending() -> None:
    sms = verify_telerivet(
        telerivet_body(content="ALERTE Bria VIOL 2"),
        secret="tr-webhook-secret",
        nonces=InMemoryNonceCache(),
        now=NOW,
    )
    report = report_from_sms(sms, parse_sms(sms.text))
    assert report is not None and report.channel == "sms"
    assert report.external_id == "telerivet:SMa1b2c3d4"
    assert report.contact is not None and report.contact.phone == "+211912345678"
    assert report.case_class().value == "sexual_violence"
    assert report_from_sms(sms, parse_sms("HELP")) is None
    free = report_from_sms(sms, parse_sms("armed men near the river"))
    assert free is not None and free.threat is None
