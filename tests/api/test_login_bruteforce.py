"""Brute force: wrong passwords get 401, then 429 with Retry-After, then a lockout that the
right password does not open; only time or an administrator does (TM-04)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.support import PASSWORD, add_user, login, make_env
from tocsin.security.policies import Role


@pytest.fixture
def env(engine, tmp_path: Path):  # noqa: ANN201
    env = make_env(engine, tmp_path / "home")
    # The per-address rate limit runs on wall-clock time; it has its own test below.
    env.settings.rate_rules.clear()
    return env


def _try(env, password: str, username: str = "pat"):  # noqa: ANN202
    return env.client.post("/api/v1/auth/login", json={"username": username, "password": password})


def test_tm04_brute_force_gets_429_then_lockout(env) -> None:
    add_user(env, "pat", Role.PARTNER)
    policy = env.settings.throttle
    statuses = [_try(env, f"guess-{i}").status_code for i in range(policy.free_failures)]
    assert statuses == [401] * policy.free_failures

    throttled = _try(env, PASSWORD)  # even the right password is not looked at now
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) >= 1

    # Waiting out each growing delay lets one more guess through, until the lock.
    for _ in range(policy.free_failures, policy.lockout_failures):
        assert _try(env, "too-soon").status_code == 429
        env.clock.advance(seconds=policy.max_delay.total_seconds())
        assert _try(env, "still-wrong").status_code == 401
    locked = _try(env, PASSWORD)
    assert locked.status_code == 423
    assert "locked" in locked.json()["detail"]
    env.clock.advance(minutes=10)
    assert _try(env, PASSWORD).status_code == 423

    env.clock.advance(minutes=policy.lockout.total_seconds() / 60)
    assert _try(env, PASSWORD).status_code == 200


def test_admin_unlock_lifts_the_lockout(env) -> None:
    admin = add_user(env, "root", Role.ADMIN)
    pat = add_user(env, "pat", Role.PARTNER)
    env.settings.throttle = type(env.settings.throttle)(free_failures=1, lockout_failures=2)
    env.app.state.services.settings.throttle = env.settings.throttle
    assert _try(env, "a").status_code == 401
    env.clock.advance(minutes=1)
    assert _try(env, "b").status_code == 401
    assert _try(env, PASSWORD).status_code == 423
    csrf = login(env, admin)
    listed = {u["username"]: u for u in env.client.get("/api/v1/users").json()}
    assert listed["pat"]["locked_until"] is not None
    r = env.client.post(f"/api/v1/users/{pat.id}/unlock", headers=csrf)
    assert r.status_code == 200 and r.json()["locked_until"] is None
    env.client.cookies.clear()
    assert _try(env, PASSWORD).status_code == 200


def test_unknown_accounts_are_throttled_the_same_way(env) -> None:
    """The replies do not tell an attacker whether an account exists."""
    add_user(env, "pat", Role.PARTNER)
    known = [_try(env, f"g{i}", "pat").status_code for i in range(6)]
    unknown = [_try(env, f"g{i}", "nobody").status_code for i in range(6)]
    assert known == unknown == [401] * 5 + [429]


def test_password_spraying_from_one_address_is_throttled(env) -> None:
    env.settings.throttle = type(env.settings.throttle)(client_failures=8)
    env.app.state.services.settings.throttle = env.settings.throttle
    statuses = [_try(env, "Winter2025!", f"user{i}").status_code for i in range(10)]
    assert statuses[:8] == [401] * 8
    assert statuses[8:] == [429, 429]


def test_login_endpoint_is_rate_limited_per_address(engine, tmp_path: Path) -> None:
    env = make_env(engine, tmp_path / "home")
    rule = next(r for r in env.settings.rate_rules if r.name == "login")
    statuses = [_try(env, "x", f"u{i}").status_code for i in range(rule.burst + 3)]
    assert 429 in statuses
    assert statuses.index(429) == rule.burst


def test_failed_and_successful_logins_are_audited(env) -> None:
    admin = add_user(env, "root", Role.ADMIN)
    add_user(env, "pat", Role.PARTNER)
    _try(env, "wrong")
    _try(env, PASSWORD)
    login(env, admin)
    entries = env.client.get("/api/v1/audit", params={"action": "auth.login"}).json()["items"]
    outcomes = [(e["actor"], e["details"]["outcome"]) for e in entries]
    assert ("pat", "failure") in outcomes and ("pat", "success") in outcomes
    assert all("password" not in str(e["details"]).lower() for e in entries)
