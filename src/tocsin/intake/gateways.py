"""SMS gateway webhooks: payload parsing and authentication, as pure functions.

Each ``verify_*`` function takes what the HTTP layer has (headers, raw body, the public URL,
the shared secret, the current time and a nonce cache) and returns an :class:`InboundSms`, or
raises a :class:`WebhookRejected` subclass carrying the HTTP status to answer. The HTTP route is
then a thin wrapper: read the body with a size limit, call one function, enqueue, answer.

Three payload styles:

- **Generic form post** (our own, for any gateway or relay that can sign): form fields
  ``from``, ``text``, optional ``to`` and ``id``; headers ``X-Tocsin-Timestamp`` (unix seconds),
  ``X-Tocsin-Nonce`` (random, 16-128 characters) and ``X-Tocsin-Signature: v1=<hex>`` where the
  signature is HMAC-SHA256(secret, "<timestamp>.<nonce>." + raw body). Replays are stopped by the
  timestamp window and the nonce cache.
- **Twilio-style**: ``X-Twilio-Signature`` = base64(HMAC-SHA1(auth token, URL + every POST
  parameter name and value, sorted by name)). Twilio sends no timestamp, so replay protection
  rests on the nonce cache keyed by ``MessageSid`` (keep those for days, see
  ``TWILIO_NONCE_TTL``).
- **Telerivet-style** (``event=incoming_message`` form posts): the webhook ``secret`` form field
  (compared in constant time), a ``time_created`` window, and the message ``id`` as nonce.
  (RapidPro can post the same fields through a flow webhook; its own JSON payloads are not
  parsed here.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import parse_qsl

MAX_BODY_BYTES = 16 * 1024  # an SMS webhook is a few hundred bytes; 16 KiB is generous
MAX_FIELD_CHARS = 4096
TIMESTAMP_WINDOW_S = 300
NONCE_TTL_S = 2 * TIMESTAMP_WINDOW_S
TWILIO_NONCE_TTL_S = 7 * 24 * 3600
_NONCE = re.compile(r"^[A-Za-z0-9_\-]{16,128}$")


class WebhookRejected(Exception):
    """The request is refused; ``status`` is the HTTP status to answer with."""

    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MalformedPayload(WebhookRejected):
    status = 400


class PayloadTooLarge(WebhookRejected):
    status = 413


class InvalidSignature(WebhookRejected):
    status = 403


class StaleRequest(WebhookRejected):
    status = 403


class ReplayedRequest(WebhookRejected):
    status = 409


@dataclass(frozen=True, slots=True)
class InboundSms:
    gateway: str
    message_id: str
    sender: str  # goes straight into the vault; never logged
    recipient: str | None
    text: str
    received_at: datetime

    def __repr__(self) -> str:  # keep numbers and text out of logs and tracebacks
        return (
            f"InboundSms(gateway={self.gateway!r}, message_id={self.message_id!r}, "
            f"text=<{len(self.text)} chars>)"
        )


class NonceCache(Protocol):
    """Remembers nonces until they expire. ``add`` is atomic: True the first time only.

    The production implementation is a table with a unique key (shared by all workers);
    :class:`InMemoryNonceCache` serves one process and the tests.
    """

    def add(self, key: str, *, expires_at: float, now: float) -> bool: ...

    def forget(self, key: str) -> None:
        """Undo an ``add`` whose request could not be stored, so the gateway's retry of the
        very same request is accepted rather than refused as a replay."""


class InMemoryNonceCache:
    """Bounded: when full, the oldest entries go first (they are the likeliest expired)."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._entries: OrderedDict[str, float] = OrderedDict()
        self._max = max_entries

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, key: str, *, expires_at: float, now: float) -> bool:
        while self._entries:
            oldest, expiry = next(iter(self._entries.items()))
            if expiry > now and len(self._entries) < self._max:
                break
            del self._entries[oldest]
        if key in self._entries and self._entries[key] > now:
            return False
        self._entries[key] = expires_at
        return True

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)


