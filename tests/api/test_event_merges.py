"""``POST /api/v1/events/{uid}/merge`` and its undo, on SQLite and PostgreSQL.

Merging stored incidents: who may, what the caller must be able to see, that the survivor never
ends below its most protected member, that an undo restores everything exactly (rows, owners,
encrypted persons, report links), and that a refused or failed request writes nothing.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select

from tests.api.support import (
    Account,
    Env,
    add_token,
    add_user,
    make_env,
    matrix_event,
    store_events,
)
from tests.intake.channel_support import ledger
from tocsin.domain.entities import ActorLink
from tocsin.domain.taxonomy import ActorRole, ActType, CaseClass, SensitivityTier
from tocsin.security import persons
from tocsin.store import schema as s
from tocsin.store.event_writer import EventWriter
from tocsin.store.schema_event_merges import event_merge_members, event_merges
from tocsin.store.schema_security import event_owners, event_persons
from tocsin.store.schema_verify import report_links
from tocsin.verify import event_merge_store

BASE = "/api/v1/events"
GENERAL = CaseClass.GENERAL


@pytest.fixture
def env(engine: Engine, tmp_path: Path):
    environment = make_env(engine, tmp_path / "home")
    yield environment


@pytest.fixture
def people(env: Env) -> dict[str, Account]:
    roles = {
        "analyst": "analyst",
        "admin": "admin",
        "hro": "human_rights_officer",
        "protection": "protection_officer",
        "commander": "commander",
        "reporter": "field_reporter",
        "partner": "partner",
    }
    return {name: add_user(env, name, role) for name, role in roles.items()}


def headers(env: Env, account: Account, scopes: tuple[str, ...] = ("read", "write")) -> dict:
    return add_token(env, account, scopes)


def event(tier: SensitivityTier, tag: str, case_class: CaseClass = GENERAL, **changes: Any):
    return dataclasses.replace(matrix_event(tier, case_class, tag), **changes)


@pytest.fixture
def incidents(env: Env, people: dict[str, Account]) -> dict[str, str]:
    """a: internal; b: restricted, with persons, an owner and a linked report; c: public;
    hidden: confidential (beyond analysts); sv: restricted sexual-violence case."""
    a = event(SensitivityTier.INTERNAL, "a", fatalities_best=2)
    b = event(
        SensitivityTier.RESTRICTED,
        "b",
        act_types=(ActType.ABDUCTION,),
        actors=(ActorLink("Militia Y", ActorRole.PERPETRATOR),),
        fatalities_best=5,
        description=None,
    )
    c = event(SensitivityTier.PUBLIC, "c")
    hidden = event(SensitivityTier.CONFIDENTIAL, "hidden")
    sv = event(SensitivityTier.RESTRICTED, "sv", CaseClass.SEXUAL_VIOLENCE)
    store_events(env, [a, c, hidden, sv])
    store_events(
        env,
        [b],
        people={b.uid: [persons.Person(persons.PersonRole("witness"), "Person-b", "+236-b")]},
        owner=people["reporter"],
    )
    with env.engine.begin() as conn:
        conn.execute(
            insert(report_links),
            {
                "report_id": "rep-b",
                "event_uid": b.uid,
                "created_new": False,
                "linked_by": None,
                "linked_at": datetime(2026, 3, 1, tzinfo=UTC),
            },
        )
    return {"a": a.uid, "b": b.uid, "c": c.uid, "hidden": hidden.uid, "sv": sv.uid}


def merge(env: Env, h: dict, survivor: str, members: list[str], **extra: Any):
    body = {"members": members, "reason": "same attack, two accounts", **extra}
    return env.client.post(f"{BASE}/{survivor}/merge", json=body, headers=h)


def _utc(value: Any) -> Any:
    """SQLite hands back the same instant naive or aware depending on how it was written."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def state(engine: Engine) -> dict[str, Any]:
    """Everything a merge touches, without surrogate row ids (a restored row gets a new one)."""
    with engine.connect() as conn:
        ids = dict(conn.execute(select(s.events.c.id, s.events.c.uid)).all())
        events = {
            row.uid: {k: _utc(v) for k, v in row._mapping.items() if k not in ("id", "updated_at")}
            for row in conn.execute(select(s.events))
        }
        children = {}
        for table in (s.event_acts, s.event_actors, s.event_sources, s.victim_groups):
            rows = conn.execute(select(table)).mappings().all()
            children[table.name] = sorted(
                repr(
                    sorted(
                        (k, ids.get(v) if k == "event_id" else v) for k, v in r.items() if k != "id"
                    )
                )
                for r in rows
            )
        owners = sorted((ids[r.event_id], r.user_id) for r in conn.execute(select(event_owners)))
        people = sorted(
            (ids[r.event_id], r.position, r.role, r.name_enc, r.contact_enc)
            for r in conn.execute(select(event_persons))
        )
        links = sorted(tuple(r) for r in conn.execute(select(report_links)))
    return {
        "events": events,
        "children": children,
        "owners": owners,
        "persons": people,
        "links": links,
    }


