"""Exports: synchronous small files, background jobs for large ones, requester-only download,
expiry that deletes the file (TM-16), and the audit entries of both."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.api.support import add_token, add_user, make_env, matrix_event, store_events
from tocsin.api.app import run_maintenance
from tocsin.domain.taxonomy import CaseClass, SensitivityTier
from tocsin.security.policies import Role
from tocsin.store.schema_security import audit_log


@pytest.fixture
def env(engine, tmp_path: Path):  # noqa: ANN201
    env = make_env(engine, tmp_path / "home", sync_export_limit=3)
    events = [matrix_event(SensitivityTier.PUBLIC, CaseClass.GENERAL, f"p{i}") for i in range(4)]
    events.append(matrix_event(SensitivityTier.RESTRICTED, CaseClass.GENERAL, "res"))
    store_events(env, events)
    return env


def _wait(env, headers, job_id: str) -> dict:  # noqa: ANN401
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = env.client.get(f"/api/v1/exports/{job_id}", headers=headers).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError("export job did not finish")


def test_large_export_is_refused_synchronously_with_a_pointer_to_jobs(env) -> None:
    token = add_token(env, add_user(env, "ann", Role.ANALYST))
    r = env.client.get("/api/v1/exports/events", params={"format": "csv"}, headers=token)
    assert r.status_code == 400 and "POST /api/v1/exports" in r.json()["detail"]
    small = env.client.get(
        "/api/v1/exports/events", params={"format": "geojson", "dataset": "nope"}, headers=token
    )
    assert small.status_code == 200 and json.loads(small.text)["features"] == []


def test_tm16_job_file_only_its_requester_can_download_then_expires(env) -> None:
    ann = add_user(env, "ann", Role.ANALYST)
    token = add_token(env, ann)
    started = env.client.post("/api/v1/exports", json={"format": "csv"}, headers=token)
    assert started.status_code == 202, started.text
    job = _wait(env, token, started.json()["id"])
    assert job["status"] == "done", job
    assert job["row_count"] == 5 and job["download_url"].endswith("/download")

    other = add_token(env, add_user(env, "bob", Role.ANALYST))
    assert env.client.get(job["download_url"], headers=other).status_code == 404
    assert env.client.get(f"/api/v1/exports/{job['id']}", headers=other).status_code == 404

    got = env.client.get(job["download_url"], headers=token)
    assert got.status_code == 200
    rows = list(csv.DictReader(io.StringIO(got.text)))
    assert len(rows) == 5
    restricted = next(r for r in rows if r["original_id"] == "res")
    assert restricted["sources"] == ""  # analysts never see who reported a restricted case
    assert "persons" not in rows[0]

    export_dir = env.settings.export_dir
    files = list(export_dir.iterdir())
    assert len(files) == 1 and files[0].stat().st_mode & 0o077 == 0
    with env.engine.connect() as conn:
        actions = [r.action for r in conn.execute(select(audit_log))]
        entry = conn.execute(select(audit_log).where(audit_log.c.action == "export.job")).one()
    assert {"export.request", "export.job", "export.download"} <= set(actions)
    assert json.loads(entry.details)["restricted_uids"] == [
        matrix_event(SensitivityTier.RESTRICTED, CaseClass.GENERAL, "res").uid
    ]

    env.clock.advance(hours=25)
    run_maintenance(env.app.state.services)
    assert list(export_dir.iterdir()) == []
    assert env.client.get(job["download_url"], headers=token).status_code == 409
    assert env.client.get(f"/api/v1/exports/{job['id']}", headers=token).json()["status"] == (
        "expired"
    )


def test_job_uses_the_role_at_run_time_and_a_bad_query_is_refused_up_front(env) -> None:
    token = add_token(env, add_user(env, "pat", Role.PARTNER))
    bad = env.client.post(
        "/api/v1/exports", json={"format": "hxl", "bbox": "10,0,0,1"}, headers=token
    )
    assert bad.status_code == 422
    started = env.client.post("/api/v1/exports", json={"format": "hxl"}, headers=token)
    job = _wait(env, token, started.json()["id"])
    assert job["row_count"] == 4  # the partner's scope: public records only
    text = env.client.get(job["download_url"], headers=token).text
    assert text.splitlines()[1].startswith("#")
    assert "res" not in [line.split(",")[3] for line in text.splitlines()[2:]]


def test_roles_without_export_cannot_start_jobs(env) -> None:
    token = add_token(env, add_user(env, "cmd", Role.COMMANDER))
    assert env.client.post("/api/v1/exports", json={}, headers=token).status_code == 403
