"""Every page, in real Chromium, for an analyst, an admin and lower roles (commander, partner):

- every control (input, select, textarea, button, link, checkbox...) has an accessible name, as
  Chromium's own accessibility tree computes it (CDP ``Accessibility.getFullAXTree``), so an
  ``aria-labelledby`` pointing nowhere or an icon-only button is caught;
- the first Tab lands on the skip link, and the focused control shows a visible focus ring;
- the page title and address carry nothing of the records (TM-67);
- the French interface, page by page: no English message of the catalogue and no raw
  ``snake_case`` vocabulary value or feature key left on the page (screenshots of each page).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tests.alerts.helpers import LADDER, candidate
from tests.browser.support import LiveApp, login, page_problems
from tests.web.support import store_forecast
from tocsin.alerts import repository as alerts_repo
from tocsin.alerts.lifecycle import issue
from tocsin.domain.entities import Event, Provenance
from tocsin.domain.taxonomy import (
    ActType,
    CaseClass,
    PocThreatCategory,
    SensitivityTier,
    ViolenceType,
)
from tocsin.forecast.registry.partitions import month_id
from tocsin.intake import repository as intake_repo
from tocsin.intake.report import IntakeReport
from tocsin.security.txn import write_transaction
from tocsin.security.vault import Keyring, Pseudonymizer
from tocsin.store.event_writer import EventWriter
from tocsin.store.schema_forecast import forecast_explanations
from tocsin.web.i18n import translations

pytestmark = pytest.mark.browser

SECRET_PLACE = "Hidden-hamlet"  # a restricted case's place: never in a title or an address
IDS: dict[str, str] = {}
# Roles Chromium reports for controls a person operates; each needs a name.
CONTROL_ROLES = frozenset(
    {
        "button",
        "checkbox",
        "combobox",
        "link",
        "listbox",
        "menuitem",
        "radio",
        "searchbox",
        "slider",
        "spinbutton",
        "switch",
        "textbox",
        "Date",
        "DateTime",
        "InputTime",
    }
)


def _event(tag: str, tier: SensitivityTier, place: str, vtype: ViolenceType) -> Event:
    day = date.today() - timedelta(days=20)
    return Event(
        provenance=Provenance("a11y", tag),
        date_start=day,
        date_end=day,
        latitude=6.5,
        longitude=20.5,
        country_iso3="CAF",
        admin1_name="Ouaka",
        place_name=place,
        violence_type=vtype,
        threat_category=PocThreatCategory.ARMED_CONFLICT_NEAR_CIVILIANS,
        act_types=(ActType.KILLING, ActType.ARMED_CLASH),
        fatalities_best=2,
        sensitivity=tier,
        case_class=CaseClass.GENERAL,
    )


def seed_live_app(live: LiveApp) -> None:
    public = _event("pub", SensitivityTier.PUBLIC, "Open village", ViolenceType.STATE_BASED)
    secret = _event("res", SensitivityTier.RESTRICTED, SECRET_PLACE, ViolenceType.ONE_SIDED)
    now = datetime.now(UTC)
    with write_transaction(live.engine) as conn:
        EventWriter(conn).write([public, secret])
        draft, _ = alerts_repo.admit_candidate(
            conn,
            candidate(start=now - timedelta(hours=2), tier=SensitivityTier.INTERNAL),
            mission="MINUSCA",
            at=now - timedelta(hours=1),
        )
        after, event = issue(
            draft, actor="system:alerts", at=now - timedelta(hours=1), ladder=LADDER
        )
        alerts_repo.save_transition(conn, draft, after, [event])
        stored = intake_repo.submit(
            conn,
            IntakeReport(
                channel="sms",
                external_id="a11y-1",
                received_at=now,
                text="Armed men came to the market; two people killed.",
                occurred_on=date.today(),
                latitude=6.5,
                longitude=20.5,
                place_name="Market",
                threat=PocThreatCategory.ATTACK_ON_CIVILIANS,
                act_types=(ActType.KILLING,),
                killed=2,
            ),
            keyring=Keyring(b"k" * 32),
            pseudonymizer=Pseudonymizer(b"p" * 32),
            now=now,
        )
    IDS.update(public=public.uid, secret=secret.uid, alert=after.id, report=stored.report_id)
    this_month = month_id(date.today().year, date.today().month)
    run = store_forecast(live.engine, "cm", {"CAF": 0.7, "TCD": 0.2}, this_month, this_month + 2)
    with live.engine.begin() as conn:
        conn.execute(
            forecast_explanations.insert(),
            [
                {
                    "run_id": run,
                    "unit": "CAF",
                    "month_id": this_month,
                    "part": part,
                    "feature": feature,
                    "contribution": value,
                    "feature_value": 3.0,
                    "base_value": -1.0,
                }
                for part, feature, value in (
                    ("occurrence", "nb1_ged_sb_sum12", 0.9),
                    ("occurrence", "y_decay25_12", 0.3),
                    ("intensity", "ged_os_lag0", -0.4),
                    ("intensity", "cov_population", -0.1),
                )
            ],
        )
    IDS["month"] = f"{date.today():%Y-%m}"
    # One user per test: a TOTP code is single-use within its 30 s step.
    for name, role in (
        ("ana", "analyst"),
        ("adm", "admin"),
        ("cmd", "commander"),
        ("par", "partner"),
        ("fra", "analyst"),
        ("map", "analyst"),
    ):
        live.add_user(name, role)


def _named_pages() -> dict[str, str]:
    """Screenshot name -> path of every page, signed in."""
    return {
        "home": "/",
        "dashboard": "/dashboard",
        "map": "/map",
        "incident-public": f"/incidents/{IDS['public']}",
        "incident-restricted": f"/incidents/{IDS['secret']}",
        "forecast": "/forecast",
        "forecast-unit": f"/forecast?month={IDS['month']}&unit=CAF",
        "reports": "/reports",
        "report-detail": f"/reports/{IDS['report']}",
        "alerts": "/alerts",
        "alert-detail": f"/alerts/{IDS['alert']}",
        "sources": "/sources",
        "public-report-form": "/report",
    }


def _pages() -> list[str]:
    return list(_named_pages().values())


def _unnamed_controls(page: Any) -> list[str]:
    """Controls without an accessible name, from Chromium's accessibility tree."""
    cdp = page.context.new_cdp_session(page)
    try:
        nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
    finally:
        cdp.detach()
    bad = []
    for node in nodes:
        if node.get("ignored"):
            continue
        role = (node.get("role") or {}).get("value")
        name = (node.get("name") or {}).get("value") or ""
        if role in CONTROL_ROLES and not name.strip():
            bad.append(f"{role} (backend node {node.get('backendDOMNodeId')})")
    return bad


