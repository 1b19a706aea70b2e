"""The server-rendered overview uses the same policies: anonymous visitors see public data;
signed-in users their own scope, never restricted cases (the page is not field-redacted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.support import add_user, login, make_env, matrix_event, store_events
from tocsin.domain.taxonomy import CaseClass, SensitivityTier
from tocsin.security.policies import Role


@pytest.fixture
def env(sqlite_engine, tmp_path: Path):  # noqa: ANN201 - the overview's queries are tested on both
    env = make_env(sqlite_engine, tmp_path / "home")
    store_events(
        env,
        [
            matrix_event(SensitivityTier.PUBLIC, CaseClass.GENERAL, "pub"),
            matrix_event(SensitivityTier.INTERNAL, CaseClass.GENERAL, "int"),
            matrix_event(SensitivityTier.RESTRICTED, CaseClass.GENERAL, "res"),
            matrix_event(SensitivityTier.PUBLIC, CaseClass.CHILDREN, "kid"),
        ],
    )
    return env


def test_anonymous_overview_shows_public_general_records_only(env) -> None:
    page = env.client.get("/")
    assert page.status_code == 200
    assert "Village-pub" in page.text
    for hidden in ("Village-int", "Village-res", "Village-kid"):
        assert hidden not in page.text


def test_signed_in_overview_never_shows_restricted_cases(env) -> None:
    admin = add_user(env, "root", Role.ADMIN)
    login(env, admin)
    page = env.client.get("/?overview=1")  # plain "/" sends them to the dashboard
    assert "Village-pub" in page.text and "Village-int" in page.text
    assert "Village-res" not in page.text and "Village-kid" not in page.text


def test_field_reporter_overview_falls_back_to_public(env) -> None:
    rep = add_user(env, "rep", Role.FIELD_REPORTER)
    login(env, rep)
    page = env.client.get("/?overview=1")
    assert "Village-pub" in page.text and "Village-int" not in page.text


def test_signed_in_staff_are_sent_from_the_overview_to_their_dashboard(env) -> None:
    analyst = add_user(env, "ana", Role.ANALYST)
    login(env, analyst)
    page = env.client.get("/", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/dashboard"
    assert env.client.get("/?overview=1", follow_redirects=False).status_code == 200


def test_anonymous_visitors_are_not_redirected(env) -> None:
    page = env.client.get("/", follow_redirects=False)
    assert page.status_code == 200 and "location" not in page.headers
