"""ACLED CSV, on rows written for these tests only (ACLED data may not be redistributed)."""

from __future__ import annotations

from datetime import date

import pytest

from tests.ingest.helpers import fixture, stored
from tocsin.domain.grading import InformationCredibility, SourceReliability
from tocsin.domain.taxonomy import (
    ActorKind,
    ActorRole,
    ActType,
    CaseClass,
    DatePrecision,
    LocationPrecision,
    PocThreatCategory,
    SensitivityTier,
    ViolenceType,
)
from tocsin.ingest.acled import classify_event_type, parse_acled_date
from tocsin.ingest.runner import detect_format, ingest_file


def test_codebook_columns_map_to_the_domain(engine) -> None:
    path = fixture("acled_sample.csv")
    assert detect_format(path) == "acled"
    report = ingest_file(engine, path)
    assert (report.read, report.inserted, report.rejected) == (6, 6, 0)

    attack = stored(engine, "acled", "TST1001")
    assert attack.violence_type is ViolenceType.ONE_SIDED
    assert attack.act_types == (ActType.KILLING,)
    assert attack.threat_category is PocThreatCategory.ATTACK_ON_CIVILIANS
    assert attack.fatalities_best == attack.civilian_fatalities == 3
    assert attack.country_iso3 == "CAF"  # ISO numeric 140
    assert attack.location_precision is LocationPrecision.EXACT
    assert attack.sensitivity is SensitivityTier.INTERNAL  # ACLED may not be republished
    links = {(a.name, a.role, a.kind) for a in attack.actors}
    assert ("Test Armed Group", ActorRole.PERPETRATOR, ActorKind.ARMED_GROUP) in links
    assert ("Civilians (Central African Republic)", ActorRole.TARGET, ActorKind.CIVILIANS) in links
    assert ("Farmers (Central African Republic)", ActorRole.TARGET, ActorKind.UNKNOWN) in links
    assert [x.name for x in attack.sources] == ["Radio Test", "Test Monitor"]
    assert {(x.reliability, x.credibility) for x in attack.sources} == {
        (SourceReliability.B, InformationCredibility.POSSIBLY_TRUE)
    }
    assert attack.description.startswith("On 3 February 2024")

    sexual = stored(engine, "acled", "TST1002")
    assert sexual.date_start == date(2024, 1, 15)  # "15 January 2024"
    assert sexual.date_precision is DatePrecision.WEEK
    assert sexual.location_precision is LocationPrecision.NEAR
    assert sexual.act_types == (ActType.SEXUAL_VIOLENCE,)
    assert sexual.case_class is CaseClass.SEXUAL_VIOLENCE
    assert sexual.sensitivity is SensitivityTier.RESTRICTED
    assert sexual.threat_category is PocThreatCategory.CONFLICT_RELATED_SEXUAL_VIOLENCE

    clash = stored(engine, "acled", "TST1003")
    assert clash.violence_type is ViolenceType.STATE_BASED  # state forces on one side
    assert clash.act_types == (ActType.ARMED_CLASH,)
    assert {a.role for a in clash.actors} == {ActorRole.SIDE_A, ActorRole.SIDE_B}
    assert clash.civilian_fatalities is None

    abduction = stored(engine, "acled", "TST1004")
    assert abduction.act_types == (ActType.ABDUCTION,)  # inter codes given as numbers
    assert abduction.location_precision is LocationPrecision.ADMIN1
    assert abduction.description.startswith("=HYPERLINK(")  # stored verbatim

    looting = stored(engine, "acled", "TST1005")
    assert set(looting.act_types) == {ActType.LOOTING, ActType.PROPERTY_DESTRUCTION}
    assert looting.threat_category is PocThreatCategory.ATTACK_ON_CIVILIAN_OBJECTS

    protest = stored(engine, "acled", "TST1006")
    assert protest.violence_type is None and protest.threat_category is None


def test_upper_case_headers_of_older_exports_are_accepted(engine, tmp_path) -> None:
    text = fixture("acled_sample.csv").read_text()
    header, rest = text.split("\n", 1)
    path = tmp_path / "upper.csv"
    path.write_text(header.upper() + "\n" + rest)
    assert ingest_file(engine, path, "acled").inserted == 6


def test_unknown_codes_reject_the_row(engine, tmp_path) -> None:
    lines = fixture("acled_sample.csv").read_text().splitlines()
    bad = lines[1].replace("TST1001", "TST9").replace(",1,Radio Test;", ",7,Radio Test;")
    bad_date = lines[1].replace("TST1001", "TST8").replace("2024-02-03", "Feb the 3rd")
    path = tmp_path / "bad.csv"
    path.write_text("\n".join([lines[0], bad, bad_date]) + "\n")
    report = ingest_file(engine, path)
    assert report.rejected == 2
    assert "geo_precision 7" in report.errors[0]["reason"]
    assert "event_date" in report.errors[1]["reason"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-05", date(2024, 1, 5)),
        ("05 January 2024", date(2024, 1, 5)),
        ("05-January-2024", date(2024, 1, 5)),
        ("05/01/2024", date(2024, 1, 5)),
    ],
)
def test_acled_date_spellings(text, expected) -> None:
    assert parse_acled_date(text) == expected


def test_event_type_labels_classify() -> None:
    assert classify_event_type("one_sided") == ("one_sided", [], None)
    assert classify_event_type("3") == ("one_sided", [], None)
    violence, acts, threat = classify_event_type("Sexual violence")
    assert (violence, acts, threat) == (
        "one_sided",
        ["sexual_violence"],
        "conflict_related_sexual_violence",
    )
    assert classify_event_type("Armed clash")[1] == ["armed_clash"]
    assert classify_event_type("Peaceful protest") == (None, ["other"], None)
