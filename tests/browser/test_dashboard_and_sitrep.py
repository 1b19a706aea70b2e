"""The dashboard, the situation-report button, an incident opened from the map and the
forecast view in real Chromium: rendered without console errors or CSP violations, and the
sitrep button downloads a PDF."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.browser.support import LiveApp, login, page_problems
from tests.web.support import store_forecast
from tocsin.domain.entities import Event, Provenance
from tocsin.domain.taxonomy import CaseClass, SensitivityTier, ViolenceType
from tocsin.forecast.registry.partitions import month_id
from tocsin.security.txn import write_transaction
from tocsin.store.event_writer import EventWriter
from tocsin.store.schema_forecast import forecast_explanations

pytestmark = pytest.mark.browser

TYPES = (ViolenceType.STATE_BASED, ViolenceType.NON_STATE, ViolenceType.ONE_SIDED)
SOLO_DAY = date(2021, 6, 15)


def _events() -> list[Event]:
    out = []
    for i in range(40):
        day = date(2022, 1, 1) + timedelta(days=i % 28)
        out.append(
            Event(
                provenance=Provenance("browser", str(i)),
                date_start=day,
                date_end=day,
                latitude=4.0 + (i % 8) * 0.5,
                longitude=16.0 + (i // 8) * 1.2,
                country_iso3="CAF",
                admin1_name=f"Prefecture {i % 5}",
                place_name=f"Place {i}",
                violence_type=TYPES[i % 3],
                fatalities_best=i % 7,
                sensitivity=SensitivityTier.PUBLIC,
                case_class=CaseClass.GENERAL,
            )
        )
    out.append(
        Event(
            provenance=Provenance("browser", "solo"),
            date_start=SOLO_DAY,
            date_end=SOLO_DAY,
            latitude=6.0,
            longitude=20.0,
            country_iso3="CAF",
            admin1_name="Ouaka",
            place_name="Solo village",
            violence_type=ViolenceType.ONE_SIDED,
            fatalities_best=3,
            sensitivity=SensitivityTier.PUBLIC,
            case_class=CaseClass.GENERAL,
        )
    )
    return out


def seed_live_app(live: LiveApp) -> None:
    with write_transaction(live.engine) as conn:
        EventWriter(conn).write(_events())
    today = date.today()
    now = month_id(today.year, today.month)
    run = store_forecast(live.engine, "cm", {"CAF": 0.85, "TCD": 0.3}, now - 1, now + 2)
    with live.engine.begin() as conn:
        conn.execute(
            forecast_explanations.insert(),
            [
                {
                    "run_id": run,
                    "unit": "CAF",
                    "month_id": now,
                    "part": "occurrence",
                    "feature": feature,
                    "contribution": value,
                    "feature_value": 5.0,
                    "base_value": -1.0,
                }
                for feature, value in (("nb1_ged_sb_sum12", 0.9), ("ged_sb_since", -0.4))
            ],
        )
    # One user per test: a TOTP code is single-use, and tests run within one 30 s step.
    for name in ("ana", "bea", "cal"):
        live.add_user(name, "analyst")


def test_dashboard_renders_and_the_sitrep_button_downloads_a_pdf(
    page: Any, live_app: LiveApp, screenshot, tmp_path: Path
) -> None:
    login(page, live_app, "ana")
    page.wait_for_url("**/map")
    page.goto(live_app.url + "/dashboard")
    assert page.locator("h1").inner_text() == "Dashboard"
    assert page.title() == "Dashboard · Tocsin"
    assert page.locator("svg.chart").count() >= 1
    assert page.locator("[data-figure='events-90']").inner_text() != ""
    assert "Central African Republic" in page.locator("main").inner_text()  # forecast summary
    screenshot(page, "dashboard")
    assert page_problems(page) == []

    page.get_by_label("Period").fill("2022-01")
    page.get_by_label("Area").fill("CAF")
    page.get_by_label("Format").select_option("pdf")
    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name="Generate the report").click()
    download = info.value
    assert download.suggested_filename.endswith(".pdf")
    target = tmp_path / download.suggested_filename
    download.save_as(str(target))
    assert target.read_bytes().startswith(b"%PDF-")
    assert "2022-01" not in page.url and "CAF" not in page.url  # nothing in the address

    # A bad form comes back with the reason, still on the dashboard's layout.
    page.get_by_label("Period").fill("2022-13")
    page.get_by_role("button", name="Generate the report").click()
    page.wait_for_selector("#sitrep-error")
    assert "2022-13" in page.locator("#sitrep-error").inner_text()
    screenshot(page, "dashboard-sitrep-error")
    # The refused form is answered with status 400, which Chromium logs; nothing else.
    assert [p for p in page_problems(page) if "status of 400" not in p] == []


def test_open_an_incident_from_the_map(page: Any, live_app: LiveApp, screenshot) -> None:
    login(page, live_app, "bea")
    page.wait_for_url("**/map")
    day = SOLO_DAY.isoformat()
    page.goto(f"{live_app.url}/map?start={day}&end={day}")
    page.wait_for_selector("#map[data-state='ready']", timeout=15_000)
    assert page.locator("#map").get_attribute("data-markers") == "1"
    box = page.locator("#map").bounding_box()
    # One incident: the map is centred on its marker.
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    link = page.get_by_role("link", name="Open the incident")
    link.wait_for(timeout=10_000)
    screenshot(page, "map-incident-popup")
    link.click()
    page.wait_for_url("**/incidents/*")
    assert "Solo village" in page.locator("main").inner_text()
    assert page.title() == "Incident · Tocsin"
    assert page_problems(page) == []


def test_forecast_view_explains_a_unit(page: Any, live_app: LiveApp, screenshot) -> None:
    login(page, live_app, "cal")
    page.wait_for_url("**/map")
    page.goto(live_app.url + "/forecast")
    rows = page.locator("table[data-table='risk'] tbody tr")
    assert rows.count() == 2
    assert "Central African Republic" in rows.first.inner_text()
    screenshot(page, "forecast")
    rows.first.get_by_role("link").click()
    page.wait_for_selector("[data-why='raising']")
    assert "neighbouring units" in page.locator("[data-why='raising']").inner_text()
    assert page.locator("svg.chart").count() == 1
    screenshot(page, "forecast-unit")
    assert page_problems(page) == []
