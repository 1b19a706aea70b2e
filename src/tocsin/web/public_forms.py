"""CSRF protection for the anonymous public forms (no account, so no session to bind to).

Double-submit, signed: the form page sets a random cookie (``tocsin_form``: HttpOnly,
SameSite=Strict, path ``/report``) and puts ``<issued>.<HMAC(key, cookie, issued)>`` in a hidden
field. A POST is accepted only when the field matches the cookie it came with and is younger
than ``ttl``. Another site can make a browser send the cookie (not with SameSite=Strict, and
never read it), but cannot read the page to learn the field, so it cannot forge a valid pair.

The cookie holds nothing but randomness: it identifies no one, is never stored server-side,
and is needed only to submit the form. The signing key is derived from the server's lookup key
(``tocsin.security.keys``), so tokens survive a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

COOKIE_NAME = "tocsin_form"
COOKIE_PATH = "/report"
FIELD_NAME = "form_token"
DEFAULT_TTL = timedelta(hours=12)  # a reporter on a slow phone may take their time

_COOKIE_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
_TOKEN_RE = re.compile(r"^([0-9]{1,12})\.([0-9a-f]{64})$")
_DOMAIN = b"tocsin-public-form-csrf:v1"


class FormTokens:
    def __init__(
        self, secret: bytes, clock: Callable[[], datetime], ttl: timedelta = DEFAULT_TTL
    ) -> None:
        # A key of its own, derived: the lookup key is never used directly for this.
        self._key = hmac.new(secret, _DOMAIN, hashlib.sha256).digest()
        self._clock = clock
        self._ttl = ttl

    @staticmethod
    def new_cookie() -> str:
        return secrets.token_urlsafe(32)

    @staticmethod
    def valid_cookie(value: str | None) -> bool:
        return bool(value) and _COOKIE_RE.match(value) is not None  # type: ignore[arg-type]

    def issue(self, cookie: str) -> str:
        issued = int(self._clock().timestamp())
        return f"{issued}.{self._sign(cookie, issued)}"

    def check(self, cookie: str | None, token: str | None) -> bool:
        if not cookie or not token or not self.valid_cookie(cookie):
            return False
        match = _TOKEN_RE.match(token)
        if match is None:
            return False
        issued = int(match.group(1))
        age = self._clock().timestamp() - issued
        if age < -300 or age > self._ttl.total_seconds():  # a little clock skew is tolerated
            return False
        return hmac.compare_digest(match.group(2), self._sign(cookie, issued))

    def _sign(self, cookie: str, issued: int) -> str:
        return hmac.new(self._key, f"{cookie}:{issued}".encode(), hashlib.sha256).hexdigest()
