"""Helpers for API tests: an app with a controllable clock, users, tokens and logins."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from tocsin.api.app import create_app
from tocsin.api.settings import Settings
from tocsin.domain.entities import ActorLink, Event, Provenance, SourceRef, VictimGroup
from tocsin.domain.grading import InformationCredibility, SourceReliability
from tocsin.domain.taxonomy import (
    ActorRole,
    ActType,
    CaseClass,
    LocationPrecision,
    SensitivityTier,
    ViolenceType,
)
from tocsin.security import persons, tokens, totp
from tocsin.security import users as accounts
from tocsin.security.audit import Actor
from tocsin.security.keys import KeyRing
from tocsin.security.passwords import fast_passwords_for_tests
from tocsin.security.policies import Role
from tocsin.security.txn import write_transaction
from tocsin.store import schema as s
from tocsin.store.event_writer import EventWriter
from tocsin.store.schema_security import event_owners

PASSWORD = "plover-quantum-ledger-47"


class Clock:
    """A clock tests can move; starts at a fixed, recent instant."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class Env:
    engine: Engine
    settings: Settings
    clock: Clock
    app: Any
    client: TestClient

    @property
    def keys(self) -> KeyRing:
        return self.app.state.services.keys


def make_env(engine: Engine, home: Path, **overrides: Any) -> Env:
    clock = Clock()
    settings = Settings(home=home, passwords=fast_passwords_for_tests(), clock=clock)
    for key, value in overrides.items():
        setattr(settings, key, value)
    app = create_app(engine, settings, background=False)
    client = TestClient(app, base_url="http://testserver")
    return Env(engine, settings, clock, app, client)


def totp_secret(uri: str | None) -> str | None:
    if uri is None:
        return None
    match = re.search(r"secret=([A-Z2-7]+)", uri)
    assert match, uri
    return match.group(1)


@dataclass
class Account:
    id: int
    username: str
    role: Role
    secret: str | None


def add_user(env: Env, username: str, role: Role | str, password: str = PASSWORD) -> Account:
    with write_transaction(env.engine) as conn:
        user, uri = accounts.create_user(
            conn,
            env.settings.passwords,
            env.keys,
            username=username,
            display_name=username.title(),
            role=role,
            password=password,
            actor=Actor("test-setup"),
            now=env.clock(),
        )
    return Account(user.id, user.username, user.role, totp_secret(uri))


def add_token(env: Env, account: Account, scopes: tuple[str, ...] = ("read", "write", "export")):
    with write_transaction(env.engine) as conn:
        plaintext, _ = tokens.issue(
            conn,
            account.id,
            "test",
            scopes,
            timedelta(days=30),
            Actor("test-setup"),
            env.clock(),
        )
    return {"Authorization": f"Bearer {plaintext}"}


def login(env: Env, account: Account, client: TestClient | None = None) -> dict[str, str]:
    """Logs in with a fresh TOTP code; returns the CSRF header for unsafe requests."""
    client = client or env.client
    body: dict[str, Any] = {"username": account.username, "password": PASSWORD}
    if account.secret:
        env.clock.advance(seconds=31)  # a new TOTP step: codes are single-use
        body["totp"] = totp.code_at(account.secret, env.clock())
    response = client.post("/api/v1/auth/login", json=body)
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": response.json()["csrf_token"]}


# Distinctive values, so tests can search the raw output for them.
def secret_values(tag: str) -> dict[str, Any]:
    n = zlib.crc32(tag.encode()) % 100_000
    return {
        "latitude": round(4.1 + n / 1e6, 6),
        "longitude": round(18.2 + n / 1e6, 6),
        "place_name": f"Village-{tag}",
        "title": f"Title-{tag}",
        "description": f"Narrative-{tag}",
        "victim": f"Victimgroup-{tag}",
        "source": f"Informant-{tag}",
        "person": f"Person-{tag}",
        "contact": f"+236-{tag}",
    }


def matrix_event(tier: SensitivityTier, case_class: CaseClass, tag: str) -> Event:
    v = secret_values(tag)
    return Event(
        provenance=Provenance("matrix", tag),
        date_start=date(2024, 5, 1),
        date_end=date(2024, 5, 2),
        latitude=v["latitude"],
        longitude=v["longitude"],
        location_precision=LocationPrecision.EXACT,
        country_iso3="CAF",
        country_name="Central African Republic",
        admin1_pcode="CF11",
        admin1_name="Ombella-M'Poko",
        admin2_pcode="CF111",
        admin2_name="Bimbo",
        place_name=v["place_name"],
        violence_type=ViolenceType.ONE_SIDED,
        act_types=(ActType.KILLING,),
        actors=(ActorLink("Armed Group X", ActorRole.PERPETRATOR),),
        victims=(VictimGroup(v["victim"], count=3, female=2, male=1),),
        fatalities_best=2,
        sources=(
            SourceRef(
                v["source"],
                None,
                None,
                SourceReliability.B,
                InformationCredibility.PROBABLY_TRUE,
            ),
        ),
        sensitivity=tier,
        case_class=case_class,
        title=v["title"],
        description=v["description"],
    )


def store_events(
    env: Env,
    events: list[Event],
    people: dict[str, list[persons.Person]] | None = None,
    owner: Account | None = None,
) -> None:
    with write_transaction(env.engine) as conn:
        EventWriter(conn).write(events)
        for ev in events:
            event_id = conn.execute(select(s.events.c.id).where(s.events.c.uid == ev.uid)).scalar()
            for person_list in [(people or {}).get(ev.uid, [])]:
                if person_list:
                    persons.replace(conn, env.keys, event_id, ev.uid, person_list)
            if owner is not None:
                conn.execute(event_owners.insert(), {"event_id": event_id, "user_id": owner.id})


def public_and_restricted_env(engine: Engine, home: Path) -> Env:
    """An app over two general events, one public ("pub") and one restricted ("res"): a
    commander's search reads both, and the restricted one is audited."""
    env = make_env(engine, home)
    store_events(
        env,
        [
            matrix_event(SensitivityTier.PUBLIC, CaseClass.GENERAL, "pub"),
            matrix_event(SensitivityTier.RESTRICTED, CaseClass.GENERAL, "res"),
        ],
    )
    return env
