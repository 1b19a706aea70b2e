"""``/api/v1/auth``: login and logout, the current session, password change, API tokens.

Login is one step: username, password and (for accounts with 2FA) the current TOTP code. It
sets the session cookie and returns the CSRF token to send with unsafe requests.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response

from tocsin.api.deps import (
    COOKIE_NAMES,
    client_address,
    current_principal,
    get_services,
    require,
    require_session,
)
from tocsin.api.schemas.auth import (
    LoginIn,
    PasswordChangeIn,
    SessionOut,
    TokenCreated,
    TokenIn,
    TokenOut,
)
from tocsin.api.schemas.common import Message
from tocsin.api.services import Services
from tocsin.api.uow import UnitOfWork, UnitOfWorkRoute, get_uow
from tocsin.security import login, sessions, tokens
from tocsin.security.passwords import PasswordRejected
from tocsin.security.policies import Permission, policy_for
from tocsin.security.principal import Principal
from tocsin.security.users import User, credentials, get_user, set_password

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], route_class=UnitOfWorkRoute)


def _cookie_name(request: Request, services: Services) -> tuple[str, bool]:
    mode = services.settings.cookie_secure
    secure = mode == "always" or (mode == "auto" and request.url.scheme == "https")
    # The __Host- prefix pins the cookie to this host, path / and TLS.
    return (COOKIE_NAMES[0] if secure else COOKIE_NAMES[1]), secure


def _session_out(user: User, info: sessions.SessionInfo) -> dict[str, Any]:
    policy = policy_for(user.role)
    return {
        "user": user.as_public_dict(),
        "csrf_token": info.csrf_token,
        "expires_at": info.expires_at,
        "permissions": sorted(p.value for p in policy.permissions),
    }


@router.post(
    "/login",
    response_model=SessionOut,
    responses={
        401: {"model": Message, "description": "wrong username, password or code"},
        423: {"model": Message, "description": "account locked after repeated failures"},
        429: {"model": Message, "description": "too many failures: wait Retry-After seconds"},
    },
    summary="Log in (password + TOTP)",
)
def login_route(
    body: LoginIn,
    request: Request,
    response: Response,
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    now = services.settings.clock()
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.headers.get('host')}":
        raise HTTPException(403, "cross-site login refused")
    result = login.attempt(
        uow.conn,
        services.keys,
        services.settings.passwords,
        services.settings.throttle,
        username=body.username,
        password=body.password,
        code=body.totp,
        client=client_address(request),
        now=now,
    )
    if result.outcome != "ok" or result.user is None:
        uow.commit()  # the failure must count even though the request fails
        status = {"throttled": 429, "locked": 423, "enrollment_required": 403}.get(
            result.outcome, 401
        )
        headers = {"Retry-After": str(result.retry_after)} if result.retry_after else None
        raise HTTPException(status, result.message, headers)
    token, info = sessions.start(uow.conn, result.user.id, now, services.settings.sessions)
    name, secure = _cookie_name(request, services)
    response.set_cookie(
        name,
        token,
        max_age=int(services.settings.sessions.absolute.total_seconds()),
        path="/",
        secure=secure,
        httponly=True,
        samesite="strict",
    )
    return _session_out(result.user, info)


@router.post("/logout", status_code=204, summary="End this session")
def logout(
    request: Request,
    principal: Principal = Depends(require_session),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Response:
    assert principal.session is not None
    sessions.end(uow.conn, principal.session.id, services.settings.clock())
    uow.audit(principal.actor(), "auth.logout", f"user:{principal.user_id}", {})
    out = Response(status_code=204)
    for name in COOKIE_NAMES:
        out.delete_cookie(name, path="/", secure=name.startswith("__Host-"), httponly=True)
    return out


@router.get("/session", response_model=SessionOut, summary="The current session")
def current_session(
    principal: Principal = Depends(require_session),
    uow: UnitOfWork = Depends(get_uow),
) -> dict[str, Any]:
    """Who you are, what you may do, and the CSRF token (e.g. after a page reload)."""
    assert principal.session is not None and principal.user_id is not None
    user = get_user(uow.conn, principal.user_id)
    assert user is not None
    return _session_out(user, principal.session)


@router.post(
    "/password",
    status_code=204,
    responses={400: {"model": Message}, 401: {"model": Message}},
    summary="Change your password",
)
def change_password(
    body: PasswordChangeIn,
    principal: Principal = Depends(require_session),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Response:
    """Needs the current password; ends all your other sessions."""
    assert principal.user_id is not None and principal.session is not None
    user = get_user(uow.conn, principal.user_id)
    row = credentials(uow.conn, principal.username)
    assert user is not None and row is not None
    if not services.settings.passwords.verify(row.password_hash, body.current_password):
        raise HTTPException(401, "current password is wrong")
    try:
        set_password(
            uow.conn,
            services.settings.passwords,
            user,
            body.new_password,
            principal.actor(),
            services.settings.clock(),
            keep_session_id=principal.session.id,
        )
    except PasswordRejected as exc:
        raise HTTPException(400, str(exc)) from exc
    return Response(status_code=204)


@router.get("/tokens", response_model=list[TokenOut], summary="Your API tokens")
def list_tokens(
    principal: Principal = Depends(require(Permission.TOKENS_OWN)),
    uow: UnitOfWork = Depends(get_uow),
) -> list[dict[str, Any]]:
    assert principal.user_id is not None
    return [t.as_public_dict() for t in tokens.list_tokens(uow.conn, principal.user_id)]


@router.post(
    "/tokens",
    status_code=201,
    response_model=TokenCreated,
    responses={400: {"model": Message}},
    summary="Create an API token",
)
def create_token(
    body: TokenIn,
    principal: Principal = Depends(require_session),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """A scoped, expiring token for scripts. Shown once; only its hash is kept. It never
    grants more than your role, and is revoked when your role changes."""
    if not principal.can(Permission.TOKENS_OWN):
        raise HTTPException(403, "your role may not hold API tokens")
    assert principal.user_id is not None
    try:
        plaintext, info = tokens.issue(
            uow.conn,
            principal.user_id,
            body.name,
            body.scopes,
            timedelta(days=body.days),
            principal.actor(),
            services.settings.clock(),
        )
    except tokens.TokenError as exc:
        raise HTTPException(400, str(exc)) from exc
    return {"token": plaintext, "info": info.as_public_dict()}


@router.delete(
    "/tokens/{token_id}",
    status_code=204,
    responses={404: {"model": Message}},
    summary="Revoke one of your API tokens",
)
def revoke_token(
    token_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Response:
    if principal.user_id is None:
        raise HTTPException(401, "authentication required", {"WWW-Authenticate": "Bearer"})
    if not tokens.revoke(
        uow.conn, principal.user_id, token_id, principal.actor(), services.settings.clock()
    ):
        raise HTTPException(404, "no such active token of yours")
    return Response(status_code=204)
