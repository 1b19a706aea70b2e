"""The login decision: throttle, password, TOTP, account state, and its audit entry.

One generic failure message for a wrong name, password or code, so that replies do not tell
an attacker which part was right. The only exception is an account that must use 2FA but has
no authenticator enrolled: the password was right, and the person needs to know what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, update

from tocsin.security import audit, throttle, totp
from tocsin.security.audit import Actor
from tocsin.security.keys import KeyRing
from tocsin.security.passwords import Passwords
from tocsin.security.policies import policy_for
from tocsin.security.users import User, credentials, get_user, totp_context
from tocsin.store.schema_security import users

INVALID = "invalid username, password or one-time code"
ENROLL = (
    "this role requires two-factor authentication but no authenticator is set up; "
    "ask an administrator to run `tocsin users reset-2fa`"
)

Outcome = Literal["ok", "invalid", "throttled", "locked", "enrollment_required"]


@dataclass(frozen=True, slots=True)
class LoginResult:
    outcome: Outcome
    user: User | None = None
    retry_after: int = 0
    message: str = ""


def attempt(
    conn: Connection,
    keys: KeyRing,
    passwords: Passwords,
    policy: throttle.ThrottlePolicy,
    *,
    username: str,
    password: str,
    code: str | None,
    client: str,
    now: datetime,
) -> LoginResult:
    """Decides and records one login attempt in the caller's transaction; commit it whatever
    the outcome, since failures must count."""
    name = username.strip().lower()[:64]
    decision = throttle.check(conn, keys, name, client, now, policy)
    row = credentials(conn, name)
    target = f"user:{row.id}" if row is not None else "user:unknown"
    actor = Actor(name, row.id) if row is not None else Actor.anonymous()
    if not decision.allowed:
        audit.record(conn, actor, "auth.login", target, {"outcome": decision.outcome}, now)
        message = (
            "account temporarily locked after repeated failures; try later or ask an "
            "administrator to unlock it"
            if decision.outcome == "locked"
            else "too many failed attempts; wait before trying again"
        )
        return LoginResult(decision.outcome, None, decision.retry_after, message)

    password_ok = passwords.verify(row.password_hash if row is not None else None, password)
    ok = password_ok and row is not None and row.disabled_at is None
    step: int | None = None
    needs_enrollment = False
    if ok and row is not None:
        if row.totp_secret_enc is not None:
            secret = keys.decrypt(row.totp_secret_enc, totp_context(row.id))
            step = totp.matching_step(secret, code or "", now, row.totp_last_step)
            ok = step is not None
        elif policy_for(row.role).requires_2fa:
            ok, needs_enrollment = False, True

    if not ok:
        locked_now = throttle.record_attempt(conn, keys, name, client, False, now, policy)
        details = {"outcome": "enrollment_required" if needs_enrollment else "failure"}
        if locked_now:
            details["locked"] = True
        audit.record(conn, actor, "auth.login", target, details, now)
        if needs_enrollment:
            return LoginResult("enrollment_required", None, 0, ENROLL)
        return LoginResult("invalid", None, 0, INVALID)

    assert row is not None
    throttle.record_attempt(conn, keys, name, client, True, now, policy)
    values: dict[str, object] = {"locked_until": None}
    if step is not None:
        values["totp_last_step"] = step
    if passwords.needs_rehash(row.password_hash):
        values["password_hash"] = passwords.hash(password)
    conn.execute(update(users).where(users.c.id == row.id).values(**values))
    audit.record(conn, actor, "auth.login", target, {"outcome": "success"}, now)
    return LoginResult("ok", get_user(conn, row.id))
