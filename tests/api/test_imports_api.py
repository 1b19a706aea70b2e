"""File imports over the API: permission, one transaction per file, audit entry (TM-06)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.api.support import add_token, add_user, make_env
from tocsin.security.policies import Role
from tocsin.store import schema as s
from tocsin.store.schema_security import audit_log

HEADER = (
    "id,year,month,day,country,type_of_violence,conflict_name,side_a,side_b,latitude,longitude,"
    "low_death,best_death,high_death,type_of_violence_code,priogrid_gid_computed\n"
)
ROWS = (
    "1,2017,7,31,Central African Republic,One-sided violence,x,Armed Group A,Civilians,"
    "4.36,18.55,1,2,3,3,1\n"
    "2,2018,1,5,Central African Republic,State-based violence,x,Government,Armed Group A,"
    "5.76,20.67,0,1,1,1,2\n"
)


@pytest.fixture
def env(engine, tmp_path: Path):  # noqa: ANN201
    return make_env(engine, tmp_path / "home")


def test_analyst_imports_a_file_and_the_import_is_audited(env) -> None:
    token = add_token(env, add_user(env, "ann", Role.ANALYST))
    r = env.client.post(
        "/api/v1/imports",
        files={"file": ("ged_sample.csv", (HEADER + ROWS).encode(), "text/csv")},
        data={"format": "ucdp"},
        headers=token,
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["read"], report["inserted"], report["rejected"]) == (2, 2, 0)
    with env.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(s.events)) == 2
        entry = conn.execute(select(audit_log).where(audit_log.c.action == "import.file")).one()
    details = json.loads(entry.details)
    assert details["inserted"] == 2 and len(details["sha256"]) == 64
    assert "ged_sample" not in entry.details  # the file name is not kept
    assert list((env.settings.home / "uploads").iterdir()) == []  # upload deleted


def test_a_broken_file_changes_nothing_and_is_a_422(env) -> None:
    token = add_token(env, add_user(env, "ann", Role.ANALYST))
    r = env.client.post(
        "/api/v1/imports",
        files={"file": ("x.csv", b"not,a,ged,file\n1,2,3,4\n", "text/csv")},
        data={"format": "ucdp"},
        headers=token,
    )
    assert r.status_code == 422 and r.json()["detail"].startswith("nothing imported")
    with env.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(s.events)) == 0
        assert (
            conn.execute(select(audit_log).where(audit_log.c.action == "import.failed")).first()
            is not None
        )


def test_only_roles_with_import_permission_may_import(env) -> None:
    for role in (Role.PROTECTION_OFFICER, Role.PARTNER, Role.FIELD_REPORTER):
        token = add_token(env, add_user(env, role.value.replace("_", ""), role))
        r = env.client.post(
            "/api/v1/imports",
            files={"file": ("a.csv", HEADER.encode(), "text/csv")},
            headers=token,
        )
        assert r.status_code == 403


def test_unknown_form_fields_and_missing_file_are_refused(env) -> None:
    token = add_token(env, add_user(env, "ann", Role.ANALYST))
    r = env.client.post(
        "/api/v1/imports",
        files={"file": ("a.csv", (HEADER + ROWS).encode(), "text/csv")},
        data={"fromat": "ucdp"},
        headers=token,
    )
    assert r.status_code == 422 and "fromat" in r.json()["detail"]
    r = env.client.post("/api/v1/imports", data={"format": "ucdp"}, headers=token)
    assert r.status_code in (415, 422)