class RecordingNonceCache:
    """Wraps a cache for one request and remembers what that request added, so the caller
    can :meth:`rollback` them if storing the message then fails."""

    def __init__(self, inner: NonceCache) -> None:
        self.inner = inner
        self.added: list[str] = []

    def add(self, key: str, *, expires_at: float, now: float) -> bool:
        fresh = self.inner.add(key, expires_at=expires_at, now=now)
        if fresh:
            self.added.append(key)
        return fresh

    def forget(self, key: str) -> None:
        self.inner.forget(key)

    def rollback(self) -> None:
        for key in self.added:
            self.inner.forget(key)
        self.added.clear()


# -- helpers ----------------------------------------------------------------------------------


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def _form(body: bytes) -> list[tuple[str, str]]:
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedPayload("body is not UTF-8") from exc
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=200
        )
    except ValueError as exc:
        raise MalformedPayload("body is not a form post") from exc
    for key, value in pairs:
        if len(key) > 100 or len(value) > MAX_FIELD_CHARS:
            raise PayloadTooLarge("a form field is too long")
    return pairs


def _single(pairs: list[tuple[str, str]], name: str, *, required: bool = True) -> str | None:
    values = [v for k, v in pairs if k == name]
    if len(values) > 1:
        raise MalformedPayload(f"field {name!r} appears more than once")
    if not values or values[0] == "":
        if required:
            raise MalformedPayload(f"field {name!r} is missing")
        return None
    return values[0]


def _check_window(timestamp: float, now: float) -> None:
    if abs(now - timestamp) > TIMESTAMP_WINDOW_S:
        raise StaleRequest(f"timestamp outside the {TIMESTAMP_WINDOW_S} s window")


def _remember(cache: NonceCache, key: str, ttl: float, now: float) -> None:
    if not cache.add(key, expires_at=now + ttl, now=now):
        raise ReplayedRequest("this request was already received")


def _when(now: float) -> datetime:
    return datetime.fromtimestamp(now, tz=UTC)


# -- generic ----------------------------------------------------------------------------------


def sign_generic(secret: bytes, timestamp: int, nonce: str, body: bytes) -> str:
    """The ``X-Tocsin-Signature`` value for a request (senders and tests use this)."""
    mac = hmac.new(secret, f"{timestamp}.{nonce}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify_generic(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secret: bytes,
    nonces: NonceCache,
    now: float | None = None,
) -> InboundSms:
    now = time.time() if now is None else now
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body larger than {MAX_BODY_BYTES} bytes")
    ts_text = _header(headers, "X-Tocsin-Timestamp")
    nonce = _header(headers, "X-Tocsin-Nonce")
    signature = _header(headers, "X-Tocsin-Signature")
    if not ts_text or not nonce or not signature:
        raise InvalidSignature("missing X-Tocsin-Timestamp, X-Tocsin-Nonce or X-Tocsin-Signature")
    if not ts_text.isdigit() or len(ts_text) > 12:
        raise InvalidSignature("X-Tocsin-Timestamp must be unix seconds")
    if not _NONCE.match(nonce):
        raise InvalidSignature("X-Tocsin-Nonce must be 16-128 letters, digits, '-' or '_'")
    expected = sign_generic(secret, int(ts_text), nonce, body)
    # Signature first, then time and nonce: an attacker without the secret learns nothing
    # about our clock or cache from the error they get.
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise InvalidSignature("signature does not match")
    _check_window(int(ts_text), now)
    pairs = _form(body)
    sender = _single(pairs, "from")
    text = _single(pairs, "text", required=False) or ""
    _remember(nonces, f"generic:{nonce}", NONCE_TTL_S, now)
    return InboundSms(
        gateway="generic",
        message_id=_single(pairs, "id", required=False) or nonce,
        sender=sender or "",
        recipient=_single(pairs, "to", required=False),
        text=text,
        received_at=_when(now),
    )


# -- Twilio -----------------------------------------------------------------------------------


