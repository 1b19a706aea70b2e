"""``POST /api/v1/intake/sms/{gateway}``: inbound SMS from a gateway, stored as a report.

One request is one SMS. The route is a thin shell around the pure pieces:

1. read the body with the gateway limit (16 KiB; a larger ``Content-Length`` is refused before
   anything is read);
2. authenticate it (``tocsin.intake.gateways.verify_*``: HMAC signature or shared secret, time
   window, nonce cache), refusing with 403 / 409 / 413 / 400 and a reason;
3. limit the rate *per sender* (keyed hash of the number), never per gateway address: all of a
   gateway's traffic comes from a few addresses, so a per-address limit would let one flooding
   phone silence everybody else;
4. parse it (``sms_syntax``), store it through ``IntakeService.accept`` (which commits before
   returning), and only then reply to the sender through the outbound adapter.

Replies and responses never repeat what the sender wrote, and no phone number reaches a log, a
response or the audit ledger: logs name the sender by pseudonym only.

Configuration (environment; see docs/intake-channels.md):

- ``TOCSIN_SMS_GENERIC_SECRET``: shared HMAC key of the generic form post;
- ``TOCSIN_SMS_TWILIO_AUTH_TOKEN`` and, behind a proxy, ``TOCSIN_SMS_TWILIO_URL`` (the exact
  public URL configured in Twilio, which the signature covers);
- ``TOCSIN_SMS_TELERIVET_SECRET``: the webhook secret set in Telerivet (or a RapidPro flow);
- ``TOCSIN_SMS_OUTBOUND``: ``log`` (default: log that a reply would go out, by pseudonym) or
  ``none``. Real providers plug in as an ``OutboundSms`` on ``app.state.sms_outbound``.

A gateway without its secret is not enabled (404). The nonce cache is a table
(``tocsin.store.replay_cache.DatabaseNonceCache``): it survives restarts and is shared by every
worker, so a replay is refused with 409 whichever worker it reaches. A nonce is claimed when the
signature checks out, marked complete once the request is answered, and forgotten if storing
fails (so the gateway's retry is no replay); a claim left by a crashed worker is taken over
after a short lease. Re-delivery of a message already stored is harmless in any case, because
storage is idempotent on the gateway's message id (``IntakeService.accept`` answers
``duplicate`` and no second reply is sent). The per-sender flood limit stays per process.
"""

from __future__ import annotations

import hmac
import logging
import math
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from tocsin.api.deps import get_services
from tocsin.api.middleware import TokenBuckets
from tocsin.api.services import Services
from tocsin.api.settings import RateRule
from tocsin.intake import gateways as gw
from tocsin.intake.report import report_from_sms
from tocsin.intake.repository import InvalidReport
from tocsin.intake.service import get_intake
from tocsin.intake.sms_syntax import (
    FreeText,
    HelpRequest,
    ParseResult,
    Rejected,
    StructuredAlert,
    acknowledgement,
    help_text,
    parse_sms,
)
from tocsin.security.vault import normalize_phone
from tocsin.store.replay_cache import DatabaseNonceCache

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/intake/sms", tags=["intake"])

GATEWAYS = ("generic", "twilio", "telerivet")
ENV_GENERIC_SECRET = "TOCSIN_SMS_GENERIC_SECRET"  # noqa: S105 - variable names, not secrets
ENV_TWILIO_TOKEN = "TOCSIN_SMS_TWILIO_AUTH_TOKEN"  # noqa: S105
ENV_TWILIO_URL = "TOCSIN_SMS_TWILIO_URL"
ENV_TELERIVET_SECRET = "TOCSIN_SMS_TELERIVET_SECRET"  # noqa: S105
ENV_OUTBOUND = "TOCSIN_SMS_OUTBOUND"

# A community monitor may send a burst of messages during an attack: ten at once, then one
# every 30 s. Beyond that the sender is told once (per quarter hour) to slow down.
SENDER_RULE = RateRule("sms-sender", "", per_minute=2.0, burst=10)
NOTICE_RULE = RateRule("sms-sender-notice", "", per_minute=1 / 15, burst=1)

OVER_LIMIT_REPLY = {
    "en": "Too many messages from this phone. Wait a few minutes, then send again.",
    "fr": "Trop de messages de ce téléphone. Attendez quelques minutes puis renvoyez.",
}
REJECTED_REPLY = {
    "en": "Message not recorded: {reason}. Send HELP for the format.",
    "fr": "Message non enregistré : {reason}. Envoyez AIDE pour le format.",
}


@dataclass(frozen=True, slots=True)
class SmsGatewayConfig:
    """Gateway secrets; a gateway whose secret is ``None`` is disabled."""

    generic_secret: bytes | None = None
    twilio_auth_token: str | None = None
    twilio_url: str | None = None
    telerivet_secret: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SmsGatewayConfig:
        env = os.environ if env is None else env
        generic = env.get(ENV_GENERIC_SECRET) or None
        return cls(
            generic_secret=generic.encode("utf-8") if generic else None,
            twilio_auth_token=env.get(ENV_TWILIO_TOKEN) or None,
            twilio_url=env.get(ENV_TWILIO_URL) or None,
            telerivet_secret=env.get(ENV_TELERIVET_SECRET) or None,
        )


