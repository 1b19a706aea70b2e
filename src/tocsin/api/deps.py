"""Dependencies every router uses: the services, the request's unit of work, the principal
and permission checks.

Authentication, in order:

1. ``Authorization: Bearer tcn_...``: a personal API token (no CSRF: browsers never send it
   on their own). A present but invalid token is a 401, never a silent fall back.
2. The session cookie. Unsafe methods must carry the session's CSRF token in
   ``X-CSRF-Token`` (or, for server-rendered forms, a ``csrf_token`` field of the request
   *body*) and, if the browser sent an ``Origin``, it must be this server. A token in the URL
   query string is never read: URLs leak through logs, history and Referer (TM-70..TM-75).
3. Otherwise the request is anonymous, with the ``public`` role.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi import Depends, HTTPException, Request

from tocsin.api.services import Services
from tocsin.api.uow import SAFE_METHODS, UnitOfWork, get_uow
from tocsin.security import sessions, tokens
from tocsin.security.policies import Permission, Role
from tocsin.security.principal import Principal
from tocsin.security.users import get_user

COOKIE_NAMES = ("__Host-" + sessions.COOKIE_NAME, sessions.COOKIE_NAME)
TOKEN_TOUCH_EVERY = sessions.TOUCH_EVERY


async def get_services(request: Request) -> Services:  # async: no I/O, no thread hop
    return request.app.state.services


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def session_cookie(request: Request) -> str | None:
    for name in COOKIE_NAMES:
        value = request.cookies.get(name)
        if value:
            return value
    return None


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise HTTPException(401, "malformed Authorization header", {"WWW-Authenticate": "Bearer"})
    return value.strip()


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin == "null":
        # Our pages send Referrer-Policy: no-referrer, under which browsers post forms with
        # Origin: null; Fetch Metadata (a header pages cannot forge) then says where from.
        return request.headers.get("sec-fetch-site") == "same-origin"
    if origin is None:
        # Browsers send Origin on every cross-site unsafe request; its absence means a
        # same-site navigation or a non-browser client, both fine next to the CSRF token.
        return True
    expected = f"{request.url.scheme}://{request.headers.get('host', '')}"
    return hmac.compare_digest(origin, expected)


def _touch(
    uow: UnitOfWork, services: Services, key: str, fn: Callable[..., None], *args: object
) -> None:
    """Bookkeeping writes (last seen / last used), at most once a minute per credential and
    process, done at the request's commit."""
    if services.touch_due(key):
        uow.defer(lambda conn: fn(conn, *args))


def resolve_principal(request: Request, uow: UnitOfWork, services: Services) -> Principal:
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    now: datetime = services.settings.clock()
    principal = Principal.anonymous()
    bearer = _bearer(request)
    if bearer is not None:
        # One query: the token is live, its owner enabled, and the owner's current role.
        grant = tokens.resolve_grant(uow.conn, bearer, now)
        if grant is None:
            raise HTTPException(
                401,
                "invalid, expired or revoked API token",
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        info = grant.info
        if info.last_used_at is None or now - info.last_used_at >= TOKEN_TOUCH_EVERY:
            _touch(uow, services, f"token:{info.id}", tokens.touch, info.id, now)
        principal = Principal(
            info.user_id, grant.username, Role(grant.role), "token", info.scopes, token_id=info.id
        )
    elif (cookie := session_cookie(request)) is not None:
        info_s = sessions.resolve(uow.conn, cookie, now, services.settings.sessions)
        user = get_user(uow.conn, info_s.user_id) if info_s else None
        if info_s is not None and user is not None and not user.disabled:
            if request.method not in SAFE_METHODS:
                presented = request.headers.get(sessions.CSRF_HEADER) or getattr(
                    request.state, "csrf_form_token", None
                )
                if not (_same_origin(request) and info_s.csrf_matches(presented)):
                    raise HTTPException(403, "missing or invalid CSRF token (X-CSRF-Token)")
            if sessions.needs_touch(info_s, now):
                _touch(uow, services, f"session:{info_s.id}", sessions.touch, info_s.id, now)
            principal = Principal(user.id, user.username, user.role, "session", session=info_s)
    request.state.principal = principal
    return principal


def current_principal(
    request: Request,
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Principal:
    return resolve_principal(request, uow, services)


def check_permission(principal: Principal, permission: Permission) -> Principal:
    """``principal`` if it holds ``permission``; else 401 (anonymous) or 403."""
    if principal.can(permission):
        return principal
    if not principal.authenticated:
        raise HTTPException(401, "authentication required", {"WWW-Authenticate": "Bearer"})
    raise HTTPException(403, f"your role may not do this ({permission.value})")


def require(permission: Permission) -> Callable[..., Principal]:
    """Dependency factory: the principal, if it holds ``permission``; else 401 or 403."""

    async def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        return check_permission(principal, permission)

    dependency.__name__ = f"require_{permission.name.lower()}"
    return dependency


@dataclass(frozen=True, slots=True)
class Reader:
    """For the hottest read routes: the request, its unit of work and the services, with the
    principal resolved by the endpoint itself (``principal()``), on the thread that runs it
    (the event loop, ADR 0014). ``require`` resolves it in a thread of its own first: one
    more thread hop, and FastAPI's dependency walk, per request (bench/api_load.py). The
    endpoint must call ``principal()`` before it reads anything else of the request, so that
    authentication still comes first (401/403 before a 422)."""

    request: Request
    uow: UnitOfWork
    services: Services
    permission: Permission

    def principal(self) -> Principal:
        principal = resolve_principal(self.request, self.uow, self.services)
        return check_permission(principal, self.permission)


def reader(permission: Permission) -> Callable[..., Awaitable[Reader]]:
    """Dependency factory for ``Reader`` (async and without I/O: no thread hop)."""

    async def dependency(request: Request) -> Reader:
        uow = await get_uow(request)
        uow.statement_snapshots()  # these routes only read: their writes go via the ledger
        return Reader(request, uow, request.app.state.services, permission)

    dependency.__name__ = f"reader_{permission.name.lower()}"
    return dependency


async def require_session(principal: Principal = Depends(current_principal)) -> Principal:
    """Account management needs an interactive (2FA-checked) session, not a token."""
    if principal.auth != "session":
        if not principal.authenticated:
            raise HTTPException(401, "authentication required", {"WWW-Authenticate": "Bearer"})
        raise HTTPException(403, "this needs a logged-in session, not an API token")
    return principal