def _wait(page: Any) -> None:
    page.wait_for_load_state("load")
    if page.locator("#map").count() and page.locator("#map").is_visible():
        page.wait_for_selector("#map.leaflet-container", timeout=15_000)


def _first_tab_is_a_visible_skip_link(page: Any) -> tuple[str, str]:
    page.locator("body").focus()
    page.keyboard.press("Tab")
    return page.evaluate(
        """() => { const el = document.activeElement; const s = getComputedStyle(el);
                   return [el.textContent.trim(), s.outlineStyle + ' ' + s.outlineWidth]; }"""
    )


@pytest.mark.parametrize(("user", "role"), [("ana", "analyst"), ("cmd", "commander")])
def test_tm_67_every_control_has_a_name_and_titles_hold_no_record_data(
    page: Any, live_app: LiveApp, user: str, role: str
) -> None:
    # Signed out first: the overview, the login page and the public report form.
    for path in ("/", "/login", "/report"):
        page.goto(live_app.url + path)
        assert _unnamed_controls(page) == [], path
        assert _first_tab_is_a_visible_skip_link(page)[0] == "Skip to main content", path
    login(page, live_app, user)
    page.wait_for_url("**/map")
    seen = {}
    for path in _pages():
        page.goto(live_app.url + path)
        _wait(page)
        assert _unnamed_controls(page) == [], f"{role} {path}"
        text, outline = _first_tab_is_a_visible_skip_link(page)
        assert text == "Skip to main content", f"{role} {path}"
        assert not outline.startswith("none") and not outline.endswith(" 0px"), path
        title = page.title()
        assert SECRET_PLACE not in title and IDS["secret"] not in title, path
        assert SECRET_PLACE not in page.url
        seen[path] = title
    # The restricted incident: visible to the analyst, its title as generic as any other's.
    assert seen[f"/incidents/{IDS['secret']}"] == "Incident · Tocsin"
    assert [p for p in page_problems(page) if "status of 40" not in p] == []


