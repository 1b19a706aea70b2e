"""The dashboard (``/dashboard``) and its situation-report button (``POST /sitrep``): figures in
the viewer's scope only, widgets that tolerate missing parts, and a report for the reader's
tier that is audited and never named in a URL."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from tests.api.support import Env, add_user, login, make_env, matrix_event, store_events
from tests.web.support import store_forecast
from tocsin.domain.taxonomy import CaseClass, SensitivityTier, ViolenceType
from tocsin.forecast.registry.partitions import month_id
from tocsin.security.policies import AccessScope, Role
from tocsin.store.schema_security import audit_log
from tocsin.web import dashboard_data

PUB, INT, RES = SensitivityTier.PUBLIC, SensitivityTier.INTERNAL, SensitivityTier.RESTRICTED
GEN, KID = CaseClass.GENERAL, CaseClass.CHILDREN

# tag: (tier, case class, day, type, fatalities)
EVENTS = {
    "pub": (PUB, GEN, date(2024, 5, 1), ViolenceType.ONE_SIDED, 2),
    "int": (INT, GEN, date(2024, 4, 20), ViolenceType.STATE_BASED, 5),
    "res": (RES, GEN, date(2024, 5, 10), ViolenceType.ONE_SIDED, 3),
    "kid": (INT, KID, date(2024, 5, 12), ViolenceType.NON_STATE, 7),
    "old": (PUB, GEN, date(2024, 3, 20), ViolenceType.NON_STATE, 11),
}


def _event(tag: str):
    tier, case_class, day, vtype, deaths = EVENTS[tag]
    ev = matrix_event(tier, case_class, tag)
    return dataclasses.replace(
        ev, date_start=day, date_end=day, violence_type=vtype, fatalities_best=deaths
    )


@pytest.fixture
def env(engine, tmp_path: Path) -> Env:
    env = make_env(engine, tmp_path / "home")
    store_events(env, [_event(tag) for tag in EVENTS])
    return env


def _figure(html: str, name: str) -> str:
    marker = f'data-figure="{name}">'
    start = html.index(marker) + len(marker)
    return html[start : html.index("<", start)]


def test_anonymous_visitors_are_sent_to_log_in(env: Env) -> None:
    response = env.client.get("/dashboard", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fdashboard"
    posted = env.client.post(
        "/sitrep", data={"period": "2024-05", "area": "CAF"}, follow_redirects=False
    )
    assert posted.status_code == 303  # to the login page; never a report
    assert posted.headers["location"] == "/login?next=%2Fdashboard"
    assert _audited(env, "sitrep.generate") == []


def test_analyst_figures_count_general_cases_up_to_the_latest_in_scope(env: Env) -> None:
    login(env, add_user(env, "ana", Role.ANALYST))
    page = env.client.get("/dashboard")
    assert page.status_code == 200
    html = page.text
    # The latest general case is 2024-05-10 ("kid" on 05-12 is out of the analyst's scope).
    assert "2024-05-10" in html
    assert _figure(html, "events-30") == "3"  # pub, int, res
    assert _figure(html, "fatalities-30") == "10"
    assert _figure(html, "events-90") == "4"  # and "old"
    assert _figure(html, "fatalities-90") == "21"
    assert "Village-" not in html  # figures only, no record in bulk
    assert '<svg class="chart"' in html and "<script" not in html.split("</header>")[1]


def test_tm_66_partner_sees_public_figures_and_no_forecast(env: Env) -> None:
    store_forecast(env.engine, "cm", {"CAF": 0.7}, month_id(2026, 1), month_id(2026, 6))
    login(env, add_user(env, "par", Role.PARTNER))
    html = env.client.get("/dashboard").text
    assert _figure(html, "events-90") == "2"  # pub and old
    assert _figure(html, "fatalities-90") == "13"
    assert "Forecasts are internal" in html
    assert "Central African Republic" not in html
    assert 'data-figure="triage"' not in html  # partners do not triage


def test_protection_officer_sees_restricted_cases_and_forecast_summary(env: Env) -> None:
    store_forecast(env.engine, "cm", {"CAF": 0.7, "COD": 0.2}, month_id(2026, 1), month_id(2026, 6))
    login(env, add_user(env, "po", Role.PROTECTION_OFFICER))
    html = env.client.get("/dashboard").text
    assert "2024-05-12" in html  # the children's case is in this scope
    assert _figure(html, "events-30") == "4"
    assert "Central African Republic" in html and "70%" in html
    assert _figure(html, "triage") == "0"  # the intake tables are installed, the queue empty


def test_tm_66_field_reporter_sees_only_their_own_records(env: Env) -> None:
    login(env, add_user(env, "rep", Role.FIELD_REPORTER))
    html = env.client.get("/dashboard").text
    assert _figure(html, "events-90") == "0"
    assert 'action="/sitrep"' not in html  # no area-wide report for own-records roles


def test_triage_widget_tolerates_missing_intake_tables() -> None:
    bare = create_engine("sqlite://")
    scope = AccessScope(frozenset({PUB}), frozenset({GEN}))
    with bare.connect() as conn:
        assert dashboard_data.reports_awaiting_triage(conn, scope) is None


def _audited(env: Env, action: str) -> list[dict]:
    with env.engine.connect() as conn:
        rows = conn.execute(select(audit_log.c.details).where(audit_log.c.action == action))
        return [json.loads(d) for d in rows.scalars()]


def test_sitrep_button_returns_html_for_the_readers_tier_and_is_audited(env: Env) -> None:
    headers = login(env, add_user(env, "ana", Role.ANALYST))
    form = {"period": "2024-05", "area": "CAF", "format": "html"}
    response = env.client.post("/sitrep", data={**form, "csrf_token": headers["X-CSRF-Token"]})
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["cache-control"] == "no-store"
    assert "Village-pub" in response.text
    # The restricted case is in the analyst's tier, its place withheld as in any export.
    assert "exact location withheld" in response.text and "Village-res" not in response.text
    assert "Village-kid" not in response.text  # children's cases are outside the scope
    (entry,) = _audited(env, "sitrep.generate")
    assert entry["tier"] == "restricted" and entry["formats"] == ["html"]
    assert entry["uids"] == [_event("res").uid]


def test_sitrep_for_a_partner_holds_public_records_only(env: Env) -> None:
    headers = login(env, add_user(env, "par", Role.PARTNER))
    response = env.client.post(
        "/sitrep",
        data={
            "period": "2024-05",
            "area": "CAF",
            "format": "html",
            "csrf_token": headers["X-CSRF-Token"],
        },
    )
    assert response.status_code == 200
    assert "Village-pub" in response.text
    assert "Village-int" not in response.text and "Village-res" not in response.text


def test_sitrep_pdf(env: Env) -> None:
    headers = login(env, add_user(env, "ana", Role.ANALYST))
    response = env.client.post(
        "/sitrep",
        data={
            "period": "2024-05",
            "area": "CF11",
            "format": "pdf",
            "csrf_token": headers["X-CSRF-Token"],
        },
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"period": "2024-13", "area": "CAF"}, "2024-13"),
        ({"period": "2099-01", "area": "CAF"}, "future"),
        ({"period": "2024-05", "area": "<script>x</script>"}, "cannot read the area"),
        ({"period": "2024-05", "area": "CAF", "format": "docx"}, "choose PDF or HTML"),
    ],
)
def test_sitrep_bad_input_gets_a_clear_error_and_no_report(
    env: Env, form: dict, message: str
) -> None:
    headers = login(env, add_user(env, "ana", Role.ANALYST))
    response = env.client.post("/sitrep", data={**form, "csrf_token": headers["X-CSRF-Token"]})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert message in response.text
    assert "<script>x" not in response.text  # echoed escaped, never as markup
    assert _audited(env, "sitrep.generate") == []


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"period": "2024-13", "area": "CAF"}, "date non valide : '2024-13'"),
        ({"period": "janvier", "area": "CAF"}, "période illisible 'janvier'"),
        ({"period": "2099-01", "area": "CAF"}, "la période commence dans le futur (2099-01-01)"),
        ({"period": "2024-05", "area": "XXX"}, "'XXX' n'est pas un code de pays connu"),
        ({"period": "2024-05", "area": "<b>"}, "zone illisible '&lt;b&gt;'"),
        ({"period": "2024-05", "area": "CAF", "format": "docx"}, "choisissez PDF ou HTML"),
    ],
)
def test_tm_69_sitrep_errors_are_shown_in_the_readers_language(
    env: Env, form: dict, message: str
) -> None:
    headers = login(env, add_user(env, "ana", Role.ANALYST))
    env.client.cookies.set("tocsin_lang", "fr")
    response = env.client.post("/sitrep", data={**form, "csrf_token": headers["X-CSRF-Token"]})
    assert response.status_code == 400
    assert message in response.text.replace("&#39;", "'")
    assert "cannot read" not in response.text and "choose PDF" not in response.text


def test_tm_60_sitrep_needs_the_csrf_token_and_a_post(env: Env) -> None:
    login(env, add_user(env, "ana", Role.ANALYST))
    response = env.client.post("/sitrep", data={"period": "2024-05", "area": "CAF"})
    assert response.status_code == 403
    assert env.client.get("/sitrep?period=2024-05&area=CAF").status_code == 405
    assert _audited(env, "sitrep.generate") == []


def test_oversized_sitrep_fields_are_refused(env: Env) -> None:
    headers = login(env, add_user(env, "ana", Role.ANALYST))
    response = env.client.post(
        "/sitrep",
        data={"period": "2" * 500, "area": "CAF", "csrf_token": headers["X-CSRF-Token"]},
    )
    assert response.status_code == 422
    assert _audited(env, "sitrep.generate") == []


def test_tm_64_browser_form_posts_with_origin_null_pass_only_from_the_same_origin(
    env: Env,
) -> None:
    """Pages send Referrer-Policy: no-referrer, so browsers post forms with Origin: null;
    Fetch Metadata tells a same-origin form from a cross-site one."""
    headers = login(env, add_user(env, "ana", Role.ANALYST))
    form = {"period": "2024-05", "area": "CAF", "format": "html"}
    form["csrf_token"] = headers["X-CSRF-Token"]
    same = env.client.post(
        "/sitrep", data=form, headers={"origin": "null", "sec-fetch-site": "same-origin"}
    )
    assert same.status_code == 200
    for site in ("cross-site", "same-site"):
        other = env.client.post(
            "/sitrep", data=form, headers={"origin": "null", "sec-fetch-site": site}
        )
        assert other.status_code == 403, site
    assert len(_audited(env, "sitrep.generate")) == 1


def test_the_map_page_has_the_sitrep_button_too(env: Env) -> None:
    login(env, add_user(env, "ana", Role.ANALYST))
    html = env.client.get("/map?start=2024-05-01").text
    form = html[html.index('action="/sitrep"') :]
    assert 'method="post"' in html[html.index('<form class="sitrep-form"') :][:100]
    assert 'name="period" required maxlength="40" value="2024-05"' in form
    assert 'name="csrf_token" value=""' not in form  # the session's token is in the form
