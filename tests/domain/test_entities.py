"""Domain invariants: what makes an event invalid, stable ids, content hashes."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from tocsin.domain.entities import Event, Provenance, stable_uid
from tocsin.domain.grading import (
    InformationCredibility,
    SourceReliability,
    format_grade,
    parse_grade,
)
from tocsin.domain.taxonomy import LocationPrecision, SensitivityTier, ViolenceType

TODAY = date(2026, 11, 21)


def _event(**kw: object) -> Event:
    base = Event(
        Provenance("test", "1"), date(2020, 5, 1), date(2020, 5, 1), latitude=4.0, longitude=18.0
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def test_valid_event_has_no_problems() -> None:
    assert _event().problems(TODAY) == []


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"date_start": date(1945, 12, 31)}, "before 1946"),
        ({"date_end": date(2027, 1, 1)}, "in the future"),
        ({"date_start": date(2020, 5, 2)}, "before date_start"),
        ({"latitude": 91.0}, "latitude 91.0 is out of range"),
        ({"longitude": -180.5}, "longitude -180.5 is out of range"),
        ({"latitude": None}, "both be given"),
        ({"fatalities_best": -1}, "negative"),
        ({"fatalities_low": 5, "fatalities_best": 2, "fatalities_high": 9}, "low <= best <= high"),
        ({"country_iso3": "C1"}, "3-letter"),
    ],
)
def test_invalid_events_are_named(changes: dict[str, object], fragment: str) -> None:
    problems = _event(**changes).problems(TODAY)
    assert any(fragment in p for p in problems), problems


def test_stable_uid_is_deterministic_and_dataset_scoped() -> None:
    assert stable_uid("ucdp_ged", "42") == stable_uid("ucdp_ged", "42")
    assert stable_uid("ucdp_ged", "42") != stable_uid("acled", "42")
    assert _event().uid == stable_uid("test", "1")


def test_content_hash_changes_with_content_only() -> None:
    a, b = _event(), _event()
    assert a.content_hash() == b.content_hash()
    assert _event(fatalities_best=3).content_hash() != a.content_hash()


def test_tiers_are_ordered() -> None:
    tiers = [SensitivityTier.CONFIDENTIAL, SensitivityTier.PUBLIC, SensitivityTier.RESTRICTED]
    assert sorted(tiers) == [
        SensitivityTier.PUBLIC,
        SensitivityTier.RESTRICTED,
        SensitivityTier.CONFIDENTIAL,
    ]
    assert SensitivityTier.INTERNAL <= SensitivityTier.RESTRICTED


def test_ucdp_codes_round_trip() -> None:
    for vt in ViolenceType:
        assert ViolenceType.from_ucdp(vt.ucdp_code) is vt
    with pytest.raises(ValueError, match="unknown UCDP"):
        ViolenceType.from_ucdp(4)
    assert LocationPrecision.NEAR.is_precise and not LocationPrecision.ADMIN2.is_precise


def test_admiralty_grades_parse_and_reject() -> None:
    assert parse_grade(" b2 ") == (SourceReliability.B, InformationCredibility.PROBABLY_TRUE)
    assert format_grade(SourceReliability.F, InformationCredibility.CANNOT_BE_JUDGED) == "F6"
    for bad in ("G1", "A7", "A", "AB2", ""):
        with pytest.raises(ValueError, match="Admiralty"):
            parse_grade(bad)
