"""Browser sessions: an opaque cookie (stored as SHA-256 only), an idle timeout, an absolute
lifetime and a per-session CSRF token.

The cookie is HttpOnly, SameSite=Strict and, whenever the request came over TLS, Secure.
Unsafe methods authenticated by the cookie must echo the CSRF token in ``X-CSRF-Token`` (or a
``csrf_token`` form field, for server-rendered forms).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, insert, select, update

from tocsin.store.schema_security import sessions, users

COOKIE_NAME = "tocsin_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FORM_FIELD = "csrf_token"
# last_seen_at is refreshed at most this often, so that reading pages does not write each time
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class SessionTimeouts:
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: int
    user_id: int
    csrf_token: str
    last_seen_at: datetime
    expires_at: datetime

    def csrf_matches(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(self.csrf_token, presented or "")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def start(
    conn: Connection, user_id: int, now: datetime, timeouts: SessionTimeouts
) -> tuple[str, SessionInfo]:
    """Creates a session; returns the cookie value (never stored) and the session."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session_id = conn.execute(
        insert(sessions).returning(sessions.c.id),
        {
            "token_hash": digest(token),
            "user_id": user_id,
            "csrf_token": csrf,
            "created_at": now,
            "last_seen_at": now,
            "expires_at": now + timeouts.absolute,
        },
    ).scalar_one()
    return token, SessionInfo(session_id, user_id, csrf, now, now + timeouts.absolute)


def resolve(
    conn: Connection, token: str, now: datetime, timeouts: SessionTimeouts
) -> SessionInfo | None:
    """The live session for this cookie, or None (unknown, revoked, idle, expired, disabled)."""
    if not token or len(token) > 128:
        return None
    row = conn.execute(
        select(
            sessions.c.id,
            sessions.c.user_id,
            sessions.c.csrf_token,
            sessions.c.last_seen_at,
            sessions.c.expires_at,
        )
        .join(users, users.c.id == sessions.c.user_id)
        .where(
            sessions.c.token_hash == digest(token),
            sessions.c.revoked_at.is_(None),
            users.c.disabled_at.is_(None),
        )
    ).first()
    if row is None:
        return None
    last_seen, expires = _aware(row.last_seen_at), _aware(row.expires_at)
    if now >= expires or now - last_seen >= timeouts.idle:
        return None
    return SessionInfo(row.id, row.user_id, row.csrf_token, last_seen, expires)


def needs_touch(info: SessionInfo, now: datetime) -> bool:
    return now - info.last_seen_at >= TOUCH_EVERY


def touch(conn: Connection, session_id: int, now: datetime) -> None:
    conn.execute(update(sessions).where(sessions.c.id == session_id).values(last_seen_at=now))


def end(conn: Connection, session_id: int, now: datetime) -> None:
    conn.execute(
        update(sessions)
        .where(sessions.c.id == session_id, sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def prune(conn: Connection, now: datetime) -> int:
    """Deletes sessions that can no longer be used (expired more than a day ago)."""
    result = conn.execute(sessions.delete().where(sessions.c.expires_at < now - timedelta(days=1)))
    return result.rowcount or 0