def merge_rows(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (
            len(conn.execute(select(event_merges)).all()),
            len(conn.execute(select(event_merge_members)).all()),
        )


def actions(engine: Engine) -> list[str]:
    return [action for _, action, _, _ in ledger(engine) if action.startswith("event.merge")]


# -- merge and undo ---------------------------------------------------------------------------


def test_restricted_into_lower_tier_takes_the_higher_tier_and_undo_restores_exactly(
    env: Env, people: dict[str, Account], incidents: dict[str, str]
) -> None:
    ana = headers(env, people["analyst"])
    before = state(env.engine)
    r = merge(env, ana, incidents["a"], [incidents["b"]])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["survivor"] == incidents["a"] and body["members"] == [incidents["b"]]
    assert (body["sensitivity"], body["case_class"]) == ("restricted", "general")
    # The survivor is now restricted and holds what the member added; the member is gone.
    survivor = env.client.get(f"{BASE}/{incidents['a']}", headers=ana).json()
    assert survivor["sensitivity"] == "restricted"
    assert set(survivor["act_types"]) == {"killing", "abduction"}
    assert env.client.get(f"{BASE}/{incidents['b']}", headers=ana).status_code == 404
    partner = headers(env, people["partner"], ("read",))
    assert env.client.get(f"{BASE}/{incidents['a']}", headers=partner).status_code == 404
    after = state(env.engine)
    assert after["links"] == [("rep-b", incidents["a"], False, None, after["links"][0][4])]
    assert after["persons"] == [p for p in before["persons"] if p[0] != incidents["b"]]
    assert actions(env.engine) == ["event.merge", "event.merged_into"]
    listed = env.client.get(f"{BASE}/{incidents['a']}/merges", headers=ana).json()["items"]
    assert [m["merge_id"] for m in listed] == [body["merge_id"]]

    undo = env.client.post(body["undo"], json={}, headers=ana)
    assert undo.status_code == 200, undo.text
    assert undo.json() == {
        "merge_id": body["merge_id"],
        "survivor": incidents["a"],
        "restored": [incidents["b"]],
        "undone": True,
    }
    restored = state(env.engine)
    assert restored == before  # rows, children, owner, ciphertexts and links, exactly
    assert env.client.get(f"{BASE}/{incidents['b']}", headers=ana).status_code == 200
    assert actions(env.engine)[-1] == "event.merge_undone"
    assert merge_rows(env.engine) == (1, 0)
    # Undone already: a second undo finds nothing.
    assert env.client.post(body["undo"], headers=ana).status_code == 404


def test_admin_merge_takes_the_most_restrictive_case_class(
    env: Env, people: dict[str, Account], incidents: dict[str, str]
) -> None:
    adm = headers(env, people["admin"])
    r = merge(env, adm, incidents["c"], [incidents["sv"], incidents["hidden"]])
    assert r.status_code == 200, r.text
    assert (r.json()["sensitivity"], r.json()["case_class"]) == ("confidential", "sexual_violence")
    # An analyst (general cases only) no longer sees the once public survivor at all.
    ana = headers(env, people["analyst"])
    assert env.client.get(f"{BASE}/{incidents['c']}", headers=ana).status_code == 404


# -- who may ----------------------------------------------------------------------------------


def test_only_analysts_and_admins_may_merge(
    env: Env, people: dict[str, Account], incidents: dict[str, str]
) -> None:
    before = state(env.engine)
    for name in ("hro", "protection", "commander", "reporter", "partner"):
        r = merge(env, headers(env, people[name]), incidents["a"], [incidents["c"]])
        assert r.status_code == 403, (name, r.text)
    read_only = headers(env, people["analyst"], ("read",))
    assert merge(env, read_only, incidents["a"], [incidents["c"]]).status_code == 403
    assert merge(env, {}, incidents["a"], [incidents["c"]]).status_code == 401
    hro = headers(env, people["hro"])
    assert env.client.get(f"{BASE}/{incidents['a']}/merges", headers=hro).status_code == 403
    assert state(env.engine) == before and merge_rows(env.engine) == (0, 0)


def test_an_invisible_event_is_a_404_like_an_unknown_one(
    env: Env, people: dict[str, Account], incidents: dict[str, str]
) -> None:
    ana = headers(env, people["analyst"])
    before = state(env.engine)
    unknown = "00000000-0000-5000-8000-000000000000"
    answers = {
        "unknown member": merge(env, ana, incidents["a"], [unknown]),
        "hidden member": merge(env, ana, incidents["a"], [incidents["hidden"]]),
        "other class": merge(env, ana, incidents["a"], [incidents["sv"]]),
        "hidden survivor": merge(env, ana, incidents["hidden"], [incidents["a"]]),
        "unknown survivor": merge(env, ana, unknown, [incidents["a"]]),
        # the first member is fine: the second must still stop the whole merge
        "second member": merge(env, ana, incidents["a"], [incidents["c"], incidents["sv"]]),
    }
    for what, r in answers.items():
        assert r.status_code == 404, (what, r.text)
        assert r.json()["detail"].startswith("no such event in your scope: "), what
    assert env.client.get(f"{BASE}/{incidents['hidden']}/merges", headers=ana).status_code == 404
    assert state(env.engine) == before
    assert merge_rows(env.engine) == (0, 0) and actions(env.engine) == []


# -- bad input --------------------------------------------------------------------------------


def test_malformed_hostile_and_oversized_bodies_are_422(
    env: Env, people: dict[str, Account], incidents: dict[str, str]
) -> None:
    ana = headers(env, people["analyst"])
    a, c = incidents["a"], incidents["c"]
    bodies = {
        "self merge": {"members": [a], "reason": "x"},
        "no members": {"members": [], "reason": "x"},
        "too many": {"members": [f"uid-{i}" for i in range(21)], "reason": "x"},
        "unknown field": {"members": [c], "reason": "x", "force": True},
        "no reason": {"members": [c]},
        "blank reason": {"members": [c], "reason": "   "},
        "long reason": {"members": [c], "reason": "x" * 2001},
        "control characters": {"members": [c], "reason": "a\x00b"},
        "bad uid": {"members": ["../../etc/passwd"], "reason": "x"},
        "long uid": {"members": ["a" * 65], "reason": "x"},
        "members not a list": {"members": c, "reason": "x"},
        "member not a string": {"members": [{"$gt": ""}], "reason": "x"},
    }
    before = state(env.engine)
    for what, body in bodies.items():
        r = env.client.post(f"{BASE}/{a}/merge", json=body, headers=ana)
        assert r.status_code == 422, (what, r.text)
    assert env.client.post(f"{BASE}/{a}/merge", content=b"{", headers=ana).status_code == 422
    assert (
        env.client.post(f"{BASE}/a%20b/merge", json=bodies["self merge"], headers=ana).status_code
        == 422
    )
    undo = f"{BASE}/merges/not-a-merge/undo"
    assert env.client.post(undo, headers=ana).status_code == 422
    missing = f"{BASE}/merges/{'0' * 8}-0000-4000-8000-{'0' * 12}/undo"
    assert env.client.post(missing, headers=ana).status_code == 404
    assert env.client.post(missing, json={"force": True, "x": 1}, headers=ana).status_code == 422
    assert state(env.engine) == before and merge_rows(env.engine) == (0, 0)


def test_an_already_merged_event_is_a_409(
    env: Env, people: dict[str, Account], incidents: dict[str, str]
) -> None:
    ana = headers(env, people["analyst"])
    assert merge(env, ana, incidents["a"], [incidents["b"]]).status_code == 200
    before = state(env.engine)
    again = merge(env, ana, incidents["a"], [incidents["b"]])
    assert again.status_code == 409 and "already merged into" in again.json()["detail"]
    elsewhere = merge(env, ana, incidents["c"], [incidents["b"]])
    assert elsewhere.status_code == 409
    as_survivor = merge(env, ana, incidents["b"], [incidents["c"]])
    assert as_survivor.status_code == 409
    assert state(env.engine) == before and merge_rows(env.engine) == (1, 1)


def test_a_merged_event_beyond_the_callers_scope_stays_a_404(
    env: Env, people: dict[str, Account], incidents: dict[str, str]
) -> None:
    adm = headers(env, people["admin"])
    assert merge(env, adm, incidents["c"], [incidents["hidden"]]).status_code == 200
    ana = headers(env, people["analyst"])  # may not see the confidential member
    assert merge(env, ana, incidents["a"], [incidents["hidden"]]).status_code == 404
    # (The merged-away confidential event cannot be a survivor either.)
    assert merge(env, adm, incidents["hidden"], [incidents["b"]]).status_code == 409
    # An event the admin folded into one the analyst may not see (a sexual-violence case): the
    # analyst learns that it was merged (it vanished from their view anyway), never into what.
    assert merge(env, adm, incidents["sv"], [incidents["b"]]).status_code == 200
    refused = merge(env, ana, incidents["a"], [incidents["b"]])
    assert refused.status_code == 409
    assert refused.json()["detail"].endswith("already merged into an incident outside your scope")
    assert incidents["sv"] not in refused.text


# -- undo conflicts ---------------------------------------------------------------------------


def test_undo_refuses_to_discard_later_edits_unless_forced(
    env: Env, people: dict[str, Account], incidents: dict[str, str]
) -> None:
    ana = headers(env, people["analyst"])
    before = state(env.engine)
    undo = merge(env, ana, incidents["a"], [incidents["c"]]).json()["undo"]
    patch = env.client.patch(
        f"{BASE}/{incidents['a']}", json={"title": "Edited title"}, headers=ana
    )
    assert patch.status_code == 200, patch.text
    refused = env.client.post(undo, json={}, headers=ana)
    assert refused.status_code == 409 and "force" in refused.json()["detail"]
    forced = env.client.post(undo, json={"force": True}, headers=ana)
    assert forced.status_code == 200, forced.text
    assert state(env.engine)["events"] == before["events"]
    _, action, _, details = ledger(env.engine)[-1]
    assert action == "event.merge_undone" and json.loads(details)["discarded_later_edits"]


def test_merges_into_one_event_are_undone_last_first(
    env: Env, people: dict[str, Account], incidents: dict[str, str]
) -> None:
    ana = headers(env, people["analyst"])
    before = state(env.engine)
    first = merge(env, ana, incidents["a"], [incidents["b"]]).json()
    second = merge(env, ana, incidents["a"], [incidents["c"]]).json()
    blocked = env.client.post(first["undo"], json={"force": True}, headers=ana)
    assert blocked.status_code == 409 and second["merge_id"] in blocked.json()["detail"]
    assert env.client.post(second["undo"], headers=ana).status_code == 200
    assert env.client.post(first["undo"], headers=ana).status_code == 200
    assert state(env.engine) == before


def test_undo_of_a_survivor_merged_away_later_is_refused(
    env: Env, people: dict[str, Account], incidents: dict[str, str]
) -> None:
    ana = headers(env, people["analyst"])
    inner = merge(env, ana, incidents["a"], [incidents["b"]]).json()
    outer = merge(env, ana, incidents["c"], [incidents["a"]]).json()
    refused = env.client.post(inner["undo"], json={"force": True}, headers=ana)
    assert refused.status_code == 409 and outer["merge_id"] in refused.json()["detail"]
    assert env.client.post(outer["undo"], headers=ana).status_code == 200
    assert env.client.post(inner["undo"], headers=ana).status_code == 200


def test_undo_by_someone_who_cannot_see_every_event_is_a_404(
    env: Env, people: dict[str, Account], incidents: dict[str, str]
) -> None:
    adm = headers(env, people["admin"])
    undo = merge(env, adm, incidents["a"], [incidents["hidden"]]).json()["undo"]
    ana = headers(env, people["analyst"])
    assert env.client.post(undo, headers=ana).status_code == 404
    assert env.client.post(undo, headers=adm).status_code == 200


# -- concurrency and failures -------------------------------------------------------------------


def _race(env: Env, calls: list[tuple[str, list[str]]], h: dict) -> list[int]:
    barrier = threading.Barrier(len(calls))
    statuses: list[int] = []

    def run(survivor: str, members: list[str]) -> None:
        client = TestClient(env.app, base_url="http://testserver")
        barrier.wait()
        body = {"members": members, "reason": "race"}
        statuses.append(client.post(f"{BASE}/{survivor}/merge", json=body, headers=h).status_code)

    threads = [threading.Thread(target=run, args=call) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(statuses)


def test_concurrent_double_merges_one_wins(
    env: Env, people: dict[str, Account], incidents: dict[str, str]
) -> None:
    ana = headers(env, people["analyst"])
    a, b, c = incidents["a"], incidents["b"], incidents["c"]
    # The same member into two survivors at once.
    assert _race(env, [(a, [b]), (c, [b])], ana) == [200, 409]
    assert merge_rows(env.engine) == (1, 1)
    with env.engine.connect() as conn:
        assert conn.scalar(select(s.events.c.uid).where(s.events.c.uid == b)) is None
        assert (
            len(conn.execute(select(s.events.c.uid).where(s.events.c.uid.in_([a, c]))).all()) == 2
        )


def test_concurrent_cross_merges_one_wins(
    env: Env, people: dict[str, Account], incidents: dict[str, str]
) -> None:
    ana = headers(env, people["analyst"])
    a, c = incidents["a"], incidents["c"]
    assert _race(env, [(a, [c]), (c, [a])], ana) == [200, 409]
    with env.engine.connect() as conn:
        left = conn.execute(select(s.events.c.uid).where(s.events.c.uid.in_([a, c]))).all()
    assert len(left) == 1 and merge_rows(env.engine) == (1, 1)


def test_a_failure_half_way_leaves_nothing_written(
    env: Env, people: dict[str, Account], incidents: dict[str, str], monkeypatch
) -> None:
    ana = headers(env, people["analyst"])
    before = state(env.engine)
    ledger_before = ledger(env.engine)
    original = event_merge_store._restore_info
    calls = {"n": 0}

    def failing_after_survivor_write(conn, member):  # noqa: ANN001, ANN202
        calls["n"] += 1
        if calls["n"] == 2:  # the second member: the survivor's data was already computed
            raise RuntimeError("disk full")
        return original(conn, member)

    monkeypatch.setattr(event_merge_store, "_restore_info", failing_after_survivor_write)
    env.client = TestClient(env.app, raise_server_exceptions=False)
    r = merge(env, ana, incidents["a"], [incidents["b"], incidents["c"]])
    assert r.status_code == 500
    assert state(env.engine) == before
    assert merge_rows(env.engine) == (0, 0) and ledger(env.engine) == ledger_before

    # And a failure after the rows were written (the membership insert) rolls back too.
    monkeypatch.setattr(event_merge_store, "_restore_info", original)
    real_insert = event_merge_store.insert

    def failing_insert(table):  # noqa: ANN001, ANN202
        if table is event_merge_members:
            raise RuntimeError("constraint check failed")
        return real_insert(table)

    monkeypatch.setattr(event_merge_store, "insert", failing_insert)
    r = merge(env, ana, incidents["a"], [incidents["b"]])
    assert r.status_code == 500
    assert state(env.engine) == before
    assert merge_rows(env.engine) == (0, 0) and ledger(env.engine) == ledger_before


def test_snapshot_round_trip_keeps_the_survivor_hash(
    env: Env, people: dict[str, Account], incidents: dict[str, str]
) -> None:
    """An untouched survivor undoes without force: the stored hash is what the merge wrote."""
    ana = headers(env, people["analyst"])
    body = merge(env, ana, incidents["a"], [incidents["b"], incidents["c"]]).json()
    with env.engine.connect() as conn:
        row = conn.execute(select(event_merges)).one()
        stored = conn.scalar(
            select(s.events.c.content_hash).where(s.events.c.uid == row.survivor_uid)
        )
    assert row.survivor_hash == stored
    assert env.client.post(body["undo"], headers=ana).status_code == 200
    assert merge_rows(env.engine) == (1, 0)


def test_a_reimport_leaves_a_merged_member_folded_into_its_survivor(
    env: Env, people: dict[str, Account], incidents: dict[str, str]
) -> None:
    ana = headers(env, people["analyst"])
    assert merge(env, ana, incidents["a"], [incidents["c"]]).status_code == 200
    member = event(SensitivityTier.PUBLIC, "c")  # the same dataset record, imported again
    assert member.uid == incidents["c"]
    with env.engine.begin() as conn:
        counts = EventWriter(conn).write([member])
    assert (counts.inserted, counts.updated, counts.unchanged) == (0, 0, 1)
    assert env.client.get(f"{BASE}/{incidents['c']}", headers=ana).status_code == 404
    assert merge_rows(env.engine) == (1, 1)
