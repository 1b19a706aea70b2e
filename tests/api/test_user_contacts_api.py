"""``/api/v1/users/{id}/contact``: the escalation directory (admins, both backends). Staff
addresses are personal data: they are checked strictly and never reach the ledger or an error
message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api.support import add_token, add_user, login, make_env
from tocsin.security.policies import Role
from tocsin.store.schema_security import audit_log

EMAIL = "duty.officer-7@Mission.Example"
PHONE = "+236755501234"


@pytest.fixture
def env(engine, tmp_path: Path):  # noqa: ANN001, ANN201
    return make_env(engine, tmp_path / "home")


def _ledger_text(env) -> str:  # noqa: ANN001
    with env.engine.connect() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.seq))
        return "\n".join(f"{r.actor} {r.action} {r.target} {r.details}" for r in rows)


def _ledger(env, action: str) -> list[tuple[str, dict]]:  # noqa: ANN001
    with env.engine.connect() as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.action == action))
        return [(r.target, json.loads(r.details)) for r in rows]


def test_tm_83_admin_sets_reads_and_clears_a_contact_and_the_ledger_holds_no_address(
    env,  # noqa: ANN001
) -> None:
    admin = add_user(env, "root1", Role.ADMIN)
    officer = add_user(env, "po1", Role.PROTECTION_OFFICER)
    csrf = login(env, admin)
    url = f"/api/v1/users/{officer.id}/contact"
    assert env.client.get(url).status_code == 404  # none yet
    put = env.client.put(url, json={"email": EMAIL, "phone": PHONE}, headers=csrf)
    assert put.status_code == 200, put.text
    assert put.json()["email"] == "duty.officer-7@mission.example"  # domain lower-cased
    assert put.headers["cache-control"] == "no-store"
    got = env.client.get(url)
    assert got.status_code == 200 and got.json()["phone"] == PHONE
    # PUT replaces: a field left out is removed.
    only_phone = env.client.put(url, json={"phone": PHONE}, headers=csrf)
    assert only_phone.json()["email"] is None
    deleted = env.client.delete(url, headers=csrf)
    assert deleted.status_code == 204
    assert env.client.get(url).status_code == 404
    assert env.client.delete(url, headers=csrf).status_code == 404
    # Every change is ledgered, by the admin, on the user, with flags and no address.
    sets = _ledger(env, "user.contact_set")
    assert [t for t, _ in sets] == [f"user:{officer.id}"] * 2
    assert sets[0][1] == {
        "email_changed": True,
        "phone_changed": True,
        "has_email": True,
        "has_phone": True,
    }
    assert sets[1][1]["email_changed"] is True and sets[1][1]["phone_changed"] is False
    assert len(_ledger(env, "user.contact_clear")) == 1
    text = _ledger_text(env).lower()
    assert "duty.officer" not in text and "55501234" not in text


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-address"},
        {"email": "two@one.example, three@one.example"},
        {"email": "a@b.example\r\nBcc: evil@x.example"},
        {"email": "x" * 250 + "@b.example"},  # oversized
        {"phone": "0755501234"},  # not E.164
        {"phone": "+2367555012345678"},  # oversized
        {"phone": "+236 755 501 234"},
        {"phone": 236755501234},
        {},  # neither
        {"email": None, "phone": None},
        {"email": EMAIL, "pager": "1234"},  # unknown field
    ],
)
def test_bad_contacts_are_422_and_change_nothing(env, body) -> None:  # noqa: ANN001
    admin = add_user(env, "root1", Role.ADMIN)
    officer = add_user(env, "po1", Role.PROTECTION_OFFICER)
    csrf = login(env, admin)
    url = f"/api/v1/users/{officer.id}/contact"
    response = env.client.put(url, json=body, headers=csrf)
    assert response.status_code == 422, response.text
    for value in body.values():
        if isinstance(value, str) and len(value) > 3:
            assert value not in response.text  # the error names the field, not the value
    assert env.client.get(url).status_code == 404
    assert _ledger(env, "user.contact_set") == []


def test_oversized_body_is_refused(env) -> None:  # noqa: ANN001
    admin = add_user(env, "root1", Role.ADMIN)
    csrf = login(env, admin)
    response = env.client.put(
        f"/api/v1/users/{admin.id}/contact", json={"email": "a" * 2_000_000}, headers=csrf
    )
    assert response.status_code in (413, 422)


def test_only_admins_in_a_session_manage_contacts(env) -> None:  # noqa: ANN001
    admin = add_user(env, "root1", Role.ADMIN)
    analyst = add_user(env, "an1", Role.ANALYST)
    url = f"/api/v1/users/{analyst.id}/contact"
    anonymous = env.client.get(url)
    assert anonymous.status_code == 401
    other = TestClient(env.app, base_url="http://testserver")
    csrf = login(env, analyst, other)
    assert other.get(url).status_code == 403
    assert other.put(url, json={"email": "a@b.example"}, headers=csrf).status_code == 403
    assert other.delete(url, headers=csrf).status_code == 403
    # An admin's API token is not an interactive session: account administration refuses it.
    token = add_token(env, admin)
    assert env.client.get(url, headers=token).status_code == 403
    assert _ledger(env, "user.contact_set") == []


def test_unknown_user_is_404_and_bad_ids_are_422(env) -> None:  # noqa: ANN001
    admin = add_user(env, "root1", Role.ADMIN)
    csrf = login(env, admin)
    assert env.client.get("/api/v1/users/99999/contact").status_code == 404
    put = env.client.put("/api/v1/users/99999/contact", json={"phone": PHONE}, headers=csrf)
    assert put.status_code == 404
    assert env.client.delete("/api/v1/users/99999/contact", headers=csrf).status_code == 404
    assert env.client.get("/api/v1/users/abc/contact").status_code == 422
    assert env.client.get("/api/v1/users/0/contact").status_code == 422


def test_csrf_token_is_needed_to_change_a_contact(env) -> None:  # noqa: ANN001
    admin = add_user(env, "root1", Role.ADMIN)
    login(env, admin)
    response = env.client.put(f"/api/v1/users/{admin.id}/contact", json={"phone": PHONE})
    assert response.status_code == 403


def test_tm_88_a_contact_that_does_not_open_is_a_clear_503_and_can_be_replaced(env) -> None:  # noqa: ANN001
    from sqlalchemy import update

    from tocsin.store.schema_user_contacts import user_contacts

    admin = add_user(env, "root1", Role.ADMIN)
    officer = add_user(env, "po1", Role.PROTECTION_OFFICER)
    other = add_user(env, "po2", Role.PROTECTION_OFFICER)
    csrf = login(env, admin)
    for user, email in ((officer, EMAIL), (other, "other@mission.example")):
        put = env.client.put(
            f"/api/v1/users/{user.id}/contact", json={"email": email}, headers=csrf
        )
        assert put.status_code == 200
    with env.engine.begin() as conn:
        stored = conn.scalar(
            select(user_contacts.c.email_enc).where(user_contacts.c.user_id == other.id)
        )
        assert "mission.example" not in stored.lower()  # encrypted at rest
        # Another user's ciphertext pasted onto this row: bound to its row, it does not open.
        conn.execute(
            update(user_contacts)
            .where(user_contacts.c.user_id == officer.id)
            .values(email_enc=stored)
        )
    url = f"/api/v1/users/{officer.id}/contact"
    got = env.client.get(url)
    assert got.status_code == 503 and "does not open" in got.json()["detail"]
    assert "other@" not in got.text and "mission.example" not in got.text
    again = env.client.put(url, json={"phone": PHONE}, headers=csrf)  # the way to recover
    assert again.status_code == 200, again.text
    assert env.client.get(url).json() == {**again.json()}