def test_admin_sees_the_audit_trail_and_every_control_is_named(
    page: Any, live_app: LiveApp, screenshot
) -> None:
    login(page, live_app, "adm")
    page.wait_for_url("**/map")
    page.goto(f"{live_app.url}/incidents/{IDS['public']}")
    assert page.get_by_role("heading", name="Audit trail").count() == 1
    assert _unnamed_controls(page) == []
    screenshot(page, "a11y-incident-admin")
    for path in ("/dashboard", "/sources", "/alerts"):
        page.goto(live_app.url + path)
        _wait(page)
        assert _unnamed_controls(page) == [], path


def test_partner_pages_have_named_controls_and_no_audit_trail(page: Any, live_app: LiveApp) -> None:
    login(page, live_app, "par")
    page.wait_for_url("**/map")
    for path in _pages():
        page.goto(live_app.url + path)
        _wait(page)
        assert _unnamed_controls(page) == [], path
        assert page.get_by_role("heading", name="Audit trail").count() == 0, path
        assert SECRET_PLACE not in page.content(), path


def test_map_filters_by_time_and_tier_and_fetches_nothing_from_elsewhere(
    page: Any, live_app: LiveApp, screenshot
) -> None:
    hosts: set[str] = set()
    basemap: list[int] = []
    page.on("request", lambda req: hosts.add(req.url.split("/")[2]))
    page.on("response", lambda r: basemap.append(r.status) if "/static/basemap/" in r.url else None)
    login(page, live_app, "map")
    page.wait_for_url("**/map")
    page.wait_for_selector("#map.leaflet-container")
    assert "2 incidents match" in page.locator("#map-summary").inner_text()
    # The offline basemap (Natural Earth outlines shipped in the package) is drawn.
    page.wait_for_load_state("networkidle")
    assert basemap == [200]
    page.get_by_label("Highest tier shown").select_option("public")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**tier=public**")
    assert "1 incident matches" in page.locator("#map-summary").inner_text()
    assert SECRET_PLACE not in page.content()
    today = date.today()
    page.locator("#f-start").fill(str(today - timedelta(days=5)))
    page.locator("#f-end").fill(str(today))
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**start=**")
    assert "0 incidents match" in page.locator("#map-summary").inner_text()
    screenshot(page, "map-filtered-time-tier")
    assert hosts == {live_app.url.split("/")[2]}  # no CDN, no tile server by default
    assert page_problems(page) == []


# Strings of the catalogue long enough to be unambiguous when found in a French page.
def _english_messages() -> list[str]:
    catalogue = translations("fr")._catalog  # type: ignore[attr-defined]
    out = []
    for key, value in catalogue.items():
        msgid = key[0] if isinstance(key, tuple) else key
        if not msgid or "%" in msgid or "{" in msgid or msgid == value:
            continue
        if len(msgid) >= 12 and " " in msgid:
            out.append(msgid)
    return out


_RAW_VALUE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
# snake_case that is data, not an untranslated value: dataset names and the like.
_DATA_WORDS = frozenset({"a11y"})


def test_french_interface_end_to_end(page: Any, live_app: LiveApp, screenshot) -> None:
    page.context.add_cookies([{"name": "tocsin_lang", "value": "fr", "url": live_app.url}])
    english = _english_messages()
    assert len(english) > 100
    problems: dict[str, list[str]] = {}

    def check(path: str, name: str) -> None:
        assert page.locator("html").get_attribute("lang") == "fr", path
        screenshot(page, f"fr-{name}")
        text = page.locator("body").inner_text()
        found = [m for m in english if m in text]
        raw = sorted({w for w in _RAW_VALUE.findall(text) if w not in _DATA_WORDS})
        if found or raw:
            problems[path] = found + raw

    page.goto(live_app.url + "/")  # signed out: the public overview
    check("/", "overview-public")
    page.goto(live_app.url + "/login")
    page.get_by_label("Nom d’utilisateur").fill("fra")
    from tests.browser.support import PASSWORD

    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_label("Code à usage unique").fill(live_app.totp_code("fra"))
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/map")
    for name, path in _named_pages().items():
        page.goto(live_app.url + path)
        _wait(page)
        check(path, name)
    assert problems == {}
