"""Read requests audit through the group commit (ADR 0008); writes audit in their own
transaction; and a read whose audit entry cannot be committed sends none of what it read."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from tests.api.support import add_token, add_user, public_and_restricted_env
from tocsin.security import audit
from tocsin.security.ledger_writer import LedgerBusy
from tocsin.security.policies import Role
from tocsin.store.schema_security import audit_log


@pytest.fixture
def env(engine, tmp_path: Path):  # noqa: ANN201
    return public_and_restricted_env(engine, tmp_path / "home")


def matrix_uid(env, tag: str) -> str:  # noqa: ANN001
    from tocsin.store import schema as s

    with env.engine.connect() as conn:
        return conn.scalar(select(s.events.c.uid).where(s.events.c.original_id == tag))


def _reads(env) -> list[str]:  # noqa: ANN001
    with env.engine.connect() as conn:
        return list(
            conn.execute(
                select(audit_log.c.details)
                .where(audit_log.c.action == "event.read")
                .order_by(audit_log.c.seq)
            ).scalars()
        )


def test_restricted_search_is_audited_through_the_group_commit(env) -> None:
    token = add_token(env, add_user(env, "cmd", Role.COMMANDER), ("read",))
    ledger = env.app.state.services.ledger
    before = ledger.batches
    response = env.client.get("/api/v1/events", headers=token)
    assert response.status_code == 200
    restricted = [e["uid"] for e in response.json()["items"] if e["sensitivity"] == "restricted"]
    assert restricted
    assert ledger.batches == before + 1
    (details,) = _reads(env)
    assert all(uid in details for uid in restricted)
    with env.engine.connect() as conn:
        assert audit.verify(conn, None).ok


def test_a_public_only_read_writes_nothing(env) -> None:
    token = add_token(env, add_user(env, "cmd", Role.COMMANDER), ("read",))
    ledger = env.app.state.services.ledger
    # The first search reads the restricted record too (audited; and the token's first use
    # is bookkept); the public record read afterwards needs no write at all.
    response = env.client.get("/api/v1/events", headers=token)
    uids = [e["uid"] for e in response.json()["items"] if e["sensitivity"] == "public"]
    before = ledger.batches
    public = env.client.get(f"/api/v1/events/{uids[0]}", headers=token)
    assert public.status_code == 200
    assert ledger.batches == before  # no restricted record read, no write transaction


@pytest.mark.parametrize("failure", [RuntimeError("disk full"), LedgerBusy("behind")])
def test_tm_79_a_read_whose_audit_entry_fails_sends_no_records(env, monkeypatch, failure) -> None:
    token = add_token(env, add_user(env, "cmd", Role.COMMANDER), ("read",))
    env.client.get("/api/v1/events", headers=token)  # bookkeeping of the first use, committed
    ledger = env.app.state.services.ledger

    def fail(*_args: object, **_kwargs: object) -> int:
        raise failure

    monkeypatch.setattr(ledger, "write", fail)
    response = env.client.get("/api/v1/events", headers=token)
    assert response.status_code == 503
    assert response.json() == {"detail": "the change could not be saved"}  # no record at all
    uid = matrix_uid(env, "res")
    one = env.client.get(f"/api/v1/events/{uid}", headers=token)
    assert one.status_code == 503
    assert one.json() == {"detail": "the change could not be saved"}


def test_writes_audit_in_their_own_transaction(env) -> None:
    token = add_token(env, add_user(env, "ana", Role.ANALYST), ("read", "write"))
    ledger = env.app.state.services.ledger
    env.client.get("/api/v1/events", headers=token)
    before = ledger.batches
    created = env.client.post(
        "/api/v1/events",
        json={"date_start": "2025-01-02", "title": "A written record"},
        headers=token,
    )
    assert created.status_code == 201, created.text
    assert ledger.batches == before  # the write and its audit entry committed together
    with env.engine.connect() as conn:
        actions = conn.execute(select(audit_log.c.action)).scalars().all()
    assert "event.create" in actions
