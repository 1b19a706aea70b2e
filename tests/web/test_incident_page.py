"""The incident page shows what the role may see of one record, and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.api.support import (
    Env,
    add_user,
    login,
    make_env,
    matrix_event,
    secret_values,
    store_events,
)
from tocsin.domain.taxonomy import CaseClass, SensitivityTier
from tocsin.security import persons
from tocsin.security.persons import PersonRole
from tocsin.security.policies import Role
from tocsin.store.schema_security import audit_log

RES = matrix_event(SensitivityTier.RESTRICTED, CaseClass.GENERAL, "res")
PUB = matrix_event(SensitivityTier.PUBLIC, CaseClass.GENERAL, "pub")
KID = matrix_event(SensitivityTier.INTERNAL, CaseClass.CHILDREN, "kid")


@pytest.fixture
def env(sqlite_engine, tmp_path: Path) -> Env:
    env = make_env(sqlite_engine, tmp_path / "home")
    people = {
        ev.uid: [persons.Person(PersonRole.WITNESS, f"Person-{tag}", f"+236-{tag}")]
        for ev, tag in ((RES, "res"), (PUB, "pub"), (KID, "kid"))
    }
    store_events(env, [RES, PUB, KID], people=people)
    return env


def _page(env: Env, uid: str) -> str:
    page = env.client.get(f"/incidents/{uid}")
    assert page.status_code == 200, page.text
    assert "<title>Incident · Tocsin</title>" in page.text  # nothing about the case in it
    return page.text


def test_anonymous_visitors_are_sent_to_login_without_the_record_in_the_url(env: Env) -> None:
    page = env.client.get(f"/incidents/{RES.uid}", follow_redirects=False)
    assert page.status_code == 303 and RES.uid not in page.headers["location"]


def test_human_rights_officer_sees_everything_of_a_general_case(env: Env) -> None:
    login(env, add_user(env, "hro", Role.HUMAN_RIGHTS_OFFICER))
    text = _page(env, RES.uid)
    v = secret_values("res")
    for value in (v["place_name"], v["title"], v["description"], v["source"], "Person-res"):
        assert value in text
    assert "B2" in text and "Armed Group X" in text
    assert "Audit trail" not in text  # admins only


def test_commander_sees_a_restricted_case_without_its_details(env: Env) -> None:
    login(env, add_user(env, "cmd", Role.COMMANDER))
    text = _page(env, RES.uid)
    v = secret_values("res")
    for value in (v["place_name"], v["title"], v["description"], v["source"], "Person-res"):
        assert value not in text
    assert str(v["latitude"]) not in text
    assert "withheld for your role" in text
    assert "B2" in text  # the grade stays, who reported does not
    assert "Bimbo" in text and "<svg" not in text.split("Where", 1)[1].split("Sources", 1)[0]


def test_out_of_scope_and_missing_look_the_same(env: Env) -> None:
    login(env, add_user(env, "ana", Role.ANALYST))
    hidden = env.client.get(f"/incidents/{KID.uid}")
    nobody = "00000000-0000-0000-0000-000000000000"
    missing = env.client.get(f"/incidents/{nobody}")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.text.replace(KID.uid, nobody) == missing.text  # only the echoed path differs
    assert env.client.get("/incidents/" + "x" * 100).status_code == 422


def test_restricted_reads_are_audited_and_admins_see_the_trail(env: Env) -> None:
    login(env, add_user(env, "root", Role.ADMIN))
    _page(env, RES.uid)  # a restricted read: audited
    text = _page(env, RES.uid)
    assert "Audit trail" in text and "event.read" in text
    with env.engine.connect() as conn:
        rows = conn.execute(
            select(audit_log.c.action, audit_log.c.details).where(
                audit_log.c.target == f"event:{RES.uid}"
            )
        ).all()
    actions = [r.action for r in rows]
    assert actions.count("event.read") == 2 and actions.count("audit.read") == 2
    assert all(json.loads(r.details).get("via") == "page" for r in rows if r.action == "event.read")
    _page(env, PUB.uid)  # not a restricted case: no read entry
    with env.engine.connect() as conn:
        n = conn.execute(
            select(audit_log.c.seq).where(
                audit_log.c.target == f"event:{PUB.uid}", audit_log.c.action == "event.read"
            )
        ).all()
    assert n == []


def test_hostile_stored_text_is_escaped(env: Env) -> None:
    bad = matrix_event(SensitivityTier.PUBLIC, CaseClass.GENERAL, "bad")
    bad.title = '<script>alert("x")</script>'
    bad.description = "<img src=x onerror=alert(1)>"
    store_events(env, [bad])
    login(env, add_user(env, "ana", Role.ANALYST))
    text = _page(env, bad.uid)
    assert "<script>alert" not in text and "<img src=x" not in text
    assert "&lt;script&gt;" in text
