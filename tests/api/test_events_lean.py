"""The search routes serialise their pages directly (no response-model validation at run
time): these tests hold them to the documented ``EventPage`` schema, to the single-record
route's output, and to the field-level redaction, for every role that may read events."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.support import (
    add_token,
    add_user,
    make_env,
    matrix_event,
    secret_values,
    store_events,
)
from tocsin.api.schemas.events import EventOut, EventPage
from tocsin.domain.taxonomy import CaseClass, SensitivityTier
from tocsin.security import persons
from tocsin.security.policies import Role

READERS = [
    Role.ADMIN,
    Role.ANALYST,
    Role.HUMAN_RIGHTS_OFFICER,
    Role.PROTECTION_OFFICER,
    Role.COMMANDER,
    Role.PARTNER,
]


@pytest.fixture
def env(engine, tmp_path: Path):  # noqa: ANN201
    env = make_env(engine, tmp_path / "home")
    events = [
        matrix_event(tier, case_class, f"{tier.value}-{case_class.value}")
        for tier in SensitivityTier
        for case_class in CaseClass
    ]
    people = {
        ev.uid: [persons.Person(persons.PersonRole.WITNESS, f"Person-{ev.uid}", f"+236-{ev.uid}")]
        for ev in events
    }
    store_events(env, events, people)
    return env


@pytest.mark.parametrize("role", READERS)
def test_search_page_matches_schema_and_single_reads(env, role: Role) -> None:
    headers = add_token(env, add_user(env, f"u-{role.value}", role))
    response = env.client.get("/api/v1/events", params={"limit": 100}, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    page = response.json()
    EventPage.model_validate(page)  # extra="forbid": an unexpected key fails here
    assert page["total"] == len(page["items"])
    for item in page["items"]:
        single = env.client.get(f"/api/v1/events/{item['uid']}", headers=headers).json()
        EventOut.model_validate(single)  # the single read is serialised directly too
        assert item == single  # same keys present, same values, same formats
    body = env.client.post("/api/v1/events/search", json={"limit": 100}, headers=headers)
    assert body.status_code == 200
    assert body.json() == page


def test_restricted_fields_are_absent_from_a_commanders_page(env) -> None:
    headers = add_token(env, add_user(env, "cmd", Role.COMMANDER))
    page = env.client.get("/api/v1/events", params={"limit": 100}, headers=headers).json()
    tiers = {item["sensitivity"] for item in page["items"]}
    assert "restricted" in tiers and "confidential" not in tiers
    for item in page["items"]:
        assert "persons" not in item  # commanders never see names, at any tier
        if item["sensitivity"] == "restricted":
            for key in ("latitude", "longitude", "place_name", "title", "description", "sources"):
                assert key not in item
            tag = f"{item['sensitivity']}-{item['case_class']}"
            raw = str(item)
            for secret in ("place_name", "title", "description", "source", "person"):
                assert secret_values(tag)[secret] not in raw


def test_dates_and_timestamps_keep_the_response_model_format(env) -> None:
    headers = add_token(env, add_user(env, "ana", Role.ANALYST))
    item = env.client.get("/api/v1/events", params={"limit": 1}, headers=headers).json()["items"][0]
    assert item["date_start"] == "2024-05-01"
    assert item["created_at"].endswith("Z")  # UTC as pydantic writes it, not "+00:00"


def test_openapi_still_documents_the_page_schema(env) -> None:
    spec = env.client.get("/api/v1/openapi.json").json()
    for method, path in (("get", "/api/v1/events"), ("post", "/api/v1/events/search")):
        ok = spec["paths"][path][method]["responses"]["200"]["content"]["application/json"]
        assert ok["schema"] == {"$ref": "#/components/schemas/EventPage"}


def test_bad_search_parameters_are_still_clear_422s(env) -> None:
    headers = add_token(env, add_user(env, "ana2", Role.ANALYST))
    for params in ({"bbox": "1,2,3"}, {"limit": 10_000}, {"start": "yesterday"}):
        response = env.client.get("/api/v1/events", params=params, headers=headers)
        assert response.status_code == 422, params