_BUILD_LOCK = threading.Lock()


def _state(request: Request, name: str, build: Callable[[], Any]) -> Any:
    """A per-app object kept on ``app.state`` (never module-global), built once on first use:
    two first requests racing must not each get their own nonce cache."""
    value = getattr(request.app.state, name, None)
    if value is None:
        with _BUILD_LOCK:
            value = getattr(request.app.state, name, None)
            if value is None:
                value = build()
                setattr(request.app.state, name, value)
    return value


def get_sms_config(request: Request) -> SmsGatewayConfig:
    return _state(request, "sms_gateways", SmsGatewayConfig.from_env)


def get_nonce_cache(request: Request, services: Services = Depends(get_services)) -> gw.NonceCache:
    """The replay cache: the shared table unless a test put another on ``app.state``."""
    return _state(request, "sms_nonces", lambda: DatabaseNonceCache(services.engine))


def _complete(nonces: gw.NonceCache, seen: gw.RecordingNonceCache) -> None:
    """The request was answered: its nonces are now spent for good (see replay_cache)."""
    complete = getattr(nonces, "complete", None)
    if complete is not None and seen.added:
        complete(list(seen.added))


class _SilentOutbound:
    """``TOCSIN_SMS_OUTBOUND=none``: no replies at all (a gateway that replies by itself)."""

    def send(self, to: str, text: str, *, reference: str) -> gw.DeliveryReceipt:
        return gw.DeliveryReceipt(accepted=False, error="outbound SMS disabled")


def pseudonym_of(request: Request) -> Callable[[str], str]:
    """The reporter pseudonym function of the intake service (keyed hash of the number)."""
    return get_intake(request).pseudonymizer.pseudonym


def get_outbound(request: Request) -> gw.OutboundSms:
    """The adapter replies go through: ``app.state.sms_outbound`` if set, else from
    ``TOCSIN_SMS_OUTBOUND``."""

    def build() -> gw.OutboundSms:
        choice = os.environ.get(ENV_OUTBOUND, "log").strip().lower()
        if choice == "none":
            return _SilentOutbound()
        if choice != "log":
            raise RuntimeError(f"{ENV_OUTBOUND} must be 'log' or 'none', not {choice!r}")
        return gw.LoggingOutbound(logging.getLogger("tocsin.outbound"), pseudonym_of(request))

    return _state(request, "sms_outbound", build)


def sender_buckets(request: Request, services: Services) -> TokenBuckets:
    """Per-sender token buckets on the app's clock (per process, like the other limits)."""
    clock = services.settings.clock
    return _state(request, "sms_buckets", lambda: TokenBuckets(lambda: clock().timestamp()))


