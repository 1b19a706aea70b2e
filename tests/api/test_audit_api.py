"""The audit log over the API: admins only, paged, verifiable; reads of it are audited."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.support import add_token, add_user, login, make_env
from tocsin.security.policies import Role


@pytest.fixture
def env(sqlite_engine, tmp_path: Path):  # noqa: ANN201
    return make_env(sqlite_engine, tmp_path / "home", checkpoint_every=3)


def test_only_admins_read_the_log(env) -> None:
    for role in (Role.ANALYST, Role.PROTECTION_OFFICER, Role.PARTNER, Role.COMMANDER):
        token = add_token(env, add_user(env, role.value.replace("_", ""), role))
        assert env.client.get("/api/v1/audit", headers=token).status_code == 403
    assert env.client.get("/api/v1/audit").status_code == 401


def test_admin_pages_verifies_and_checkpoints(env) -> None:
    admin = add_user(env, "root", Role.ADMIN)
    add_user(env, "pat", Role.PARTNER)
    csrf = login(env, admin)  # entries so far: two user.create, one auth.login
    first = env.client.get("/api/v1/audit", params={"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_after_seq"] == 2
    assert first["items"][0]["action"] == "user.create"
    rest = env.client.get("/api/v1/audit", params={"after_seq": 2}).json()
    assert rest["items"][0]["seq"] == 3
    verify = env.client.get("/api/v1/audit/verify").json()
    assert verify["ok"] is True and verify["first_broken_seq"] is None
    # checkpoint_every=3: the requests above have already triggered automatic checkpoints
    cps = env.client.get("/api/v1/audit/checkpoints").json()
    assert cps and all(len(c["signature"]) == 128 for c in cps)
    manual = env.client.post("/api/v1/audit/checkpoints", headers=csrf)
    assert manual.status_code in (200, 409)
    actions = [e["action"] for e in env.client.get("/api/v1/audit").json()["items"]]
    assert "audit.read" in actions and "audit.verify" in actions
