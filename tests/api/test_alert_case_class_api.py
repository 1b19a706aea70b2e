"""An alert derived from a restricted case class (a children or sexual-violence threat report) is
read only by roles cleared for that class, whatever their tier (both backends)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.alerts.store_helpers import CONFIG
from tests.api.support import add_token, add_user, make_env
from tests.api.test_alerts_api import LADDER, _now, tiered
from tocsin.alerts import repository as repo
from tocsin.alerts.lifecycle import issue
from tocsin.domain.taxonomy import CaseClass
from tocsin.domain.taxonomy import SensitivityTier as Tier
from tocsin.security.policies import Role
from tocsin.security.txn import write_transaction


@pytest.fixture
def env(engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN001, ANN201
    path = tmp_path / "triggers.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    monkeypatch.setenv("TOCSIN_ALERTS_CONFIG", str(path))
    return make_env(engine, tmp_path / "home")


def _store(env, case_class: CaseClass) -> str:  # noqa: ANN001
    candidate = replace(tiered(Tier.RESTRICTED, f"k-{case_class.value}"), case_class=case_class)
    with write_transaction(env.engine) as conn:
        draft, _ = repo.admit_candidate(conn, candidate, mission="M", at=_now())
        after, event = issue(draft, actor="system:alerts", at=_now(), ladder=LADDER)
        repo.save_transition(conn, draft, after, [event])
    return draft.id


def test_tm_81_a_restricted_class_alert_is_read_only_by_roles_cleared_for_the_class(
    env,  # noqa: ANN001
) -> None:
    children = _store(env, CaseClass.CHILDREN)
    general = _store(env, CaseClass.GENERAL)
    expect = {
        Role.PROTECTION_OFFICER: {children, general},
        Role.ADMIN: {children, general},
        Role.HUMAN_RIGHTS_OFFICER: {general},  # confidential tier, general cases only
        Role.COMMANDER: {general},
    }
    for role, visible in expect.items():
        headers = add_token(env, add_user(env, f"u{role.value.replace('_', '')}", role))
        listed = env.client.get("/api/v1/alerts", headers=headers).json()["items"]
        assert {a["id"] for a in listed} == visible, role
        one = env.client.get(f"/api/v1/alerts/{children}", headers=headers)
        cap = env.client.get(f"/api/v1/alerts/{children}.cap", headers=headers)
        ack = env.client.post(f"/api/v1/alerts/{children}/acknowledge", headers=headers)
        if children in visible:
            assert one.status_code == 200 and cap.status_code == 200, role
        else:
            # Not found, like a missing alert; nothing acknowledged.
            assert (one.status_code, cap.status_code, ack.status_code) == (404, 404, 404), role
        feed = env.client.get("/api/v1/alerts/feed.atom", headers=headers)
        assert (children in feed.text) == (children in visible), role
