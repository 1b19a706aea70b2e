"""Personal API tokens for scripts: 256-bit random secrets, stored as SHA-256 only, scoped and
always expiring.

A token acts for its owner with the owner's *current* role, narrowed by its scopes: a token
never grants more than its owner has. Changing a user's role, disabling the user or resetting
their 2FA revokes their tokens. Managing users needs an interactive, 2FA-checked session: no
token scope grants it.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from tocsin.security import audit
from tocsin.security.audit import Actor
from tocsin.security.policies import Permission
from tocsin.store import dbapi
from tocsin.store.schema_security import api_tokens, users

TOKEN_PREFIX = "tcn_"  # noqa: S105 - a public marker, not a secret
DEFAULT_LIFETIME = timedelta(days=90)
MAX_LIFETIME = timedelta(days=365)
MAX_ACTIVE_PER_USER = 20


class TokenScope(StrEnum):
    READ = "read"
    WRITE = "write"
    EXPORT = "export"


SCOPE_PERMISSIONS: Mapping[TokenScope, frozenset[Permission]] = {
    TokenScope.READ: frozenset(
        {Permission.EVENTS_READ, Permission.AGGREGATES_READ, Permission.AUDIT_READ}
    ),
    TokenScope.WRITE: frozenset(
        {
            Permission.EVENTS_CREATE,
            Permission.EVENTS_UPDATE,
            Permission.EVENTS_DELETE,
            Permission.REFERENCE_WRITE,
            Permission.IMPORT,
        }
    ),
    TokenScope.EXPORT: frozenset({Permission.EXPORT}),
}


def permissions_for_scopes(scopes: Iterable[TokenScope]) -> frozenset[Permission]:
    out: set[Permission] = set()
    for scope in scopes:
        out |= SCOPE_PERMISSIONS[scope]
    return frozenset(out)


class TokenError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: int
    user_id: int
    name: str
    prefix: str
    scopes: frozenset[TokenScope]
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked: bool

    def as_public_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "scopes": sorted(s.value for s in self.scopes),
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "last_used_at": self.last_used_at,
            "revoked": self.revoked,
        }


def digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _info(row: Any) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        prefix=row.prefix,
        scopes=frozenset(TokenScope(s) for s in row.scopes.split(",") if s),
        created_at=_aware(row.created_at),  # type: ignore[arg-type]
        expires_at=_aware(row.expires_at),  # type: ignore[arg-type]
        last_used_at=_aware(row.last_used_at),
        revoked=row.revoked_at is not None,
    )


def issue(
    conn: Connection,
    user_id: int,
    name: str,
    scopes: Iterable[TokenScope | str],
    lifetime: timedelta,
    actor: Actor,
    now: datetime | None = None,
) -> tuple[str, TokenInfo]:
    """Creates a token; the plaintext is returned once and never stored."""
    now = now or datetime.now(UTC)
    scope_set = frozenset(TokenScope(s) for s in scopes)
    if not scope_set:
        raise TokenError("a token needs at least one scope: read, write or export")
    if lifetime <= timedelta(0) or lifetime > MAX_LIFETIME:
        raise TokenError(f"token lifetime must be between 1 and {MAX_LIFETIME.days} days")
    name = name.strip()
    if not name or len(name) > 64:
        raise TokenError("token name must have 1-64 characters")
    active = conn.execute(
        select(api_tokens.c.id).where(
            api_tokens.c.user_id == user_id,
            api_tokens.c.revoked_at.is_(None),
            api_tokens.c.expires_at > now,
        )
    ).all()
    if len(active) >= MAX_ACTIVE_PER_USER:
        raise TokenError(f"at most {MAX_ACTIVE_PER_USER} active tokens; revoke one first")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = conn.execute(
        insert(api_tokens).returning(api_tokens.c.id),
        {
            "user_id": user_id,
            "name": name,
            "token_hash": digest(plaintext),
            "prefix": plaintext[:12],
            "scopes": ",".join(sorted(s.value for s in scope_set)),
            "created_at": now,
            "expires_at": now + lifetime,
        },
    ).scalar_one()
    audit.record(
        conn,
        actor,
        "token.create",
        f"token:{token_id}",
        {"user_id": user_id, "scopes": sorted(s.value for s in scope_set), "days": lifetime.days},
        now,
    )
    row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).one()
    return plaintext, _info(row)


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """A live token with what its owner is right now: the token acts with this role."""

    info: TokenInfo
    username: str
    role: str


# Built once: the request path resolves a token on every API call.
_LIVE_TOKEN = (
    select(api_tokens, users.c.username.label("owner_username"), users.c.role.label("owner_role"))
    .join(users, users.c.id == api_tokens.c.user_id)
    .where(
        api_tokens.c.token_hash == bindparam("token_hash"),
        api_tokens.c.revoked_at.is_(None),
        api_tokens.c.expires_at > bindparam("now"),
        users.c.disabled_at.is_(None),
    )
)


def _live_row(conn: Connection, plaintext: str, now: datetime) -> Any:
    if not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > 128:
        return None
    rows = dbapi.fetch(conn, _LIVE_TOKEN, {"token_hash": digest(plaintext), "now": now})
    return rows[0] if rows else None


def resolve(conn: Connection, plaintext: str, now: datetime) -> TokenInfo | None:
    """The live token for this secret (not revoked, not expired, owner enabled), or None."""
    row = _live_row(conn, plaintext, now)
    return _info(row) if row else None


def resolve_grant(conn: Connection, plaintext: str, now: datetime) -> TokenGrant | None:
    """Like ``resolve``, with the owner's current username and role from the same query (the
    API's principal needs both: one round trip instead of two on every request)."""
    row = _live_row(conn, plaintext, now)
    return TokenGrant(_info(row), row.owner_username, row.owner_role) if row else None


def touch(conn: Connection, token_id: int, now: datetime) -> None:
    conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now))


def list_tokens(conn: Connection, user_id: int) -> list[TokenInfo]:
    rows = conn.execute(
        select(api_tokens).where(api_tokens.c.user_id == user_id).order_by(api_tokens.c.id)
    )
    return [_info(r) for r in rows]


def revoke(
    conn: Connection, user_id: int, token_id: int, actor: Actor, now: datetime | None = None
) -> bool:
    now = now or datetime.now(UTC)
    result = conn.execute(
        update(api_tokens)
        .where(
            api_tokens.c.id == token_id,
            api_tokens.c.user_id == user_id,
            api_tokens.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    if not result.rowcount:
        return False
    audit.record(conn, actor, "token.revoke", f"token:{token_id}", {"user_id": user_id}, now)
    return True
