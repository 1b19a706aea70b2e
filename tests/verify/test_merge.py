"""Merging events and undoing the merge exactly."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from tocsin.domain.entities import ActorLink, Event, Provenance, SourceRef, VictimGroup
from tocsin.domain.grading import InformationCredibility, SourceReliability
from tocsin.domain.taxonomy import (
    ActorKind,
    ActorRole,
    ActType,
    CaseClass,
    LocationPrecision,
    SensitivityTier,
)
from tocsin.verify.merge import Merge, MergeConflict, MergeError, merge_events, undo_merge
from tocsin.verify.snapshot import event_from_dict, event_to_dict

NOW = datetime(2024, 5, 20, 9, 0, tzinfo=UTC)


def events() -> tuple[Event, Event, Event]:
    survivor = Event(
        provenance=Provenance("sms", "tw:1"),
        date_start=date(2024, 5, 1),
        date_end=date(2024, 5, 1),
        latitude=6.5,
        longitude=20.6,
        location_precision=LocationPrecision.ADMIN2,
        act_types=(ActType.KILLING,),
        actors=(ActorLink("UPC", ActorRole.PERPETRATOR, ActorKind.ARMED_GROUP),),
        fatalities_best=4,
        sources=(SourceRef("community alert network"),),
        description="ALERT Ndele KIL 4",
    )
    member = Event(
        provenance=Provenance("odk", "uuid:2"),
        date_start=date(2024, 4, 30),
        date_end=date(2024, 5, 2),
        latitude=6.51,
        longitude=20.62,
        location_precision=LocationPrecision.EXACT,
        act_types=(ActType.KILLING, ActType.LOOTING),
        actors=(ActorLink("upc ", ActorRole.PERPETRATOR), ActorLink("FPRC", ActorRole.SIDE_B)),
        fatalities_low=3,
        fatalities_best=6,
        fatalities_high=8,
        victims=(VictimGroup("traders", count=6),),
        sources=(
            SourceRef(
                "patrol",
                reliability=SourceReliability.B,
                credibility=InformationCredibility.PROBABLY_TRUE,
            ),
        ),
        sensitivity=SensitivityTier.RESTRICTED,
        case_class=CaseClass.SEXUAL_VIOLENCE,
    )
    third = Event(
        provenance=Provenance("web", "r3"),
        date_start=date(2024, 5, 1),
        date_end=date(2024, 5, 1),
        case_class=CaseClass.MISSION_PERSONNEL_MISCONDUCT,
        sensitivity=SensitivityTier.CONFIDENTIAL,
    )
    return survivor, member, third


def test_snapshot_round_trip_is_exact() -> None:
    for event in events():
        data = json.loads(json.dumps(event_to_dict(event)))
        assert event_from_dict(data) == event


@pytest.mark.parametrize("data", [{}, {"v": 99}, {"v": 1, "provenance": {}}])
def test_snapshot_rejects_foreign_data(data: dict) -> None:
    with pytest.raises(ValueError):
        event_from_dict(data)


def test_merge_combines_without_double_counting_or_lowering_protection() -> None:
    survivor, member, third = events()
    merged, record, audit = merge_events(
        survivor, [member, third], merged_by="u-analyst", reason="same attack", now=NOW
    )
    assert merged.uid == survivor.uid
    assert merged.problems(date(2024, 6, 1)) == []
    assert (merged.date_start, merged.date_end) == (date(2024, 4, 30), date(2024, 5, 2))
    assert merged.location_precision is LocationPrecision.EXACT  # most precise point wins
    assert merged.latitude == member.latitude
    assert merged.act_types == (ActType.KILLING, ActType.LOOTING)
    assert [a.name for a in merged.actors] == ["UPC", "FPRC"]  # "upc " is the same actor
    assert (merged.fatalities_low, merged.fatalities_best, merged.fatalities_high) == (3, 4, 8)
    assert len(merged.sources) == 2
    assert merged.sensitivity is SensitivityTier.CONFIDENTIAL
    assert merged.case_class is CaseClass.MISSION_PERSONNEL_MISCONDUCT
    assert merged.victims == member.victims
    assert record.member_ids == (member.uid, third.uid)
    assert audit.action == "event.merged" and audit.subject_id == survivor.uid
    assert "same attack" not in json.dumps(audit.to_dict())  # reasons stay in the record


def test_undo_restores_exactly_and_round_trips_through_storage() -> None:
    survivor, member, third = events()
    merged, record, _ = merge_events(
        survivor, [member, third], merged_by="u1", reason="dup", now=NOW, merge_id="m-1"
    )
    stored = json.loads(json.dumps(record.to_dict()))
    restored, audit = undo_merge(Merge.from_dict(stored), merged, undone_by="u2", now=NOW)
    assert restored == [survivor, member, third]
    assert audit.action == "event.merge_undone"
    assert audit.details["discarded_later_edits"] is False


def test_undo_refuses_to_lose_later_edits_unless_forced() -> None:
    survivor, member, _ = events()
    merged, record, _ = merge_events(survivor, [member], merged_by="u1", reason="dup", now=NOW)
    edited = replace(merged, description="corrected by an officer")
    with pytest.raises(MergeConflict):
        undo_merge(record, edited, undone_by="u2", now=NOW)
    restored, audit = undo_merge(record, edited, undone_by="u2", now=NOW, force=True)
    assert restored[0] == survivor
    assert audit.details["discarded_later_edits"] is True
    with pytest.raises(MergeError, match="not the survivor"):
        undo_merge(record, member, undone_by="u2", now=NOW)


@pytest.mark.parametrize(
    ("members", "reason", "now", "message"),
    [
        ([], "x", NOW, "nothing to merge"),
        (None, "   ", NOW, "reason"),
        (None, "x" * 5000, NOW, "longer"),
        (None, "x", datetime(2024, 5, 20), "timezone"),
    ],
)
def test_merge_rejects_bad_requests(members, reason: str, now: datetime, message: str) -> None:
    survivor, member, _ = events()
    with pytest.raises(MergeError, match=message):
        merge_events(
            survivor,
            [member] if members is None else members,
            merged_by="u",
            reason=reason,
            now=now,
        )


def test_merge_rejects_self_and_tampered_records() -> None:
    survivor, member, _ = events()
    with pytest.raises(MergeError, match="itself"):
        merge_events(survivor, [survivor], merged_by="u", reason="x", now=NOW)
    _, record, _ = merge_events(survivor, [member], merged_by="u", reason="x", now=NOW)
    data = record.to_dict()
    data["member_ids"] = ["someone-else"]
    with pytest.raises(MergeError, match="snapshots"):
        Merge.from_dict(data)
    with pytest.raises(MergeError, match="version"):
        Merge.from_dict({**record.to_dict(), "v": 2})
    with pytest.raises(MergeError, match="malformed"):
        Merge.from_dict({"v": 1})
