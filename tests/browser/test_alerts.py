"""Alerts in real Chromium: sign in with 2FA, open the alert list, open an alert and
acknowledge it with the plain HTML form; the page logs no error and no CSP violation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.alerts.helpers import LADDER, candidate
from tests.browser.support import LiveApp, login, page_problems
from tocsin.alerts import repository as repo
from tocsin.alerts.lifecycle import issue
from tocsin.domain.taxonomy import SensitivityTier
from tocsin.security.txn import write_transaction

pytestmark = pytest.mark.browser


def seed_live_app(live: LiveApp) -> None:
    now = datetime.now(UTC)
    with write_transaction(live.engine) as conn:
        draft, _ = repo.admit_candidate(
            conn,
            candidate(start=now - timedelta(hours=2), tier=SensitivityTier.INTERNAL),
            mission="MINUSCA",
            at=now - timedelta(hours=1),
        )
        after, event = issue(
            draft, actor="system:alerts", at=now - timedelta(hours=1), ladder=LADDER
        )
        repo.save_transition(conn, draft, after, [event])
    live.alert_id = after.id  # type: ignore[attr-defined]
    live.add_user("cmd", "commander")


def test_acknowledge_an_alert(page: Any, live_app: LiveApp, screenshot) -> None:
    page.goto(live_app.url + "/alerts")
    assert "/login" in page.url
    login(page, live_app, "cmd")
    page.wait_for_load_state("networkidle")
    page.goto(live_app.url + "/alerts")
    row = page.get_by_role("link", name="Violence near a protected IDP site in Ouaka")
    assert row.count() == 1
    assert "overdue" in page.locator("main").inner_text()  # the 1 h deadline has passed
    screenshot(page, "alerts-list")
    with page.expect_navigation():
        row.click()
    page.wait_for_url(f"**/alerts/{live_app.alert_id}")  # type: ignore[attr-defined]
    assert page.get_by_role("heading", name="Why this alert").count() == 1
    assert "Ouaka" in page.locator("main").inner_text()
    with page.expect_navigation():  # post, then the redirect back to the alert
        page.get_by_role("button", name="Acknowledge").click()
    page.wait_for_load_state("load")
    main = page.locator("main").inner_text()
    assert "State: Acknowledged" in main and "user:cmd" in main
    assert page.get_by_role("button", name="Acknowledge").count() == 0
    screenshot(page, "alert-acknowledged")
    assert page_problems(page) == []
