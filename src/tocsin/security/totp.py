"""Time-based one-time passwords (RFC 6238) with pyotp, with replay protection.

A code is accepted for the current 30-second step and one step either side (clock drift), and
never twice: the last accepted step is stored and any code for that step or an earlier one is
refused, so a code read over someone's shoulder is useless once used.
"""

from __future__ import annotations

from datetime import datetime

import pyotp

ISSUER = "Tocsin"
INTERVAL = 30
DRIFT_STEPS = 1


def new_secret() -> str:
    return pyotp.random_base32(32)  # 160 bits, as RFC 4226 recommends


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret, interval=INTERVAL).provisioning_uri(name=username, issuer_name=ISSUER)


def matching_step(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step ``code`` belongs to, or ``None`` if it is wrong, stale or replayed."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=INTERVAL)
    current = int(now.timestamp()) // INTERVAL
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue
        if pyotp.utils.strings_equal(totp.at(step * INTERVAL), code):
            return step
    return None


def code_at(secret: str, when: datetime) -> str:
    """The code an authenticator shows at ``when`` (CLI self-checks and tests)."""
    return pyotp.TOTP(secret, interval=INTERVAL).at(when)
