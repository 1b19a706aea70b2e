"""Login throttling and lockout, kept in the database so that it holds across processes.

Per account name (whether or not the account exists, so that the replies do not reveal it):

- the first ``free_failures`` consecutive failures cost nothing;
- after that each further attempt must wait a delay that doubles with every failure
  (15 s, 30 s, 1 min, ...); an attempt made sooner gets HTTP 429 and is not even checked;
- at ``lockout_failures`` consecutive failures the account is locked for ``lockout``; the
  right password does not open it, only time or an administrator (``tocsin users unlock``).
  After a lock expires the next failure locks it again at once.

Per client address, many failures across accounts within ``client_window`` also get 429
(password spraying). Usernames and addresses are stored as keyed digests only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import Connection, func, insert, select, update

from tocsin.security.keys import KeyRing
from tocsin.store.schema_security import login_attempts, users


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    free_failures: int = 5
    lockout_failures: int = 10
    base_delay: timedelta = timedelta(seconds=15)
    max_delay: timedelta = timedelta(minutes=5)
    lockout: timedelta = timedelta(minutes=30)
    window: timedelta = timedelta(hours=24)
    client_failures: int = 50
    client_window: timedelta = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Literal["allow", "throttled", "locked"]
    retry_after: int = 0  # seconds

    @property
    def allowed(self) -> bool:
        return self.outcome == "allow"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))


def _failures(conn: Connection, digest: str, now: datetime, policy: ThrottlePolicy):  # noqa: ANN202
    """(count, latest) of consecutive failures since the last success, within the window."""
    last_ok = conn.scalar(
        select(func.max(login_attempts.c.at)).where(
            login_attempts.c.username_digest == digest, login_attempts.c.success.is_(True)
        )
    )
    since = now - policy.window
    if last_ok is not None and _aware(last_ok) > since:
        since = _aware(last_ok)
    row = conn.execute(
        select(func.count(), func.max(login_attempts.c.at)).where(
            login_attempts.c.username_digest == digest,
            login_attempts.c.success.is_(False),
            login_attempts.c.at > since,
        )
    ).one()
    return int(row[0]), (_aware(row[1]) if row[1] is not None else None)


def check(
    conn: Connection,
    keys: KeyRing,
    username: str,
    client: str,
    now: datetime,
    policy: ThrottlePolicy,
) -> Decision:
    digest = keys.lookup_digest("user:" + username.strip().lower())
    count, latest = _failures(conn, digest, now, policy)
    if latest is not None and count >= policy.lockout_failures:
        until = latest + policy.lockout
        if now < until:
            return Decision("locked", _seconds(until - now))
    elif latest is not None and count >= policy.free_failures:
        delay = min(policy.base_delay * (2 ** (count - policy.free_failures)), policy.max_delay)
        if now < latest + delay:
            return Decision("throttled", _seconds(latest + delay - now))
    client_digest = keys.lookup_digest("client:" + client)
    recent = conn.execute(
        select(func.count(), func.min(login_attempts.c.at)).where(
            login_attempts.c.client_digest == client_digest,
            login_attempts.c.success.is_(False),
            login_attempts.c.at > now - policy.client_window,
        )
    ).one()
    if int(recent[0]) >= policy.client_failures and recent[1] is not None:
        return Decision("throttled", _seconds(_aware(recent[1]) + policy.client_window - now))
    return Decision("allow")


def record_attempt(
    conn: Connection,
    keys: KeyRing,
    username: str,
    client: str,
    success: bool,
    now: datetime,
    policy: ThrottlePolicy,
) -> bool:
    """Stores the outcome; returns True when this failure has just locked the account."""
    name = username.strip().lower()
    digest = keys.lookup_digest("user:" + name)
    conn.execute(
        insert(login_attempts),
        {
            "username_digest": digest,
            "client_digest": keys.lookup_digest("client:" + client),
            "at": now,
            "success": success,
        },
    )
    if success:
        return False
    count, _ = _failures(conn, digest, now, policy)
    if count >= policy.lockout_failures:
        # Mirror the lock on the account (if there is one) so admins can see it in listings.
        conn.execute(
            update(users).where(users.c.username == name).values(locked_until=now + policy.lockout)
        )
        return True
    return False


def reset(conn: Connection, keys: KeyRing, username: str, now: datetime) -> None:
    """Clears the failure count (an administrator unlocked the account)."""
    conn.execute(
        insert(login_attempts),
        {
            "username_digest": keys.lookup_digest("user:" + username.strip().lower()),
            "client_digest": keys.lookup_digest("client:admin-unlock"),
            "at": now,
            "success": True,
        },
    )


def prune(conn: Connection, now: datetime, policy: ThrottlePolicy) -> int:
    """Deletes attempts older than the window: nothing older decides anything."""
    result = conn.execute(
        login_attempts.delete().where(login_attempts.c.at < now - policy.window - policy.lockout)
    )
    return result.rowcount or 0
