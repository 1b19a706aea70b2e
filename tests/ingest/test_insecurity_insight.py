"""Insecurity Insight JSON: mapping, the tier rule, streaming, and the four real files."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date

import pytest

from tests.ingest.helpers import count, fixture, stored
from tocsin.domain.taxonomy import (
    ActType,
    CaseClass,
    DatePrecision,
    LocationPrecision,
    SensitivityTier,
)
from tocsin.ingest.insecurity_insight import ID_KEYS
from tocsin.ingest.runner import detect_format, ingest_file
from tocsin.store import schema as s


def test_sexual_violence_records_are_restricted_or_confidential(engine) -> None:
    path = fixture("ii_sv_sample.json")
    assert detect_format(path) == "insecurity_insight"
    report = ingest_file(engine, path)
    assert (report.dataset, report.inserted, report.rejected) == ("insecurity_insight_sv", 2, 0)

    adult = stored(engine, "insecurity_insight_sv", "990001")
    assert adult.case_class is CaseClass.SEXUAL_VIOLENCE
    assert adult.sensitivity is SensitivityTier.RESTRICTED
    assert adult.act_types == (ActType.SEXUAL_VIOLENCE,)
    assert adult.date_precision is DatePrecision.MONTH  # "January 2024: ..."
    assert adult.location_precision is LocationPrecision.NEAR
    assert adult.perpetrators[0].name == "Test Armed Group"
    assert adult.victims[0].female == 1 and adult.victims[0].adults == 1

    minors = stored(engine, "insecurity_insight_sv", "990002")
    assert minors.sensitivity is SensitivityTier.CONFIDENTIAL  # a minor is involved
    assert minors.latitude is None and minors.longitude is None  # censored by HDX
    assert minors.location_precision is LocationPrecision.COUNTRY
    assert minors.date_precision is DatePrecision.DAY  # "12 January 2024: ..."
    assert minors.perpetrators == ()  # "No Information" is not an actor
    assert minors.fatalities_best == 1
    assert set(minors.act_types) == {ActType.SEXUAL_VIOLENCE, ActType.KILLING}
    assert minors.victims[0].children == 2


def test_education_records(engine) -> None:
    report = ingest_file(engine, fixture("ii_education_sample.json"))
    assert (report.dataset, report.inserted) == ("insecurity_insight_education", 2)
    school = stored(engine, "insecurity_insight_education", "990101")
    assert school.act_types == (ActType.ATTACK_ON_SCHOOL,)
    assert school.sensitivity is SensitivityTier.PUBLIC
    assert school.location_precision is LocationPrecision.ADMIN2
    assert school.date_start == date(2023, 5, 2)
    abduction = stored(engine, "insecurity_insight_education", "990102")
    assert ActType.ABDUCTION in abduction.act_types
    assert abduction.case_class is CaseClass.CHILDREN  # students kidnapped
    assert abduction.sensitivity is SensitivityTier.RESTRICTED


def test_description_mentioning_rape_makes_any_record_sexual_violence(engine, tmp_path) -> None:
    records = json.loads(fixture("ii_education_sample.json").read_text())
    records[0]["Event Description"] = "02 May 2023: A student was raped by a teacher."
    path = tmp_path / "edu.json"
    path.write_text(json.dumps(records))
    ingest_file(engine, path)
    ev = stored(engine, "insecurity_insight_education", "990101")
    assert ev.case_class is CaseClass.SEXUAL_VIOLENCE
    assert ev.sensitivity >= SensitivityTier.RESTRICTED


def test_bad_records_are_rejected_with_their_position(engine, tmp_path) -> None:
    records = json.loads(fixture("ii_sv_sample.json").read_text())
    no_id = dict(records[0])
    del no_id["SIND Event ID"]
    bad_date = dict(records[0], **{"SIND Event ID": 5, "Date": "last week"})
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([records[0], no_id, "not an object", bad_date]))
    report = ingest_file(engine, path)
    assert (report.inserted, report.rejected) == (1, 3)
    assert [e["line"] for e in report.errors] == [2, 3, 4]


def test_a_json_file_that_is_not_insecurity_insight_is_refused(engine, tmp_path) -> None:
    from tocsin.ingest.base import FatalImportError

    path = tmp_path / "other.json"
    path.write_text('[{"name": "x"}]')
    with pytest.raises(FatalImportError, match="not Insecurity Insight"):
        ingest_file(engine, path)
    with pytest.raises(FatalImportError, match="not Insecurity Insight"):
        ingest_file(engine, path, "insecurity_insight")


@pytest.mark.parametrize(
    ("name", "dataset", "expected"),
    [
        ("sv.json", "insecurity_insight_sv", 1829),
        ("education.json", "insecurity_insight_education", 2428),
        ("protection.json", "insecurity_insight_protection", 1414),
        ("aidWorkerKIKA.json", "insecurity_insight_aid_workers", 1299),
    ],
)
def test_real_files_counts_tiers_and_reimport(
    sqlite_engine, shared_file, name, dataset, expected
) -> None:
    path = shared_file(f"insecurity_insight/{name}")
    records = json.loads(path.read_text())
    ids = [next(r[k] for k in ID_KEYS if k in r) for r in records]
    assert len(ids) == len(set(ids)) == expected  # every record is a distinct incident

    first = ingest_file(sqlite_engine, path)
    assert (first.dataset, first.read, first.inserted, first.rejected) == (
        dataset,
        expected,
        expected,
        0,
    )
    events = s.events
    if name == "sv.json":
        assert count(sqlite_engine, events, events.c.case_class == "sexual_violence") == expected
        below = events.c.sensitivity.in_(["public", "internal"])
        assert count(sqlite_engine, events, below) == 0
    censored = sum("censored" in (r.get("Geo Precision") or "") for r in records)
    assert count(sqlite_engine, events, events.c.latitude.is_(None)) >= censored
    again = ingest_file(sqlite_engine, path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, expected)


def test_the_same_incident_in_two_files_stays_two_records(sqlite_engine, shared_file) -> None:
    """The files share some SiND ids (one incident seen from two angles); neither import may
    overwrite the other, so an SV record never loses its tier through another file."""
    sv = shared_file("insecurity_insight/sv.json")
    protection = shared_file("insecurity_insight/protection.json")
    sv_ids = {str(r["SIND Event ID"]) for r in json.loads(sv.read_text())}
    shared = sv_ids & {str(r["SiND ID"]) for r in json.loads(protection.read_text())}
    assert shared  # the real files do overlap
    ingest_file(sqlite_engine, sv)
    ingest_file(sqlite_engine, protection)
    tiers = Counter(
        stored(sqlite_engine, "insecurity_insight_sv", i).sensitivity for i in list(shared)[:10]
    )
    assert set(tiers) <= {SensitivityTier.RESTRICTED, SensitivityTier.CONFIDENTIAL}
