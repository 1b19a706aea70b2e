"""Rendering a page: the request's language, the viewer, and the layout's shared context.

Every page template extends ``base.html``; the context always carries ``viewer`` (who is
signed in, or ``None``), ``csrf_token`` (for the logout form; only with a session), ``lang``,
``active`` (the navigation entry of this page) and ``static`` (URL of a static file).

Page titles are generic on purpose ("Incident", never its place or victims): titles end up in
browser history, bookmarks and window lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from tocsin.security.principal import Principal
from tocsin.web.i18n import COOKIE_NAME, choose_language, environment
from tocsin.web.labels import ROLE_TITLES

STATIC_PREFIX = "/static/"


@dataclass(frozen=True, slots=True)
class Viewer:
    username: str
    role: str
    role_title: str


def request_language(request: Request) -> str:
    return choose_language(request.cookies.get(COOKIE_NAME), request.headers.get("accept-language"))


def static_url(path: str) -> str:
    return STATIC_PREFIX + path.lstrip("/")


def viewer_of(principal: Principal | None) -> Viewer | None:
    if principal is None or not principal.authenticated:
        return None
    role = principal.role.value
    return Viewer(principal.username, role, ROLE_TITLES.get(role, principal.policy.title))


def render_page(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    principal: Principal | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    lang = request_language(request)
    session = principal.session if principal is not None else None
    full = {
        "viewer": viewer_of(principal),
        "csrf_token": session.csrf_token if session is not None else None,
        "static": static_url,
        "current_path": request.url.path,
        "active": None,
        **context,
    }
    html = environment(lang).get_template(template).render(full)
    response = HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))
    response.headers["content-language"] = lang
    response.headers["vary"] = "Cookie, Accept-Language"
    return response
