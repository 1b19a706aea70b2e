"""User accounts: creation, roles, disabling, 2FA enrollment, passwords.

All functions work inside the caller's transaction and write their own audit entries, so that
an account change and its record in the ledger commit together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from tocsin.security import audit, throttle, totp
from tocsin.security.audit import Actor
from tocsin.security.keys import KeyRing
from tocsin.security.passwords import Passwords
from tocsin.security.policies import Role, policy_for
from tocsin.store.schema_security import api_tokens, sessions, users

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")


class AccountError(ValueError):
    """A request about an account that cannot be honoured; the message says why."""


class UserExists(AccountError):
    pass


class UnknownUser(AccountError):
    pass


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    display_name: str
    role: Role
    has_totp: bool
    disabled: bool
    locked_until: datetime | None
    created_at: datetime

    def as_public_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role.value,
            "has_totp": self.has_totp,
            "disabled": self.disabled,
            "locked_until": self.locked_until,
            "created_at": self.created_at,
        }


def normalize_username(raw: str) -> str:
    name = raw.strip().lower()
    if not USERNAME_RE.match(name):
        raise AccountError(
            "username must be 2-63 characters: letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def _user(row: Any) -> User:
    return User(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=Role(row.role),
        has_totp=row.totp_secret_enc is not None,
        disabled=row.disabled_at is not None,
        locked_until=_aware(row.locked_until),
        created_at=_aware(row.created_at),  # type: ignore[arg-type]
    )


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands timestamps back without a zone; they were written in UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def totp_context(user_id: int) -> str:
    return f"users:{user_id}:totp"


def get_user(conn: Connection, user_id: int) -> User | None:
    row = conn.execute(select(users).where(users.c.id == user_id)).first()
    return _user(row) if row else None


def find_user(conn: Connection, username: str) -> User | None:
    row = conn.execute(select(users).where(users.c.username == username.strip().lower())).first()
    return _user(row) if row else None


def require_user(conn: Connection, username: str) -> User:
    user = find_user(conn, username)
    if user is None:
        raise UnknownUser(f"no user named {username!r}")
    return user


def list_users(conn: Connection) -> list[User]:
    return [_user(r) for r in conn.execute(select(users).order_by(users.c.username))]


def credentials(conn: Connection, username: str) -> Any:
    """The raw row for login checks (hash, TOTP), or None."""
    return conn.execute(select(users).where(users.c.username == username.strip().lower())).first()


def create_user(
    conn: Connection,
    passwords: Passwords,
    keys: KeyRing,
    *,
    username: str,
    display_name: str,
    role: Role | str,
    password: str,
    actor: Actor,
    now: datetime | None = None,
    with_totp: bool = False,
) -> tuple[User, str | None]:
    """Creates an account. Returns it and, when it has TOTP, the provisioning URI to show the
    new user once (it holds the secret: never log or store it)."""
    now = now or datetime.now(UTC)
    name = normalize_username(username)
    policy = policy_for(role)
    if policy.role is Role.PUBLIC:
        raise AccountError("'public' is the role of people without an account")
    display = display_name.strip() or name
    if len(display) > 128:
        raise AccountError("display name must have at most 128 characters")
    passwords.policy.check(password, (name, display))
    secret = totp.new_secret() if (with_totp or policy.requires_2fa) else None
    try:
        user_id = conn.execute(
            insert(users).returning(users.c.id),
            {
                "username": name,
                "display_name": display,
                "role": policy.role.value,
                "password_hash": passwords.hash(password),
                "password_changed_at": now,
                "created_at": now,
                "updated_at": now,
            },
        ).scalar_one()
    except IntegrityError as exc:
        raise UserExists(f"a user named {name!r} already exists") from exc
    uri = None
    if secret is not None:
        _store_totp(conn, keys, user_id, secret)
        uri = totp.provisioning_uri(secret, name)
    audit.record(
        conn,
        actor,
        "user.create",
        f"user:{user_id}",
        {"username": name, "role": policy.role.value, "two_factor": secret is not None},
        now,
    )
    user = get_user(conn, user_id)
    assert user is not None
    return user, uri


def _store_totp(conn: Connection, keys: KeyRing, user_id: int, secret: str) -> None:
    conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(totp_secret_enc=keys.encrypt(secret, totp_context(user_id)), totp_last_step=None)
    )


def _count_active_admins(conn: Connection) -> int:
    return int(
        conn.scalar(
            select(func.count())
            .select_from(users)
            .where(users.c.role == Role.ADMIN.value, users.c.disabled_at.is_(None))
        )
        or 0
    )


def _guard_last_admin(conn: Connection, user: User, what: str) -> None:
    if user.role is Role.ADMIN and not user.disabled and _count_active_admins(conn) <= 1:
        raise AccountError(f"cannot {what} the last active admin; create another admin first")


def revoke_credentials(conn: Connection, user_id: int, now: datetime) -> None:
    conn.execute(
        update(sessions)
        .where(sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    conn.execute(
        update(api_tokens)
        .where(api_tokens.c.user_id == user_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def set_role(
    conn: Connection,
    keys: KeyRing,
    user: User,
    role: Role | str,
    actor: Actor,
    now: datetime | None = None,
) -> str | None:
    """Changes a user's role (a permission change, audited). Moving to a role that needs 2FA
    enrolls the user if needed and returns the provisioning URI."""
    now = now or datetime.now(UTC)
    policy = policy_for(role)
    if policy.role is Role.PUBLIC:
        raise AccountError("'public' is the role of people without an account")
    if policy.role is user.role:
        return None
    if policy.role is not Role.ADMIN:
        _guard_last_admin(conn, user, "demote")
    conn.execute(
        update(users).where(users.c.id == user.id).values(role=policy.role.value, updated_at=now)
    )
    uri = None
    if policy.requires_2fa and not user.has_totp:
        secret = totp.new_secret()
        _store_totp(conn, keys, user.id, secret)
        uri = totp.provisioning_uri(secret, user.username)
    # Credentials were issued under the old role's trust (and perhaps without 2FA): the user
    # logs in again under the new role, and makes new tokens.
    revoke_credentials(conn, user.id, now)
    audit.record(
        conn,
        actor,
        "user.role",
        f"user:{user.id}",
        {"username": user.username, "from": user.role.value, "to": policy.role.value},
        now,
    )
    return uri


def set_disabled(
    conn: Connection, user: User, disabled: bool, actor: Actor, now: datetime | None = None
) -> None:
    now = now or datetime.now(UTC)
    if disabled:
        _guard_last_admin(conn, user, "disable")
    conn.execute(
        update(users)
        .where(users.c.id == user.id)
        .values(disabled_at=now if disabled else None, updated_at=now)
    )
    if disabled:
        revoke_credentials(conn, user.id, now)
    audit.record(
        conn,
        actor,
        "user.disable" if disabled else "user.enable",
        f"user:{user.id}",
        {"username": user.username},
        now,
    )


def reset_2fa(
    conn: Connection, keys: KeyRing, user: User, actor: Actor, now: datetime | None = None
) -> str:
    """New TOTP secret (old authenticator stops working, all sessions end); returns the URI."""
    now = now or datetime.now(UTC)
    secret = totp.new_secret()
    _store_totp(conn, keys, user.id, secret)
    conn.execute(update(users).where(users.c.id == user.id).values(updated_at=now))
    revoke_credentials(conn, user.id, now)
    audit.record(conn, actor, "user.reset_2fa", f"user:{user.id}", {"username": user.username}, now)
    return totp.provisioning_uri(secret, user.username)


def set_password(
    conn: Connection,
    passwords: Passwords,
    user: User,
    new_password: str,
    actor: Actor,
    now: datetime | None = None,
    keep_session_id: int | None = None,
) -> None:
    """Sets a new password (policy checked) and ends every other session of the user."""
    now = now or datetime.now(UTC)
    passwords.policy.check(new_password, (user.username, user.display_name))
    conn.execute(
        update(users)
        .where(users.c.id == user.id)
        .values(
            password_hash=passwords.hash(new_password),
            password_changed_at=now,
            updated_at=now,
        )
    )
    stmt = update(sessions).where(sessions.c.user_id == user.id, sessions.c.revoked_at.is_(None))
    if keep_session_id is not None:
        stmt = stmt.where(sessions.c.id != keep_session_id)
    conn.execute(stmt.values(revoked_at=now))
    audit.record(conn, actor, "user.password", f"user:{user.id}", {"username": user.username}, now)


def unlock(
    conn: Connection, keys: KeyRing, user: User, actor: Actor, now: datetime | None = None
) -> None:
    """Lifts a lockout after repeated login failures."""
    now = now or datetime.now(UTC)
    throttle.reset(conn, keys, user.username, now)
    conn.execute(
        update(users).where(users.c.id == user.id).values(locked_until=None, updated_at=now)
    )
    audit.record(conn, actor, "user.unlock", f"user:{user.id}", {"username": user.username}, now)


def set_display_name(
    conn: Connection, user: User, display_name: str, actor: Actor, now: datetime | None = None
) -> None:
    now = now or datetime.now(UTC)
    name = display_name.strip()
    if not name or len(name) > 128:
        raise AccountError("display name must have 1-128 characters")
    conn.execute(
        update(users).where(users.c.id == user.id).values(display_name=name, updated_at=now)
    )
    audit.record(conn, actor, "user.rename", f"user:{user.id}", {"username": user.username}, now)
