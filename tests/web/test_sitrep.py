"""Situation reports: contents, redaction by audience tier (in the HTML *and* the PDF text),
alerts and responses, the command line, and clear errors for bad input."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select
from typer.testing import CliRunner

from tests.api.support import matrix_event, secret_values
from tests.store.builders import store
from tests.web.support import store_forecast
from tocsin.alerts.lifecycle import EscalationLadder, EscalationStep, acknowledge, issue
from tocsin.alerts.model import (
    AlertArea,
    AlertCandidate,
    Certainty,
    Passage,
    Severity,
    TriggerKind,
    Urgency,
)
from tocsin.alerts.repository import admit_candidate, insert_task, save_transition
from tocsin.alerts.responses import TaskKind, new_task
from tocsin.cli import app as cli
from tocsin.domain.entities import Provenance
from tocsin.domain.taxonomy import CaseClass, SensitivityTier
from tocsin.forecast.registry.partitions import month_id
from tocsin.store.db import make_engine
from tocsin.store.schema_security import audit_log
from tocsin.web import sitrep
from tocsin.web.sitrep import SitrepError, parse_area, parse_period

NOW = datetime(2024, 6, 10, 12, 0, tzinfo=UTC)
MAY = parse_period("2024-05")
CAF = parse_area("CAF")
LADDER = EscalationLadder(timedelta(hours=4), (EscalationStep(timedelta(hours=1), ("x",)),))

CASES = {
    "pub": (SensitivityTier.PUBLIC, CaseClass.GENERAL),
    "int": (SensitivityTier.INTERNAL, CaseClass.GENERAL),
    "res": (SensitivityTier.RESTRICTED, CaseClass.GENERAL),
    "conf": (SensitivityTier.CONFIDENTIAL, CaseClass.GENERAL),
    "kid": (SensitivityTier.PUBLIC, CaseClass.CHILDREN),
}


def _identifying(tag: str) -> list[str]:
    v = secret_values(tag)
    return [v["place_name"], v["title"], v["description"], v["victim"], v["source"]] + [
        str(v["latitude"]),
        str(v["longitude"]),
    ]


@pytest.fixture
def db(sqlite_engine):  # noqa: ANN201
    store(sqlite_engine, [matrix_event(t, c, tag) for tag, (t, c) in CASES.items()])
    return sqlite_engine


@pytest.fixture
def db_both(engine):  # noqa: ANN201
    """SQLite and PostGIS: the report's reads (iter_events, count_by) on both backends."""
    store(engine, [matrix_event(t, c, tag) for tag, (t, c) in CASES.items()])
    return engine


def _build(engine, tier: SensitivityTier, period=MAY, area=CAF) -> sitrep.Sitrep:
    with engine.connect() as conn:
        return sitrep.build_sitrep(conn, period, area, tier, now=NOW)


def _pdf_text(html: str) -> str:
    reader = PdfReader(io.BytesIO(sitrep.render_pdf(html)))
    return "\n".join(page.extract_text() for page in reader.pages)


# --- redaction by audience ----------------------------------------------------------------


@pytest.mark.parametrize("tier", [SensitivityTier.PUBLIC, SensitivityTier.INTERNAL])
def test_restricted_cases_never_reach_a_public_or_internal_report(db, tier) -> None:
    report = _build(db, tier)
    html = sitrep.render_html(report)
    pdf = _pdf_text(html)
    for tag in ("res", "conf", "kid"):
        for value in _identifying(tag):
            assert value not in html, (tag, value)
            assert value not in pdf, (tag, value)
    assert "Village-pub" in html and "Village-pub" in pdf
    expected = 1 if tier is SensitivityTier.PUBLIC else 2
    assert report.totals.incidents == expected
    assert report.totals.restricted_cases == 0
    assert ("Village-int" in html) is (tier is SensitivityTier.INTERNAL)


def test_restricted_report_lists_restricted_cases_without_their_details(db) -> None:
    report = _build(db, SensitivityTier.RESTRICTED)
    html = sitrep.render_html(report)
    assert report.totals.incidents == 3  # pub, int, res; never the children's case
    assert report.totals.without_location == 1
    for value in _identifying("res") + _identifying("kid") + _identifying("conf"):
        assert value not in html
    assert "exact location withheld" in html
    assert "Bimbo" in html  # the restricted case is still placed at admin level
    assert report.map.points_drawn == 2


