"""Entities of the event model (HURIDOCS ESF: event, act, victim, perpetrator, source)."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date
from enum import Enum

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

# Namespace for stable ids derived from (dataset, original id): the same record always maps to
# the same uid, on any machine, so re-imports and merges between stores line up.
TOCSIN_NAMESPACE = uuid.UUID("6f1c1f3e-2f6b-5d0a-9d1e-7c0c5e1a7b11")

EARLIEST_DATE = date(1946, 1, 1)


def stable_uid(dataset: str, original_id: str) -> str:
    return str(uuid.uuid5(TOCSIN_NAMESPACE, f"{dataset}:{original_id}"))


@dataclass(slots=True, frozen=True)
class Provenance:
    """Where a record came from; ``(dataset, original_id)`` is unique in the store."""

    dataset: str
    original_id: str
    dataset_version: str | None = None


@dataclass(slots=True, frozen=True)
class SourceRef:
    name: str
    reference: str | None = None
    published: date | None = None
    reliability: SourceReliability = SourceReliability.F
    credibility: InformationCredibility = InformationCredibility.CANNOT_BE_JUDGED


@dataclass(slots=True, frozen=True)
class VictimGroup:
    """A group of victims; counts are ``None`` when unknown, never guessed."""

    description: str
    count: int | None = None
    female: int | None = None
    male: int | None = None
    children: int | None = None
    adults: int | None = None


@dataclass(slots=True, frozen=True)
class ActorLink:
    name: str
    role: ActorRole
    kind: ActorKind = ActorKind.UNKNOWN


@dataclass(slots=True, frozen=True)
class Actor:
    name: str
    kind: ActorKind = ActorKind.UNKNOWN
    aliases: tuple[str, ...] = ()
    country_iso3: str | None = None


@dataclass(slots=True, frozen=True)
class Place:
    """A gazetteer entry."""

    name: str
    country_iso3: str
    admin_level: int
    pcode: str | None = None
    parent_pcode: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    alt_names: tuple[str, ...] = ()


@dataclass(slots=True)
class Event:
    provenance: Provenance
    date_start: date
    date_end: date
    date_precision: DatePrecision = DatePrecision.DAY
    latitude: float | None = None
    longitude: float | None = None
    location_precision: LocationPrecision | None = None
    country_iso3: str | None = None
    country_name: str | None = None
    admin1_pcode: str | None = None
    admin1_name: str | None = None
    admin2_pcode: str | None = None
    admin2_name: str | None = None
    place_name: str | None = None
    priogrid_gid: int | None = None
    violence_type: ViolenceType | None = None
    threat_category: PocThreatCategory | None = None
    act_types: tuple[ActType, ...] = ()
    actors: tuple[ActorLink, ...] = ()
    victims: tuple[VictimGroup, ...] = ()
    fatalities_best: int | None = None
    fatalities_low: int | None = None
    fatalities_high: int | None = None
    civilian_fatalities: int | None = None
    sources: tuple[SourceRef, ...] = ()
    sensitivity: SensitivityTier = SensitivityTier.PUBLIC
    case_class: CaseClass = CaseClass.GENERAL
    title: str | None = None
    description: str | None = None
    uid: str = field(default="")

    def __post_init__(self) -> None:
        if not self.uid:
            self.uid = stable_uid(self.provenance.dataset, self.provenance.original_id)

    @property
    def perpetrators(self) -> tuple[ActorLink, ...]:
        return tuple(a for a in self.actors if a.role is ActorRole.PERPETRATOR)

    def problems(self, today: date) -> list[str]:
        """Domain invariants this event breaks; an empty list means it is valid."""
        out: list[str] = []
        if self.date_start < EARLIEST_DATE:
            out.append(f"date {self.date_start} is before {EARLIEST_DATE}")
        if self.date_end > today or self.date_start > today:
            out.append(f"date {max(self.date_start, self.date_end)} is in the future")
        if self.date_end < self.date_start:
            out.append(f"date_end {self.date_end} is before date_start {self.date_start}")
        if (self.latitude is None) != (self.longitude is None):
            out.append("latitude and longitude must both be given or both be empty")
        if self.latitude is not None and not -90.0 <= self.latitude <= 90.0:
            out.append(f"latitude {self.latitude} is out of range [-90, 90]")
        if self.longitude is not None and not -180.0 <= self.longitude <= 180.0:
            out.append(f"longitude {self.longitude} is out of range [-180, 180]")
        for name in ("fatalities_best", "fatalities_low", "fatalities_high", "civilian_fatalities"):
            value = getattr(self, name)
            if value is not None and value < 0:
                out.append(f"{name} {value} is negative")
        low, best, high = self.fatalities_low, self.fatalities_best, self.fatalities_high
        if None not in (low, best, high) and not (low <= best <= high):  # type: ignore[operator]
            out.append(f"fatalities must satisfy low <= best <= high, got {low}/{best}/{high}")
        if self.country_iso3 is not None and (
            len(self.country_iso3) != 3 or not self.country_iso3.isalpha()
        ):
            out.append(f"country_iso3 {self.country_iso3!r} is not a 3-letter code")
        return out

    def content_hash(self) -> str:
        """Hash of everything but the uid: equal hashes mean a re-import changes nothing."""
        payload = asdict(self)
        payload.pop("uid")
        text = json.dumps(payload, sort_keys=True, default=_json_default, separators=(",", ":"))
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _json_default(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot hash {type(value).__name__}")
