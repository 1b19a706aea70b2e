"""The public JSON API for offline apps: strict input, receipts, idempotent re-sends, status,
follow-ups, limits, flood protection and atomic writes."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tests.intake.public_support import client_from, every_stored_value, intake_service, public_env
from tocsin.intake import repository as repo
from tocsin.intake.receipts import normalize_receipt
from tocsin.store.schema_intake import intake_reports

URL = "/api/v1/public/reports"
PHONE = "+243 81 555 0101"


@pytest.fixture
def env(engine, tmp_path):
    """Both backends: for tests of what is stored."""
    with public_env(engine, tmp_path / "home") as e:
        yield e


@pytest.fixture
def web(sqlite_engine, tmp_path):
    """SQLite only: for tests of the HTTP surface (validation, limits)."""
    with public_env(sqlite_engine, tmp_path / "home") as e:
        yield e


def report_count(env) -> int:
    with env.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(intake_reports)).scalar_one()


def body(**overrides):
    data = {
        "text": "Armed group burned three houses in Djugu last night.",
        "occurred_on": "2026-03-01",
        "latitude": 1.92,
        "longitude": 30.5,
        "place_name": "Djugu",
        "threat": "attack_on_civilians",
        "language": "fr",
        "contact": {"phone": PHONE},
    }
    data.update(overrides)
    return data


def test_submit_returns_a_receipt_after_commit(env) -> None:
    response = env.client.post(URL, json=body())
    assert response.status_code == 201
    payload = response.json()
    assert set(payload) == {"receipt_code", "duplicate", "status"}
    assert payload["duplicate"] is False and payload["status"] == "received"
    assert normalize_receipt(payload["receipt_code"]) is not None
    with env.engine.connect() as conn:
        rid = repo.find_by_receipt(conn, payload["receipt_code"], intake_service(env).pseudonymizer)
        stored = repo.load_report(conn, rid)
    assert stored.report.channel == "web" and stored.report.place_name == "Djugu"
    assert stored.report.source_type == "public_report"


def test_tm_20_phone_only_in_the_vault(env) -> None:
    env.client.post(URL, json=body())
    digits = PHONE.replace(" ", "")
    values = every_stored_value(env.engine)
    for needle in (PHONE, digits, "8155501"):
        assert not any(needle in v for v in values)


def test_tm_28_client_report_id_makes_resending_idempotent(web) -> None:
    first = web.client.post(URL, json=body(client_report_id="offline-app-0000000001"))
    again = web.client.post(URL, json=body(client_report_id="offline-app-0000000001"))
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == {"receipt_code": None, "duplicate": True, "status": "received"}
    assert report_count(web) == 1


INVALID_BODIES = [
    ({"ip_address": "1.2.3.4"}, "ip_address"),
    ({"text": ""}, "text"),
    ({"text": "x" * 5001}, "text"),
    ({"text": "nul \x00 byte"}, "text"),
    ({"latitude": None}, "latitude and longitude"),
    ({"latitude": 91}, "latitude"),
    ({"longitude": "east"}, "longitude"),
    ({"occurred_on": "2999-12-31"}, "future"),
    ({"threat": "not_a_threat"}, "threat"),
    ({"threat": "armed_conflict_near_civilians"}, "threat"),
    ({"language": "xx"}, "language"),
    ({"contact": {"phone": "+1", "ssn": "1"}}, "ssn"),
    ({"contact": {"phone": "<script>"}}, "phone"),
    ({"client_report_id": "short"}, "client_report_id"),
]


def test_tm_27_invalid_bodies_are_refused_without_echo(web) -> None:
    for change, where in INVALID_BODIES:
        response = web.client.post(URL, json=body(**change))
        assert response.status_code == 422, change
        assert where in response.json()["detail"], change
        assert "<script>" not in response.text and "\\u0000" not in response.text
    assert report_count(web) == 0


def test_tm_27_nan_and_infinity_are_refused(web) -> None:
    raw = json.dumps(body()).replace("1.92", "NaN")
    response = web.client.post(URL, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert report_count(web) == 0


def test_tm_21_only_json_is_accepted(web) -> None:
    """A form on another site can post text/plain without a preflight: it must not work."""
    raw = json.dumps(body())
    response = web.client.post(URL, content=raw, headers={"content-type": "text/plain"})
    assert response.status_code == 422
    assert report_count(web) == 0


def test_tm_27_oversized_and_malformed_bodies(web) -> None:
    big = json.dumps(body(text="x" * 70_000))
    response = web.client.post(URL, content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413
    huge = b'{"text": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = web.client.post(URL, content=huge, headers={"content-type": "application/json"})
    assert response.status_code == 413
    broken = web.client.post(
        URL, content=b'{"text": "unterminated', headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422
    assert report_count(web) == 0


def test_tm_23_status_and_follow_up_by_receipt_only(env) -> None:
    code = env.client.post(URL, json=body(text="SECRET-TEXT")).json()["receipt_code"]
    status = env.client.post(f"{URL}/status", json={"receipt_code": code})
    assert status.status_code == 200
    assert status.json() == {"status": "received"}
    added = env.client.post(f"{URL}/follow-up", json={"receipt_code": code, "text": "More."})
    assert added.status_code == 201 and added.json() == {"added": True, "status": "received"}
    assert report_count(env) == 2
    unknown = env.client.post(f"{URL}/status", json={"receipt_code": "0000-0000-0000-0000"})
    assert unknown.status_code == 404
    assert "SECRET" not in unknown.text
    nope = env.client.post(
        f"{URL}/follow-up", json={"receipt_code": "0000-0000-0000-0000", "text": "x"}
    )
    assert nope.status_code == 404
    assert env.client.post(f"{URL}/status", json={"receipt_code": "x" * 16}).status_code == 404
    extra = env.client.post(f"{URL}/status", json={"receipt_code": code, "report_id": "1"})
    assert extra.status_code == 422


def test_tm_26_nothing_half_written_when_the_write_fails(env, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(repo, "seal", broken)
    response = env.client.post(URL, json=body())
    assert response.status_code == 503
    assert "nothing was recorded" in response.json()["detail"]
    assert report_count(env) == 0
    monkeypatch.undo()
    assert env.client.post(URL, json=body()).status_code == 201


def test_tm_24_api_flood_from_one_source_does_not_block_others(web) -> None:
    flooder = client_from(web, "198.51.100.9")
    statuses = [flooder.post(URL, json=body(contact=None)).status_code for _ in range(80)]
    assert 429 in statuses
    accepted = statuses.count(201)
    assert accepted < 80
    other = client_from(web, "198.51.100.10")
    assert other.post(URL, json=body(contact=None)).status_code == 201
    assert report_count(web) == accepted + 1


def test_tm_23_status_lookups_are_rate_limited(web) -> None:
    prober = client_from(web, "198.51.100.20")
    statuses = [
        prober.post(f"{URL}/status", json={"receipt_code": "7KQ2-M9XD-4HTR-0B6W"}).status_code
        for _ in range(30)
    ]
    assert 429 in statuses


def test_openapi_documents_the_public_endpoints(web) -> None:
    schema = web.client.get("/api/v1/openapi.json").json()
    assert f"{URL}" in schema["paths"] and f"{URL}/status" in schema["paths"]
    model = schema["components"]["schemas"]["PublicReport"]
    assert model.get("additionalProperties") is False
