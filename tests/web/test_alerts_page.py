"""The alert pages: the list (open first, deadlines), one alert with its explanation at the
viewer's tier, and the plain HTML forms (CSRF token, post/redirect/get, no JavaScript)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from tests.alerts.store_helpers import CONFIG
from tests.api.support import Env, add_user, login, make_env
from tests.api.test_alerts_api import _store
from tocsin.domain.taxonomy import SensitivityTier as Tier
from tocsin.security.policies import Role
from tocsin.store.schema_security import audit_log


@pytest.fixture
def env(sqlite_engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:  # noqa: ANN001
    path = tmp_path / "triggers.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    monkeypatch.setenv("TOCSIN_ALERTS_CONFIG", str(path))
    return make_env(sqlite_engine, tmp_path / "home")


def _csrf(env: Env, role: Role, name: str) -> str:
    return login(env, add_user(env, name, role))["X-CSRF-Token"]


def _actions(env: Env) -> list[tuple[str, str]]:
    with env.engine.connect() as conn:
        rows = conn.execute(select(audit_log.c.actor, audit_log.c.action).order_by(audit_log.c.seq))
        return [(r.actor, r.action) for r in rows if r.action.startswith("alert.")]


def test_anonymous_visitors_go_to_login(env: Env) -> None:
    page = env.client.get("/alerts", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Falerts"
    alert_id = _store(env, Tier.PUBLIC)
    one = env.client.get(f"/alerts/{alert_id}", follow_redirects=False)
    assert one.status_code == 303 and alert_id not in one.headers["location"]


def test_list_shows_open_alerts_first_at_the_viewers_tier(env: Env) -> None:
    issued = _store(env, Tier.INTERNAL)
    draft = _store(env, Tier.RESTRICTED, issued=False)
    hidden = _store(env, Tier.CONFIDENTIAL)
    _csrf(env, Role.COMMANDER, "cmd")
    page = env.client.get("/alerts")
    assert page.status_code == 200
    assert "<title>Alerts · Tocsin</title>" in page.text
    text = page.text
    assert f"/alerts/{issued}" in text and f"/alerts/{draft}" in text
    assert hidden not in text and "Headline-confidential" not in text
    assert text.index("Open alerts") < text.index(issued) < text.index("Drafts waiting")
    assert "Acknowledge by" in text and " UTC" in text


def test_tm_53_forms_need_the_csrf_token_and_work_without_javascript(env: Env) -> None:
    alert_id = _store(env, Tier.INTERNAL)
    csrf = _csrf(env, Role.COMMANDER, "cmd")
    page = env.client.get(f"/alerts/{alert_id}")
    assert page.status_code == 200 and "<title>Alert · Tocsin</title>" in page.text
    assert "Base-internal." in page.text and "Region-internal" in page.text
    assert "Detail-secret" not in page.text and "Site-secret" not in page.text
    assert f'href="/api/v1/alerts/{alert_id}.cap"' in page.text
    assert f'action="/alerts/{alert_id}/acknowledge"' in page.text
    assert "<script" not in page.text.split("<main", 1)[1]  # the forms need no script
    refused = env.client.post(f"/alerts/{alert_id}/acknowledge", data={"csrf_token": "forged"})
    assert refused.status_code == 403
    done = env.client.post(
        f"/alerts/{alert_id}/acknowledge", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == f"/alerts/{alert_id}"
    after = env.client.get(f"/alerts/{alert_id}").text
    assert "user:cmd" in after and f'action="/alerts/{alert_id}/acknowledge"' not in after
    again = env.client.post(f"/alerts/{alert_id}/acknowledge", data={"csrf_token": csrf})
    assert again.status_code == 409
    assert "not possible in the alert" in again.text
    assert _actions(env) == [("cmd", "alert.acknowledge")]


def test_assign_response_and_close(env: Env) -> None:
    alert_id = _store(env, Tier.INTERNAL)
    csrf = _csrf(env, Role.PROTECTION_OFFICER, "po")
    bad = env.client.post(
        f"/alerts/{alert_id}/responses",
        data={"csrf_token": csrf, "kind": "airstrike", "description": "x", "assigned_to": "y"},
    )
    assert bad.status_code == 422 and "Check the form" in bad.text
    ok = env.client.post(
        f"/alerts/{alert_id}/responses",
        data={
            "csrf_token": csrf,
            "kind": "early_warning_message",
            "description": "Call the community focal point",
            "assigned_to": "CAN Bambari",
        },
    )
    assert ok.status_code == 200 and "Call the community focal point" in ok.text
    closed = env.client.post(
        f"/alerts/{alert_id}/close",
        data={"csrf_token": csrf, "outcome": "mitigated", "note": "people moved in time"},
    )
    assert closed.status_code == 200 and "people moved in time" in closed.text
    assert [a for _, a in _actions(env)] == ["alert.assign_response", "alert.close"]


def test_roles_without_the_right_see_no_buttons_and_are_refused(env: Env) -> None:
    alert_id = _store(env, Tier.PUBLIC)
    csrf = _csrf(env, Role.PARTNER, "partner")
    page = env.client.get(f"/alerts/{alert_id}").text
    assert "Headline-public" in page and "/acknowledge" not in page
    refused = env.client.post(f"/alerts/{alert_id}/acknowledge", data={"csrf_token": csrf})
    assert refused.status_code == 403
    assert env.client.get(f"/alerts/{_store(env, Tier.INTERNAL)}").status_code == 404
    assert env.client.get("/alerts/not%20an%20id").status_code in (404, 422)


def test_french(env: Env) -> None:
    alert_id = _store(env, Tier.INTERNAL)
    _csrf(env, Role.ANALYST, "ana")
    env.client.cookies.set("tocsin_lang", "fr")
    page = env.client.get(f"/alerts/{alert_id}").text
    assert "Accuser réception" in page and "Pourquoi cette alerte" in page
    listing = env.client.get("/alerts").text
    assert "Brouillons en attente de confirmation" in listing


def test_tm_81_pages_show_a_restricted_class_alert_only_to_roles_cleared_for_it(env: Env) -> None:
    from tests.api.test_alert_case_class_api import _store as store_with_class
    from tocsin.domain.taxonomy import CaseClass

    children = store_with_class(env, CaseClass.CHILDREN)
    general = store_with_class(env, CaseClass.GENERAL)
    for role, sees_children in (
        (Role.HUMAN_RIGHTS_OFFICER, False),
        (Role.PROTECTION_OFFICER, True),
    ):
        env.client.cookies.clear()
        _csrf(env, role, f"u{role.value.replace('_', '')}")
        listed = env.client.get("/alerts").text
        dashboard = env.client.get("/dashboard").text
        assert f"/alerts/{general}" in listed and f"/alerts/{general}" in dashboard, role
        assert (f"/alerts/{children}" in listed) is sees_children, role
        assert (f"/alerts/{children}" in dashboard) is sees_children, role
        one = env.client.get(f"/alerts/{children}")
        assert one.status_code == (200 if sees_children else 404), role
