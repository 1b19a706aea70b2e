"""The public report form in real Chromium: with JavaScript the map fills in the coordinates and
the receipt comes back; without it the plain form works; Arabic is laid out right to left on a
phone-sized screen; no console error and no CSP violation."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.support import LiveApp, page_problems
from tocsin.intake import repository as repo
from tocsin.intake.service import load_intake_keys

pytestmark = pytest.mark.browser

RECEIPT = re.compile(r"^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$")


def _stored(live: LiveApp, code: str) -> repo.StoredReport:
    _keyring, pseudonymizer = load_intake_keys(live.settings.home)
    with live.engine.connect() as conn:
        report_id = repo.find_by_receipt(conn, code, pseudonymizer)
        assert report_id is not None
        return repo.load_report(conn, report_id)


def test_map_fills_the_coordinates_and_the_report_is_received(
    page: Any, live_app: LiveApp, screenshot: Any
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto(f"{live_app.url}/report")
    page.get_by_label("What happened?").fill("Armed men <b>burned</b> the market.")
    page.get_by_role("button", name="Choose on a map").click()
    map_box = page.locator("#report-map")
    map_box.wait_for(state="visible")
    page.wait_for_timeout(300)
    map_box.click(position={"x": 150, "y": 120})
    assert page.locator("#map-status").inner_text() == "Place chosen on the map."
    lat = float(page.locator("#r-latitude").input_value())
    lon = float(page.locator("#r-longitude").input_value())
    assert -90 <= lat <= 90 and -180 <= lon <= 180
    screenshot(page, "public-report-map")
    page.get_by_role("button", name="Send the report").click()
    code = page.locator("#receipt-code").inner_text()
    assert RECEIPT.match(code)
    stored = _stored(live_app, code)
    assert stored.report.text == "Armed men <b>burned</b> the market."
    assert stored.report.latitude == pytest.approx(lat)
    assert page_problems(page) == []


def test_form_works_without_javascript(browser: Any, live_app: LiveApp) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{live_app.url}/report")
        assert page.locator("#map-open").is_hidden()  # the map needs the script
        page.get_by_label("What happened?").fill("Shots fired near the school.")
        page.get_by_text("Coordinates (if you know them)").click()  # <details>: no script
        page.get_by_label("Latitude").fill("6.98")
        page.get_by_label("Longitude").fill("19.18")
        page.get_by_role("button", name="Send the report").click()
        code = page.locator("#receipt-code").inner_text()
        assert RECEIPT.match(code)
        assert _stored(live_app, code).report.longitude == pytest.approx(19.18)
    finally:
        context.close()


def test_arabic_right_to_left_on_a_phone(page: Any, live_app: LiveApp, screenshot: Any) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_app.url}/report")
    page.get_by_role("button", name="العربية").click()
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.locator("html").get_attribute("lang") == "ar"
    label = page.locator("label[for=r-text]").bounding_box()
    field = page.locator("#r-text").bounding_box()
    # Right to left: the label starts at the right edge of the text area, not the left.
    assert label["x"] + label["width"] == pytest.approx(field["x"] + field["width"], abs=2)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # no sideways scrolling on a phone
    screenshot(page, "public-report-arabic-phone")
    assert page_problems(page) == []
