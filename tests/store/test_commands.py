"""``tocsin events export|list|show`` on both backends."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.store.builders import make_event, store
from tocsin.cli import app
from tocsin.domain.entities import ActorLink
from tocsin.domain.taxonomy import ActorRole, ActType, SensitivityTier, ViolenceType
from tocsin.store.db import make_engine
from tocsin.store.export import HXL_TAGS, RECORD_FIELDS


@pytest.fixture
def cli_store(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A store with four events of rising sensitivity; the CLI reads it through the env."""
    monkeypatch.setenv("TOCSIN_DATABASE_URL", db_url)
    engine = make_engine(db_url)
    common = {
        "violence_type": ViolenceType.ONE_SIDED,
        "country_iso3": "CAF",
        "admin1_pcode": "CF32",
        "act_types": (ActType.KILLING,),
        "actors": (ActorLink("Séléka", ActorRole.PERPETRATOR),),
        "fatalities_best": 2,
    }
    store(
        engine,
        [
            make_event(
                "pub",
                latitude=-4.5,
                longitude=-15.25,
                place_name="[bold red]Bria[/] =1+1",
                date_start=date(2021, 5, 1),
                **common,
            ),
            make_event(
                "int",
                latitude=6.5,
                longitude=21.9,
                sensitivity=SensitivityTier.INTERNAL,
                date_start=date(2021, 5, 2),
                **common,
            ),
            make_event(
                "res",
                latitude=6.6,
                longitude=22.0,
                sensitivity=SensitivityTier.RESTRICTED,
                date_start=date(2021, 5, 3),
                **common,
            ),
            make_event(
                "conf",
                sensitivity=SensitivityTier.CONFIDENTIAL,
                date_start=date(2021, 5, 4),
                **common,
            ),
        ],
    )
    engine.dispose()
    return db_url


def _run(*args: str):  # noqa: ANN202
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def _csv_ids(text: str) -> list[str]:
    return [row["original_id"] for row in csv.DictReader(io.StringIO(text, newline=""))]


def test_export_defaults_to_internal_and_warns_above_it(cli_store: str, tmp_path: Path) -> None:
    out = tmp_path / "events.csv"
    result = _run("events", "export", "--format", "csv", "--out", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert _csv_ids(text) == ["pub", "int"]
    assert text.splitlines()[0] == ",".join(RECORD_FIELDS)
    assert "'[bold red]Bria[/] =1+1" not in text  # starts with "[", so not a formula: kept as is
    assert "RESTRICTED" not in result.stderr
    assert "2 event(s) written" in result.stderr
    assert not list(tmp_path.glob("*.part"))

    result = _run("events", "export", "--max-tier", "confidential")
    assert result.exit_code == 0, result.output
    assert _csv_ids(result.stdout) == ["pub", "int", "res", "conf"]
    assert "2 exported event(s) are above the 'internal' tier" in result.stderr
    assert "RESTRICTED" in result.stderr


def test_export_filters_and_formats(cli_store: str, tmp_path: Path) -> None:
    result = _run("events", "export", "--format", "geojson", "--bbox", "-16,-5,-15,-4")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [f["properties"]["original_id"] for f in doc["features"]] == ["pub"]
    assert doc["features"][0]["geometry"]["coordinates"] == [-15.25, -4.5]

    result = _run(
        "events", "export", "--type", "one_sided", "--act", "killing,abduction",
        "--actor", "SELEKA", "--min-fatalities", "2", "--country", "caf", "--pcode", "CF3",
        "--from", "2021-05-02", "--to", "2021-05-31", "--radius", "6.5,21.9,50",
        "--max-tier", "restricted",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _csv_ids(result.stdout) == ["int", "res"]

    polygon = tmp_path / "area.geojson"
    polygon.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [[[21, 6], [23, 6], [23, 7], [21, 7], [21, 6]]],
                        },
                    }
                ],
            }
        )
    )
    out = tmp_path / "out.hxl.csv"
    result = _run(
        "events", "export", "--format", "hxl", "--polygon", str(polygon), "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
    assert rows[1] == [HXL_TAGS[f] for f in RECORD_FIELDS]
    assert [r[RECORD_FIELDS.index("original_id")] for r in rows[2:]] == ["int"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bbox", "1,2,3"], "MIN_LON,MIN_LAT,MAX_LON,MAX_LAT"),
        (["--bbox", "19,4,18,5"], "antimeridian"),
        (["--radius", "95,18,10"], "out of range"),
        (["--radius", "4,18,-1"], "greater than 0"),
        (["--from", "2021-13-01"], "YYYY-MM-DD"),
        (["--type", "genocide"], "unknown violence type"),
        (["--pcode", "CF%"], "pcode"),
        (["--format", "xlsx"], "xlsx"),
    ],
)
def test_export_rejects_bad_filters_without_writing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "never.csv"
    result = _run("events", "export", "--out", str(out), *args)
    assert result.exit_code == 2
    assert message in result.output
    assert not out.exists()
    # Input is checked before the store is even opened.
    assert not (tmp_path / "home" / "tocsin.sqlite").exists()


def test_export_rejects_bad_polygon_files(tmp_path: Path) -> None:
    cases = {
        "not-json.geojson": "{ nope",
        "point.geojson": json.dumps({"type": "Point", "coordinates": [1, 2]}),
        "two.geojson": json.dumps({"type": "FeatureCollection", "features": [{}, {}]}),
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_text(content)
        result = _run("events", "export", "--polygon", str(path))
        assert result.exit_code == 2, name
        assert "error:" in result.stderr
    result = _run("events", "export", "--polygon", str(tmp_path / "missing.geojson"))
    assert result.exit_code == 2


def test_list_and_show(cli_store: str) -> None:
    result = _run("events", "list", "--limit", "1")
    assert result.exit_code == 0, result.output
    assert "2 matching event(s)" in result.stdout
    assert "next page: --cursor " in result.stdout
    cursor = result.stdout.split("--cursor ")[1].split()[0]
    result = _run("events", "list", "--limit", "1", "--cursor", cursor)
    assert result.exit_code == 0, result.output
    # Stored text is printed as typed: Rich markup in a place name is not interpreted.
    assert "[bold red]Bria[/] =1+1" in result.stdout
    assert "next page" not in result.stdout

    result = _run("events", "list", "--cursor", "garbage!")
    assert result.exit_code == 2 and "invalid cursor" in result.stderr

    engine = make_engine(cli_store)
    with engine.connect() as conn:
        from tocsin.store.queries import EventQuery, Scope, iter_events

        uids = {
            e.event.provenance.original_id: e.uid
            for e in iter_events(conn, EventQuery(), Scope.everything())
        }
    engine.dispose()
    result = _run("events", "show", uids["pub"])
    assert result.exit_code == 0, result.output
    assert uids["pub"] in result.stdout and "Séléka" in result.stdout and "-15.25" in result.stdout
    result = _run("events", "show", uids["res"])
    assert result.exit_code == 2 and "no event" in result.stderr
    result = _run("events", "show", uids["res"], "--max-tier", "restricted")
    assert result.exit_code == 0 and "restricted" in result.stdout
