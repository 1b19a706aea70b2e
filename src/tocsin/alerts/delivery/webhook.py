"""Signed outbound webhooks over HTTP(S)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import httpx

from tocsin.alerts.delivery.queue import DeliveryJob
from tocsin.alerts.delivery.senders import DeliveryError
from tocsin.alerts.delivery.signing import SIGNATURE_HEADER, sign

# Statuses worth retrying: the receiver is overloaded, restarting or rate-limiting us.
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def check_webhook_url(url: str, *, allow_http: bool = False) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ({"https", "http"} if allow_http else {"https"}):
        raise ValueError(f"webhook URL must use https, not {parts.scheme or 'nothing'!r}")
    if not parts.hostname:
        raise ValueError("webhook URL has no host")
    if parts.username or parts.password:
        raise ValueError("webhook URL must not carry credentials; the HMAC secret authenticates")


class WebhookSender:
    """POSTs the payload with an HMAC signature; never follows redirects (a redirect could send a
    restricted payload somewhere nobody vetted)."""

    def __init__(
        self,
        secrets: Mapping[str, bytes],
        *,
        timeout_s: float = 10.0,
        allow_http: bool = False,
        clock: Callable[[], float] = time.time,
        client: httpx.Client | None = None,
    ) -> None:
        self._secrets = secrets
        self._allow_http = allow_http
        self._clock = clock
        self._client = client or httpx.Client(timeout=timeout_s, follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    def send(self, job: DeliveryJob) -> None:
        secret = self._secrets.get(job.channel)
        if secret is None:
            raise DeliveryError(
                f"no signing secret configured for channel {job.channel!r}", permanent=True
            )
        try:
            check_webhook_url(job.target, allow_http=self._allow_http)
        except ValueError as exc:
            raise DeliveryError(str(exc), permanent=True) from exc
        body = job.payload.encode("utf-8")
        headers = {
            "Content-Type": job.content_type,
            SIGNATURE_HEADER: sign(secret, body, int(self._clock())),
            "X-Tocsin-Delivery": str(job.id),
            "X-Tocsin-Alert": job.alert_id,
            "User-Agent": "Tocsin-Alerts/1",
        }
        try:
            response = self._client.post(job.target, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        if 200 <= response.status_code < 300:
            return
        permanent = response.status_code not in RETRYABLE_STATUS
        raise DeliveryError(f"HTTP {response.status_code}", permanent=permanent)
