"""Broken and hostile files: each gets a clear outcome, and a fatal one leaves no trace."""

from __future__ import annotations

import codecs
import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from tests.ingest.helpers import count, fixture, snapshot, stored
from tocsin.ingest.base import FatalImportError
from tocsin.ingest.runner import MAX_REPORTED_ERRORS, ingest_file
from tocsin.store import schema as s

REDUCED_HEADER = (
    "id,year,month,day,country,type_of_violence,conflict_name,side_a,side_b,latitude,"
    "longitude,low_death,best_death,high_death,type_of_violence_code,priogrid_gid_computed"
)


def reduced_row(i: int, *, day: str = "2015,4,12", lat: str = "0.49", lon: str = "29.47") -> str:
    return (
        f"{i},{day},DR Congo (Zaire),One-sided violence,ADF - Civilians,ADF,Civilians,"
        f"{lat},{lon},1,2,3,3,"
    )


def write(path, lines: list[str]) -> None:  # type: ignore[no-untyped-def]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def assert_fatal_and_untouched(engine, path, match: str) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(engine)
    with pytest.raises(FatalImportError, match=match):
        ingest_file(engine, path)
    assert snapshot(engine) == before


# --- encodings ----------------------------------------------------------------------------


def test_latin1_file_is_decoded_and_says_so(engine, tmp_path) -> None:
    path = tmp_path / "latin1.csv"
    text = f"{REDUCED_HEADER}\n" + reduced_row(1).replace("ADF,Civilians", "Séléka,Civilians")
    path.write_bytes((text + "\n").encode("latin-1"))
    report = ingest_file(engine, path)
    assert report.inserted == 1
    assert any("Windows-1252" in note for note in report.notes)
    assert any(a.name == "Séléka" for a in stored(engine, "ucdp_ged", "1").actors)


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-8-sig"])
def test_utf16_and_bom_files_are_decoded(engine, tmp_path, codec) -> None:
    path = tmp_path / f"{codec}.csv"
    text = f"{REDUCED_HEADER}\n" + reduced_row(1).replace("ADF,Civilians", "Séléka,Civilians")
    path.write_bytes((text + "\n").encode(codec))
    report = ingest_file(engine, path)
    assert (report.inserted, report.rejected) == (1, 0)
    assert any(a.name == "Séléka" for a in stored(engine, "ucdp_ged", "1").actors)


def test_utf16_json_is_recoded_for_the_streaming_parser(engine, tmp_path) -> None:
    path = tmp_path / "sv16.json"
    path.write_bytes(fixture("ii_sv_sample.json").read_text("utf-8").encode("utf-16"))
    assert ingest_file(engine, path).inserted == 2


def test_mixed_encoding_found_mid_file_is_fatal(engine, tmp_path) -> None:
    # The first 64 KiB are valid UTF-8; a Latin-1 byte far into the file must stop the import
    # and roll back everything written before it.
    rows = [reduced_row(i) for i in range(1, 3000)]
    rows.append(reduced_row(3000).replace("ADF", "S\xe9l\xe9ka"))
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        (REDUCED_HEADER + "\n" + "\n".join(rows[:-1]) + "\n").encode()
        + (rows[-1] + "\n").encode("latin-1")
    )
    assert_fatal_and_untouched(engine, path, "not valid utf-8")


def test_undecodable_bytes_are_fatal(engine, tmp_path) -> None:
    path = tmp_path / "binary.csv"
    path.write_bytes(REDUCED_HEADER.encode() + b"\n\x81\x8d\x8f\x90\x9d" * 50)
    assert_fatal_and_untouched(engine, path, "encoding cannot be determined")


# --- truncated and malformed files ------------------------------------------------------------


def test_csv_cut_mid_row_is_fatal(engine, tmp_path) -> None:
    text = fixture("ucdp_ged_sample.csv").read_text()
    path = tmp_path / "cut.csv"
    path.write_text(text[: text.rindex("Central African Republic,482")])
    assert_fatal_and_untouched(engine, path, "truncated")


def test_csv_cut_inside_a_quoted_field_is_fatal(engine, tmp_path) -> None:
    text = fixture("ucdp_api_sample.csv").read_text()
    path = tmp_path / "cut.csv"
    path.write_text(text[: text.index("second line")])
    assert_fatal_and_untouched(engine, path, "truncated")


def test_short_row_in_the_middle_is_only_rejected(engine, tmp_path) -> None:
    path = tmp_path / "short.csv"
    write(path, [REDUCED_HEADER, reduced_row(1), "2,2015,4", reduced_row(3)])
    report = ingest_file(engine, path)
    assert (report.inserted, report.rejected) == (2, 1)
    assert report.errors == [{"line": 3, "reason": "row has 3 fields, the header has 16"}]


