"""Migration 0009 (TM-88) on a store that already holds clear staff addresses: they come out
encrypted, escalation deliveries come out naming users, and nothing else changes; the downgrade
gives the clear values back (both backends)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import insert, select, text

from tests.alerts.helpers import T0, candidate
from tests.conftest import fresh_postgres_database
from tocsin import config
from tocsin.alerts import repository as repo
from tocsin.alerts.directory import get_contact
from tocsin.security import users as accounts
from tocsin.security.audit import Actor
from tocsin.security.keys import KeyRing
from tocsin.security.passwords import fast_passwords_for_tests
from tocsin.security.policies import Role
from tocsin.store.db import alembic_config, make_engine, upgrade
from tocsin.store.schema_alerts import alert_deliveries

BEFORE = ("0002", "0003", "0004", "0005", "0007", "0008")  # every head before 0009
EMAIL, PHONE = "po1@mission.example", "+236700000101"

_clear_contacts = sa.table(
    "user_contacts",
    sa.column("user_id", sa.Integer),
    sa.column("email", sa.String),
    sa.column("phone", sa.String),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.sqlite'}"
    return fresh_postgres_database(request.getfixturevalue("pg_cluster"), migrated=False)


def _delivery(conn, alert_id: str, channel: str, kind: str, target: str) -> None:  # noqa: ANN001
    conn.execute(
        insert(alert_deliveries).values(
            alert_id=alert_id,
            channel=channel,
            kind=kind,
            target=target,
            tier="internal",
            content_type="text/plain",
            payload="An alert needs attention in Tocsin.",
            status="delivered",
            attempts=1,
            max_attempts=8,
            next_attempt_at=T0,
            created_at=T0,
            idempotency_key=f"{alert_id}:{channel}",
        )
    )


def _targets(engine) -> dict[str, str]:  # noqa: ANN001
    with engine.connect() as conn:
        query = select(alert_deliveries.c.channel, alert_deliveries.c.target)
        return {r.channel: r.target for r in conn.execute(query)}


def _versions(engine) -> set[str]:  # noqa: ANN001
    with engine.connect() as conn:
        return set(conn.scalars(text("SELECT version_num FROM alembic_version")))


def test_0009_seals_stored_addresses_and_points_deliveries_at_users(empty_url: str) -> None:
    engine = make_engine(empty_url, migrate=False)
    try:
        for revision in BEFORE:
            upgrade(engine, revision)
        keys = KeyRing(config.home())
        with engine.begin() as conn:
            user, _ = accounts.create_user(
                conn,
                fast_passwords_for_tests(),
                keys,
                username="po1",
                display_name="po1",
                role=Role.PROTECTION_OFFICER,
                password="plover-quantum-ledger-47",
                actor=Actor("test-setup"),
                now=T0,
            )
            conn.execute(
                insert(_clear_contacts).values(
                    user_id=user.id, email=EMAIL, phone=PHONE, updated_at=T0
                )
            )
            alert, _ = repo.admit_candidate(conn, candidate(), mission="M", at=T0)
            _delivery(conn, alert.id, f"user-{user.id}-sms", "sms", PHONE)
            _delivery(conn, alert.id, f"user-{user.id}-email", "email", EMAIL)
            _delivery(conn, alert.id, "field-office", "email", "bambari@mission.example")
            _delivery(conn, alert.id, f"user-{user.id}-email-x", "email", "x@mission.example")

        before = _versions(engine)
        upgrade(engine)
        assert "0009" in _versions(engine)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT * FROM user_contacts"))
            stored = "\n".join(repr(tuple(r)) for r in rows)
            contact = get_contact(conn, user.id, keys)
        assert EMAIL not in stored and PHONE not in stored
        assert contact is not None and (contact.email, contact.phone) == (EMAIL, PHONE)
        assert _targets(engine) == {
            f"user-{user.id}-sms": f"directory:user:{user.id}",
            f"user-{user.id}-email": f"directory:user:{user.id}",
            "field-office": "bambari@mission.example",  # a configured channel: unchanged
            f"user-{user.id}-email-x": "x@mission.example",  # not an escalation row
        }

        cfg = alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0008")
        with engine.connect() as conn:
            row = conn.execute(select(_clear_contacts)).one()
        assert (row.email, row.phone) == (EMAIL, PHONE)
        assert _targets(engine)[f"user-{user.id}-sms"] == PHONE
        assert _targets(engine)[f"user-{user.id}-email"] == EMAIL
        assert _versions(engine) == before
    finally:
        engine.dispose()