def test_confidential_report_counts_restricted_classes_but_never_their_details(db) -> None:
    report = _build(db, SensitivityTier.CONFIDENTIAL)
    html = sitrep.render_html(report)
    assert report.totals.incidents == 5
    for tag in ("res", "conf", "kid"):
        for value in _identifying(tag):
            assert value not in html
    assert "Person-" not in html and "+236-" not in html  # names never leave in a report


def test_viewer_scope_caps_the_audience(db) -> None:
    from tocsin.security.policies import Role, policy_for, record_scope

    partner = record_scope(policy_for(Role.PARTNER), 7)
    with db.connect() as conn:
        report = sitrep.build_sitrep(
            conn, MAY, CAF, SensitivityTier.CONFIDENTIAL, now=NOW, viewer=partner
        )
    assert report.totals.incidents == 1


# --- contents -----------------------------------------------------------------------------


def test_report_contents_map_charts_table_outlook_and_attribution(db_both) -> None:
    report = _build(db_both, SensitivityTier.INTERNAL)
    html = sitrep.render_html(report)
    assert report.time_unit == "day" and not report.over_time.empty
    assert report.by_area.bars[0].label == "Ombella-M'Poko"
    assert len(report.trend.labels) >= 2
    assert any(c.iso3 == "CAF" and c.focus for c in report.map.countries)
    assert html.count("<circle") >= 2  # the incidents on the map (and the legend)
    assert "No forecast run is stored for this area" in html  # no invented numbers
    assert "Natural Earth" in html
    assert "attribution not recorded" in html  # dataset "matrix" has no known licence
    assert "<script" not in html
    assert "Tier: Internal" in html


def test_ucdp_data_is_attributed(sqlite_engine) -> None:
    base = matrix_event(SensitivityTier.PUBLIC, CaseClass.GENERAL, "u")
    store(sqlite_engine, [replace(base, provenance=Provenance("ucdp_ged", "1"), uid="")])
    html = sitrep.render_html(_build(sqlite_engine, SensitivityTier.PUBLIC))
    assert "Uppsala Conflict Data Program" in html and "CC BY 4.0" in html


def test_empty_period_is_a_valid_report(db) -> None:
    report = _build(db, SensitivityTier.PUBLIC, period=parse_period("2023-02"))
    html = sitrep.render_html(report)
    assert report.totals.incidents == 0 and report.over_time.empty
    assert "No incidents in this period." in html


def test_long_periods_bin_by_week_then_month(db) -> None:
    assert _build(db, SensitivityTier.PUBLIC, period=parse_period("2024")).time_unit == "week"
    span = parse_period("2020-01..2024-12")
    assert _build(db, SensitivityTier.PUBLIC, period=span).time_unit == "month"


def test_french_report(db) -> None:
    html = sitrep.render_html(_build(db, SensitivityTier.PUBLIC), lang="fr")
    assert 'lang="fr"' in html and "Rapport de situation" in html and "Chiffres clés" in html


def test_pcode_area(db) -> None:
    report = _build(db, SensitivityTier.INTERNAL, area=parse_area("CF11"))
    assert report.totals.incidents == 2 and report.area.iso3 == "CAF"
    assert _build(db, SensitivityTier.INTERNAL, area=parse_area("CF42")).totals.incidents == 0


# --- alerts and responses -----------------------------------------------------------------


def _candidate(tier: SensitivityTier, area_key: str, headline: str) -> AlertCandidate:
    return AlertCandidate(
        trigger_id=f"surge-{headline.split()[0].lower()}",
        kind=TriggerKind.SURGE,
        area_key=area_key,
        period_start=datetime(2024, 5, 1, tzinfo=UTC),
        period_end=datetime(2024, 5, 15, tzinfo=UTC),
        headline=headline,
        explanation=(
            Passage("Incidents rose in the prefecture.", SensitivityTier.PUBLIC),
            Passage("Informant Zeta reports a camp near the river.", SensitivityTier.RESTRICTED),
        ),
        severity=Severity.SEVERE,
        urgency=Urgency.EXPECTED,
        certainty=Certainty.LIKELY,
        tier=tier,
        areas=(
            AlertArea(f"Area {area_key}", SensitivityTier.PUBLIC, geocodes=(("pcode", area_key),)),
        ),
    )


