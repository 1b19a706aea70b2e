"""Login, sessions, CSRF and API tokens, over HTTP (modelled on ODK Central's auth tests)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from tests.api.support import PASSWORD, add_token, add_user, login, make_env
from tocsin.security import totp
from tocsin.security.policies import Role
from tocsin.store.schema_security import api_tokens, sessions


@pytest.fixture
def env(sqlite_engine, tmp_path: Path):  # noqa: ANN201 - logic; timestamps: `both` below
    return make_env(sqlite_engine, tmp_path / "home")


@pytest.fixture
def both(engine, tmp_path: Path):  # noqa: ANN201 - stored timestamps differ per backend
    return make_env(engine, tmp_path / "home")


def test_tm15_login_sets_a_strict_httponly_cookie_and_returns_csrf(env) -> None:
    alice = add_user(env, "alice", Role.ANALYST)
    code = totp.code_at(alice.secret, env.clock())
    r = env.client.post(
        "/api/v1/auth/login", json={"username": "Alice", "password": PASSWORD, "totp": code}
    )
    assert r.status_code == 200, r.text
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http in tests; see the TLS test below
    body = r.json()
    assert body["user"]["username"] == "alice" and body["user"]["role"] == "analyst"
    assert len(body["csrf_token"]) >= 32
    # The cookie value is stored only as a hash.
    with env.engine.connect() as conn:
        stored = conn.execute(select(sessions.c.token_hash)).scalar_one()
    assert stored not in cookie and len(stored) == 64


def test_tm15_cookie_is_secure_and_host_prefixed_under_tls(sqlite_engine, tmp_path: Path) -> None:
    env = make_env(sqlite_engine, tmp_path / "home")
    add_user(env, "pat", Role.PARTNER)
    from fastapi.testclient import TestClient

    tls = TestClient(env.app, base_url="https://testserver")
    r = tls.post("/api/v1/auth/login", json={"username": "pat", "password": PASSWORD})
    assert r.status_code == 200, r.text
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("__Host-tocsin_session=") and "Secure" in cookie
    assert r.headers["strict-transport-security"].startswith("max-age=")
    assert tls.get("/api/v1/auth/session").status_code == 200


def test_tm17_2fa_is_required_for_restricted_roles(env) -> None:
    alice = add_user(env, "alice", Role.COMMANDER)
    assert alice.secret is not None  # enrolled at creation: the role sees a restricted tier
    r = env.client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 401
    assert r.json()["detail"] == "invalid username, password or one-time code"
    bad = env.client.post(
        "/api/v1/auth/login",
        json={"username": "alice", "password": PASSWORD, "totp": "000000"},
    )
    assert bad.status_code == 401


def test_tm17_totp_code_cannot_be_replayed(env) -> None:
    alice = add_user(env, "alice", Role.ADMIN)
    code = totp.code_at(alice.secret, env.clock())
    body = {"username": "alice", "password": PASSWORD, "totp": code}
    assert env.client.post("/api/v1/auth/login", json=body).status_code == 200
    assert env.client.post("/api/v1/auth/login", json=body).status_code == 401


def test_partner_without_2fa_logs_in_with_password_only(env) -> None:
    pat = add_user(env, "pat", Role.PARTNER)
    assert pat.secret is None
    login(env, pat)
    me = env.client.get("/api/v1/auth/session").json()
    assert me["user"]["role"] == "partner" and "export" in me["permissions"]


def test_tm15_unsafe_request_with_cookie_needs_csrf_token(env) -> None:
    ann = add_user(env, "ann", Role.ANALYST)
    csrf = login(env, ann)
    body = {"date_start": "2024-01-02", "title": "x"}
    missing = env.client.post("/api/v1/events", json=body)
    assert missing.status_code == 403 and "CSRF" in missing.json()["detail"]
    wrong = env.client.post("/api/v1/events", json=body, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    cross = env.client.post(
        "/api/v1/events", json=body, headers={**csrf, "Origin": "https://evil.example"}
    )
    assert cross.status_code == 403
    ok = env.client.post("/api/v1/events", json=body, headers=csrf)
    assert ok.status_code == 201, ok.text


def test_logout_ends_the_session(env) -> None:
    pat = add_user(env, "pat", Role.PARTNER)
    csrf = login(env, pat)
    assert env.client.post("/api/v1/auth/logout", headers=csrf).status_code == 204
    assert env.client.get("/api/v1/auth/session").status_code == 401


def test_tm15_session_idle_timeout(both) -> None:
    env = both
    pat = add_user(env, "pat", Role.PARTNER)
    login(env, pat)
    env.clock.advance(minutes=29)
    assert env.client.get("/api/v1/auth/session").status_code == 200
    env.clock.advance(minutes=29)  # the previous request refreshed last_seen
    assert env.client.get("/api/v1/auth/session").status_code == 200
    env.clock.advance(minutes=31)
    assert env.client.get("/api/v1/auth/session").status_code == 401


def test_tm13_disabling_a_user_ends_sessions_and_tokens(env) -> None:
    admin = add_user(env, "root", Role.ADMIN)
    pat = add_user(env, "pat", Role.PARTNER)
    token = add_token(env, pat, ("read",))
    assert env.client.get("/api/v1/events", headers=token).status_code == 200
    csrf = login(env, admin)
    r = env.client.patch(f"/api/v1/users/{pat.id}", json={"disabled": True}, headers=csrf)
    assert r.status_code == 200, r.text
    assert r.json()["user"]["disabled"] is True
    assert env.client.get("/api/v1/events", headers=token).status_code == 401
    other = make_env(env.engine, env.settings.home).client
    refused = other.post("/api/v1/auth/login", json={"username": "pat", "password": PASSWORD})
    assert refused.status_code == 401


def test_tm13_token_is_hashed_scoped_and_expiring(both) -> None:
    env = both
    ann = add_user(env, "ann", Role.ANALYST)
    csrf = login(env, ann)
    r = env.client.post(
        "/api/v1/auth/tokens", json={"name": "script", "scopes": ["read"], "days": 7}, headers=csrf
    )
    assert r.status_code == 201, r.text
    plaintext = r.json()["token"]
    assert plaintext.startswith("tcn_")
    with env.engine.connect() as conn:
        stored = conn.execute(select(api_tokens.c.token_hash)).scalar_one()
    assert plaintext not in stored
    bearer = {"Authorization": f"Bearer {plaintext}"}
    env.client.cookies.clear()
    assert env.client.get("/api/v1/events", headers=bearer).status_code == 200
    # read scope only: no writing, no exporting, whatever the role allows
    write = env.client.post("/api/v1/events", json={"date_start": "2024-01-01"}, headers=bearer)
    assert write.status_code == 403
    assert env.client.get("/api/v1/exports/events", headers=bearer).status_code == 403
    # tokens cannot mint tokens or manage users
    assert (
        env.client.post(
            "/api/v1/auth/tokens", json={"name": "x", "scopes": ["read"]}, headers=bearer
        ).status_code
        == 403
    )
    env.clock.advance(days=8)
    assert env.client.get("/api/v1/events", headers=bearer).status_code == 401


def test_invalid_bearer_token_is_401_not_anonymous(env) -> None:
    r = env.client.get("/api/v1/events", headers={"Authorization": "Bearer tcn_forged"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert env.client.get("/api/v1/events").status_code == 401


def test_tm13_role_change_revokes_tokens(env) -> None:
    admin = add_user(env, "root", Role.ADMIN)
    ann = add_user(env, "ann", Role.ANALYST)
    token = add_token(env, ann)
    csrf = login(env, admin)
    r = env.client.patch(f"/api/v1/users/{ann.id}", json={"role": "partner"}, headers=csrf)
    assert r.status_code == 200 and r.json()["user"]["role"] == "partner"
    assert env.client.get("/api/v1/events", headers=token).status_code == 401


def test_last_admin_cannot_be_demoted_or_disabled(env) -> None:
    admin = add_user(env, "root", Role.ADMIN)
    csrf = login(env, admin)
    r = env.client.patch(f"/api/v1/users/{admin.id}", json={"role": "analyst"}, headers=csrf)
    assert r.status_code == 409 and "last active admin" in r.json()["detail"]
    r = env.client.patch(f"/api/v1/users/{admin.id}", json={"disabled": True}, headers=csrf)
    assert r.status_code == 409


def test_weak_password_is_refused_with_a_reason(env) -> None:
    admin = add_user(env, "root", Role.ADMIN)
    csrf = login(env, admin)
    r = env.client.post(
        "/api/v1/users",
        json={"username": "bob", "role": "partner", "password": "password1234"},
        headers=csrf,
    )
    assert r.status_code == 400 and "too easy to guess" in r.json()["detail"]
    r = env.client.post(
        "/api/v1/users",
        json={"username": "bob", "role": "analyst", "password": PASSWORD + "-bob"},
        headers=csrf,
    )
    assert r.status_code == 201
    assert r.json()["totp_provisioning_uri"].startswith("otpauth://totp/Tocsin:bob?")


def test_only_admins_manage_users(env) -> None:
    ann = add_user(env, "ann", Role.ANALYST)
    csrf = login(env, ann)
    assert env.client.get("/api/v1/users").status_code == 403
    r = env.client.post(
        "/api/v1/users",
        json={"username": "eve", "role": "admin", "password": PASSWORD},
        headers=csrf,
    )
    assert r.status_code == 403


def test_tm15_form_posts_may_carry_the_csrf_token_as_a_field(env) -> None:
    pat = add_user(env, "pat", Role.PARTNER)
    csrf = login(env, pat)["X-CSRF-Token"]
    form = {"current_password": "x" * 12, "new_password": "y"}
    refused = env.client.post("/api/v1/auth/password", data=form)
    assert refused.status_code == 403
    accepted = env.client.post("/api/v1/auth/password", data={**form, "csrf_token": csrf})
    assert accepted.status_code == 422  # past the CSRF check; this endpoint wants JSON
