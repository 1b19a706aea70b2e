"""Edge protections, as plain ASGI middleware (cheap, and safe for streamed bodies).

- ``SecurityHeaders``: CSP without inline scripts, no framing, no sniffing, no referrer,
  ``no-store`` on everything but static assets, HSTS under TLS, and no ``server`` header.
- ``BodyLimit``: rejects a body larger than the limit with 413, from ``Content-Length`` before
  reading anything, or as soon as a chunked body passes the limit.
- ``RateLimit``: token buckets per client address on the public endpoints; 429 + Retry-After.
  Buckets are keyed by a keyed hash of the address (a random key per process, never stored),
  so not even the limiter's memory holds a list of who used the public reporting pages.
- ``AccessLog``: method, path *without* query string, status and time; never bodies, cookies,
  tokens or query strings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tocsin.api.settings import RateRule

access_log = logging.getLogger("tocsin.access")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
STATIC_PREFIX = "/static/"

_BASE_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), payment=(), geolocation=(self)"),
]
_HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_static = scope["path"].startswith(STATIC_PREFIX)
        tls = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"server"]
                present = {k.lower() for k, _ in headers}
                headers.extend(h for h in _BASE_HEADERS if h[0] not in present)
                if not is_static:
                    # Sensitive by default: nothing the API or pages say is kept in caches.
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                    headers.append((b"pragma", b"no-cache"))
                if tls:
                    headers.append(_HSTS)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


async def _send_json(send: Send, status: int, body: dict[str, Any], extra: Iterable = ()) -> None:
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class BodyLimit:
    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = None
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_json(send, 400, {"detail": "invalid Content-Length"})
                    return
        if declared is not None and declared > limit:
            await _send_json(
                send, 413, {"detail": f"request body larger than {limit} bytes"}, [_CLOSE]
            )
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited_receive, send)


_CLOSE = (b"connection", b"close")


class TokenBuckets:
    """In-memory token buckets, one per (rule, client). Per process: behind several workers,
    put the same limits on the reverse proxy too."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 50_000):
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._max_keys = max_keys

    def take(self, rule: RateRule, client: str) -> float:
        """0 if allowed, else seconds until a token is available."""
        now = self._clock()
        rate = rule.per_minute / 60.0
        key = (rule.name, client)
        with self._lock:
            tokens, last = self._buckets.get(key, (float(rule.burst), now))
            tokens = min(float(rule.burst), tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > self._max_keys:
                self._forget_full(now)
            return (1.0 - tokens) / rate

    def _forget_full(self, now: float) -> None:
        # A bucket idle for ten minutes is full again: forgetting it changes nothing.
        stale = [k for k, (_, last) in self._buckets.items() if now - last > 600]
        for k in stale:
            del self._buckets[k]


class RateLimit:
    def __init__(self, app: ASGIApp, rules: list[RateRule], buckets: TokenBuckets) -> None:
        self.app = app
        self.rules = rules  # the same list object as settings.rate_rules: others may add rules
        self.buckets = buckets
        self._address_key = secrets.token_bytes(32)  # per process, memory only

    def client_key(self, address: str) -> str:
        """A keyed hash of the client address: no address is kept, even in memory."""
        return hashlib.blake2b(
            address.encode("utf-8", "replace"), key=self._address_key, digest_size=16
        ).hexdigest()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            client = None
            for rule in self.rules:
                if rule.matches(scope["method"], scope["path"]):
                    if client is None:
                        client = self.client_key((scope.get("client") or ("unknown", 0))[0])
                    wait = self.buckets.take(rule, client)
                    if wait > 0:
                        retry = str(max(1, math.ceil(wait))).encode()
                        await _send_json(
                            send,
                            429,
                            {"detail": "too many requests; slow down"},
                            [(b"retry-after", retry)],
                        )
                        return
        await self.app(scope, receive, send)


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 0

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "%s %s %s %.1fms",
                    scope["method"],
                    scope["path"],  # never the query string: it may carry search terms
                    status or 500,
                    (time.perf_counter() - start) * 1000,
                )
