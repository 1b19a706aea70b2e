"""The overview and the map in real Chromium: they render, log no console error and no CSP
violation, the map draws clustered incidents, filters work, keyboard users reach every
control, and the page is usable without JavaScript."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.browser.support import LiveApp, login, page_problems
from tests.web.support import store_forecast
from tocsin.domain.entities import ActorLink, Event, Provenance
from tocsin.domain.taxonomy import ActorRole, CaseClass, SensitivityTier, ViolenceType
from tocsin.forecast.registry.partitions import month_id
from tocsin.security.txn import write_transaction
from tocsin.store.event_writer import EventWriter

pytestmark = pytest.mark.browser

TYPES = (ViolenceType.STATE_BASED, ViolenceType.NON_STATE, ViolenceType.ONE_SIDED)


def _events() -> list[Event]:
    out = []
    for i in range(60):
        vtype = TYPES[i % 3]
        out.append(
            Event(
                provenance=Provenance("browser", str(i)),
                date_start=date(2022, 1, 1) + timedelta(days=i % 28),
                date_end=date(2022, 1, 1) + timedelta(days=i % 28),
                latitude=4.0 + (i % 10) * 0.5,
                longitude=16.0 + (i // 10) * 1.2,
                country_iso3="CAF",
                admin1_name=f"Prefecture {i % 5}",
                place_name=f"Place {i}",
                violence_type=vtype,
                fatalities_best=i % 7,
                actors=(ActorLink("Group A" if i % 2 else "Group B", ActorRole.PERPETRATOR),),
                sensitivity=SensitivityTier.PUBLIC if i % 4 else SensitivityTier.RESTRICTED,
                case_class=CaseClass.GENERAL,
            )
        )
    return out


def seed_live_app(live: LiveApp) -> None:
    with write_transaction(live.engine) as conn:
        EventWriter(conn).write(_events())
    today = date.today()
    now = month_id(today.year, today.month)
    store_forecast(live.engine, "cm", {"CAF": 0.85, "TCD": 0.3, "CMR": 0.05}, now - 1, now + 2)
    live.add_user("ana", "analyst")
    live.add_user("kim", "analyst")
    live.add_user("lee", "analyst")
    live.add_user("pat", "partner")


def _wait_for_map(page: Any) -> None:
    page.wait_for_selector("#map[data-state='ready']", timeout=15_000)


def test_overview_renders_without_errors(page: Any, live_app: LiveApp, screenshot) -> None:
    page.goto(live_app.url + "/")
    assert page.locator("h1").first.inner_text() == "Tocsin"
    page.wait_for_load_state("networkidle")
    screenshot(page, "overview")
    assert page_problems(page) == []


def test_login_with_2fa_then_map_draws_clusters(page: Any, live_app: LiveApp, screenshot) -> None:
    page.goto(live_app.url + "/map")
    assert "/login" in page.url  # the map needs an account
    login(page, live_app, "ana")
    page.wait_for_url("**/map")
    _wait_for_map(page)
    assert page.locator("#map").get_attribute("data-markers") == "60"
    assert page.locator(".tocsin-cluster").count() > 0  # clustered, not 60 loose markers
    assert "60 incidents match" in page.locator("#map-summary").inner_text()
    assert page.locator("#map .leaflet-overlay-pane canvas, #map canvas").count() > 0
    # The risk choropleth of the latest forecast run (internal: analysts see it).
    page.wait_for_selector("#risk-legend:not([hidden])")
    assert "forecast run" in page.locator(".leaflet-control-layers").inner_text()
    screenshot(page, "map-analyst")
    assert page_problems(page) == []
    # Open an incident from the table of the latest.
    page.locator("table tbody tr a").first.click()
    page.wait_for_url("**/incidents/*")
    assert page.locator("h1").inner_text().startswith("Incident")
    assert page.title() == "Incident · Tocsin"
    assert "What happened" in page.locator("main").inner_text()
    screenshot(page, "incident")
    assert page_problems(page) == []


def test_filtering_the_map(page: Any, live_app: LiveApp, screenshot) -> None:
    login(page, live_app, "kim")
    page.wait_for_url("**/map")
    _wait_for_map(page)
    page.get_by_label("One-sided (against civilians)").first.check()
    page.get_by_label("Actor").fill("Group A")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**/map?**")
    _wait_for_map(page)
    # one-sided are i % 3 == 2, Group A are odd i: i % 6 == 5 -> 10 of 60
    assert page.locator("#map").get_attribute("data-markers") == "10"
    assert "10 incidents match" in page.locator("#map-summary").inner_text()
    assert "type=one_sided" in page.url and "actor=Group+A" in page.url
    # Client-side toggle: hiding the only type shown leaves no marker.
    page.locator("#map-type-toggles input[data-type='one_sided']").uncheck()
    page.wait_for_function("document.querySelectorAll('.tocsin-cluster').length === 0")
    screenshot(page, "map-filtered")
    assert page_problems(page) == []


_FOCUSABLE = """() => Array.from(document.querySelectorAll(
  'a[href], button, input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex="-1"])'
)).filter(el => !el.disabled && el.offsetParent !== null && !el.closest('[hidden]')
  && !el.closest('.leaflet-marker-pane') && getComputedStyle(el).visibility !== 'hidden')
  .map(el => el.id || el.getAttribute('name') && (el.getAttribute('name') + '=' + (el.value || ''))
       || el.getAttribute('title') || el.getAttribute('aria-label') || el.textContent.trim())"""

_ACTIVE = """() => { const el = document.activeElement;
  if (!el || el === document.body) return null;
  return el.id || el.getAttribute('name') && (el.getAttribute('name') + '=' + (el.value || ''))
       || el.getAttribute('title') || el.getAttribute('aria-label') || el.textContent.trim(); }"""


def test_keyboard_reaches_every_control_of_the_map_page(page: Any, live_app: LiveApp) -> None:
    login(page, live_app, "lee")
    page.wait_for_url("**/map")
    _wait_for_map(page)
    expected = set(page.evaluate(_FOCUSABLE))
    assert {"f-start", "f-end", "f-actor", "f-tier", "Zoom in", "Zoom out"} <= expected
    page.locator("body").focus()
    reached: list[str] = []
    for _ in range(len(expected) + 150):  # cluster icons are focusable too
        page.keyboard.press("Tab")
        active = page.evaluate(_ACTIVE)
        if active is not None:
            reached.append(active)
        if expected <= set(reached):
            break
    assert expected <= set(reached), f"never reached by Tab: {expected - set(reached)}"
    # The first Tab lands on the skip link, which moves focus to the main content.
    assert reached[0] == "Skip to main content"
    assert page_problems(page) == []


def test_map_page_works_without_javascript(browser: Any, live_app: LiveApp, screenshot) -> None:
    context = browser.new_context(java_script_enabled=False, locale="en-GB")
    try:
        page = context.new_page()
        failed: list[str] = []
        page.on("requestfailed", lambda req: failed.append(req.url))
        login(page, live_app, "pat")  # partner: public tier only
        page.wait_for_url("**/map")
        assert page.locator("#map").is_hidden()
        picture = page.locator("noscript img, img[src*='picture.svg']")
        assert picture.count() == 1
        page.wait_for_load_state("networkidle")
        natural_width = picture.evaluate("img => img.naturalWidth")
        assert natural_width > 0  # the server-drawn SVG loaded
        assert "45 incidents match" in page.locator("#map-summary").inner_text()  # public only
        rows = page.locator("table tbody tr")
        assert rows.count() > 0
        assert "Restricted" not in page.locator("table").inner_text()
        screenshot(page, "map-no-javascript")
        assert failed == []
    finally:
        context.close()
