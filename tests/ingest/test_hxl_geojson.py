"""HXL-tagged CSV and GeoJSON: hand-written files, the DTM refusal, and export round trips."""

from __future__ import annotations

import io
from datetime import date

import pytest
from sqlalchemy import select

from tests.ingest.helpers import count, fixture, snapshot, stored
from tocsin.domain.grading import InformationCredibility, SourceReliability
from tocsin.domain.taxonomy import (
    ActorRole,
    ActType,
    CaseClass,
    DatePrecision,
    SensitivityTier,
    ViolenceType,
)
from tocsin.ingest.base import FatalImportError
from tocsin.ingest.runner import detect_format, ingest_file
from tocsin.store import schema as s


def test_hxl_incidents_with_common_hashtags(engine) -> None:
    path = fixture("hxl_incidents_sample.csv")
    assert detect_format(path) == "hxl"
    report = ingest_file(engine, path)
    assert (report.dataset, report.inserted, report.rejected) == (
        "hxl:hxl_incidents_sample",
        2,
        1,
    )
    assert report.errors == [{"line": 5, "reason": "latitude 95.0 is out of range [-90, 90]"}]
    ev = stored(engine, "hxl:hxl_incidents_sample", "INC-1")
    assert ev.date_start == date(2024, 4, 1)
    assert (ev.admin1_pcode, ev.admin1_name, ev.country_iso3) == ("CF32", "Ouham", "CAF")
    assert ev.violence_type is ViolenceType.ONE_SIDED  # "Violence against civilians"
    assert ev.act_types == (ActType.KILLING,)
    assert ev.fatalities_best == 2
    assert ev.perpetrators[0].name == "Test Armed Group"
    assert ev.sources[0].name == "Radio Test"
    assert ev.sources[0].reliability is SourceReliability.F  # not graded in the file
    assert ev.sensitivity is SensitivityTier.INTERNAL  # unknown origin: not public
    clash = stored(engine, "hxl:hxl_incidents_sample", "INC-2")
    assert clash.act_types == (ActType.ARMED_CLASH,)


def test_iom_dtm_figures_are_refused_with_an_explanation(engine, shared_file) -> None:
    path = shared_file("iom_dtm/iom_dtm_idps_admin0_2_afg_hti_tcd.csv")
    assert detect_format(path) == "hxl"
    before = snapshot(engine)
    with pytest.raises(FatalImportError, match="displacement figures"):
        ingest_file(engine, path)
    assert snapshot(engine) == before


def test_hxl_without_incident_ids_is_refused(engine, tmp_path) -> None:
    path = tmp_path / "pop.csv"
    path.write_text("Admin,Population\n#adm1+name,#population\nOuham,100\n")
    with pytest.raises(FatalImportError, match="no incident id column"):
        ingest_file(engine, path)


def test_geojson_features(engine) -> None:
    path = fixture("geojson_sample.geojson")
    assert detect_format(path) == "geojson"
    report = ingest_file(engine, path, dataset_version="2024-05")
    assert (report.read, report.inserted, report.rejected) == (3, 2, 1)
    assert report.errors == [{"line": 3, "reason": "geometry Polygon is not a Point"}]
    ev = stored(engine, "geojson:field_reports", "FR-1")
    assert (ev.latitude, ev.longitude) == (6.4927, 17.4552)  # [lon, lat] in the file
    assert ev.date_precision is DatePrecision.WITHIN_WEEK
    assert set(ev.act_types) == {ActType.KILLING, ActType.LOOTING}
    assert [(a.name, a.role) for a in ev.actors] == [
        ("Test Armed Group", ActorRole.PERPETRATOR),
        ("Civilians", ActorRole.TARGET),
    ]
    assert [(x.name, x.reliability, x.credibility) for x in ev.sources] == [
        ("Patrol report", SourceReliability.B, InformationCredibility.PROBABLY_TRUE),
        ("Radio Test", SourceReliability.C, InformationCredibility.POSSIBLY_TRUE),
    ]
    assert ev.victims[0].count == 2 and ev.victims[0].female == 1
    assert ev.provenance.dataset_version == "2024-05"
    # A sexual-violence case marked public in the file is raised to restricted (warning).
    sv = stored(engine, "geojson:field_reports", "FR-2")
    assert sv.case_class is CaseClass.SEXUAL_VIOLENCE
    assert sv.sensitivity is SensitivityTier.RESTRICTED
    assert sv.latitude is None
    assert report.warnings == 1


def test_geojson_that_is_not_a_feature_collection_is_fatal(engine, tmp_path) -> None:
    path = tmp_path / "x.geojson"
    path.write_text('{"type": "FeatureCollection", "name": "empty"}')
    with pytest.raises(FatalImportError, match="no 'features' array"):
        ingest_file(engine, path)
    path.write_text('{"type": "Point", "coordinates": [1, 2]}')
    with pytest.raises(FatalImportError, match="not a GeoJSON FeatureCollection"):
        ingest_file(engine, path)


def _exported(engine, writer_name: str) -> str:  # type: ignore[no-untyped-def]
    from tocsin.store import export
    from tocsin.store.reads import hydrate

    with engine.connect() as conn:
        events = hydrate(conn, conn.execute(select(s.events).order_by(s.events.c.id)).all())
    out = io.StringIO()
    export.WRITERS[writer_name]((export.event_to_record(x) for x in events), out)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["geojson", "hxl"])
def test_export_round_trip(engine, tmp_path, fmt) -> None:
    """An export of UCDP events imports back as the same events (under geojson:/hxl: so that
    the richer original is never overwritten), and re-importing it changes nothing."""
    ingest_file(engine, fixture("ucdp_ged_sample.csv"))
    ingest_file(engine, fixture("acled_sample.csv"))
    path = tmp_path / f"export.{'geojson' if fmt == 'geojson' else 'csv'}"
    path.write_text(_exported(engine, fmt), encoding="utf-8")
    assert detect_format(path) == fmt
    report = ingest_file(engine, path)
    assert (report.inserted, report.rejected) == (9, 0)
    for dataset, original_id in (("ucdp_ged", "900001"), ("acled", "TST1004")):
        source = stored(engine, dataset, original_id)
        copy = stored(engine, f"{fmt}:{dataset}", original_id)
        for field in (
            "date_start",
            "date_end",
            "date_precision",
            "latitude",
            "longitude",
            "location_precision",
            "country_iso3",
            "admin1_name",
            "priogrid_gid",
            "violence_type",
            "threat_category",
            "act_types",
            "fatalities_best",
            "fatalities_low",
            "fatalities_high",
            "civilian_fatalities",
            "sensitivity",
            "case_class",
            "title",
            "description",
        ):
            assert getattr(copy, field) == getattr(source, field), field
        assert [(a.name, a.role) for a in copy.actors] == [(a.name, a.role) for a in source.actors]
        assert [(x.name, x.reliability, x.credibility) for x in copy.sources] == [
            (x.name, x.reliability, x.credibility) for x in source.sources
        ]
    # The CSV-injection text of TST1004 came back exactly (HXL cells are un-escaped).
    assert stored(engine, f"{fmt}:acled", "TST1004").description.startswith("=HYPERLINK(")
    again = ingest_file(engine, path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 9)
    assert count(engine) == 18
