"""HMAC-SHA256 signatures for outbound webhooks.

Header ``X-Tocsin-Signature: t=<unix seconds>,v1=<hex>``, where the MAC covers
``"<t>." + body``. The timestamp is signed too, so a receiver that rejects signatures older than
a few minutes cannot be fed a replayed request. Retries are re-signed with a fresh timestamp.
"""

from __future__ import annotations

import hashlib
import hmac
import re

SIGNATURE_HEADER = "X-Tocsin-Signature"
DEFAULT_TOLERANCE_S = 300
_HEADER = re.compile(r"^t=(\d{1,12}),v1=([0-9a-f]{64})$")


class SignatureError(ValueError):
    pass


def _mac(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    if len(secret) < 16:
        raise ValueError("a webhook secret must be at least 16 bytes")
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(
    secret: bytes, header: str, body: bytes, now: int, tolerance_s: int = DEFAULT_TOLERANCE_S
) -> None:
    """Raise ``SignatureError`` unless ``header`` signs ``body`` and is fresh."""
    match = _HEADER.match(header.strip())
    if not match:
        raise SignatureError("malformed signature header")
    timestamp = int(match.group(1))
    if abs(now - timestamp) > tolerance_s:
        raise SignatureError(
            f"signature timestamp is {now - timestamp} s off (tolerance {tolerance_s} s)"
        )
    if not hmac.compare_digest(_mac(secret, timestamp, body), match.group(2)):
        raise SignatureError("signature does not match")
