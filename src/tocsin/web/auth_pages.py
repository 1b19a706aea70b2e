"""Signing in and out from the browser, without JavaScript: ``GET/POST /login``, ``POST /logout``.

The decision is the API's (``tocsin.security.login.attempt``: throttle, password, TOTP, lockout,
audit) and so is the session (``tocsin.security.sessions``, the same cookie as
``POST /api/v1/auth/login``). What this module adds is the HTML form:

- the form posts username, password and the 6-digit code in one step, like the API;
- failures show one generic message (the API's), never which part was wrong;
- a cross-site POST (``Sec-Fetch-Site``, else ``Origin``) is refused, like the API's login;
- ``next`` is only ever a local path, so the login page cannot redirect elsewhere;
- logging out needs the session's CSRF token as a ``csrf_token`` form field.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tocsin.api.deps import COOKIE_NAMES, client_address, current_principal, get_services
from tocsin.api.services import Services
from tocsin.api.uow import UnitOfWork, UnitOfWorkRoute, get_uow
from tocsin.security import login, sessions
from tocsin.security.audit import Actor
from tocsin.security.principal import Principal
from tocsin.security.users import get_user
from tocsin.web.i18n import N_
from tocsin.web.render import render_page

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

DEFAULT_NEXT = "/map"
MESSAGES = {
    "invalid": N_("Invalid username, password or one-time code."),
    "throttled": N_("Too many failed attempts. Wait a few minutes before trying again."),
    "locked": N_(
        "This account is locked after repeated failures. Try later or ask an administrator."
    ),
    "enrollment_required": N_(
        "Your role requires two-factor authentication but no authenticator is set up. "
        "Ask an administrator to reset it."
    ),
}


def local_path(value: str | None, default: str) -> str:
    """``value`` if it is a local absolute path (never another site, never a query string,
    which may carry filter values), else ``default``."""
    if not value or len(value) > 200 or "\\" in value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return default
    if parts.path.startswith("//"):
        return default
    return parts.path


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a local path, never back to the login page."""
    path = local_path(value, DEFAULT_NEXT)
    return DEFAULT_NEXT if path.startswith("/login") else path


def _cookie(request: Request, services: Services) -> tuple[str, bool]:
    mode = services.settings.cookie_secure
    secure = mode == "always" or (mode == "auto" and request.url.scheme == "https")
    return (COOKIE_NAMES[0] if secure else COOKIE_NAMES[1]), secure


def _cross_site(request: Request) -> bool:
    """True for a form posted from another site.

    Our pages send ``Referrer-Policy: no-referrer``, under which browsers post forms with
    ``Origin: null``, so the Fetch Metadata header decides when present (every current
    browser sends it); ``Origin`` is the fallback.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return False
    return origin != f"{request.url.scheme}://{request.headers.get('host')}"


@router.get("/login", response_class=HTMLResponse, name="login_page")
def login_page(request: Request, principal: Principal = Depends(current_principal)) -> HTMLResponse:
    next_path = safe_next(request.query_params.get("next"))
    return render_page(
        request,
        "login.html",
        {"active": "login", "next": next_path, "error": None, "username": ""},
        principal=principal,
    )


@router.post("/login", response_class=HTMLResponse, name="login_submit")
def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    totp: Annotated[str, Form(max_length=16)] = "",
    next: Annotated[str, Form(max_length=200)] = DEFAULT_NEXT,  # noqa: A002 - the form's name
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Response:
    next_path = safe_next(next)
    if _cross_site(request):
        return render_page(
            request,
            "login.html",
            {"active": "login", "next": next_path, "error": MESSAGES["invalid"], "username": ""},
            status_code=403,
        )
    result = login.attempt(
        uow.conn,
        services.keys,
        services.settings.passwords,
        services.settings.throttle,
        username=username,
        password=password,
        code=totp.strip() or None,
        client=client_address(request),
        now=services.settings.clock(),
    )
    if result.outcome != "ok" or result.user is None:
        uow.commit()  # the failure must count even though the request fails
        status = {"throttled": 429, "locked": 423, "enrollment_required": 403}.get(
            result.outcome, 401
        )
        headers = {"retry-after": str(result.retry_after)} if result.retry_after else None
        return render_page(
            request,
            "login.html",
            {
                "active": "login",
                "next": next_path,
                "error": MESSAGES.get(result.outcome, MESSAGES["invalid"]),
                "username": username.strip()[:64],
            },
            status_code=status,
            headers=headers,
        )
    token, _info = sessions.start(
        uow.conn, result.user.id, services.settings.clock(), services.settings.sessions
    )
    name, secure = _cookie(request, services)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        name,
        token,
        max_age=int(services.settings.sessions.absolute.total_seconds()),
        path="/",
        secure=secure,
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/logout", name="logout_submit")
def logout_submit(
    request: Request,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Response:
    """Ends the session named by the cookie, if the form carries that session's CSRF token."""
    response = RedirectResponse("/login", status_code=303)
    cookie = next((request.cookies[n] for n in COOKIE_NAMES if request.cookies.get(n)), None)
    if cookie is None:
        return response
    now = services.settings.clock()
    info = sessions.resolve(uow.conn, cookie, now, services.settings.sessions)
    if info is None:
        return response
    if _cross_site(request) or not info.csrf_matches(csrf_token or None):
        return Response("missing or invalid CSRF token", status_code=403, media_type="text/plain")
    sessions.end(uow.conn, info.id, now)
    user = get_user(uow.conn, info.user_id)
    actor = Actor(user.username if user else f"user:{info.user_id}", info.user_id)
    uow.audit(actor, "auth.logout", f"user:{info.user_id}", {})
    for cookie_name in COOKIE_NAMES:
        response.delete_cookie(
            cookie_name, path="/", secure=cookie_name.startswith("__Host-"), httponly=True
        )
    return response