def _store_alerts(engine) -> None:
    at = datetime(2024, 5, 2, tzinfo=UTC)
    with engine.begin() as conn:
        public, _ = admit_candidate(
            conn, _candidate(SensitivityTier.PUBLIC, "CF11", "Surge in Ombella"), mission="M", at=at
        )
        issued, event = issue(public, actor="user:duty", at=at, ladder=LADDER)
        save_transition(conn, public, issued, [event])
        acked, event = acknowledge(issued, actor="user:cmd", at=at + timedelta(hours=1))
        save_transition(conn, issued, acked, [event])
        insert_task(
            conn,
            new_task(
                acked,
                kind=TaskKind.PATROL,
                description="Patrol to the northern villages",
                assigned_to="Company B",
                at=at + timedelta(hours=2),
            ),
        )
        secret, _ = admit_candidate(
            conn,
            _candidate(SensitivityTier.RESTRICTED, "CF11", "Threat to the camp"),
            mission="M",
            at=at,
        )
        issued2, event = issue(secret, actor="user:duty", at=at, ladder=LADDER)
        save_transition(conn, secret, issued2, [event])
        elsewhere, _ = admit_candidate(
            conn, _candidate(SensitivityTier.PUBLIC, "SS01", "Elsewhere"), mission="M", at=at
        )
        issued3, event = issue(elsewhere, actor="user:duty", at=at, ladder=LADDER)
        save_transition(conn, elsewhere, issued3, [event])


def test_alerts_follow_the_audience_tier(db_both) -> None:
    db = db_both
    _store_alerts(db)
    public_html = sitrep.render_html(_build(db, SensitivityTier.PUBLIC))
    assert "Surge in Ombella" in public_html
    assert "Incidents rose in the prefecture." in public_html
    assert "Informant Zeta" not in public_html  # a restricted passage of a public alert
    assert "Threat to the camp" not in public_html  # a restricted alert
    assert "1 alert of a higher tier is not shown." in public_html
    assert "Elsewhere" not in public_html  # another area
    assert "Patrol to the northern villages" not in public_html  # task text is internal
    assert "<td>Patrol</td>" in public_html  # its kind and status still show, in words
    assert "State: Issued, not acknowledged" in public_html or "State: Acknowledged" in public_html
    french = sitrep.render_html(_build(db, SensitivityTier.PUBLIC), "fr")
    assert "<td>Patrouille</td>" in french and "Severity" not in french
    internal_html = sitrep.render_html(_build(db, SensitivityTier.INTERNAL))
    assert "Patrol to the northern villages" in internal_html and "Company B" in internal_html
    restricted_html = sitrep.render_html(_build(db, SensitivityTier.RESTRICTED))
    assert "Threat to the camp" in restricted_html and "Informant Zeta" in restricted_html


# --- parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2022-01", date(2022, 1, 1), date(2022, 1, 31)),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),
        ("2022", date(2022, 1, 1), date(2022, 12, 31)),
        ("2022-01-15", date(2022, 1, 15), date(2022, 1, 15)),
        ("2022-01..2022-03", date(2022, 1, 1), date(2022, 3, 31)),
        (" 2022-12-20..2023-01-05 ", date(2022, 12, 20), date(2023, 1, 5)),
    ],
)
def test_periods(text: str, start: date, end: date) -> None:
    period = parse_period(text)
    assert (period.start, period.end) == (start, end)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2022-13",
        "2022-02-30",
        "22-01",
        "January",
        "1900",
        "2022-03..2022-01",
        "2000..2020",
        "2022-01" * 10,
        "2022-01; DROP TABLE events",
        "2999-01",
    ],
)
def test_bad_periods_are_refused_clearly(text: str) -> None:
    with pytest.raises(SitrepError):
        parse_period(text, today=date(2026, 1, 1))


@pytest.mark.parametrize("text", ["", "XXX", "CA", "C1", "../../etc", "caf; rm -rf", "Z" * 500])
def test_bad_areas_are_refused_clearly(text: str) -> None:
    with pytest.raises(SitrepError):
        parse_area(text)