def sender_key(services: Services, sender: str) -> str:
    """What the rate limiter counts by: a keyed hash of the number, never the number."""
    mac = hmac.new(
        services.keys.raw("lookup"), b"sms:" + normalize_phone(sender).encode(), "sha256"
    )
    return mac.hexdigest()[:32]


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` (or says it will)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _verify(
    gateway: str,
    request: Request,
    body: bytes,
    config: SmsGatewayConfig,
    nonces: gw.NonceCache,
    now: float,
) -> gw.InboundSms:
    headers = dict(request.headers)
    if gateway == "generic" and config.generic_secret:
        return gw.verify_generic(
            headers, body, secret=config.generic_secret, nonces=nonces, now=now
        )
    if gateway == "twilio" and config.twilio_auth_token:
        url = config.twilio_url or str(request.url)
        return gw.verify_twilio(
            headers, body, url=url, auth_token=config.twilio_auth_token, nonces=nonces, now=now
        )
    if gateway == "telerivet" and config.telerivet_secret:
        return gw.verify_telerivet(body, secret=config.telerivet_secret, nonces=nonces, now=now)
    raise HTTPException(404, f"SMS gateway {gateway!r} is not enabled on this server")


def _language(parsed: ParseResult) -> str:
    return getattr(parsed, "language", None) or "en"


def _answer(gateway: str, status: int, payload: dict[str, Any]) -> Response:
    """Twilio expects TwiML; an empty ``<Response/>`` makes it send nothing by itself (our
    reply goes through the outbound adapter). Others get JSON."""
    if gateway == "twilio" and status < 400:
        return Response(
            '<?xml version="1.0" encoding="UTF-8"?><Response/>',
            status_code=status,
            media_type="text/xml",
        )
    return JSONResponse(payload, status_code=status)


def _reply(outbound: gw.OutboundSms, inbound: gw.InboundSms, text: str, reference: str) -> bool:
    try:
        receipt = outbound.send(inbound.sender, text, reference=reference)
    except Exception as exc:  # a failed reply must not lose (or fail) the stored report
        # The type only: an adapter's message or traceback may well contain the number.
        log.error("reply to an inbound SMS failed: %s (%s)", type(exc).__name__, reference)
        return False
    return receipt.accepted


@router.post(
    "/{gateway}",
    summary="Inbound SMS webhook (generic, twilio, telerivet)",
    responses={
        403: {"description": "invalid signature or stale timestamp"},
        404: {"description": "unknown or disabled gateway"},
        409: {"description": "replayed request"},
        413: {"description": "body too large"},
        429: {"description": "too many messages from this sender"},
    },
)
async def inbound_sms(
    gateway: str,
    request: Request,
    services: Services = Depends(get_services),
    config: SmsGatewayConfig = Depends(get_sms_config),
    nonces: gw.NonceCache = Depends(get_nonce_cache),
    outbound: gw.OutboundSms = Depends(get_outbound),
) -> Response:
    if gateway not in GATEWAYS:
        raise HTTPException(404, f"unknown SMS gateway; use one of {', '.join(GATEWAYS)}")
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        raise HTTPException(415, "send the webhook as application/x-www-form-urlencoded")
    body = await read_limited(request, gw.MAX_BODY_BYTES)
    now = services.settings.clock().timestamp()
    seen = gw.RecordingNonceCache(nonces)
    try:
        # In the thread pool: the nonce claim is a database write.
        inbound = await run_in_threadpool(_verify, gateway, request, body, config, seen, now)
    except gw.WebhookRejected as exc:
        return _answer(gateway, exc.status, {"detail": exc.reason})
    try:
        return await _handle(gateway, request, services, inbound, seen, outbound, nonces)
    except BaseException:
        await run_in_threadpool(seen.rollback)  # not answered: the retry must not be a replay
        raise


async def _handle(
    gateway: str,
    request: Request,
    services: Services,
    inbound: gw.InboundSms,
    seen: gw.RecordingNonceCache,
    outbound: gw.OutboundSms,
    nonces: gw.NonceCache,
) -> Response:
    """Everything after authentication. A 2xx answer spends the nonce for good; a 4xx
    refusal (no sender, over the limit, invalid report) gives it back."""
    response = await _process(gateway, request, services, inbound, outbound)
    if response.status_code < 400:
        await run_in_threadpool(_complete, nonces, seen)
    else:
        await run_in_threadpool(seen.rollback)
    return response


async def _process(
    gateway: str,
    request: Request,
    services: Services,
    inbound: gw.InboundSms,
    outbound: gw.OutboundSms,
) -> Response:
    if not inbound.sender:
        return _answer(gateway, 400, {"detail": "the message has no sender number"})
    reference = f"sms:{inbound.gateway}:{inbound.message_id}"

    parsed = parse_sms(inbound.text)  # cheap (microseconds); gives the reply language
    language = _language(parsed)
    key = sender_key(services, inbound.sender)
    buckets = sender_buckets(request, services)
    wait = buckets.take(SENDER_RULE, key)
    if wait > 0:
        if buckets.take(NOTICE_RULE, key) == 0:
            notice = OVER_LIMIT_REPLY.get(language, OVER_LIMIT_REPLY["en"])
            await run_in_threadpool(_reply, outbound, inbound, notice, reference + ":limit")
        # refused, not received: _handle gives the nonce back, so a later retry is no replay
        retry = max(1, math.ceil(wait))
        response = _answer(
            gateway,
            429,
            {"detail": f"too many messages from this sender; retry in {retry} s"},
        )
        response.headers["Retry-After"] = str(retry)
        return response

    if isinstance(parsed, HelpRequest):
        await run_in_threadpool(_reply, outbound, inbound, help_text(language), reference)
        return _answer(gateway, 200, {"status": "help_sent"})
    if isinstance(parsed, Rejected):
        text = REJECTED_REPLY.get(language, REJECTED_REPLY["en"]).format(reason=parsed.reason)
        await run_in_threadpool(_reply, outbound, inbound, text, reference)
        return _answer(gateway, 200, {"status": "rejected", "reason": parsed.reason})

    assert isinstance(parsed, StructuredAlert | FreeText)
    report = report_from_sms(inbound, parsed)
    assert report is not None  # structured or free text always makes a report
    intake = get_intake(request)
    try:
        stored = await intake.accept_async(report)
    except InvalidReport as exc:
        return _answer(gateway, 400, {"detail": str(exc)})
    status = "duplicate" if stored.duplicate else "stored"
    if not stored.duplicate and stored.receipt_code:
        ack = acknowledgement(parsed, stored.receipt_code, language)
        await run_in_threadpool(_reply, outbound, inbound, ack, reference)
    kind = "structured" if isinstance(parsed, StructuredAlert) else "free_text"
    return _answer(gateway, 200, {"status": status, "format": kind})


__all__ = [
    "GATEWAYS",
    "SmsGatewayConfig",
    "get_nonce_cache",
    "get_outbound",
    "get_sms_config",
    "router",
]