def twilio_signature(auth_token: str, url: str, params: list[tuple[str, str]]) -> str:
    """Twilio's algorithm: URL + each parameter name and value, sorted by name (then value)."""
    payload = url + "".join(k + v for k, v in sorted(params))
    mac = hmac.new(auth_token.encode("utf-8"), payload.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def verify_twilio(
    headers: Mapping[str, str],
    body: bytes,
    *,
    url: str,
    auth_token: str,
    nonces: NonceCache,
    now: float | None = None,
) -> InboundSms:
    """``url`` must be the exact public URL Twilio called (scheme, host, path and query)."""
    now = time.time() if now is None else now
    signature = _header(headers, "X-Twilio-Signature")
    if not signature:
        raise InvalidSignature("missing X-Twilio-Signature")
    pairs = _form(body)
    expected = twilio_signature(auth_token, url, pairs)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise InvalidSignature("signature does not match")
    sid = _single(pairs, "MessageSid") or ""
    if not re.fullmatch(r"[A-Za-z0-9]{10,64}", sid):
        raise MalformedPayload("MessageSid is not a Twilio id")
    _remember(nonces, f"twilio:{sid}", TWILIO_NONCE_TTL_S, now)
    return InboundSms(
        gateway="twilio",
        message_id=sid,
        sender=_single(pairs, "From") or "",
        recipient=_single(pairs, "To", required=False),
        text=_single(pairs, "Body", required=False) or "",
        received_at=_when(now),
    )


# -- Telerivet --------------------------------------------------------------------------------


def verify_telerivet(
    body: bytes,
    *,
    secret: str,
    nonces: NonceCache,
    now: float | None = None,
) -> InboundSms:
    now = time.time() if now is None else now
    pairs = _form(body)
    given = _single(pairs, "secret", required=False) or ""
    if not hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8")):
        raise InvalidSignature("webhook secret does not match")
    event = _single(pairs, "event")
    if event != "incoming_message":
        raise MalformedPayload(f"unsupported Telerivet event {event!r}")
    created = _single(pairs, "time_created") or ""
    try:
        created_at = float(created)
    except ValueError as exc:
        raise MalformedPayload("time_created is not a unix time") from exc
    _check_window(created_at, now)
    message_id = _single(pairs, "id") or ""
    if not re.fullmatch(r"[A-Za-z0-9_\-]{4,64}", message_id):
        raise MalformedPayload("id is not a Telerivet message id")
    _remember(nonces, f"telerivet:{message_id}", NONCE_TTL_S, now)
    return InboundSms(
        gateway="telerivet",
        message_id=message_id,
        sender=_single(pairs, "from_number") or "",
        recipient=_single(pairs, "to_number", required=False),
        text=_single(pairs, "content", required=False) or "",
        received_at=_when(now),
    )


# -- outbound ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    accepted: bool
    provider_id: str | None = None
    error: str | None = None


class OutboundSms(Protocol):
    """Sends a reply. Implementations must never log or persist the number in clear."""

    def send(self, to: str, text: str, *, reference: str) -> DeliveryReceipt: ...


@dataclass(frozen=True, slots=True)
class SentMessage:
    to: str
    text: str
    reference: str


class InMemoryOutbound:
    """Keeps what would have been sent (tests, demos)."""

    def __init__(self) -> None:
        self.sent: list[SentMessage] = []

    def send(self, to: str, text: str, *, reference: str) -> DeliveryReceipt:
        self.sent.append(SentMessage(to, text, reference))
        return DeliveryReceipt(accepted=True, provider_id=f"mem-{len(self.sent)}")


class LoggingOutbound:
    """Logs that a reply would go out, naming the reporter by pseudonym only.

    Neither the number nor the text is logged: the text can identify the reporter too.
    """

    def __init__(self, logger, pseudonym) -> None:  # noqa: ANN001 - logging.Logger, callable
        self._logger = logger
        self._pseudonym = pseudonym

    def send(self, to: str, text: str, *, reference: str) -> DeliveryReceipt:
        self._logger.info(
            "outbound sms to %s (%d chars) for %s", self._pseudonym(to), len(text), reference
        )
        return DeliveryReceipt(accepted=True, provider_id=None)
