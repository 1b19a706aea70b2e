"""Signing in and out through HTML forms, and the language switch."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from tests.api.support import PASSWORD, Account, Env, add_user, make_env
from tocsin.security import totp
from tocsin.security.policies import Role
from tocsin.store.schema_security import audit_log
from tocsin.web.auth_pages import safe_next


@pytest.fixture
def env(sqlite_engine, tmp_path: Path) -> Env:
    return make_env(sqlite_engine, tmp_path / "home")


def _form(env: Env, account: Account, **extra: str) -> dict[str, str]:
    env.clock.advance(seconds=31)  # a fresh TOTP step: codes are single-use
    data = {"username": account.username, "password": PASSWORD, "next": "/map"}
    if account.secret:
        data["totp"] = totp.code_at(account.secret, env.clock())
    data.update(extra)
    return data


def _session_cookie(env: Env) -> str | None:
    return env.client.cookies.get("tocsin_session")


def test_login_with_password_and_totp_then_logout(env: Env) -> None:
    ana = add_user(env, "ana", Role.ANALYST)
    page = env.client.get("/login?next=/map")
    assert page.status_code == 200 and 'name="totp"' in page.text
    done = env.client.post("/login", data=_form(env, ana), follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/map"
    cookie = done.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert env.client.get("/map").status_code == 200
    page = env.client.get("/map")
    assert "ana" in page.text and "Log out" in page.text
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    # Without the form's CSRF token the session stays.
    assert env.client.post("/logout", data={}, follow_redirects=False).status_code == 403
    assert env.client.get("/map", follow_redirects=False).status_code == 200
    out = env.client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert env.client.get("/map", follow_redirects=False).status_code == 303


def test_wrong_code_gets_one_generic_message(env: Env) -> None:
    ana = add_user(env, "ana", Role.ANALYST)
    for data in (
        _form(env, ana, totp="000000"),
        _form(env, ana, password="wrong-password-123"),
        _form(env, ana, username="nobody"),
        _form(env, ana, totp=""),
    ):
        page = env.client.post("/login", data=data, follow_redirects=False)
        assert page.status_code == 401
        assert "Invalid username, password or one-time code." in page.text
        assert "wrong-password" not in page.text  # the password is never echoed
    assert _session_cookie(env) is None
    with env.engine.connect() as conn:
        failures = conn.execute(
            select(audit_log.c.seq).where(audit_log.c.action == "auth.login")
        ).all()
    assert len(failures) >= 4  # failures count and are audited, as through the API


def test_repeated_failures_lock_the_account(env: Env) -> None:
    ana = add_user(env, "ana", Role.ANALYST)
    statuses = [
        env.client.post("/login", data=_form(env, ana, totp="000000")).status_code
        for _ in range(12)
    ]
    assert statuses[0] == 401
    assert statuses[-1] in (423, 429)
    page = env.client.post("/login", data=_form(env, ana))  # even the right code now
    assert page.status_code in (423, 429) and _session_cookie(env) is None


def test_cross_site_login_posts_are_refused(env: Env) -> None:
    ana = add_user(env, "ana", Role.ANALYST)
    for headers in (
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
        {"origin": "https://evil.example"},
    ):
        page = env.client.post("/login", data=_form(env, ana), headers=headers)
        assert page.status_code == 403
    assert _session_cookie(env) is None
    ok = env.client.post(
        "/login",
        data=_form(env, ana),
        headers={"sec-fetch-site": "same-origin", "origin": "null"},
        follow_redirects=False,
    )
    assert ok.status_code == 303  # what Chromium sends under Referrer-Policy: no-referrer


def test_enrolment_required_is_explained(env: Env, monkeypatch) -> None:
    ana = add_user(env, "ana", Role.ANALYST)
    ana_without_code = Account(ana.id, ana.username, ana.role, None)
    from tocsin.security.txn import write_transaction
    from tocsin.store.schema_security import users

    with write_transaction(env.engine) as conn:
        conn.execute(users.update().where(users.c.id == ana.id).values(totp_secret_enc=None))
    page = env.client.post("/login", data=_form(env, ana_without_code))
    assert page.status_code == 403
    assert "Ask an administrator to reset it." in page.text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/map", "/map"),
        ("/map?tier=internal", "/map"),
        ("https://evil.example/", "/map"),
        ("//evil.example/x", "/map"),
        ("/\\evil.example", "/map"),
        ("javascript:alert(1)", "/map"),
        ("map", "/map"),
        ("/login", "/map"),
        ("", "/map"),
        ("/" + "a" * 300, "/map"),
        ("/incidents/abc", "/incidents/abc"),
    ],
)
def test_next_is_only_ever_a_local_path(value: str, expected: str) -> None:
    assert safe_next(value) == expected


def test_login_redirects_only_to_local_paths(env: Env) -> None:
    ana = add_user(env, "ana", Role.ANALYST)
    done = env.client.post(
        "/login", data=_form(env, ana, next="https://evil.example/"), follow_redirects=False
    )
    assert done.headers["location"] == "/map"


def test_oversized_fields_are_refused(env: Env) -> None:
    page = env.client.post("/login", data={"username": "u" * 5000, "password": "x"})
    assert page.status_code == 422
    assert "u" * 100 not in page.text


def test_language_switch_sets_a_cookie_and_returns(env: Env) -> None:
    done = env.client.post(
        "/language", data={"lang": "fr", "next": "/login"}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/login"
    assert "tocsin_lang=fr" in done.headers["set-cookie"]
    page = env.client.get("/login")
    assert page.headers["content-language"] == "fr"
    assert "Se connecter" in page.text and 'lang="fr"' in page.text
    bad = env.client.post(
        "/language", data={"lang": "xx", "next": "https://evil.example"}, follow_redirects=False
    )
    assert bad.headers["location"] == "/" and "set-cookie" not in bad.headers


def test_accept_language_picks_french_without_a_cookie(env: Env) -> None:
    page = env.client.get("/login", headers={"accept-language": "fr-FR,fr;q=0.9"})
    assert page.headers["content-language"] == "fr" and "Mot de passe" in page.text


def test_favicon_is_served(env: Env) -> None:
    icon = env.client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
