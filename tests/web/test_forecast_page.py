"""The forecast view: internal roles only, risk by unit from the latest run, why a unit's risk
rose in plain words, forecast against actual in the viewer's scope, and clear answers to bad
query strings."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest

from tests.api.support import Env, add_user, login, make_env, matrix_event, store_events
from tests.web.support import store_forecast
from tocsin.domain.taxonomy import CaseClass, SensitivityTier, ViolenceType
from tocsin.forecast.registry.partitions import month_id
from tocsin.security.policies import Role
from tocsin.store.schema_forecast import forecast_explanations
from tocsin.web import forecast_view

FIRST, LAST = month_id(2024, 6), month_id(2024, 8)


@pytest.fixture
def env(engine, tmp_path: Path) -> Env:
    env = make_env(engine, tmp_path / "home")
    events = []
    for tag, tier, day, deaths in (
        ("apr", SensitivityTier.INTERNAL, date(2024, 4, 3), 4),
        ("may", SensitivityTier.PUBLIC, date(2024, 5, 9), 6),
        ("jun", SensitivityTier.RESTRICTED, date(2024, 6, 2), 9),
    ):
        ev = matrix_event(tier, CaseClass.GENERAL, tag)
        events.append(
            dataclasses.replace(
                ev,
                date_start=day,
                date_end=day,
                violence_type=ViolenceType.STATE_BASED,
                fatalities_best=deaths,
            )
        )
    store_events(env, events)
    run = store_forecast(env.engine, "adm1", {"CF11": 0.9, "CF21": 0.1}, FIRST, LAST)
    with env.engine.begin() as conn:
        conn.execute(
            forecast_explanations.insert(),
            [
                {
                    "run_id": run,
                    "unit": "CF11",
                    "month_id": FIRST,
                    "part": "occurrence",
                    "feature": feature,
                    "contribution": value,
                    "feature_value": 12.0,
                    "base_value": -1.0,
                }
                for feature, value in (
                    ("nb1_ged_sb_sum12", 0.8),
                    ("ged_sb_since", -0.3),
                    ("ged_os_decay6", 0.2),
                )
            ],
        )
    env.clock.now = env.clock.now.replace(year=2024, month=7, day=15)
    return env


def test_tm_65_anonymous_and_public_tier_roles_do_not_see_forecasts(env: Env) -> None:
    response = env.client.get("/forecast", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=%2Fforecast"
    login(env, add_user(env, "par", Role.PARTNER))
    page = env.client.get("/forecast")
    assert page.status_code == 403
    assert "CF11" not in page.text


def test_risk_by_unit_lists_the_riskiest_first(env: Env) -> None:
    login(env, add_user(env, "ana", Role.ANALYST))
    page = env.client.get("/forecast")
    assert page.status_code == 200
    html = page.text
    table = html[html.index('data-table="risk"') :]
    assert table.index("CF11") < table.index("CF21")
    assert "90%" in table and "10%" in table
    assert "2024-07" in html  # the current month of the run is the default


def test_why_risk_rose_in_plain_words(env: Env) -> None:
    login(env, add_user(env, "cmd", Role.COMMANDER))
    html = env.client.get("/forecast?month=2024-06&unit=CF11").text
    raising = html[html.index('data-why="raising"') : html.index('data-why="lowering"')]
    lowering = html[html.index('data-why="lowering"') :]
    assert (
        "people killed in state-based violence in neighbouring units: "
        "total over the last 12 months" in raising
    )
    assert raising.index("neighbouring") < raising.index("one-sided")  # biggest first
    assert "months since the last month with any" in lowering.split("</ul>")[0]
    assert "nb1_ged_sb_sum12" not in html and "ged_sb_since" not in html  # no raw keys


def test_why_risk_rose_in_french(env: Env) -> None:
    login(env, add_user(env, "cmd", Role.COMMANDER))
    env.client.cookies.set("tocsin_lang", "fr")
    html = env.client.get("/forecast?month=2024-06&unit=CF11").text
    raising = html[html.index('data-why="raising"') : html.index('data-why="lowering"')]
    assert (
        "personnes tuées dans des violences étatiques dans les unités voisines : "
        "total des 12 derniers mois" in raising
    )
    assert "divisé par deux tous les 6 mois" in raising  # the description, translated too
    assert "neighbouring" not in html and "nb1_ged_sb_sum12" not in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("month=2024-13", "le mois doit avoir la forme 2024-05"),
        ("month=1999-01", "couvre 2024-06 à 2024-08"),
        ("unit=CF99", "pas de prévision pour cette unité"),
    ],
)
def test_bad_query_strings_are_explained_in_french(env: Env, query: str, message: str) -> None:
    login(env, add_user(env, "ana", Role.ANALYST))
    env.client.cookies.set("tocsin_lang", "fr")
    page = env.client.get(f"/forecast?{query}")
    assert page.status_code == 400
    assert message in page.text.replace("&#39;", "'")


def test_forecast_against_actual_counts_only_what_the_viewer_may_see(env: Env) -> None:
    login(env, add_user(env, "ana", Role.ANALYST))
    analyst = forecast_view_rows(env.client.get("/forecast?unit=CF11").text)
    assert analyst["2024-04"] == "4" and analyst["2024-05"] == "6" and analyst["2024-06"] == "9"
    assert analyst["2024-07"] == ""  # the month is not over: no count yet
    assert "<svg" in env.client.get("/forecast?unit=CF11").text


def forecast_view_rows(html: str) -> dict[str, str]:
    import re

    table = html[html.index('data-table="series"') : html.index('data-table="risk"')]
    return {
        m: counted
        for m, counted in re.findall(
            r"<th scope=\"row\">(\d{4}-\d{2})</th><td>[^<]*</td><td>[^<]*</td><td>([^<]*)</td>",
            table,
        )
    }


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("month=2024-13", "the month must look like 2024-05"),
        ("month=1999-01", "the run covers 2024-06 to 2024-08"),
        ("unit=%3Cscript%3E", "a unit is a country code"),
        ("unit=" + "A" * 500, "a unit is a country code"),
        ("unit=CF99", "no forecast for this unit"),
    ],
)
def test_bad_query_strings_get_a_clear_message(env: Env, query: str, message: str) -> None:
    login(env, add_user(env, "ana", Role.ANALYST))
    page = env.client.get(f"/forecast?{query}")
    assert page.status_code == 400
    assert message in page.text
    assert "<script>" not in page.text.split("</header>")[1]


def test_no_run_stored(tmp_path: Path, sqlite_engine) -> None:
    env = make_env(sqlite_engine, tmp_path / "home")
    login(env, add_user(env, "ana", Role.ANALYST))
    page = env.client.get("/forecast")
    assert page.status_code == 200 and "No forecast run is stored yet." in page.text


def test_interval_plot_geometry() -> None:
    points = [
        forecast_view.MonthPoint("2024-05", None, None, None, 6),
        forecast_view.MonthPoint("2024-06", 0.0, 2.0, 8.0, 9),
        forecast_view.MonthPoint("2024-07", 1.0, 3.0, 10.0, None),
    ]
    plot = forecast_view.interval_plot(points)
    assert plot is not None and plot.peak == 10.0
    assert len(plot.actual) == 2 and len(plot.median.split()) == 2
    assert len(plot.band.split()) == 4  # upper and lower edge of two months
    assert forecast_view.interval_plot([]) is None
