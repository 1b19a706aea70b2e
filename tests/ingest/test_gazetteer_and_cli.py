"""The gazetteer loader, format detection, and the ``tocsin ingest`` / ``gazetteer`` commands."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.ingest.helpers import count, fixture
from tocsin.cli import app
from tocsin.ingest.base import FatalImportError
from tocsin.ingest.gazetteer import import_pcodes
from tocsin.ingest.runner import detect_format
from tocsin.store import schema as s


def test_gazetteer_loads_places_and_names_idempotently(engine, tmp_path) -> None:
    report = import_pcodes(engine, fixture("pcodes_sample.csv"))
    assert (report.read, report.inserted, report.rejected) == (5, 3, 2)
    assert [e["line"] for e in report.errors] == [6, 7]
    with engine.connect() as conn:
        places = {r.pcode: r for r in conn.execute(select(s.places))}
    assert places["CF321"].parent_pcode == "CF32"
    assert places["CF321"].admin_level == 2
    assert places["CF11"].normalized_name == "ombella m'poko"
    assert count(engine, s.place_names) == 3

    again = import_pcodes(engine, fixture("pcodes_sample.csv"))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)

    renamed = tmp_path / "renamed.csv"
    renamed.write_text(fixture("pcodes_sample.csv").read_text().replace(",Ouham,", ",Ouham-Nord,"))
    third = import_pcodes(engine, renamed)
    assert (third.inserted, third.updated, third.unchanged) == (0, 1, 2)
    with engine.connect() as conn:
        names = conn.scalars(
            select(s.place_names.c.name)
            .join(s.places, s.places.c.id == s.place_names.c.place_id)
            .where(s.places.c.pcode == "CF32")
        ).all()
    assert sorted(names) == ["Ouham", "Ouham-Nord"]  # the former name stays findable


def test_gazetteer_refuses_a_file_without_the_hashtags(engine, tmp_path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text("Location,P-Code\nCAF,CF11\n")
    with pytest.raises(FatalImportError, match="not an OCHA P-code list"):
        import_pcodes(engine, path)
    assert count(engine, s.places) == 0


def test_real_global_pcode_file(sqlite_engine, shared_file) -> None:
    path = shared_file("pcodes/global_pcodes_adm1_adm2.csv")
    report = import_pcodes(sqlite_engine, path)
    assert report.rejected == 0
    assert report.inserted == report.read == count(sqlite_engine, s.places) > 30_000
    assert count(sqlite_engine, s.places, s.places.c.country_iso3 == "CAF") == 17 + 72
    again = import_pcodes(sqlite_engine, path)
    assert (again.inserted, again.updated) == (0, 0)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("ucdp_ged_sample.csv", "ucdp"),
        ("ucdp_api_sample.csv", "ucdp"),
        ("ucdp_reduced_sample.csv", "ucdp"),
        ("acled_sample.csv", "acled"),
        ("ii_sv_sample.json", "insecurity_insight"),
        ("hxl_incidents_sample.csv", "hxl"),
        ("geojson_sample.geojson", "geojson"),
    ],
)
def test_format_detection(name, fmt) -> None:
    assert detect_format(fixture(name)) == fmt


def test_cli_json_summary_and_reimport(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TOCSIN_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite'}")
    runner = CliRunner()
    path = str(fixture("hxl_incidents_sample.csv"))
    first = runner.invoke(app, ["ingest", path, "--json"])
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary == {
        "read": 3,
        "inserted": 2,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
        "errors": [{"line": 5, "reason": "latitude 95.0 is out of range [-90, 90]"}],
    }
    second = runner.invoke(app, ["ingest", path, "--json", "--format", "hxl"])
    assert json.loads(second.stdout)["unchanged"] == 2

    table = runner.invoke(app, ["ingest", str(fixture("ucdp_ged_sample.csv"))])
    assert table.exit_code == 0
    assert "inserted" in table.stdout and "import_problems" in table.stdout


def test_cli_fatal_error_exits_non_zero(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TOCSIN_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite'}")
    bad = tmp_path / "cut.json"
    bad.write_text('[{"SIND Event ID": 1, "Date": "2024-')
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", str(bad), "--json"])
    assert result.exit_code == 1
    assert "Nothing was imported" in json.loads(result.stdout)["error"]
    result = runner.invoke(app, ["ingest", str(bad), "--format", "pdf"])
    assert result.exit_code == 1
    assert "unknown format" in result.output


def test_cli_gazetteer_import(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TOCSIN_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite'}")
    result = CliRunner().invoke(
        app, ["gazetteer", "import", str(fixture("pcodes_sample.csv")), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["inserted"] == 3


def test_every_command_has_help() -> None:
    runner = CliRunner()
    for args in (["ingest", "--help"], ["gazetteer", "--help"], ["gazetteer", "import", "--help"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0 and "Usage" in result.stdout