@pytest.mark.parametrize(
    "name", ["ii_sv_sample.json", "geojson_sample.geojson", "ii_education_sample.json"]
)
def test_json_cut_short_is_fatal(engine, tmp_path, name) -> None:
    text = fixture(name).read_text()
    path = tmp_path / name
    path.write_text(text[: len(text) * 2 // 3])
    assert_fatal_and_untouched(engine, path, "malformed or truncated JSON")


def test_malformed_json_is_fatal(engine, tmp_path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('[{"SIND Event ID": 1, "Date": "2024-01-01",}]')
    assert_fatal_and_untouched(engine, path, "malformed or truncated JSON")


def test_wrong_columns_are_fatal(engine, tmp_path) -> None:
    path = tmp_path / "wrong.csv"
    write(path, ["id,type_of_violence,date_start,country", "1,3,2020-01-01,Chad"])
    assert_fatal_and_untouched(engine, path, "missing column")
    path.write_text("name,age\nalice,3\n")
    assert_fatal_and_untouched(engine, path, "cannot tell the format")


def test_a_file_without_line_breaks_is_refused_not_loaded_whole(engine, tmp_path, monkeypatch):
    monkeypatch.setattr("tocsin.ingest.csvsource.MAX_LINE_CHARS", 100_000)
    path = tmp_path / "oneline.csv"
    path.write_text(REDUCED_HEADER + "\n" + "x," * 200_000)
    assert_fatal_and_untouched(engine, path, "longer than 100,000 characters")


def test_duplicate_header_names_are_fatal(engine, tmp_path) -> None:
    path = tmp_path / "dup.csv"
    write(path, [REDUCED_HEADER + ",latitude", reduced_row(1) + ",0"])
    assert_fatal_and_untouched(engine, path, "twice")


def test_empty_and_missing_files_are_fatal(engine, tmp_path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert_fatal_and_untouched(engine, empty, "empty")
    assert_fatal_and_untouched(engine, tmp_path / "nope.csv", "no such file")
    assert_fatal_and_untouched(engine, tmp_path, "not a file")


def test_explicit_format_that_does_not_fit_is_fatal(engine) -> None:
    before = snapshot(engine)
    with pytest.raises(FatalImportError, match="not a ACLED file"):
        ingest_file(engine, fixture("ucdp_ged_sample.csv"), "acled")
    with pytest.raises(FatalImportError, match="unknown format"):
        ingest_file(engine, fixture("ucdp_ged_sample.csv"), "xlsx")
    assert snapshot(engine) == before


# --- row-level problems: rejected with line numbers, raw row kept ----------------------------


def test_out_of_range_coordinates_and_bad_dates_are_quarantined(engine, tmp_path) -> None:
    future = date.today() + timedelta(days=40)
    path = tmp_path / "rows.csv"
    write(
        path,
        [
            REDUCED_HEADER,
            reduced_row(1),
            reduced_row(2, lat="91.5"),
            reduced_row(3, lon="-180.01"),
            reduced_row(4, day="1945,12,31"),
            reduced_row(5, day=f"{future.year},{future.month},{future.day}"),
            reduced_row(6, day="1946,1,1"),
        ],
    )
    report = ingest_file(engine, path)
    assert (report.read, report.inserted, report.rejected) == (6, 2, 4)
    reasons = {e["line"]: e["reason"] for e in report.errors}
    assert "latitude 91.5 is out of range" in reasons[3]
    assert "longitude -180.01 is out of range" in reasons[4]
    assert "before 1946-01-01" in reasons[5]
    assert "in the future" in reasons[6]
    with engine.connect() as conn:
        problems = conn.execute(select(s.import_problems).order_by(s.import_problems.c.line)).all()
    assert [(p.line, p.disposition) for p in problems] == [(n, "rejected") for n in (3, 4, 5, 6)]
    assert problems[0].raw.startswith("2,2015,4,12,DR Congo (Zaire),")
    assert problems[0].import_run_id == report.run_id


def test_repeated_id_keeps_the_first_row_and_stays_idempotent(engine, tmp_path, monkeypatch):
    # A batch size of 2 puts the repeat in a later batch than the first occurrence.
    monkeypatch.setattr("tocsin.ingest.runner.BATCH_SIZE", 2)
    path = tmp_path / "dupes.csv"
    write(
        path,
        [
            REDUCED_HEADER,
            reduced_row(1),
            reduced_row(2),
            reduced_row(3),
            reduced_row(1, lat="0.55"),
        ],
    )
    first = ingest_file(engine, path)
    assert (first.inserted, first.rejected) == (3, 1)
    assert "appears again (first at line 2)" in first.errors[0]["reason"]
    assert stored(engine, "ucdp_ged", "1").latitude == 0.49
    again = ingest_file(engine, path)
    assert (again.inserted, again.updated, again.unchanged, again.rejected) == (0, 0, 3, 1)


def test_error_list_is_capped_but_the_count_is_not(sqlite_engine, tmp_path) -> None:
    n = MAX_REPORTED_ERRORS + 50
    path = tmp_path / "many.csv"
    write(path, [REDUCED_HEADER, *(reduced_row(i, lat="99") for i in range(n))])
    report = ingest_file(sqlite_engine, path)
    assert report.rejected == n
    assert len(report.errors) == MAX_REPORTED_ERRORS
    assert count(sqlite_engine, s.import_problems) == n  # all kept for the analyst
    summary = report.to_json()
    assert set(summary) == {"read", "inserted", "updated", "unchanged", "rejected", "errors"}
    json.dumps(summary)


def test_newer_version_updates_only_changed_rows(engine, tmp_path) -> None:
    path = tmp_path / "v1.csv"
    write(path, [REDUCED_HEADER, *(reduced_row(i) for i in range(1, 6))])
    assert ingest_file(engine, path).inserted == 5
    write(
        path,
        [
            REDUCED_HEADER,
            *(reduced_row(i) for i in range(1, 5)),
            reduced_row(5, lat="0.7"),
            reduced_row(6),
        ],
    )
    report = ingest_file(engine, path)
    assert (report.inserted, report.updated, report.unchanged) == (1, 1, 4)
    assert stored(engine, "ucdp_ged", "5").latitude == 0.7
    assert count(engine) == 6


# --- CSV injection --------------------------------------------------------------------------

INJECTIONS = [
    '=cmd|" /C calc"!A0',
    "+SUM(1+1)",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
    '=HYPERLINK("http://example.invalid","click")',
]


def test_csv_injection_text_is_stored_verbatim_and_escaped_on_export(engine, tmp_path) -> None:
    import csv
    import io

    from tocsin.store.export import event_to_record, unescape_cell, write_csv
    from tocsin.store.reads import hydrate

    header = fixture("acled_sample.csv").read_text().splitlines()[0]
    path = tmp_path / "inject.csv"
    out = io.StringIO()
    writer = csv.writer(out)  # CRLF terminator: fields holding \r or \n get quoted
    writer.writerow(header.split(","))
    for i, text in enumerate(INJECTIONS):
        writer.writerow(
            [
                f"INJ{i}",
                "2024-02-03",
                "2024",
                "1",
                "Political violence",
                "Violence against civilians",
                "Attack",
                text,
                "",
                "2",
                "Civilians",
                "",
                "7",
                "27",
                "Civilian targeting",
                "140",
                "Middle Africa",
                "Central African Republic",
                "Ouham",
                "",
                "",
                text,
                "6.49",
                "17.45",
                "1",
                text,
                "Local",
                text,
                "1",
                "",
                "0",
            ]
        )
    path.write_bytes(out.getvalue().encode("utf-8"))
    report = ingest_file(engine, path)
    assert (report.inserted, report.rejected) == (len(INJECTIONS), 0)

    for i, text in enumerate(INJECTIONS):
        ev = stored(engine, "acled", f"INJ{i}")
        # Stored exactly as received (the leading whitespace of \t/\r is part of the text
        # only inside a field, and clean_text strips the edges, so compare stripped).
        assert ev.description == text.strip()
        assert ev.place_name == text.strip()
        assert ev.sources[0].name == text.strip()

    with engine.connect() as conn:
        stored_events = hydrate(conn, conn.execute(select(s.events)).all())
    exported = io.StringIO()
    write_csv((event_to_record(x) for x in stored_events), exported)
    rows = list(csv.DictReader(io.StringIO(exported.getvalue())))
    assert len(rows) == len(INJECTIONS)
    for row in rows:
        for field in ("description", "place_name", "perpetrators", "sources", "title"):
            cell = row[field]
            assert not cell or cell[0] not in "=+-@\t\r", (field, cell)
        original = INJECTIONS[int(row["original_id"][3:])].strip()
        assert unescape_cell(row["description"]) == original


def test_bom_is_not_part_of_the_first_column_name(engine, tmp_path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(codecs.BOM_UTF8 + (REDUCED_HEADER + "\n" + reduced_row(1) + "\n").encode())
    assert ingest_file(engine, path).inserted == 1
