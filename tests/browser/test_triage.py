"""Triage in real Chromium: sign in (with 2FA), open the queue, triage a report, assign it,
grade it and verify it, through the plain HTML forms, with screenshots of each step."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select

from tests.browser.support import LiveApp, login, page_problems
from tocsin.domain.taxonomy import ActType, PocThreatCategory
from tocsin.intake import repository
from tocsin.intake.report import IntakeReport
from tocsin.security import audit
from tocsin.security.txn import write_transaction
from tocsin.security.vault import Keyring, Pseudonymizer
from tocsin.store.schema_security import audit_log

pytestmark = pytest.mark.browser

REPORT_IDS: dict[str, str] = {}


def seed_live_app(live: LiveApp) -> None:
    report = IntakeReport(
        channel="sms",
        external_id="browser-triage-1",
        received_at=datetime.now(UTC),
        text="Armed men attacked the market in Ndele; three people killed.",
        occurred_on=date.today(),
        latitude=8.41,
        longitude=20.65,
        place_name="Ndele",
        threat=PocThreatCategory.ATTACK_ON_CIVILIANS,
        act_types=(ActType.KILLING,),
        killed=3,
    )
    with write_transaction(live.engine) as conn:
        stored = repository.submit(
            conn,
            report,
            keyring=Keyring(b"k" * 32),
            pseudonymizer=Pseudonymizer(b"p" * 32),
            now=datetime.now(UTC),
        )
    REPORT_IDS["general"] = stored.report_id
    live.add_user("tria", "analyst")
    live.add_user("trib", "analyst")


def _state(page: Any) -> str:
    return page.locator("#report-state").inner_text()


def test_triage_assign_grade_verify(page: Any, live_app: LiveApp, screenshot) -> None:
    rid = REPORT_IDS["general"]
    page.goto(live_app.url + "/reports")
    assert "/login" in page.url  # the queue needs an account
    login(page, live_app, "tria")
    page.wait_for_url("**/map")
    page.goto(live_app.url + "/reports")
    assert page.title() == "Reports · Tocsin"
    screenshot(page, "triage-queue")
    page.get_by_role("link", name="Open").first.click()
    page.wait_for_url(f"**/reports/{rid}")
    assert page.title() == "Report · Tocsin"  # nothing of the report in the title
    assert _state(page) == "Received"
    screenshot(page, "triage-received")

    page.get_by_label("Tier").select_option("restricted")
    page.get_by_role("button", name="Triage", exact=True).click()
    page.wait_for_url("**done=done")
    assert _state(page) == "Triaged"

    page.get_by_label("Assign to").select_option(label="tria")
    page.get_by_label("Due date").fill("2030-01-31")
    page.get_by_role("button", name="Assign", exact=True).click()
    page.wait_for_url("**done=done")
    assert page.locator("#report-assignee").inner_text() == "tria"

    page.get_by_label("Source reliability").select_option("B")
    page.get_by_label("Information credibility").select_option("2")
    page.get_by_role("button", name="Grade", exact=True).click()
    page.wait_for_url("**done=done")
    assert page.locator("#report-grade").inner_text() == "B2"
    screenshot(page, "triage-graded")

    page.get_by_role("button", name="Verified", exact=True).click()
    page.wait_for_url("**done=done")
    assert _state(page) == "Verified"
    assert page.get_by_role("button", name="Create a new incident from this report").is_visible()
    screenshot(page, "triage-verified")
    assert page_problems(page) == []

    with live_app.engine.connect() as conn:
        actions = list(
            conn.scalars(
                select(audit_log.c.action)
                .where(audit_log.c.target == f"report:{rid}")
                .order_by(audit_log.c.seq)
            )
        )
        assert audit.verify(conn, None).ok
    assert "report.read" in actions  # the tier was raised to restricted: reads are audited
    assert [a for a in actions if a != "report.read"][-5:] == [
        "report.triaged",
        "report.assigned",
        "report.graded",
        "report.verification_started",
        "report.verified",
    ]


def test_every_triage_control_has_a_label(page: Any, live_app: LiveApp) -> None:
    """Keyboard and screen-reader users: every form control of the queue and the report
    page has a label, and Tab reaches the first action."""
    login(page, live_app, "trib")
    page.wait_for_url("**/map")
    for path in ("/reports", f"/reports/{REPORT_IDS['general']}"):
        page.goto(live_app.url + path)
        unlabeled = page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                  .filter(el => !el.labels || el.labels.length === 0).map(el => el.name)"""
        )
        assert unlabeled == [], path
    page.locator("#comment-text").focus()
    page.keyboard.type("checked by keyboard")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Add comment"