def test_area_codes() -> None:
    assert parse_area("caf") == sitrep.Area("CAF", "Central African Republic", "CAF", True)
    assert parse_area("CAF").alert_tokens == ("CAF", "CF")
    assert parse_area("cf11").alert_tokens == ("CF11",)


# --- command line -------------------------------------------------------------------------


def test_cli_writes_html_and_pdf_and_audits(tmp_path: Path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    monkeypatch.setenv("TOCSIN_DATABASE_URL", url)
    engine = make_engine(url)
    store(engine, [matrix_event(t, c, tag) for tag, (t, c) in CASES.items()])
    out = tmp_path / "reports"
    result = CliRunner().invoke(
        cli,
        ["sitrep", "--period", "2024-05", "--area", "CAF", "--tier", "internal", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    html = out / "sitrep_CAF_2024-05_internal.html"
    pdf = out / "sitrep_CAF_2024-05_internal.pdf"
    assert html.is_file() and pdf.read_bytes().startswith(b"%PDF")
    assert "Village-res" not in html.read_text(encoding="utf-8")
    assert not list(out.glob(".*.tmp"))
    with engine.connect() as conn:
        entry = conn.execute(
            select(audit_log.c.action, audit_log.c.details).where(
                audit_log.c.action == "sitrep.generate"
            )
        ).one()
    details = json.loads(entry.details)
    assert details["tier"] == "internal" and details["incidents"] == 2
    assert "uids" not in details  # no restricted case was read
    engine.dispose()


@pytest.mark.parametrize(
    "args",
    [
        ["--period", "2024-13", "--area", "CAF"],
        ["--period", "2024-05", "--area", "Atlantis"],
    ],
)
def test_cli_bad_input_exits_with_a_message(tmp_path: Path, monkeypatch, args) -> None:
    monkeypatch.setenv("TOCSIN_DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite'}")
    result = CliRunner().invoke(cli, ["sitrep", *args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "error:" in result.output or "Invalid" in result.output
    assert not (tmp_path / "o").exists()


def test_tm_69_cli_error_in_french_and_markup_shown_as_text(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TOCSIN_DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite'}")
    args = ["sitrep", "--period", "2024-05", "--area", "[bold]x", "--lang", "fr"]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "zone illisible '[bold]x'" in result.output  # Rich markup in input is not applied
    assert not (tmp_path / "o").exists()


def test_cli_refuses_an_unknown_tier(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["sitrep", "--period", "2024-05", "--area", "CAF", "--tier", "secret"]
    )
    assert result.exit_code == 2


# --- forecast outlook ---------------------------------------------------------------------


def test_outlook_shows_the_latest_run_for_the_area_from_internal_up(db) -> None:
    june = month_id(2024, 6)
    store_forecast(db, "adm1", {"CF11": 0.83, "CF42": 0.12, "SS01": 0.99}, june, june + 11)
    internal = _build(db, SensitivityTier.INTERNAL)
    fc = internal.outlook.forecast
    assert fc is not None and fc.run.level == "adm1"
    assert fc.months == ("2024-06", "2024-07", "2024-08")  # from the month after the period
    first_month = [u for u in fc.rows if u.month == "2024-06"]
    assert [u.unit for u in first_month] == ["CF11", "CF42"]  # South Sudan's unit is not CAR's
    assert first_month[0].name == "Ombella-M'Poko (CF11)"  # named from the events
    html = sitrep.render_html(internal)
    assert "83%" in html and "Ombella-M&#39;Poko (CF11)" in html and "SS01" not in html
    public = sitrep.render_html(_build(db, SensitivityTier.PUBLIC))
    assert "Forecasts are internal" in public and "83%" not in public


def test_outlook_country_level_run(db) -> None:
    june = month_id(2024, 6)
    store_forecast(db, "cm", {"CAF": 0.97, "TCD": 0.4}, june, june + 2)
    fc = _build(db, SensitivityTier.INTERNAL).outlook.forecast
    assert fc is not None and [u.name for u in fc.rows if u.month == "2024-06"] == [
        "Central African Republic"
    ]
