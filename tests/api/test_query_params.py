"""``GET /api/v1/events`` parses its query string with ``QueryModel`` and resolves its caller
with ``Reader`` (the fast path): the same order of checks (authentication before the query
string), the same 422s, the same OpenAPI parameters as FastAPI's own query models."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.support import add_token, add_user, make_env, matrix_event, store_events
from tocsin.api.query_params import MAX_QUERY_KEYS, QueryModel
from tocsin.api.schemas.events import EventListParams
from tocsin.domain.taxonomy import CaseClass, SensitivityTier
from tocsin.security.policies import Role


@pytest.fixture
def env(sqlite_engine, tmp_path: Path):  # noqa: ANN201
    env = make_env(sqlite_engine, tmp_path / "home")
    store_events(env, [matrix_event(SensitivityTier.PUBLIC, CaseClass.GENERAL, "pub")], {})
    return env


@pytest.fixture
def headers(env) -> dict[str, str]:
    return add_token(env, add_user(env, "analyst", Role.ANALYST))


def test_authentication_comes_before_the_query_string(env) -> None:
    response = env.client.get("/api/v1/events", params={"limit": "lots", "nope": "1"})
    assert response.status_code == 401
    bad = {"Authorization": "Bearer tcn_not_a_token"}
    assert env.client.get("/api/v1/events?limit=x", headers=bad).status_code == 401


def test_a_permitted_caller_gets_the_422_and_an_anonymous_one_the_401(env) -> None:
    reporter = add_token(env, add_user(env, "rep", Role.FIELD_REPORTER))
    # Field reporters may read events (their own), so their bad query string is the error.
    assert env.client.get("/api/v1/events?limit=x", headers=reporter).status_code == 422
    assert env.client.get("/api/v1/events/whatever?x=1").status_code == 401


@pytest.mark.parametrize(
    ("query", "loc"),
    [
        ("limit=0", ["query", "limit"]),
        ("limit=abc", ["query", "limit"]),
        ("start=2020-13-01", ["query", "start"]),
        ("violence_type=nuclear", ["query", "violence_type", "0"]),
        ("unknown_key=1", ["query", "unknown_key"]),
        ("radius_km=inf", ["query", "radius_km"]),
        ("bbox=" + "9" * 300, ["query", "bbox"]),
    ],
)
def test_bad_query_strings_get_422_with_the_field(env, headers, query: str, loc: list) -> None:
    response = env.client.get(f"/api/v1/events?{query}", headers=headers)
    assert response.status_code == 422, response.text
    assert any(error["loc"] == loc for error in response.json()["errors"]), response.json()


def test_too_many_keys_are_refused(env, headers) -> None:
    query = "&".join(f"k{i}=1" for i in range(MAX_QUERY_KEYS + 1))
    response = env.client.get(f"/api/v1/events?{query}", headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["msg"] == "too many query parameters"


def test_repeated_keys_are_lists_for_list_fields_and_the_last_value_otherwise(env, headers) -> None:
    both = env.client.get(
        "/api/v1/events?violence_type=one_sided&violence_type=state_based&limit=1&limit=5",
        headers=headers,
    )
    assert both.status_code == 200, both.text
    too_many = "&".join(["violence_type=one_sided"] * 4)
    assert env.client.get(f"/api/v1/events?{too_many}", headers=headers).status_code == 422


def test_openapi_documents_every_field_as_a_query_parameter(env) -> None:
    doc = env.client.get("/api/v1/openapi.json").json()
    params = {p["name"]: p for p in doc["paths"]["/api/v1/events"]["get"]["parameters"]}
    fields = {field.alias or name for name, field in EventListParams.model_fields.items()}
    assert set(params) == fields
    assert all(p["in"] == "query" and not p["required"] for p in params.values())
    assert params["limit"]["schema"]["maximum"] == 500
    assert "enum" in params["violence_type"]["schema"]["items"]  # the $ref was inlined
    assert params["violence_type"]["explode"] is True
    assert "$ref" not in str(params)


def test_query_model_parameters_inline_nested_definitions() -> None:
    params = QueryModel(EventListParams).parameters()
    sort = next(p for p in params if p["name"] == "sort")
    assert sort["schema"]["default"] == "date_desc" and "enum" in sort["schema"]
