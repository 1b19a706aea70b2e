"""Lossless JSON-able snapshots of events, so a merge can be stored and undone exactly."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from enum import Enum
from typing import Any

from tocsin.domain.entities import (
    ActorLink,
    Event,
    Provenance,
    SourceRef,
    VictimGroup,
)
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

SNAPSHOT_VERSION = 1


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def event_to_dict(event: Event) -> dict[str, Any]:
    """Every field of the event as JSON types (enums by value, dates ISO)."""
    return {"v": SNAPSHOT_VERSION, **_plain(asdict(event))}


def _opt_date(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def event_from_dict(data: dict[str, Any]) -> Event:
    """Inverse of :func:`event_to_dict`; raises ValueError on anything it did not write."""
    if data.get("v") != SNAPSHOT_VERSION:
        raise ValueError(f"unsupported event snapshot version {data.get('v')!r}")
    try:
        return Event(
            provenance=Provenance(**data["provenance"]),
            date_start=date.fromisoformat(data["date_start"]),
            date_end=date.fromisoformat(data["date_end"]),
            date_precision=DatePrecision(data["date_precision"]),
            latitude=data["latitude"],
            longitude=data["longitude"],
            location_precision=(
                None
                if data["location_precision"] is None
                else LocationPrecision(data["location_precision"])
            ),
            country_iso3=data["country_iso3"],
            country_name=data["country_name"],
            admin1_pcode=data["admin1_pcode"],
            admin1_name=data["admin1_name"],
            admin2_pcode=data["admin2_pcode"],
            admin2_name=data["admin2_name"],
            place_name=data["place_name"],
            priogrid_gid=data["priogrid_gid"],
            violence_type=(
                None if data["violence_type"] is None else ViolenceType(data["violence_type"])
            ),
            threat_category=(
                None
                if data["threat_category"] is None
                else PocThreatCategory(data["threat_category"])
            ),
            act_types=tuple(ActType(a) for a in data["act_types"]),
            actors=tuple(
                ActorLink(name=a["name"], role=ActorRole(a["role"]), kind=ActorKind(a["kind"]))
                for a in data["actors"]
            ),
            victims=tuple(VictimGroup(**v) for v in data["victims"]),
            fatalities_best=data["fatalities_best"],
            fatalities_low=data["fatalities_low"],
            fatalities_high=data["fatalities_high"],
            civilian_fatalities=data["civilian_fatalities"],
            sources=tuple(
                SourceRef(
                    name=s["name"],
                    reference=s["reference"],
                    published=_opt_date(s["published"]),
                    reliability=SourceReliability(s["reliability"]),
                    credibility=InformationCredibility(s["credibility"]),
                )
                for s in data["sources"]
            ),
            sensitivity=SensitivityTier(data["sensitivity"]),
            case_class=CaseClass(data["case_class"]),
            title=data["title"],
            description=data["description"],
            uid=data["uid"],
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"malformed event snapshot: {exc}") from exc
