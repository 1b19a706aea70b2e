"""The data-sources page: datasets with counts and attribution in the viewer's scope, an upload
form for importing roles that runs the ingest runner as a job with a progress page, and clear
errors for bad files and bad forms (nothing stored)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.api.support import Env, add_user, login, make_env, matrix_event, store_events
from tocsin.domain.taxonomy import CaseClass, SensitivityTier
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
def env(engine, tmp_path: Path) -> Env:
    env = make_env(engine, tmp_path / "home")
    store_events(
        env,
        [
            matrix_event(SensitivityTier.PUBLIC, CaseClass.GENERAL, "pub"),
            matrix_event(SensitivityTier.INTERNAL, CaseClass.GENERAL, "int"),
        ],
    )
    return env


def _csrf(env: Env, role: Role, name: str = "user") -> str:
    return login(env, add_user(env, name, role))["X-CSRF-Token"]


def _upload(env: Env, csrf: str | None, content: bytes, **fields: str):  # noqa: ANN202
    data = dict(fields)
    if csrf is not None:
        data["csrf_token"] = csrf
    return env.client.post(
        "/sources/import",
        files={"file": ("ged_sample.csv", content, "text/csv")},
        data=data,
        follow_redirects=False,
    )


def _finished_job(env: Env, location: str) -> str:
    deadline = time.monotonic() + 20
    while True:
        page = env.client.get(location)
        assert page.status_code == 200
        if 'http-equiv="refresh"' not in page.text:
            return page.text
        assert time.monotonic() < deadline, "the import job did not finish"
        time.sleep(0.05)


def _events(env: Env) -> int:
    with env.engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(s.events))


def test_anonymous_and_own_records_roles_do_not_get_the_page(env: Env) -> None:
    response = env.client.get("/sources", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=%2Fsources"
    login(env, add_user(env, "rep", Role.FIELD_REPORTER))
    assert env.client.get("/sources").status_code == 403


def test_partner_sees_public_counts_and_attribution_but_no_upload_form(env: Env) -> None:
    login(env, add_user(env, "par", Role.PARTNER))
    html = env.client.get("/sources").text
    row = re.search(r"<th scope=\"row\">matrix</th><td>(\d+)</td>", html)
    assert row is not None and row.group(1) == "1"  # the internal event is not counted
    assert 'action="/sources/import"' not in html
    assert "check its licence" in html  # an unknown dataset's attribution says so


def test_analyst_imports_a_file_and_watches_its_progress(env: Env) -> None:
    csrf = _csrf(env, Role.ANALYST)
    page = env.client.get("/sources").text
    assert 'action="/sources/import"' in page and 'for="upload-file"' in page
    response = _upload(env, csrf, (HEADER + ROWS).encode(), format="ucdp")
    assert response.status_code == 303
    location = response.headers["location"]
    assert re.fullmatch(r"/sources/imports/[0-9a-f]{32}", location)
    html = _finished_job(env, location)
    assert 'data-state="done"' in html
    assert '<dd data-count="inserted">2</dd>' in html
    assert _events(env) == 4
    assert list((env.settings.home / "uploads").iterdir()) == []  # the upload is deleted
    with env.engine.connect() as conn:
        actions = {
            row.action: json.loads(row.details)
            for row in conn.execute(select(audit_log.c.action, audit_log.c.details))
        }
    assert actions["import.file"]["inserted"] == 2 and actions["import.file"]["via"] == "page"
    assert "import.started" in actions
    assert not any("ged_sample" in json.dumps(d) for d in actions.values())
    # The run is listed on the page afterwards.
    assert 'data-table="runs"' in env.client.get("/sources").text


def test_a_broken_file_fails_its_job_with_the_reason_and_stores_nothing(env: Env) -> None:
    csrf = _csrf(env, Role.ANALYST)
    response = _upload(env, csrf, b"not,a,ged,file\n1,2,3,4\n", format="ucdp")
    assert response.status_code == 303
    html = _finished_job(env, response.headers["location"])
    assert 'data-state="failed"' in html
    reason = re.search(r"<span data-error>([^<]+)</span>", html)
    assert reason is not None and len(reason.group(1)) > 10
    assert _events(env) == 2


@pytest.mark.parametrize(
    ("content", "fields", "message"),
    [
        (b"", {"format": "ucdp"}, "the file is empty"),
        (b"x", {"format": "docx"}, "the format must be one of"),
        (b"x", {"dataset_version": "v" * 65}, "at most 64 characters"),
        (b"x", {"surprise": "1"}, "unknown form fields"),
    ],
)
def test_bad_forms_are_shown_again_with_the_reason(
    env: Env, content: bytes, fields: dict, message: str
) -> None:
    csrf = _csrf(env, Role.ANALYST)
    response = _upload(env, csrf, content, **fields)
    assert response.status_code == 400
    assert message in response.text
    assert _events(env) == 2
    assert not (env.settings.home / "uploads").exists() or not list(
        (env.settings.home / "uploads").iterdir()
    )


def test_tm_61_upload_needs_the_csrf_token_and_the_import_permission(env: Env) -> None:
    csrf = _csrf(env, Role.ANALYST)
    assert _upload(env, None, (HEADER + ROWS).encode()).status_code == 403
    assert _upload(env, "forged", (HEADER + ROWS).encode()).status_code == 403
    env.client.cookies.clear()
    assert _upload(env, csrf, (HEADER + ROWS).encode()).status_code == 303  # to the login page
    commander = _csrf(env, Role.COMMANDER, "cmd")
    assert _upload(env, commander, (HEADER + ROWS).encode()).status_code == 403
    assert _events(env) == 2


def test_tm_62_a_job_page_is_only_its_owners(env: Env) -> None:
    csrf = _csrf(env, Role.ANALYST, "ann")
    location = _upload(env, csrf, (HEADER + ROWS).encode(), format="ucdp").headers["location"]
    _finished_job(env, location)
    env.client.cookies.clear()
    login(env, add_user(env, "bob", Role.ANALYST))
    assert env.client.get(location).status_code == 404
    assert env.client.get("/sources/imports/not-a-job").status_code == 422


def test_oversized_uploads_are_refused(tmp_path: Path, sqlite_engine) -> None:
    env = make_env(sqlite_engine, tmp_path / "home", max_upload_bytes=2048)
    csrf = _csrf(env, Role.ANALYST)
    response = _upload(env, csrf, (HEADER + ROWS * 40).encode(), format="ucdp")
    assert response.status_code == 413
    assert _events(env) == 0
