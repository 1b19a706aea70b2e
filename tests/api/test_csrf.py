"""CSRF: every state-changing route that a browser session cookie can authenticate needs the
session's CSRF token, in the ``X-CSRF-Token`` header or a ``csrf_token`` field of the request
*body*, never in the URL (tokens in URLs leak through logs, history and Referer).

Threats TM-70..TM-75 in docs/threat-model.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.api.support import Env, add_user, login, make_env
from tocsin.security.policies import Role
from tocsin.store.schema_security import audit_log, sessions

# Unsafe routes that a session cookie does NOT authenticate, each for a stated reason. Every
# other POST/PUT/PATCH/DELETE route of the app is checked, including ones added later.
NOT_COOKIE_AUTHENTICATED = {
    "/api/v1/auth/login": "creates the session; takes credentials, not a cookie",
    "/login": "creates the session; takes credentials, not a cookie",
    "/language": "sets only the language preference cookie",
    "/api/v1/intake/sms/{gateway}": "gateway webhook, authenticated by its signature",
    "/openrosa/submission": "ODK devices: HTTP Basic with an API token",
    "/report": "anonymous public form, with its own double-submit form token",
    "/report/status": "anonymous public form, with its own double-submit form token",
    "/report/status/add": "anonymous public form, with its own double-submit form token",
    "/api/v1/public/reports": "anonymous public intake",
    "/api/v1/public/reports/status": "anonymous public intake",
    "/api/v1/public/reports/follow-up": "anonymous public intake",
}
_PATH_VALUES = {"action": "triage", "gateway": "test", "uid": "0" * 36, "user_id": "999"}
MULTIPART = {"/sources/import"}  # file uploads: the token travels as a multipart field
CSRF_REFUSAL = re.compile("csrf", re.IGNORECASE)


@pytest.fixture
def env(sqlite_engine, tmp_path: Path) -> Env:
    # No per-address rate limit: these tests log in many times from one address on purpose.
    return make_env(sqlite_engine, tmp_path / "home", rate_rules=[])


def _flatten(routes: list[Any]) -> Iterator[Any]:
    for route in routes:
        if hasattr(route, "effective_candidates"):  # FastAPI's included routers
            yield from _flatten(route.effective_candidates())
        elif hasattr(route, "routes") and not hasattr(route, "methods"):
            yield from _flatten(route.routes)
        else:
            yield route


def unsafe_routes(app: Any) -> list[tuple[str, str]]:
    out = set()
    for route in _flatten(app.routes):
        for method in set(getattr(route, "methods", None) or ()) - {"GET", "HEAD", "OPTIONS"}:
            out.add((method, route.path))
    return sorted(out, key=lambda mp: (mp[1], mp[0]))


def _url(path: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: _PATH_VALUES.get(m.group(1), "1"), path)


def _send(env: Env, method: str, path: str, token: str | None, *, in_query: bool = False):  # noqa: ANN202
    url = _url(path)
    headers: dict[str, str] = {}
    if path.startswith("/api/"):
        if token and not in_query:
            headers["X-CSRF-Token"] = token
        kwargs: dict[str, Any] = {"json": {}}
    else:
        kwargs = {"data": {"csrf_token": token} if token and not in_query else {"x": "1"}}
        if path in MULTIPART:
            kwargs["files"] = {"file": ("events.csv", b"id\n", "text/csv")}
    if in_query:
        url += ("&" if "?" in url else "?") + f"csrf_token={token}"
    return env.client.request(method, url, headers=headers, follow_redirects=False, **kwargs)


def _ledger_size(env: Env) -> int:
    with env.engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(audit_log)) or 0


def test_the_route_walk_finds_the_known_unsafe_routes(env: Env) -> None:
    found = {path for _, path in unsafe_routes(env.app)}
    assert {"/api/v1/events", "/logout", "/api/v1/imports", "/sources/import"} <= found
    stale = set(NOT_COOKIE_AUTHENTICATED) - found
    assert not stale, f"exemptions for routes that no longer exist: {stale}"


def test_tm_70_every_unsafe_route_refuses_a_session_without_its_csrf_token(env: Env) -> None:
    admin = add_user(env, "root", Role.ADMIN)
    checked = 0
    token = login(env, admin)["X-CSRF-Token"]
    for method, path in unsafe_routes(env.app):
        if path in NOT_COOKIE_AUTHENTICATED:
            continue
        if env.client.get("/api/v1/auth/session").status_code != 200:  # a route ended the session
            token = login(env, admin)["X-CSRF-Token"]
        before = _ledger_size(env)
        refused = _send(env, method, path, None)
        assert refused.status_code == 403, (method, path, refused.status_code)
        assert CSRF_REFUSAL.search(refused.text), (method, path, refused.text[:200])
        assert _ledger_size(env) == before, (method, path)  # nothing happened
        in_url = _send(env, method, path, token, in_query=True)
        assert in_url.status_code == 403, ("token in the URL accepted", method, path)
        # The contrast: with the token in the body or header, the CSRF check passes (the
        # request may still fail for its own reasons: a missing record, an empty body).
        passed = _send(env, method, path, token)
        assert not (passed.status_code == 403 and CSRF_REFUSAL.search(passed.text)), (
            method,
            path,
        )
        checked += 1
    assert checked >= 20


def test_tm_71_csrf_token_in_the_query_string_is_never_accepted(env: Env) -> None:
    ana = add_user(env, "ana", Role.ANALYST)
    token = login(env, ana)["X-CSRF-Token"]
    body = {
        "date_start": "2024-04-03",
        "latitude": 4.37,
        "longitude": 18.58,
        "country_iso3": "CAF",
    }
    for name in ("csrf_token", "X-CSRF-Token", "x-csrf-token"):
        r = env.client.post(f"/api/v1/events?{name}={token}", json=body)
        assert r.status_code == 403, name
    # A urlencoded form post to the API with the token only in the URL is refused too.
    r = env.client.post(f"/api/v1/events/search?csrf_token={token}", data={"limit": "1"})
    assert r.status_code == 403
    # The HTML logout form: a token in the URL does not end the session.
    r = env.client.post(f"/logout?csrf_token={token}", follow_redirects=False)
    assert r.status_code == 403
    assert env.client.get("/api/v1/auth/session").status_code == 200
    ok = env.client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert ok.status_code == 303


def test_tm_72_another_sessions_token_is_refused(env: Env, tmp_path: Path) -> None:
    ana, ben = add_user(env, "ana", Role.ANALYST), add_user(env, "ben", Role.ANALYST)
    other = make_env(env.engine, tmp_path / "home")
    other.clock, other.app, other.client = env.clock, env.app, type(env.client)(env.app)
    theirs = login(env, ben, other.client)["X-CSRF-Token"]
    login(env, ana)
    r = env.client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": theirs})
    assert r.status_code == 403
    r = env.client.post("/logout", data={"csrf_token": theirs}, follow_redirects=False)
    assert r.status_code == 403
    with env.engine.connect() as conn:
        live = conn.scalar(
            select(func.count()).select_from(sessions).where(sessions.c.revoked_at.is_(None))
        )
    assert live == 2


def test_tm_73_cross_origin_unsafe_requests_are_refused_even_with_the_token(env: Env) -> None:
    ana = add_user(env, "ana", Role.ANALYST)
    csrf = login(env, ana)
    for origin in ("https://evil.example", "null", "http://testserver.evil.example"):
        r = env.client.post("/api/v1/auth/logout", headers={**csrf, "Origin": origin})
        assert r.status_code == 403, origin
        r = env.client.post(
            "/logout",
            data={"csrf_token": csrf["X-CSRF-Token"]},
            headers={"Origin": origin},
            follow_redirects=False,
        )
        assert r.status_code == 403, origin
    assert env.client.get("/api/v1/auth/session").status_code == 200


def test_tm_74_an_invalid_bearer_token_never_falls_back_to_the_cookie(env: Env) -> None:
    """API tokens skip CSRF (browsers never attach them on their own), so a request that
    names one must be judged on it alone: a forged header cannot ride on the cookie."""
    ana = add_user(env, "ana", Role.ANALYST)
    login(env, ana)
    r = env.client.post(
        "/api/v1/auth/logout", headers={"Authorization": "Bearer tcn_not-a-real-token"}
    )
    assert r.status_code == 401
    assert env.client.get("/api/v1/auth/session").status_code == 200


def test_tm_75_pages_put_the_csrf_token_in_post_bodies_only(env: Env) -> None:
    """Signed-in pages carry the token as a hidden field of POST forms; it never appears in a
    link, a form action, a GET form or a script-readable URL."""
    admin = add_user(env, "root", Role.ADMIN)
    token = login(env, admin)["X-CSRF-Token"]
    pages = ["/", "/map", "/sources", "/alerts", "/reports", "/dashboard", "/sitrep"]
    seen_forms = 0
    for page in pages:
        r = env.client.get(page, follow_redirects=True)
        if r.status_code != 200 or "text/html" not in r.headers.get("content-type", ""):
            continue
        html = r.text
        for attr in re.finditer(r'(?:href|action|src|formaction)="([^"]*)"', html):
            assert token not in attr.group(1) and "csrf_token=" not in attr.group(1), page
        for form in re.finditer(r"<form\b[^>]*>.*?</form>", html, re.DOTALL | re.IGNORECASE):
            if token in form.group(0):
                seen_forms += 1
                opening = form.group(0).split(">", 1)[0].lower()
                assert 'method="post"' in opening, (page, opening)
        outside_forms = re.sub(r"<form\b.*?</form>", "", html, flags=re.DOTALL | re.IGNORECASE)
        assert token not in outside_forms.replace(f'content="{token}"', ""), page
    assert seen_forms >= 1  # at least the logout form was checked
